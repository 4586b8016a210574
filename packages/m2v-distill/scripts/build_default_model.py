"""Rebuild the default model that m2v-infer embeds (``m2v_infer/_default_model/``).

Recipe: distil sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) with m2v-distill --
the teacher's 29,525 tokens after dropping [unused*] and the special tokens, PCA to 152
dimensions, SIF coefficient 1e-5, int8 with one global scale (format 1.1), float32
forward passes (so the result does not depend on the CPU's bfloat16 support) -- and write it
with a model card that credits the teacher.  The model files come to about 4.9 MB (the
budget is 5 MB).  Why these settings: docs/distill.md ("The default model").

Usage (from the repository root)::

    uv run --all-packages python packages/m2v-distill/scripts/build_default_model.py
    uv run --all-packages python packages/m2v-distill/scripts/build_default_model.py \\
        --teacher path/to/all-MiniLM-L6-v2 --output /tmp/default-model --check

The teacher defaults to the pinned "minilm" folder of the test-data cache
(``tests/support/m2v_testdata.py`` fetches it).  ``--check`` rebuilds into a temporary
folder and compares the sha256 of every file with the checked-in model instead of
writing (exit 1 on any difference): the build is deterministic on one machine and
library stack; see docs/distill.md for what may differ elsewhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEFAULT_OUTPUT = REPO / "packages" / "m2v-infer" / "src" / "m2v_infer" / "_default_model"
SIZE_BUDGET_BYTES = 5_000_000

TEACHER_ID = "sentence-transformers/all-MiniLM-L6-v2"
RECIPE = {
    "pca_dims": 152,
    "sif_coefficient": 1e-5,
    "quantize_to": "int8",
    "token_remove_pattern": r"\[unused\d+\]",
    "pooling": "mean",
    "device": "cpu",
    "compute_dtype": "float32",
}

CARD = """\
---
library_name: "model2vec"
base_model: "{teacher}"
license: "apache-2.0"
language:
- "en"
tags:
- "embeddings"
- "static-embeddings"
- "m2v-format"
- "m2v-distill"
- "sentence-transformers"
---

# m2v default model (all-MiniLM-L6-v2, static, int8, {dim} dims)

The model `m2v encode` and `m2v_infer.StaticModel.from_pretrained()` use when no model is
given.  It is a static embedding model: one {dim}-dimensional int8 vector per token
({rows:,} WordPiece tokens, one global scale, m2v format {version}); a text's embedding
is the normalized mean of its tokens' vectors.

## Attribution and license

Distilled from [{teacher}](https://huggingface.co/{teacher}) by the
sentence-transformers authors, licensed under the Apache License 2.0.  The vectors are
derived from that model's outputs and the tokenizer is its tokenizer, so this model is
distributed under the same license: <https://www.apache.org/licenses/LICENSE-2.0>.
Changes made: special and `[unused*]` tokens removed from the vocabulary, one forward pass
per token, PCA to {dim} dimensions, SIF weighting, int8 quantization.

## Recipe

`packages/m2v-distill/scripts/build_default_model.py` in the m2v repository rebuilds it:

```python
from m2v_distill import distill

model = distill("{teacher}", {arguments})
```

## Evaluation

`m2v eval` (see docs/distill.md in the m2v repository for the full table and the
comparison with larger models).
"""


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def default_teacher() -> Path:
    """The pinned all-MiniLM-L6-v2 folder of the test-data cache (fetched if missing)."""
    sys.path.insert(0, str(REPO / "tests" / "support"))
    from m2v_testdata import dataset_path

    return Path(dataset_path("minilm"))


def build(teacher: Path, destination: Path) -> Path:
    """Distil the default model from ``teacher`` into the new folder ``destination``."""
    import transformers
    from m2v_distill import distill
    from m2v_format import ModelCard, save_model

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model = distill(str(teacher), show_progress=sys.stderr.isatty(), **RECIPE)  # type: ignore[arg-type]
    # Name the teacher by its hub id, not by the local folder it was read from.
    config = model.data.config
    config = dataclasses.replace(
        config, tokenizer_name=TEACHER_ID, extra={**config.extra, "base_model": TEACHER_ID}
    )
    data = dataclasses.replace(model.data, config=config)
    card = ModelCard(base_model=TEACHER_ID, license="apache-2.0", language="en")
    folder = save_model(destination, data, card=card)
    arguments = ", ".join(f"{key}={value!r}" for key, value in RECIPE.items())
    (folder / "README.md").write_text(
        CARD.format(
            teacher=TEACHER_ID,
            dim=data.dim,
            rows=data.rows,
            version="1.1" if data.embeddings_scale is not None else "1.0",
            arguments=arguments,
        ),
        encoding="utf-8",
    )
    return folder


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file in a model folder, by name."""
    return {path.name: sha256(path) for path in sorted(folder.iterdir()) if path.is_file()}


def main(argv: list[str] | None = None) -> int:
    """Build (or, with --check, rebuild and compare) the default model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, help="all-MiniLM-L6-v2 folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="model folder")
    parser.add_argument(
        "--check", action="store_true", help="rebuild and compare sha256s; write nothing"
    )
    args = parser.parse_args(argv)
    teacher = args.teacher or default_teacher()

    with tempfile.TemporaryDirectory(prefix="m2v-default-model-") as temp:
        built = build(teacher, Path(temp) / "model")
        new = digests(built)
        total = sum(path.stat().st_size for path in built.iterdir())
        for name, digest in new.items():
            print(f"{digest}  {name} ({(built / name).stat().st_size:,} bytes)")
        print(f"total {total:,} bytes (budget {SIZE_BUDGET_BYTES:,})")
        if total > SIZE_BUDGET_BYTES:
            print("error: the model is over the size budget", file=sys.stderr)
            return 1
        if args.check:
            old = digests(args.output) if args.output.is_dir() else {}
            changed = sorted(
                name for name in new.keys() | old.keys() if new.get(name) != old.get(name)
            )
            for name in changed:
                print(f"differs: {name}", file=sys.stderr)
            print("reproducible: identical files" if not changed else "NOT identical")
            return 1 if changed else 0
        if args.output.exists():
            shutil.rmtree(args.output)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(built, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
