"""``from_pretrained(memory_map=False)``: the model is a copy in memory, not a view of the file.

With the default memory map, a truncated ``model.safetensors`` kills the process with
SIGBUS on the next encode; those checks run in a subprocess so pytest itself is never at
risk.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from m2v_infer import InvalidArgumentError, StaticModel
from m2v_testkit import SMALL_TEXTS

SCRIPT = """
import json, os, sys
from m2v_infer import StaticModel

folder, memory_map, other = sys.argv[1], sys.argv[2] == "map", sys.argv[3]
weights = os.path.join(folder, "model.safetensors")
texts = json.loads(sys.argv[4])
model = StaticModel.from_pretrained(folder, memory_map=memory_map)

def vectors():
    return model.encode(texts).tolist()

def mapped():
    with open("/proc/self/maps") as maps:
        return any(line.rstrip().endswith(weights) for line in maps)

def overwrite_in_place():
    with open(other, "rb") as source, open(weights, "r+b") as target:
        target.write(source.read())
        target.truncate()

def replace_by_rename():
    with open(other, "rb") as source, open(weights + ".new", "wb") as target:
        target.write(source.read())
    os.replace(weights + ".new", weights)

changes = {
    "overwrite": overwrite_in_place,
    "truncate": lambda: os.truncate(weights, 0),
    "replace": replace_by_rename,
}
result = {"before": vectors(), "mapped": mapped()}
print(json.dumps({"step": "loaded", "mapped": result["mapped"]}), flush=True)
for name in sys.argv[5].split(","):
    changes[name]()
    result[name] = vectors()
    print(json.dumps({"step": name}), flush=True)
print(json.dumps(result), flush=True)
"""


def _changed_under(
    folder: Path, memory_map: bool, other: Path, changes: str
) -> subprocess.CompletedProcess[str]:
    """Run :data:`SCRIPT` on ``folder``: load, encode, apply each change, encode again."""
    texts = json.dumps(list(SMALL_TEXTS))
    mode = "map" if memory_map else "copy"
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), mode, str(other), texts, changes],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def potion_copy(potion_path: Path, tmp_path: Path) -> Path:
    """A private copy of potion-base-8M that a test may truncate or overwrite."""
    return Path(shutil.copytree(potion_path, tmp_path / "potion"))


@pytest.fixture(scope="module")
def default_model_file() -> Path:
    """The bundled default model's safetensors: a different model's file, smaller than potion's."""
    path = StaticModel.from_pretrained().path
    assert path is not None
    return path / "model.safetensors"


def test_copied_model_gives_bit_identical_vectors(
    potion_path: Path, real_corpus: list[str]
) -> None:
    for folder in (potion_path, None):  # float32 (the table is the file) and int8 (dequantized)
        mapped = StaticModel.from_pretrained(folder)
        copied = StaticModel.from_pretrained(folder, memory_map=False)
        assert not copied.embedding.flags.writeable
        np.testing.assert_array_equal(copied.embedding, mapped.embedding)
        assert np.array_equal(copied.encode(real_corpus), mapped.encode(real_corpus))
        assert np.array_equal(
            copied.encode(real_corpus, normalize=False, dimensions=64),
            mapped.encode(real_corpus, normalize=False, dimensions=64),
        )


def test_memory_map_must_be_a_bool(potion_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="memory_map must be True or False"):
        StaticModel.from_pretrained(potion_path, memory_map="no")  # type: ignore[arg-type]


LINUX_ONLY = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps")


@LINUX_ONLY
def test_copied_model_survives_every_change_to_its_file(
    potion_copy: Path, default_model_file: Path
) -> None:
    """Overwritten in place, truncated to 0 bytes, replaced by a rename: same vectors."""
    done = _changed_under(potion_copy, False, default_model_file, "overwrite,truncate,replace")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["mapped"] is False  # no mapping of model.safetensors is left in the process
    for change in ("overwrite", "truncate", "replace"):
        assert result[change] == result["before"], change
    assert done.stderr == ""


@LINUX_ONLY
def test_memory_mapped_model_dies_of_a_truncated_file(
    potion_copy: Path, default_model_file: Path
) -> None:
    """The hazard ``memory_map=False`` removes: the default mapping makes truncation fatal."""
    done = _changed_under(potion_copy, True, default_model_file, "truncate")
    assert json.loads(done.stdout.splitlines()[0]) == {"step": "loaded", "mapped": True}
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stdout, done.stderr)
    assert '"step": "truncate"' not in done.stdout  # it died in the encode after truncating
