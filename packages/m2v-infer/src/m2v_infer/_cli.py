"""``m2v encode`` and ``m2v quantize``: the subcommands m2v-infer contributes to ``m2v``.

Registration stays light (argparse only); numpy, the tokenizer and the model are imported
inside the ``run`` functions.  Errors are typed (``m2v_format.M2VError`` subclasses,
reported by the dispatcher with their code) and give exit status 1; usage errors give 2.
"""

from __future__ import annotations

import argparse
import codecs
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from m2v_format.cli import EXIT_OK, EXIT_USAGE, folder_size, format_size, or_none, positive_int

_ENCODE_EPILOG = """\
examples:
  m2v encode "a sentence to embed" "and another"        JSON lines on stdout
  m2v encode --file texts.txt --output vectors.npy      one text per line in
  cat texts.txt | m2v encode --model ./potion-base-8M --output out.parquet
  m2v encode --file big.txt --output big.jsonl --dimensions 128 --max-length none
  m2v encode --file corpus.txt --output vectors.npy --workers 8   8 worker processes
  m2v encode --ray --input 'data/*.parquet' --column text --output out/   on Ray Data

Texts come from the arguments, from --file (one text per line; - reads stdin) or from
stdin.  The default model is the one bundled with m2v-infer.  Output: JSON lines
{"text": ..., "embedding": [...]} on stdout, or --output FILE.jsonl / .npy (float32
[n, dim], input order) / .parquet (needs pyarrow).  Input is streamed: a file larger
than memory is fine with .jsonl and .parquet output.  With --workers (default auto)
inputs long enough to pay for starting processes (about 53k texts on 2 cores, 27k on 16)
are encoded on one worker process per core; the vectors
are the same bit for bit as with --workers 1.

Exit status: 0 on success, 1 on an error (its code is shown, e.g. model-not-found),
2 on a usage error.
"""

_QUANTIZE_EPILOG = """\
examples:
  m2v quantize ./potion-base-8M ./potion-int8 --to int8
  m2v quantize ./potion-base-8M ./potion-f16-128 --to float16 --dims 128
  m2v quantize ./my-model ./my-model --to int8 --overwrite
  m2v quantize ./potion-base-8M ./potion-vq2048 --vocabulary 2048 --to int8

int8 gives every row its own scale, stored in the per-token weights (format 1.0, which
model2vec 0.10.0 and sentence-transformers read): on 2,934 real texts with potion-base-8M
the normalized vectors move at most 0.0023 per component (lowest cosine to float32 0.99992).
--int8-scale global stores one embeddings_scale instead (format 1.1, no weights tensor):
at most 0.083 and a lowest cosine of 0.758 on the same texts (short texts whose rows hold
small values), as model2vec's own int8.  Measured by tests/benchmarks/bench_int8.py.
--dims keeps the first N dimensions (PCA / Matryoshka models).
--vocabulary N makes all tokens share N rows (k-means on the token directions; each
token keeps a weight with its norm): 2,048 rows instead of 29,528 for potion-base-8M, at
some cost in quality; it takes tens of seconds.  Without --to the dtype is kept.
The output folder is written atomically; an existing one needs --overwrite.
"""


def _workers(text: str) -> int | str:
    return "auto" if text.strip().lower() == "auto" else positive_int(text)


