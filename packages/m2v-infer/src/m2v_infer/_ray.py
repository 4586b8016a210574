"""Batch embedding on Ray Data: :func:`embed_dataset` and ``m2v encode --ray``.

Needs the ``ray`` extra (``pip install "m2v-infer[ray]"``: ``ray[data]`` and pyarrow).  Ray
and pyarrow are imported when a function here runs, never by ``import m2v_infer``; without
them :class:`m2v_format.MissingDependencyError` names the extra.

:func:`embed_dataset` adds an embedding column to any Ray Dataset with
``Dataset.map_batches`` and a callable class, so Ray runs it as a pool of actors: each
actor loads the model once and encodes its batches on one thread (``num_threads=1``;
parallelism comes from the actors).  Vectors are an Arrow ``fixed_size_list<float32>[dim]``
column: a plain Arrow and Parquet type that pandas, polars, DuckDB and Spark read without
Ray's tensor extension, and the type ``m2v encode --output x.parquet`` already writes.

``m2v encode --ray`` (:func:`run_encode_ray`) embeds Parquet and JSON-lines files into one
Parquet file per input, resumably: the driver counts and checks each pending input first
(a Parquet footer; a streaming JSON parse), Ray reads and embeds them
(``read_parquet`` / ``read_json``), and the driver writes each output to a temporary name
and renames it into place once all of its input's rows have arrived.  A rerun skips
inputs whose output exists and removes temporary files left by a killed run, so every row
is written exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2v_format import M2VError, MissingDependencyError
from m2v_format.cli import EXIT_OK, EXIT_USAGE, finite_float, positive_int

from m2v_infer._arguments import (
    UNSET,
    _Unset,
    check_dimensions,
    check_max_length,
    check_normalize,
    check_positive,
)
from m2v_infer._errors import InvalidArgumentError, InvalidInputError, UnreadableInputError

RAY_EXTRA = 'pip install "m2v-infer[ray]"'
"""What to install for this module."""

INPUT_KINDS = {".parquet": "parquet", ".jsonl": "json", ".ndjson": "json"}
"""Input file suffix -> format read by ``m2v encode --ray`` (JSON inputs are JSON lines)."""

VECTOR_COLUMN = "embedding"
"""The vector column ``m2v encode --ray`` writes."""

_PATH = "path"  # the column Ray's readers add with include_paths=True

_RAY_HELP = """\
Embed files on Ray Data (needs pip install "m2v-infer[ray]"): --input GLOB (repeatable;
.parquet, .jsonl or .ndjson) -> one Parquet file per input in the --output folder, with the
--id-column (if given), the text column and 'embedding' (fixed_size_list<float32>[dim]),
rows in input order.  Resumable: outputs appear atomically when complete; a rerun skips
inputs whose output exists (--overwrite redoes them).  Example:
  m2v encode --ray --input 'data/*.parquet' --column text --id-column id --output out/"""


def _import_ray() -> Any:
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
        vectors = self._model.encode(texts.to_pylist(), num_threads=1, **self._options)
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
class _ModelSpec:
    """What each actor loads, checked once on the driver."""

    model: str | None
    subfolder: str | None
    options: dict[str, Any]
    dim: int


def _model_spec(
    model: str | os.PathLike[str] | None,
    subfolder: str | None,
    *,
    max_length: int | _Unset | None,
    normalize: bool | None,
    dimensions: int | None,
) -> _ModelSpec:
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
    return _ModelSpec(name, subfolder, options, dims or probe.dim)


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
    ray = _import_ray()
    spec = _model_spec(
        model, subfolder, max_length=max_length, normalize=normalize, dimensions=dimensions
    )
    return _map_embedder(
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


def _map_embedder(
    ray: Any,
    ds: Any,
    spec: _ModelSpec,
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


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``--ray`` options to ``m2v encode`` (argparse only: nothing is imported)."""
    group = parser.add_argument_group("Ray Data (--ray)", _RAY_HELP)
    group.add_argument("--ray", action="store_true", help="embed --input files on Ray Data")
    group.add_argument(
        "--input",
        "-i",
        action="append",
        metavar="GLOB",
        help="input files (.parquet, .jsonl, .ndjson; ** recurses; repeatable)",
    )
    group.add_argument("--column", default="text", help="the text column (default: text)")
    group.add_argument(
        "--id-column", default=None, metavar="NAME", help="an input column kept in the output"
    )
    group.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="attach to this Ray cluster (auto, or HOST:6379; default: $RAY_ADDRESS, as "
        "set in a Ray job, else start a local cluster on every core)",
    )
    group.add_argument(
        "--concurrency",
        type=positive_int,
        default=None,
        metavar="N",
        help="embedding actors (default: the cluster's CPUs / --num-cpus)",
    )
    group.add_argument(
        "--num-cpus",
        type=_positive_float,
        default=1.0,
        metavar="N",
        help="CPUs per actor (default 1)",
    )


