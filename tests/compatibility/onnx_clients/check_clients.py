"""ONNX exports run by transformers.js and fastembed equal m2v-infer (run by hand).

    uv run --frozen python tests/compatibility/onnx_clients/check_clients.py \
        --node-modules DIR [--fastembed-python PYTHON]

Neither peer is in the workspace (transformers.js comes from npm, fastembed would pull a
second onnxruntime into the venv), so this is not a pytest test.  Set them up once::

    mkdir -p /tmp/tjs && cd /tmp/tjs && npm init -y && \
        npm install --ignore-scripts @huggingface/transformers     # CPU binaries are included
    uv venv /tmp/fastembed-venv && uv pip install --python /tmp/fastembed-venv/bin/python fastembed

then pass ``--node-modules /tmp/tjs/node_modules --fastembed-python
/tmp/fastembed-venv/bin/python``.  potion-base-8M is exported with both input forms; the
Rotten Tomatoes sample plus the hand-written edge cases are embedded by transformers.js
(offsets and padded graphs, ``transformers_js_client.mjs``) and fastembed (padded graph,
``fastembed_client.py``), and each result is compared with ``m2v_infer.StaticModel`` (max
absolute difference, texts beyond 1e-5).  Exit status 1 if any text differs by more.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from m2v_format import export_onnx
from m2v_infer import StaticModel
from m2v_testkit import EDGE_CASES, require_testdata, rotten_tomatoes_texts

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-5


def _compare(name: str, got: np.ndarray, expected: np.ndarray) -> bool:
    worst = np.abs(got - expected).max(axis=1)
    over = int((worst > TOLERANCE).sum())
    print(f"{name:<34} {len(got):5} texts  max |diff| {worst.max():.2e}  over 1e-5: {over}")
    return over == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--node-modules", type=Path, help="a node_modules with @huggingface/transformers"
    )
    parser.add_argument("--fastembed-python", help="a Python interpreter with fastembed installed")
    args = parser.parse_args()
    potion = require_testdata("potion-base-8M")
    texts = rotten_tomatoes_texts()[::9][:1500] + list(EDGE_CASES)
    expected = StaticModel.from_pretrained(potion).encode(texts)
    ok = True
    with tempfile.TemporaryDirectory(prefix="onnx-clients-") as work:
        root = Path(work)
        (root / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
        for form in ("offsets", "padded"):
            export_onnx(potion, root / f"potion-{form}", inputs=form)
        if args.node_modules is not None:
            (root / "node_modules").symlink_to(args.node_modules.resolve())
            shutil.copy(HERE / "transformers_js_client.mjs", root)
            version = json.loads(
                (args.node_modules / "@huggingface/transformers/package.json").read_text()
            )["version"]
            for form in ("offsets", "padded"):
                out = root / f"tjs-{form}.json"
                subprocess.run(
                    ["node", "transformers_js_client.mjs", str(root), f"potion-{form}",
                     str(root / "texts.json"), str(out)],
                    cwd=root, check=True,
                )  # fmt: skip
                got = np.array(json.loads(out.read_text()), dtype=np.float32)
                ok &= _compare(f"transformers.js {version}, {form}", got, expected)
        if args.fastembed_python is not None:
            out = root / "fastembed.npy"
            subprocess.run(
                [args.fastembed_python, str(HERE / "fastembed_client.py"),
                 str(root / "potion-padded"), str(root / "texts.json"), str(out)],
                check=True,
            )  # fmt: skip
            version = subprocess.run(
                [args.fastembed_python, "-c", "import fastembed; print(fastembed.__version__)"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            ok &= _compare(f"fastembed {version}, padded", np.load(out), expected)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
