"""Server reflection under both names clients use: ``grpc.reflection.v1`` and ``v1alpha``.

grpcio-reflection ships only the ``v1alpha`` service; grpcurl, Postman and current gRPC
libraries ask ``v1`` first.  The two protos have identical messages (same fields, same
numbers) in different packages, so one servicer answers both: the ``v1`` method reuses the
``v1alpha`` message classes, whose bytes on the wire are the same.

Descriptors are served from a private pool holding copies of the served files (the embed
service, health, both reflection protos), never from additions to protobuf's default pool:
a ``grpc/reflection/v1/reflection.proto`` built here must not collide with one another
library registers in the same process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc import aio
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
V1_SERVICE = "grpc.reflection.v1.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"


def _file_proto(descriptor: FileDescriptor) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(proto)
    return proto


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    """The ``v1`` reflection proto: ``v1alpha``'s, with the package renamed."""
    proto = _file_proto(reflection_pb2.DESCRIPTOR)
    old, new = proto.package, "grpc.reflection.v1"
    proto.name, proto.package = V1_FILE, new
    proto.options.Clear()  # v1alpha's language options name the v1alpha packages
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(f".{old}."):
                field.type_name = f".{new}." + field.type_name[len(old) + 2 :]
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(f".{old}.", f".{new}.")
            method.output_type = method.output_type.replace(f".{old}.", f".{new}.")
    return proto


def reflection_pool(files: Iterable[FileDescriptor]) -> descriptor_pool.DescriptorPool:
    """A private pool with ``files``, their dependencies and both reflection protos."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(descriptor: FileDescriptor) -> None:
        if descriptor.name in added:
            return
        for dependency in descriptor.dependencies:
            add(dependency)
        pool.Add(_file_proto(descriptor))
        added.add(descriptor.name)

    for descriptor in (*files, reflection_pb2.DESCRIPTOR):
        add(descriptor)
    pool.Add(_v1_file())
    return pool


def enable_reflection(
    server: aio.Server, service_names: Sequence[str], files: Iterable[FileDescriptor]
) -> None:
    """Serve reflection (``v1`` and ``v1alpha``) for ``service_names`` on ``server``.

    ``files`` are the file descriptors of the served services; both reflection services
    are added to the listed names.
    """
    names = (*service_names, V1_SERVICE, V1ALPHA_SERVICE)
    servicer = reflection.aio.ReflectionServicer(names, pool=reflection_pool(files))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)  # v1alpha
    v1_handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE, {"ServerReflectionInfo": v1_handler}),)
    )
