"""Generated gRPC code (grpcio-tools + mypy-protobuf); do not edit."""