def _positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


@dataclass
class InputFile:
    """One input of ``m2v encode --ray`` and where its embeddings go."""

    path: Path
    output: Path
    kind: str
    rows: int = 0
    id_type: Any = None


def _glob_root(pattern: str) -> Path:
    """The folder a pattern's matches are named relative to: its part before any wildcard."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if any(char in part for char in "*?["):
            break
        fixed.append(part)
    else:
        fixed = fixed[:-1]  # a plain file: its folder
    return Path(*fixed) if fixed else Path(".")


def plan_inputs(patterns: Sequence[str], output: Path) -> list[InputFile]:
    """Expand the ``--input`` patterns and name each file's output under ``output``.

    ``data/a/x.jsonl`` matched by ``data/**/*.jsonl`` is written to ``OUTPUT/a/x.parquet``.

    Raises:
        InvalidArgumentError: a pattern matches no file, a file has an unsupported suffix,
            two inputs map to one output, or an output would replace its input.
    """
    planned: dict[Path, InputFile] = {}
    folder = output.absolute()
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        files = sorted(name for name in glob.glob(expanded, recursive=True) if os.path.isfile(name))
        if not files:
            raise InvalidArgumentError(f"--input {pattern!r} matches no files")
        root = _glob_root(expanded)
        for name in files:
            path = Path(name).absolute()
            if folder in path.parents:  # an output of an earlier run, matched by the glob
                continue
            if path.suffix.lower() not in INPUT_KINDS:
                known = ", ".join(INPUT_KINDS)
                raise InvalidArgumentError(f"unsupported input type; use {known}", path=path)
            target = (output / os.path.relpath(name, root)).with_suffix(".parquet").absolute()
            if target.resolve() == path.resolve():
                raise InvalidArgumentError("the output would replace this input", path=path)
            other = planned.get(target)
            if other is not None and other.path != path:
                raise InvalidArgumentError(
                    f"{other.path} and {path} would both be written to {target}", path=path
                )
            planned[target] = InputFile(path, target, INPUT_KINDS[path.suffix.lower()])
    return list(planned.values())


def _remove_stale_temporaries(items: Sequence[InputFile]) -> int:
    """Delete temporary files a killed run left next to these outputs."""
    removed = 0
    for item in items:
        if item.output.parent.is_dir():
            for stale in item.output.parent.glob(f".{glob.escape(item.output.name)}.m2v-tmp-*"):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
                    removed += 1
    return removed


def _json_parse_options(column: str) -> Any:
    import pyarrow as pa
    import pyarrow.json as pajson  # type: ignore[import-untyped, unused-ignore]

    return pajson.ParseOptions(explicit_schema=pa.schema([(column, pa.string())]))


def _inspect_parquet(item: InputFile, column: str, id_column: str | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    try:
        metadata = pq.ParquetFile(item.path).metadata
        schema = metadata.schema.to_arrow_schema()
    except (OSError, pa.ArrowException) as error:
        raise UnreadableInputError(
            f"not a readable Parquet file: {error}", path=item.path
        ) from None
    check_text_column(schema, column, path=item.path)
    item.rows = metadata.num_rows
    if id_column is not None:
        if id_column not in schema.names:
            raise InvalidInputError(f"no --id-column {id_column!r}", path=item.path)
        item.id_type = schema.field(id_column).type
    nulls = 0
    for group in range(metadata.num_row_groups):
        for index in range(metadata.num_columns):
            chunk = metadata.row_group(group).column(index)
            stats = chunk.statistics
            if chunk.path_in_schema == column and stats is not None and stats.has_null_count:
                nulls += stats.null_count
    if nulls:
        raise InvalidInputError(
            f"{nulls} values of column {column!r} are null, not strings", path=item.path
        )


def _inspect_json(item: InputFile, column: str, id_column: str | None) -> None:
    import pyarrow as pa
    import pyarrow.json as pajson

    try:
        with item.path.open("rb") as handle:
            empty = not handle.read(1 << 16).strip() and not handle.read(1)
        if empty:  # pyarrow refuses an empty stream; Ray is not asked to read it
            item.id_type = pa.null()
            return
        reader = pajson.open_json(item.path, parse_options=_json_parse_options(column))
        for batch in reader:
            item.rows += batch.num_rows
            if batch.column(column).null_count:
                raise InvalidInputError(
                    f"rows without a string {column!r} (missing or null) near row {item.rows}",
                    path=item.path,
                )
        if id_column is not None:
            if id_column not in reader.schema.names:
                raise InvalidInputError(f"no --id-column {id_column!r}", path=item.path)
            item.id_type = reader.schema.field(id_column).type
    except pa.ArrowInvalid as error:
        if "changed from string" in str(error):
            raise InvalidInputError(
                f"column {column!r} holds a value that is not a string ({error})", path=item.path
            ) from None
        raise UnreadableInputError(f"not valid JSON lines: {error}", path=item.path) from None
    except OSError as error:
        raise UnreadableInputError(f"cannot read: {error}", path=item.path) from None


def _key(item: InputFile) -> str:
    return os.path.normpath(item.path)


class _OutputFiles:
    """The driver's side: rows arrive tagged with their input's path; each output file is
    written to a temporary name and renamed into place when its last row has arrived."""

    def __init__(self, items: Sequence[InputFile], column: str, id_column: str | None, dim: int):
        self._items = {_key(item): item for item in items}
        self._names = ([id_column] if id_column else []) + [column, VECTOR_COLUMN]
        self._column = column
        self._id_column = id_column
        self._dim = dim
        self._open: dict[str, tuple[Any, Any]] = {}  # path -> (_FileOutput, ParquetWriter)
        self._counts = dict.fromkeys(self._items, 0)
        self.done: set[str] = set()

    def _schema(self, id_type: Any) -> Any:
        import pyarrow as pa

        fields = [(self._id_column, id_type)] if self._id_column else []
        fields += [(self._column, pa.string()), (VECTOR_COLUMN, pa.list_(pa.float32(), self._dim))]
        return pa.schema(fields)

    def _writer(self, item: InputFile, id_type: Any) -> tuple[Any, Any]:
        import pyarrow.parquet as pq

        from m2v_infer._outputs import _FileOutput

        entry = self._open.get(_key(item))
        if entry is None:
            target = _FileOutput(item.output, overwrite=True)
            entry = (target, pq.ParquetWriter(str(target.temp), self._schema(id_type)))
            self._open[_key(item)] = entry
        return entry

    def write(self, block: Any) -> None:
        """Append one block of embedded rows (any mix of inputs) to the outputs."""
        import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

        paths = block.column(_PATH)
        for path in pc.unique(paths).to_pylist():
            part = (
                block
                if pc.all(pc.equal(paths, path)).as_py()
                else block.filter(pc.equal(paths, path))
            )
            item = self._items.get(os.path.normpath(path))
            if item is None:
                raise UnreadableInputError(f"Ray returned rows of an unexpected file {path!r}")
            id_type = part.schema.field(self._id_column).type if self._id_column else None
            _, writer = self._writer(item, id_type)
            writer.write_table(part.select(self._names).cast(writer.schema))
            key = _key(item)
            self._counts[key] += part.num_rows
            if self._counts[key] == item.rows:
                self._commit(item)
            elif self._counts[key] > item.rows:
                raise UnreadableInputError(
                    f"got {self._counts[key]} rows, {item.rows} expected (did it change?)",
                    path=item.path,
                )

    def _commit(self, item: InputFile) -> None:
        target, writer = self._open.pop(_key(item))
        writer.close()
        target.commit()
        self.done.add(_key(item))
        print(f"embedded {item.rows} rows of {item.path} -> {item.output}", file=sys.stderr)

    def write_empty(self, item: InputFile) -> None:
        """Write the output of an input without rows."""
        self._writer(item, item.id_type)
        self._commit(item)

    def finish(self) -> None:
        """Check that every input's rows have all arrived."""
        for key, item in self._items.items():
            if key not in self.done:
                raise UnreadableInputError(
                    f"got {self._counts[key]} rows, {item.rows} expected (did it change?)",
                    path=item.path,
                )

    def abort(self) -> None:
        """Delete the unfinished outputs."""
        for target, writer in self._open.values():
            with contextlib.suppress(Exception):
                writer.close()
            target.discard()
        self._open.clear()