def register_encode(subparsers: Any) -> None:
    """Add ``m2v encode`` to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "encode",
        help="embed texts with a static model (JSON lines, .npy or .parquet)",
        description="Embed texts: the mean of their tokens' vectors, as model2vec computes it.",
        epilog=_ENCODE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to embed")
    parser.add_argument("--file", "-f", metavar="PATH", help="read texts, one per line (- = stdin)")
    parser.add_argument(
        "--encoding", default="utf-8", help="encoding of --file and stdin (default utf-8)"
    )
    parser.add_argument(
        "--model",
        "-m",
        metavar="MODEL",
        default=None,
        help="model folder or hub id (default: the model bundled with m2v-infer)",
    )
    parser.add_argument("--subfolder", default=None, help="folder inside the model")
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        default=None,
        help="write to FILE.jsonl, FILE.npy or FILE.parquet instead of stdout",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.add_argument(
        "--max-length",
        type=or_none(positive_int),
        default=argparse.SUPPRESS,
        metavar="N",
        help="token limit per text, or 'none' (default: the model's, usually 512)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=1024,
        metavar="N",
        help="texts per batch (default 1024)",
    )
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="unit-length vectors (default: the model's setting)",
    )
    parser.add_argument(
        "--dimensions",
        type=positive_int,
        default=None,
        metavar="N",
        help="keep the first N dimensions (renormalized when normalizing)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        metavar="N",
        help="worker processes, or 'auto': every core once the input is long enough to "
        "pay for starting them (default: auto); 1 encodes in this process",
    )
    parser.add_argument(
        "--num-threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="threads when encoding in this process (default: 1; processes scale, threads "
        "barely do)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    from m2v_infer._ray_job import add_ray_arguments

    add_ray_arguments(parser)
    parser.set_defaults(run=run_encode)


def register_quantize(subparsers: Any) -> None:
    """Add ``m2v quantize`` to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "quantize",
        help="store a model's embeddings as int8, float16 or float32 (and/or fewer dims)",
        description="Write a copy of a model with its embedding table converted.",
        epilog=_QUANTIZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model folder or hub id")
    parser.add_argument("out", metavar="OUT", help="folder to write")
    parser.add_argument(
        "--to",
        default=None,
        choices=("int8", "float16", "float32"),
        help="storage dtype of the embeddings (default: keep the model's)",
    )
    parser.add_argument(
        "--dims",
        type=positive_int,
        default=None,
        metavar="N",
        help="keep only the first N dimensions",
    )
    parser.add_argument(
        "--int8-scale",
        default="row",
        choices=("row", "global"),
        help="int8 scaling: one scale per row, folded into the per-token weights (format 1.0), "
        "or one embeddings_scale for the table (format 1.1) (default: %(default)s)",
    )
    parser.add_argument(
        "--vocabulary",
        type=positive_int,
        default=None,
        metavar="N",
        help="vocabulary quantization: all tokens share N rows (k-means clusters)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=42,
        help="k-means seed for --vocabulary (default: %(default)s)",
    )
    parser.add_argument("--subfolder", default=None, help="folder inside MODEL")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.set_defaults(run=run_quantize)


# --------------------------------------------------------------------------- encode


def decoded_lines(stream: BinaryIO, encoding: str, source: str) -> Iterator[str]:
    """The lines of a byte stream, decoded strictly, newlines (``\\n``, ``\\r\\n``, ``\\r``)
    removed.  Invalid bytes raise ``UnreadableInputError`` naming ``source`` and the line."""
    from m2v_infer._errors import UnreadableInputError

    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise UnreadableInputError(f"unknown --encoding {encoding!r}") from None
    pending = ""
    number = 0
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        try:
            pending += decoder.decode(chunk)
        except UnicodeDecodeError as error:
            valid = chunk[: error.start].decode(encoding, errors="replace")
            line = number + len(_split_lines(pending + valid))
            raise UnreadableInputError(
                f"{source} is not valid {encoding} (line {line}: {error.reason}); "
                "pass --encoding (e.g. latin-1)"
            ) from None
        held = "\r" if pending.endswith("\r") else ""  # maybe half of a "\r\n"
        lines = _split_lines(pending[: len(pending) - len(held)])
        pending = lines.pop() + held
        for line_text in lines:
            number += 1
            yield line_text
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise UnreadableInputError(
            f"{source} ends inside a character ({error.reason}); pass --encoding"
        ) from None
    lines = _split_lines(pending)
    if lines[-1] == "":
        lines.pop()  # the newline ending the last line
    yield from lines


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            count = 0
            last = b"\n"
            while chunk := handle.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
            return count + (last != b"\n")
    except OSError:
        return None


def _file_lines(path: Path, encoding: str) -> Iterator[str]:
    from m2v_infer._errors import UnreadableInputError

    try:
        handle = path.open("rb")
    except OSError as error:
        raise UnreadableInputError(f"cannot read --file: {error}", path=path) from None
    with handle:
        yield from decoded_lines(handle, encoding, f"--file {path}")


