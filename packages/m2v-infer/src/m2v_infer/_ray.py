"""Batch embedding on Ray Data: :func:`embed_dataset` (``m2v encode --ray`` is ``_ray_job``).

Needs the ``ray`` extra (``pip install "m2v-infer[ray]"``: ``ray[data]`` and pyarrow).  Ray
and pyarrow are imported when a function here runs, never by ``import m2v_infer``; without
them :class:`m2v_format.MissingDependencyError` names the extra.  This is the one module
that imports them (:func:`import_ray`).

:func:`embed_dataset` adds an embedding column to any Ray Dataset with
``Dataset.map_batches`` and a callable class, so Ray runs it as a pool of actors: each
actor loads the model once and encodes its batches on one thread (``num_threads=1``;
parallelism comes from the actors).  Vectors are an Arrow ``fixed_size_list<float32>[dim]``
column: a plain Arrow and Parquet type that pandas, polars, DuckDB and Spark read without
Ray's tensor extension, and the type ``m2v encode --output x.parquet`` already writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2v_format import MissingDependencyError

from m2v_infer._arguments import (
    UNSET,
    _Unset,
    check_dimensions,
    check_max_length,
    check_normalize,
    check_positive,
)
from m2v_infer._errors import InvalidArgumentError, InvalidInputError

RAY_EXTRA = 'pip install "m2v-infer[ray]"'
"""What to install for this module."""


_PATH = "path"  # the column Ray's readers add with include_paths=True

VECTOR_COLUMN = "embedding"
"""The vector column ``m2v encode --ray`` writes."""


def import_ray() -> Any:
    """The ``ray`` module with ``ray.data`` loaded, or a typed error naming the extra."""
    try:
        import pyarrow  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError(
            f"Ray Data embedding needs ray and pyarrow: {RAY_EXTRA}"
        ) from None
    return ray


# --------------------------------------------------------------------------- the actors


class Embedder:
    """The callable class ``map_batches`` runs as Ray actors: one model per actor.

    Receives ``pyarrow.Table`` batches and returns them with ``output_column`` (a
    ``fixed_size_list<float32>[dim]``) added or replaced; ``keep_columns`` (if given)
    restricts the other columns returned.
    """

    def __init__(
        self,
        *,
        model: str | None,
        subfolder: str | None,
        column: str,
        output_column: str,
        keep_columns: Sequence[str] | None,
        options: dict[str, Any],
    ) -> None:
        from m2v_infer._model import StaticModel

        self._model = StaticModel.from_pretrained(model, subfolder=subfolder)
        self._column = column
        self._output_column = output_column
        self._keep = None if keep_columns is None else list(keep_columns)
        self._options = options

    def __call__(self, batch: Any) -> Any:
        """Embed one batch (a ``pyarrow.Table``)."""
        import pyarrow as pa

        texts = batch.column(check_text_column(batch.schema, self._column, path=None))
        if texts.null_count:
            raise InvalidInputError(
                f"{texts.null_count} of {len(texts)} values of column {self._column!r} "
                "are null, not strings"
            )
        vectors = self._model.encode(
            texts.to_pylist(), num_workers=1, num_threads=1, **self._options
        )
        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        column = pa.FixedSizeListArray.from_arrays(flat, int(vectors.shape[1]))
        table = batch if self._keep is None else batch.select(self._keep)
        if self._output_column in table.column_names:
            index = table.column_names.index(self._output_column)
            return table.set_column(index, self._output_column, column)
        return table.append_column(self._output_column, column)


def check_text_column(schema: Any, column: str, *, path: Path | None) -> str:
    """``column`` when ``schema`` (pyarrow) has it as strings, else ``InvalidInputError``."""
    import pyarrow as pa

    if column not in schema.names:
        names = ", ".join(repr(name) for name in schema.names if name != _PATH)
        raise InvalidInputError(f"no column {column!r} (columns: {names})", path=path)
    kind = schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_view(pa, kind)):
        raise InvalidInputError(f"column {column!r} holds {kind}, not strings", path=path)
    return column


def _is_view(pa: Any, kind: Any) -> bool:
    is_view = getattr(pa.types, "is_string_view", None)
    return bool(is_view is not None and is_view(kind))


# --------------------------------------------------------------------------- the library


@dataclass(frozen=True)
class ModelSpec:
    """What each actor loads, checked once on the driver."""

    model: str | None
    subfolder: str | None
    options: dict[str, Any]
    dim: int


def model_spec(
    model: str | os.PathLike[str] | None,
    subfolder: str | None,
    *,
    max_length: int | _Unset | None,
    normalize: bool | None,
    dimensions: int | None,
) -> ModelSpec:
    from m2v_infer._model import StaticModel

    name = None if model is None else os.fspath(model)
    if name is not None and os.path.exists(name):
        name = os.path.abspath(name)  # actors may run in another working directory
    probe = StaticModel.from_pretrained(name, subfolder=subfolder)
    options: dict[str, Any] = {"normalize": check_normalize(normalize)}
    if not isinstance(max_length, _Unset):
        options["max_length"] = check_max_length(max_length)
    dims = check_dimensions(dimensions, probe.dim, "dimensions")
    options["dimensions"] = dims
    return ModelSpec(name, subfolder, options, dims or probe.dim)


def _actor_pool(ray: Any, concurrency: int | tuple[int, int] | None) -> Any:
    strategy = ray.data.ActorPoolStrategy
    if concurrency is None:
        return strategy(min_size=1, max_size=None)
    if isinstance(concurrency, tuple) and len(concurrency) == 2:
        low = check_positive(concurrency[0], "concurrency[0]")
        high = check_positive(concurrency[1], "concurrency[1]")
        if high < low:
            raise InvalidArgumentError(
                f"concurrency {concurrency}: the maximum is below the minimum"
            )
        return strategy(min_size=low, max_size=high)
    return strategy(size=check_positive(concurrency, "concurrency"))


def _check_cpus(num_cpus: object) -> float:
    if isinstance(num_cpus, bool) or not isinstance(num_cpus, int | float) or not num_cpus > 0:
        raise InvalidArgumentError(f"num_cpus must be a number > 0, got {num_cpus!r}")
    return float(num_cpus)


def embed_dataset(
    ds: Any,
    model: str | os.PathLike[str] | None = None,
    *,
    column: str = "text",
    output_column: str = "embedding",
    batch_size: int = 1024,
    concurrency: int | tuple[int, int] | None = None,
    num_cpus: float = 1,
    subfolder: str | None = None,
    max_length: int | _Unset | None = UNSET,
    normalize: bool | None = None,
    dimensions: int | None = None,
    keep_columns: Sequence[str] | None = None,
) -> Any:
    """Add an embedding column to a Ray Dataset (lazily, like every Ray Data transform).

    Runs ``ds.map_batches`` with a callable class, so Ray starts a pool of actors; each
    loads the model once (``StaticModel.from_pretrained(model)``) and encodes its batches
    with ``num_threads=1``.  The vectors equal in-process ``StaticModel.encode`` bitwise.

    Example::

        import ray
        from m2v_infer import embed_dataset

        ds = ray.data.read_parquet("s3://bucket/docs/")
        ds = embed_dataset(ds, "/mnt/models/potion-base-8M", column="text", concurrency=8)
        ds.write_parquet("s3://bucket/embedded/")

    Args:
        ds: a ``ray.data.Dataset`` with a string column ``column``.
        model: a model folder or hub id (``None``: the model bundled with m2v-infer).  The
            driver loads it once to check the options; every actor loads it again, so on a
            cluster it must be on storage every node sees (NFS, a volume baked into the
            image) or a hub id (needs the ``[hub]`` extra and network on the nodes).  A
            local relative path is made absolute.
        column: the text column.
        output_column: the vector column to add (replaced if present), an Arrow
            ``fixed_size_list<float32>[dim]`` (Parquet round-trips it).
        batch_size: rows per ``map_batches`` call.
        concurrency: actors: ``N`` (a fixed pool), ``(min, max)`` (autoscaling), or
            ``None`` (autoscaling from 1, as resources allow).  A fixed pool that takes
            every CPU starves Ray's other tasks (``read_parquet`` lists files in a 1-CPU
            task): leave room, or read with ``num_cpus=0``.
        num_cpus: CPUs Ray reserves per actor (each encodes on one thread).
        subfolder, max_length, normalize, dimensions: as for
            :meth:`StaticModel.from_pretrained` and :meth:`StaticModel.encode`.
        keep_columns: the input columns to keep (``None``: all).

    Returns:
        The new ``ray.data.Dataset``.  Errors raised in the actors (a missing, null or
        non-string text: ``InvalidInputError``) reach the caller as Ray's
        ``UserCodeException``; with ``ds.context.raise_original_map_exception = True``
        they arrive as ``ray.exceptions.RayTaskError`` instances that are also instances
        of the m2v error (its ``cause``), as ``m2v encode --ray`` sets.

    Raises:
        MissingDependencyError: ray or pyarrow is not installed.
        InvalidArgumentError: an option is out of range.
        FormatError: the model cannot be loaded (m2v-format's typed errors).
    """
    ray = import_ray()
    spec = model_spec(
        model, subfolder, max_length=max_length, normalize=normalize, dimensions=dimensions
    )
    return map_embedder(
        ray,
        ds,
        spec,
        column=column,
        output_column=output_column,
        batch_size=batch_size,
        concurrency=concurrency,
        num_cpus=num_cpus,
        keep_columns=keep_columns,
    )


def map_embedder(
    ray: Any,
    ds: Any,
    spec: ModelSpec,
    *,
    column: str,
    output_column: str,
    batch_size: int,
    concurrency: int | tuple[int, int] | None,
    num_cpus: float,
    keep_columns: Sequence[str] | None,
) -> Any:
    for name, value in (("column", column), ("output_column", output_column)):
        if not isinstance(value, str) or not value:
            raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    return ds.map_batches(
        Embedder,
        fn_constructor_kwargs={
            "model": spec.model,
            "subfolder": spec.subfolder,
            "column": column,
            "output_column": output_column,
            "keep_columns": None if keep_columns is None else list(keep_columns),
            "options": spec.options,
        },
        batch_size=check_positive(batch_size, "batch_size"),
        batch_format="pyarrow",
        zero_copy_batch=True,
        num_cpus=_check_cpus(num_cpus),
        compute=_actor_pool(ray, concurrency),
    )


# --------------------------------------------------------------------------- m2v encode --ray