@contextlib.contextmanager
def _ray_session(ray: Any, address: str | None) -> Iterator[None]:
    """Use the Ray of this process if started, else attach to ``address`` or start one."""
    if ray.is_initialized():
        yield
        return
    from m2v_infer._runner import available_cores

    try:
        if address is not None:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=available_cores(), include_dashboard=False, logging_level=logging.WARNING
            )
    except ConnectionError as error:
        raise InvalidArgumentError(
            f"cannot attach to the Ray cluster {address!r}: {error}"
        ) from None
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _datasource_v1(ray: Any) -> Iterator[None]:
    """Read Parquet with Ray's V1 datasource while inside (Ray 2.60's V2 lists files in a
    1-CPU task, which a pool of actors taking every CPU would starve forever)."""
    context = ray.data.DataContext.get_current()
    before = getattr(context, "use_datasource_v2", None)
    if before is not None:
        context.use_datasource_v2 = False
    try:
        yield
    finally:
        if before is not None:
            context.use_datasource_v2 = before


def _read(ray: Any, items: Sequence[InputFile], column: str, tasks: int) -> Any:
    """One Dataset over the inputs, rows tagged with their path.

    Reads take no CPU (a pool of actors may hold every CPU) and at most ``tasks`` run at a
    time (0-CPU tasks are otherwise unbounded, each in a new worker process).
    """
    parquet = [str(item.path) for item in items if item.kind == "parquet"]
    json = [str(item.path) for item in items if item.kind == "json"]
    parts = []
    common = {"include_paths": True, "file_extensions": None, "num_cpus": 0, "concurrency": tasks}
    if parquet:
        with _datasource_v1(ray):
            parts.append(ray.data.read_parquet(parquet, **common))
    if json:
        options = _json_parse_options(column)
        parts.append(ray.data.read_json(json, parse_options=options, **common))
    return parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])


