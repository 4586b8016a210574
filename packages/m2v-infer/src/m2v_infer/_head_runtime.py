"""What the head runtimes share: loading a head folder, the features, saving and uploading.

:class:`m2v_infer.StaticClassifier`, :class:`m2v_infer.StaticRegressor` and
:class:`m2v_infer.StaticEmbedder` are each a :class:`StaticModel` and a dense head
(spec/classifier.md).  This module holds, once for the three: the check that a head's task is
the runtime's (``WrongHeadTaskError`` names the class that runs it), loading a folder
(JSON and safetensors only, m2v-format's checks), encoding texts into the head's input, and
``save_pretrained`` / ``push_to_hub``.  numpy only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
from m2v_format import ClassifierHead, ModelCard, load_classifier_head, save_classifier

from m2v_infer._arguments import _Unset
from m2v_infer._errors import WrongHeadTaskError
from m2v_infer._model import StaticModel
from m2v_infer._saving import push_folder_to_hub

RUNTIME_OF_TASK: dict[str, str] = {
    "single-label": "StaticClassifier",
    "multi-label": "StaticClassifier",
    "regression": "StaticRegressor",
    "embedding": "StaticEmbedder",
}
"""The m2v_infer class that runs each head task."""


def check_task(head: ClassifierHead, runtime: str, path: Path | None) -> None:
    """Raise :class:`WrongHeadTaskError` unless ``runtime`` is the class for ``head``'s task."""
    wanted = RUNTIME_OF_TASK[head.task]
    if wanted != runtime:
        raise WrongHeadTaskError(
            f"this folder holds a {head.task} head, which {runtime} does not run; load it with "
            f"m2v_infer.{wanted}.from_pretrained",
            runtime=wanted,
            path=path,
        )


class HeadRuntime:
    """Base of the head runtimes: a :class:`StaticModel`, the head it feeds, saving."""

    runtime: ClassVar[str] = ""
    """The class name that runs this runtime's head tasks (a value of RUNTIME_OF_TASK)."""

    def __init__(
        self, model: StaticModel, head: ClassifierHead, *, num_threads: int | None = None
    ) -> None:
        check_task(head, self.runtime, model.path)
        head.check_input_dim(model.dim, model.path)
        self.model = model
        self.head = head
        self.num_threads = num_threads

    @classmethod
    def _load(cls, path: str | Path, num_threads: int | None) -> Self:
        folder = Path(path)
        head = load_classifier_head(folder)
        check_task(head, cls.runtime, folder)
        return cls(StaticModel.from_pretrained(folder), head, num_threads=num_threads)

    def _features(
        self,
        texts: str | Iterable[str],
        show_progress_bar: bool,
        max_length: int | _Unset | None,
        batch_size: int,
        use_multiprocessing: bool,
        multiprocessing_threshold: int | None,
    ) -> npt.NDArray[np.float32]:
        """The head's input: the texts' embeddings ``[n, dim]`` (one string: one text)."""
        batch = [texts] if isinstance(texts, str) else list(texts)
        features = self.model.encode(
            batch,
            show_progress_bar=show_progress_bar,
            max_length=max_length,
            batch_size=batch_size,
            use_multiprocessing=use_multiprocessing,
            multiprocessing_threshold=multiprocessing_threshold,
            num_threads=self.num_threads,
        )
        return np.asarray(features).reshape(len(batch), self.model.dim)

    def save_pretrained(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the folder (model files plus head, spec/classifier.md), atomically; returns
        the folder.  model2vec 0.10.0's ``StaticModelPipeline`` loads it too (rule M6: a
        value head as an identity head; a ``UserWarning`` says when it cannot, e.g. a
        multi-label threshold other than 0.5).

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false.
        """
        card = ModelCard(base_model=self.model.base_model_name)
        return save_classifier(path, self.model.data, self.head, overwrite=overwrite, card=card)

    def push_to_hub(
        self,
        repo_id: str,
        subfolder: str | None = None,
        token: str | None = None,
        private: bool = False,
    ) -> None:
        """Upload the folder to the Hugging Face hub (needs the ``[hub]`` extra).

        Raises:
            MissingDependencyError: ``huggingface_hub`` is not installed.
            HubUploadError: the hub refused the upload or could not be reached.
        """
        push_folder_to_hub(
            self.save_pretrained, repo_id, private=private, token=token, subfolder=subfolder
        )
