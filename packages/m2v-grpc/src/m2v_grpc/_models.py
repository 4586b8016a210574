"""The served models: loading ``NAME=PATH`` specs and describing each model for GetInfo."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from m2v_infer import StaticModel

from m2v_grpc._config import ModelSpec
from m2v_grpc._errors import UnknownModelError


@dataclass(frozen=True)
class ServedModel:
    """One loaded model with the metadata GetInfo publishes."""

    name: str
    model: StaticModel
    dims: int
    dtype: str
    vocabulary_size: int
    normalize_default: bool
    max_tokens: int | None
    """Tokens kept per text when a request sets no ``max_length``; None: no truncation."""

    def encode(
        self, texts: Sequence[str], *, max_length: int | None, normalize: bool, dimensions: int
    ) -> npt.NDArray[np.float32]:
        """Embed ``texts`` on the calling thread: ``[len(texts), dimensions]`` float32.

        Dimensions are truncated first, then rows are normalised (when ``normalize``).
        """
        vectors = self.model.encode(
            list(texts),
            max_length=max_length,
            normalize=normalize,
            dimensions=None if dimensions == self.dims else dimensions,
            batch_size=max(1, len(texts)),
            num_threads=1,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), dimensions)

    def encode_counted(
        self, texts: Sequence[str], *, max_length: int | None, normalize: bool, dimensions: int
    ) -> tuple[npt.NDArray[np.float32], int]:
        """:meth:`encode`, plus the number of token ids pooled over all texts (for usage)."""
        vectors, tokens = self.model.encode_with_token_count(
            list(texts),
            max_length=max_length,
            normalize=normalize,
            dimensions=None if dimensions == self.dims else dimensions,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), dimensions), tokens

    def tokenize(self, texts: Sequence[str], *, max_length: int | None) -> list[list[int]]:
        """Token ids each text pools (truncated to ``max_length``, unknown ids dropped)."""
        return self.model.tokenize(list(texts), max_length=max_length)


def describe(name: str, model: StaticModel) -> ServedModel:
    """Collect the GetInfo metadata of a loaded :class:`m2v_infer.StaticModel`."""
    return ServedModel(
        name=name,
        model=model,
        dims=int(model.dim),
        dtype=model.embedding_dtype,
        vocabulary_size=len(model.tokens),
        normalize_default=bool(model.normalize),
        max_tokens=model.max_length,
    )


class ModelRegistry:
    """Name -> :class:`ServedModel`; the first model is the default one."""

    def __init__(self, models: Iterable[ServedModel]) -> None:
        self._models: dict[str, ServedModel] = {}
        for served in models:
            self._models[served.name] = served
        self.default: ServedModel | None = next(iter(self._models.values()), None)

    @classmethod
    def empty(cls) -> ModelRegistry:
        """A registry serving nothing (before the models are loaded)."""
        return cls(())

    @classmethod
    def load(
        cls,
        specs: Sequence[ModelSpec],
        loader: Callable[[str], StaticModel] | None = None,
        *,
        memory_map: bool = False,
    ) -> ModelRegistry:
        """Load every spec with ``loader`` (default :meth:`StaticModel.from_pretrained`).

        The default loader copies each model's tables into this process's memory
        (``memory_map=False``), so that nothing done to a model file while the server runs
        (truncated, overwritten, replaced) can crash it or change its vectors: a served
        model is the file as it was at start-up until the process restarts.
        ``memory_map=True`` keeps the tables on a memory map of the file instead (shared
        pages, no copy, but a truncated file kills the process with SIGBUS).
        """

        def load(path: str) -> StaticModel:
            if loader is not None:
                return loader(path)
            return StaticModel.from_pretrained(path, memory_map=memory_map)

        return cls(describe(spec.name, load(spec.path)) for spec in specs)

    def get(self, name: str) -> ServedModel:
        """The model called ``name`` (empty: the default); :class:`UnknownModelError` if none."""
        served = self._models.get(name) if name else self.default
        if served is None:
            known = ", ".join(sorted(self._models))
            raise UnknownModelError(f"no model named {name!r} is served (served: {known})")
        return served

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
