"""``m2v encode --ray``: embed Parquet and JSON-lines files on Ray Data, resumably.

One Parquet file per input: the driver counts and checks each pending input first (a
Parquet footer; a streaming JSON parse), Ray reads and embeds them (``read_parquet`` /
``read_json`` and :func:`m2v_infer._ray.map_embedder`), and the driver writes each output
to a temporary name and renames it into place once all of its input's rows have arrived.
A rerun skips inputs whose output exists and removes temporary files left by a killed
run, so every row is written exactly once.  Ray itself is imported through
:func:`m2v_infer._ray.import_ray`.
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

from m2v_format import M2VError
from m2v_format.cli import EXIT_OK, EXIT_USAGE, finite_float, positive_int

from m2v_infer._arguments import UNSET
from m2v_infer._errors import InvalidArgumentError, InvalidInputError, UnreadableInputError
from m2v_infer._ray import (
    _PATH,
    VECTOR_COLUMN,
    ModelSpec,
    check_text_column,
    import_ray,
    map_embedder,
    model_spec,
)

INPUT_KINDS = {".parquet": "parquet", ".jsonl": "json", ".ndjson": "json"}
"""Input file suffix -> format read by ``m2v encode --ray`` (JSON inputs are JSON lines)."""


_RAY_HELP = """\
Embed files on Ray Data (needs pip install "m2v-infer[ray]"): --input GLOB (repeatable;
.parquet, .jsonl or .ndjson) -> one Parquet file per input in the --output folder, with the
--id-column (if given), the text column and 'embedding' (fixed_size_list<float32>[dim]),
rows in input order.  Resumable: outputs appear atomically when complete; a rerun skips
inputs whose output exists (--overwrite redoes them).  Example:
  m2v encode --ray --input 'data/*.parquet' --column text --id-column id --output out/"""


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
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
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
    ray = import_ray()
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
    spec = model_spec(
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
    spec: ModelSpec,
    items: Sequence[InputFile],
    outputs: _OutputFiles,
) -> None:
    concurrency = args.concurrency
    if concurrency is None:
        cpus = float(ray.cluster_resources().get("CPU", 1))
        concurrency = max(1, int(cpus // args.num_cpus))
    keep = [name for name in (args.id_column, args.column, _PATH) if name]
    ds = map_embedder(
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