def _unwrap(error: BaseException) -> BaseException:
    """The typed error a Ray task raised, else ``error``."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, M2VError):
        return cause
    if cause is not None and type(cause).__module__.startswith("pyarrow"):
        return UnreadableInputError(f"Ray could not read an input: {cause}")
    return error


def run_encode_ray(args: argparse.Namespace) -> int:
    """Run ``m2v encode --ray``; return its exit status."""
    if not args.ray or not args.input or args.output in (None, "-") or args.texts or args.file:
        problem = (
            "--ray needs --input GLOB and --output FOLDER (and no TEXT or --file)"
            if args.ray
            else "--input needs --ray"
        )
        print(f"m2v encode: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    id_column: str | None = args.id_column
    names = [args.column, *([id_column] if id_column else []), VECTOR_COLUMN, _PATH]
    if len(set(names)) < len(names):
        raise InvalidArgumentError(
            f"--column and --id-column must differ from each other and from "
            f"{VECTOR_COLUMN!r} and {_PATH!r}"
        )
    address: str | None = args.ray_address or os.environ.get("RAY_ADDRESS") or None
    if address is None:  # a local cluster shares this environment: no `uv run` copy
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # (read at import)
    ray = _import_ray()
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise InvalidArgumentError("--output must be a folder with --ray", path=output)
    items = plan_inputs(args.input, output)
    _remove_stale_temporaries(items)
    pending = [item for item in items if args.overwrite or not item.output.exists()]
    print(
        f"{len(items) - len(pending)} of {len(items)} inputs already embedded in {output}",
        file=sys.stderr,
    )
    for item in pending:
        inspect = _inspect_parquet if item.kind == "parquet" else _inspect_json
        inspect(item, args.column, id_column)
    spec = _model_spec(
        args.model,
        args.subfolder,
        max_length=getattr(args, "max_length", UNSET),
        normalize=args.normalize,
        dimensions=args.dimensions,
    )
    outputs = _OutputFiles(pending, args.column, id_column, spec.dim)
    try:
        for item in pending:
            if item.rows == 0:
                outputs.write_empty(item)
        with_rows = [item for item in pending if item.rows]
        if with_rows:
            with _ray_session(ray, address):
                _embed_files(ray, args, spec, with_rows, outputs)
        outputs.finish()
    except BaseException as error:
        outputs.abort()
        raise _unwrap(error) from None
    rows = sum(item.rows for item in pending)
    print(f"wrote {len(pending)} files ({rows} rows) to {output}", file=sys.stderr)
    return EXIT_OK


def _embed_files(
    ray: Any,
    args: argparse.Namespace,
    spec: _ModelSpec,
    items: Sequence[InputFile],
    outputs: _OutputFiles,
) -> None:
    concurrency = args.concurrency
    if concurrency is None:
        cpus = float(ray.cluster_resources().get("CPU", 1))
        concurrency = max(1, int(cpus // args.num_cpus))
    keep = [name for name in (args.id_column, args.column, _PATH) if name]
    ds = _map_embedder(
        ray,
        _read(ray, items, args.column, tasks=max(1, min(len(items), concurrency))),
        spec,
        column=args.column,
        output_column=VECTOR_COLUMN,
        batch_size=args.batch_size,
        concurrency=concurrency,
        num_cpus=args.num_cpus,
        keep_columns=keep,
    )
    show = args.progress if args.progress is not None else bool(sys.stderr and sys.stderr.isatty())
    ds.context.execution_options.preserve_order = True
    ds.context.raise_original_map_exception = True  # typed errors, not UserCodeException
    ds.context.enable_progress_bars = show
    logging.getLogger("ray.data").setLevel(logging.INFO if show else logging.WARNING)
    for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        outputs.write(block)