def _stdin_lines(stdin: TextIO, encoding: str) -> Iterator[str]:
    """Lines of stdin, decoded strictly (Python's own stdin hides bad bytes as surrogates)."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (tests, embedding apps)
        for line in stdin:
            yield line[:-1] if line.endswith("\n") else line
        return
    yield from decoded_lines(buffer, encoding, "stdin")


def _argument_texts(texts: list[str]) -> list[str]:
    """The TEXT arguments; bytes that were not valid UTF-8 are an error, not surrogates."""
    from m2v_infer._errors import UnreadableInputError

    for number, text in enumerate(texts, start=1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UnreadableInputError(
                f"argument {number} is not valid UTF-8 for this locale: "
                f"{text.encode('utf-8', 'surrogateescape')!r}; pass it through --file with "
                "--encoding instead"
            ) from None
    return texts


def _texts(args: argparse.Namespace) -> tuple[Iterable[str], int | None] | None:
    """The texts to embed and their count when known; ``None`` when there are none."""
    if args.texts and args.file is not None:
        return None
    if args.texts:
        return _argument_texts(list(args.texts)), len(args.texts)
    if args.file == "-":
        return _stdin_lines(sys.stdin, args.encoding), None
    if args.file is not None:
        path = Path(args.file)
        return _file_lines(path, args.encoding), _count_lines(path)
    if sys.stdin is None or sys.stdin.isatty():
        return None
    return _stdin_lines(sys.stdin, args.encoding), None


def run_encode(args: argparse.Namespace) -> int:
    """Run ``m2v encode``; return its exit status."""
    if args.ray or args.input:
        from m2v_infer._ray_job import run_encode_ray

        return run_encode_ray(args)
    source = _texts(args)
    if source is None:
        problem = (
            "give texts as arguments or --file, not both"
            if args.texts
            else "no input: give texts as arguments, --file PATH, or pipe them on stdin"
        )
        print(f"m2v encode: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    texts, total = source

    from m2v_infer._model import UNSET, StaticModel
    from m2v_infer._outputs import open_writer
    from m2v_infer._runner import progress_bar

    model = StaticModel.from_pretrained(args.model, subfolder=args.subfolder)
    writer = open_writer(args.output, overwrite=args.overwrite, stdout=sys.stdout)
    if hasattr(writer, "set_dim"):
        writer.set_dim(args.dimensions or model.dim)
    pending: deque[str] = deque()

    def remembered() -> Iterator[str]:
        for text in texts:
            pending.append(text)
            yield text

    show = args.progress if args.progress is not None else bool(sys.stderr and sys.stderr.isatty())
    count = 0
    try:
        with progress_bar(total, enabled=show, delay=0.5) as progress:
            for vectors in model.encode_iter(
                remembered(),
                batch_size=args.batch_size,
                max_length=getattr(args, "max_length", UNSET),
                normalize=args.normalize,
                dimensions=args.dimensions,
                num_workers=args.workers,
                num_threads=args.num_threads,
            ):
                size = int(vectors.shape[0])
                writer.write([pending.popleft() for _ in range(size)], vectors)
                count += size
                progress.update(size)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    if args.output not in (None, "-"):
        dims = args.dimensions or model.dim
        print(f"wrote {count} embeddings ({dims} dimensions) to {args.output}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- quantize


def _size(folder: Path) -> str:
    return format_size(folder_size(folder))


def _cluster(model: Any, clusters: int, seed: int) -> Any:
    """Vocabulary quantization with a progress bar over the k-means iterations."""
    from m2v_format import InvalidArgumentError as FormatInvalidArgumentError
    from m2v_format import quantize_vocabulary
    from tqdm.auto import tqdm

    from m2v_infer._errors import InvalidArgumentError

    with tqdm(total=None, desc=f"k-means, {clusters:,} clusters", unit="iteration") as bar:

        def advance(iteration: int, most: int, inertia: float) -> None:
            bar.total = most
            bar.set_postfix(inertia=f"{inertia:.4g}", refresh=False)
            bar.update(1)

        try:
            return quantize_vocabulary(model, clusters, seed=seed, on_iteration=advance)
        except FormatInvalidArgumentError as error:
            raise InvalidArgumentError(f"--vocabulary {clusters}: {error}") from error


def run_quantize(args: argparse.Namespace) -> int:
    """Run ``m2v quantize``; return its exit status."""
    from m2v_format import load_model, quantize, save_model

    from m2v_infer._errors import InvalidArgumentError

    if args.to is None and args.dims is None and args.vocabulary is None:
        raise InvalidArgumentError("nothing to do: pass --to, --dims and/or --vocabulary")
    model = load_model(args.model, subfolder=args.subfolder)
    if args.dims is not None and args.dims > model.dim:
        raise InvalidArgumentError(f"--dims {args.dims} is larger than the model's {model.dim}")
    converted = model
    if args.vocabulary is not None:
        converted = _cluster(model, args.vocabulary, args.seed)
    converted = quantize(
        converted,
        args.to or converted.dtype.name,  # type: ignore[arg-type]
        dims=args.dims,
        int8_scale=args.int8_scale,
    )
    source = f"{args.model} ({model.dtype.name}, {model.rows} x {model.dim}"
    if model.path is not None:  # measured before an in-place --overwrite replaces it
        source += f", {_size(model.path)}"
    written = save_model(args.out, converted, overwrite=args.overwrite)
    after = f"{converted.dtype.name}, {converted.rows} x {converted.dim}"
    if converted.mapping is not None:
        after += f" shared by {len(converted.mapping):,} tokens"
    print(f"{source}) -> {written} ({after}, {_size(written)})")
    return EXIT_OK
