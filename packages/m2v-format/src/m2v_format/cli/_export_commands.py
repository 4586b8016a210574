"""``m2v export onnx``: the export subcommand m2v-format contributes to ``m2v``.

Registration stays light (argparse only); the model, numpy and onnx are imported when the
command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from m2v_format.cli._dispatch import EXIT_OK
from m2v_format.cli._sizes import format_size

_EXPORT_EPILOG = """\
examples:
  m2v export onnx ./potion-base-8M ./potion-onnx
  m2v export onnx --help
"""

_ONNX_EPILOG = """\
examples:
  m2v export onnx ./potion-base-8M ./potion-onnx
  m2v export onnx ./potion-base-8M ./potion-onnx --dtype float32 --dtype float16 --dtype int8
  m2v export onnx ./my-model ./my-model-onnx --inputs padded --no-normalize
  m2v export onnx minishlab/potion-base-8M ./potion-onnx   (needs the [hub] extra, or a cached copy)

OUT gets onnx/model.onnx (model_fp16.onnx, model_int8.onnx for the other dtypes),
tokenizer.json, config.json, tokenizer_config.json, special_tokens_map.json and README.md:
the layout transformers.js loads (AutoModel + AutoTokenizer on the folder).  The graph drops
the unknown token, dequantizes (float16, int8 x scale), applies vocabulary quantization,
averages and normalizes; the client tokenizes without special tokens and applies the
max_length cuts.  See spec/onnx.md.

--inputs offsets (default): input_ids int64 [num_tokens] (every text's ids back to back)
and offsets int64 [batch_size] (where each text starts), as transformers.js runs model2vec
models.  --inputs padded: input_ids and attention_mask int64 [batch_size, sequence_length],
as model2vec 0.10.0 exports and fastembed runs custom models.  Output: embeddings float32
[batch_size, dim].

Needs the onnx package: pip install "m2v-format[onnx]".  OUT is written atomically; an
existing one needs --overwrite.  Exit status: 0 on success, 1 on an error (its code is
shown, e.g. output-exists), 2 on a usage error.
"""


def register_export(subparsers: Any) -> None:
    """Add ``m2v export`` (with its one format, ``onnx``) to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "export",
        help="export a model for another runtime (onnx)",
        description="Export a static model for another runtime.",
        epilog=_EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    onnx = formats.add_parser(
        "onnx",
        help="ONNX graphs plus tokenizer.json (onnxruntime, transformers.js, fastembed)",
        description="Write a model as ONNX graphs: token ids in, pooled (and optionally "
        "normalized) float32 vectors out, beside the tokenizer (spec/onnx.md).",
        epilog=_ONNX_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    onnx.add_argument("model", metavar="MODEL", help="model folder (any layout) or hub id")
    onnx.add_argument("out", metavar="OUT", help="folder to write")
    onnx.add_argument(
        "--dtype",
        dest="dtypes",
        action="append",
        choices=("float32", "float16", "int8"),
        default=None,
        help="table dtype of a graph; repeat for several graphs (default: the model's stored "
        "dtype, float64 as float32)",
    )
    onnx.add_argument(
        "--inputs",
        choices=("offsets", "padded"),
        default="offsets",
        help="graph inputs: flat ids + offsets, or padded ids + attention_mask "
        "(default: %(default)s)",
    )
    onnx.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="L2-normalize the output vectors (default: the model's setting)",
    )
    onnx.add_argument("--subfolder", default=None, help="folder inside MODEL (default: none)")
    onnx.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    onnx.set_defaults(run=run_export_onnx, command_prog="m2v export onnx")


def run_export_onnx(args: argparse.Namespace) -> int:
    """Run ``m2v export onnx``; return its exit status."""
    import json

    from m2v_format import export_onnx

    written = export_onnx(
        args.model,
        args.out,
        dtypes=args.dtypes,
        inputs=args.inputs,
        normalize=args.normalize,
        overwrite=args.overwrite,
        subfolder=args.subfolder,
    )
    config = json.loads((written / "config.json").read_text(encoding="utf-8"))
    facts = (
        f"{config['vocab_size']:,} tokens x {config['hidden_dim']} dims, "
        f"inputs {config['inputs']}, normalize {str(config['normalize']).lower()}"
    )
    print(f"{args.model} -> {written} ({facts})")
    width = max(len(name) for name in _files(written))
    total = 0
    graphs = {path: dtype for dtype, path in config["files"].items()}
    for name, size in _files(written).items():
        total += size
        kind = graphs.get(name.removesuffix("_data"), "")
        print(f"  {name:<{width}}  {format_size(size):>9}  {kind}".rstrip())
    print(f"  {'total':<{width}}  {format_size(total):>9}")
    sys.stdout.flush()
    return EXIT_OK


def _files(folder: Path) -> dict[str, int]:
    """Every file of ``folder`` (relative path -> bytes), graphs first."""
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    paths.sort(key=lambda p: p.parent == folder)
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in paths}
