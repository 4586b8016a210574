"""Writing a model folder and uploading it to the Hugging Face hub."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from m2v_format import MissingDependencyError, ModelCard, StaticModelData, save_model

from m2v_infer._errors import HubUploadError


def save_folder(
    folder: Path,
    data: StaticModelData,
    base_model: str | None,
    language: list[str] | str | None,
    *,
    overwrite: bool,
) -> Path:
    """``m2v_format.save_model`` with a model card naming the base model and language."""
    card = ModelCard(
        base_model=base_model,
        language=tuple(language) if isinstance(language, list) else language,
    )
    return save_model(folder, data, overwrite=overwrite, card=card)


def push_folder_to_hub(
    write: Callable[[Path], Path],
    repo_id: str,
    *,
    private: bool,
    token: str | None,
    subfolder: str | None,
) -> None:
    """Write the model with ``write(folder)`` into a temporary folder and upload it.

    Raises:
        MissingDependencyError: ``huggingface_hub`` is not installed (rule L7).
        HubUploadError: the hub could not be reached or refused the upload.
    """
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise MissingDependencyError(
            'push_to_hub needs huggingface_hub: pip install "m2v-infer[hub]"', rule="L7"
        ) from None
    with tempfile.TemporaryDirectory(prefix="m2v-push-") as temp:
        folder = write(Path(temp) / "model")
        api = HfApi(token=token)
        try:
            api.create_repo(repo_id=repo_id, private=private, exist_ok=True, token=token)
            api.upload_folder(
                repo_id=repo_id, folder_path=str(folder), path_in_repo=subfolder, token=token
            )
        except Exception as error:  # network, authentication and hub errors alike
            raise HubUploadError(
                f"uploading to {repo_id!r} failed: {type(error).__name__}: {error}"
            ) from error
