"""The default model bundled inside the package (used when no model path is given)."""

from __future__ import annotations

from pathlib import Path

from m2v_infer._errors import DefaultModelMissingError

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "_default_model"
"""Where the bundled default model lives: a native-layout model folder."""


def default_model_path() -> Path:
    """The bundled default model's folder.

    Raises:
        DefaultModelMissingError: this installation ships no default model.
    """
    folder = DEFAULT_MODEL_DIR
    if not (folder / "model.safetensors").is_file():
        raise DefaultModelMissingError(
            "no model path was given and this installation of m2v-infer bundles no default "
            "model; pass a model folder or hub id, e.g. "
            'StaticModel.from_pretrained("minishlab/potion-base-8M") or '
            "`m2v encode --model PATH ...`",
            path=folder,
        )
    return folder
