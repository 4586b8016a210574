"""A LangChain ``Embeddings`` backed by a static model (the ``langchain`` extra).

``langchain-core`` is imported here and nowhere else; :func:`langchain_embeddings` (exported
by ``m2v_infer``) imports this module when it is called, so ``import m2v_infer`` never
needs LangChain.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from m2v_format import MissingDependencyError

from m2v_infer._model import StaticModel

try:
    from langchain_core.embeddings import Embeddings
except ImportError:  # pragma: no cover - exercised by a test that hides langchain_core
    raise MissingDependencyError(
        'the LangChain adapter needs langchain-core: pip install "m2v-infer[langchain]"'
    ) from None


class M2VEmbeddings(Embeddings):
    """LangChain embeddings from an m2v static model: ``embed_documents``, ``embed_query``.

    Vectors are the model's (normalized as the model says unless ``normalize`` is given),
    as lists of floats.  Long document lists are encoded on worker processes when they
    pay (``num_workers="auto"``).  The async methods run the same work in a thread.
    """

    def __init__(
        self,
        model: StaticModel,
        *,
        normalize: bool | None = None,
        dimensions: int | None = None,
        batch_size: int = 1024,
        num_workers: int | str | None = None,
    ) -> None:
        self.model = model
        self.normalize = normalize
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.num_workers = num_workers

    def _encode(self, texts: str | Sequence[str]) -> Any:
        return self.model.encode(
            texts,
            normalize=self.normalize,
            dimensions=self.dimensions,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        vectors: list[list[float]] = self._encode(list(texts)).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        vector: list[float] = self._encode(text).tolist()
        return vector


def langchain_embeddings(
    model: str | Path | StaticModel | None = None,
    *,
    normalize: bool | None = None,
    dimensions: int | None = None,
    batch_size: int = 1024,
    num_workers: int | str | None = None,
) -> M2VEmbeddings:
    """A LangChain ``Embeddings`` over ``model`` (a loaded model, a folder, a hub id, or
    ``None``: the bundled default model)."""
    loaded = model if isinstance(model, StaticModel) else StaticModel.from_pretrained(model)
    return M2VEmbeddings(
        loaded,
        normalize=normalize,
        dimensions=dimensions,
        batch_size=batch_size,
        num_workers=num_workers,
    )
