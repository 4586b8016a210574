"""StaticModel: model2vec's ``StaticModel`` API on a numpy-only runtime.

This module holds the class: its constructors, properties and encoding methods.  Argument
checks live in ``_arguments``, the engine (tokenize, pool) in ``_engine``, batching and
threads in ``_runner``, saving and upload in ``_saving``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt
from m2v_format import InvalidArgumentError as FormatInvalidArgumentError
from m2v_format import (
    ModelConfig,
    StaticModelData,
    effective_rows,
    load_model,
    quantize,
    quantize_vocabulary,
)

from m2v_infer._arguments import (
    UNSET,
    _Unset,
    as_texts,
    check_dimensions,
    check_flag,
    check_max_length,
    check_normalize,
    check_positive,
    check_workers,
    checked_texts,
    dtype_name,
)
from m2v_infer._collect import assemble
from m2v_infer._default import default_model_path
from m2v_infer._engine import Engine, FloatMatrix, finish
from m2v_infer._errors import InvalidArgumentError
from m2v_infer._runner import available_cores, map_batches, plan_workers
from m2v_infer._saving import push_folder_to_hub, save_folder
from m2v_infer._workers import EncodeSettings, ProcessPool, WorkerInit, export_rows

PathLike = str | Path

__all__ = ["UNSET", "StaticModel", "WorkerPool"]


def _default_workers(
    num_workers: int | str | None, num_threads: int | None, use_multiprocessing: bool
) -> int | str:
    """``num_workers`` when given; else one process when the caller asked for threads or no
    multiprocessing, and ``"auto"`` otherwise."""
    if num_workers is not None:
        return num_workers
    return "auto" if use_multiprocessing and num_threads is None else 1


class StaticModel:
    """A static embedding model: a token embedding table averaged over each text's tokens.

    A drop-in replacement for ``model2vec.StaticModel`` (0.10.0): same constructor,
    ``from_pretrained``, ``encode``, ``encode_as_sequence``, ``tokenize``,
    ``save_pretrained``, ``push_to_hub`` and properties, same outputs (within 1e-6).  On top:
    ``encode`` takes any iterable (generators included), :meth:`encode_iter` streams batch
    by batch with bounded memory, ``dimensions=`` truncates outputs, and encoding runs on a
    thread pool (``num_threads=``) and is safe to call from several threads at once.

    Differences from model2vec, all deliberate: ``encode([])`` returns shape ``(0, dim)``
    instead of raising; float16 and int8 models are computed in float32; outputs are always
    float32; ``save_pretrained`` refuses to overwrite an existing model folder unless
    ``overwrite=True``; ``use_multiprocessing`` selects threads (no process pool).
    """

    base_model_name: str | None
    """The model this one was distilled from, when known (used in the model card)."""
    language: list[str] | str | None
    """The model's language(s), when known (used in the model card)."""

    def __init__(
        self,
        vectors: npt.ArrayLike,
        tokenizer: Any,
        config: Mapping[str, Any] | None = None,
        normalize: bool = False,
        base_model_name: str | None = None,
        language: list[str] | str | None = None,
        weights: npt.ArrayLike | None = None,
        token_mapping: npt.ArrayLike | None = None,
        max_length: int | None = 512,
    ) -> None:
        """Build a model from its parts (model2vec's constructor signature).

        ``normalize`` and ``max_length`` are authoritative: they override the values in
        ``config``.  The tokenizer is copied (later changes to it do not affect the model).
        Most code calls :meth:`from_pretrained` instead.

        Raises:
            FormatError: the arrays break a rule of the format, e.g.
                ``VocabularySizeMismatchError`` when ``vectors`` has fewer rows than the
                tokenizer has tokens (and no ``token_mapping``).
        """
        data = StaticModelData(
            embeddings=np.asarray(vectors),
            tokenizer=type(tokenizer).from_str(tokenizer.to_str()),
            config=ModelConfig.from_dict(dict(config or {})),
            weights=None if weights is None else np.asarray(weights),
            mapping=None if token_mapping is None else np.asarray(token_mapping),
        )
        data.check()  # as model2vec: a table that does not fit the tokenizer is refused now
        self._setup(data, normalize=normalize, max_length=max_length)
        self.base_model_name = base_model_name
        self.language = language

    def _setup(self, data: StaticModelData, *, normalize: bool, max_length: int | None) -> None:
        self._data = data
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._tokens: tuple[str, ...] | None = None
        self._normalize = bool(normalize)
        self._max_length = check_max_length(max_length)
        self.base_model_name = None
        self.language = None

    @classmethod
    def from_data(
        cls,
        data: StaticModelData,
        *,
        normalize: bool | None = None,
        max_length: int | _Unset | None = UNSET,
    ) -> StaticModel:
        """Wrap an already loaded :class:`m2v_format.StaticModelData`.

        ``normalize`` defaults to the model's config (absent: false); ``max_length`` to the
        config's ``max_length`` when the key is present (even null), else 512 (rule I9).
        """
        model = cls.__new__(cls)
        resolved_normalize = check_normalize(normalize)
        model._setup(
            data,
            normalize=data.normalize if resolved_normalize is None else resolved_normalize,
            max_length=data.config.default_max_length
            if isinstance(max_length, _Unset)
            else max_length,
        )
        language = data.config.language
        model.language = list(language) if isinstance(language, tuple) else language
        base = data.config.extra.get("base_model")
        model.base_model_name = base if isinstance(base, str) else None
        return model

    @classmethod
    def from_pretrained(
        cls,
        path: PathLike | None = None,
        *,
        normalize: bool | None = None,
        subfolder: str | None = None,
        quantize_to: str | Any | None = None,
        dimensionality: int | None = None,
        token: str | None = None,
        revision: str | None = None,
        max_length: int | _Unset | None = UNSET,
        vocabulary_quantization: int | None = None,
        force_download: bool = False,
        memory_map: bool = True,
    ) -> StaticModel:
        """Load a model from a local folder or a hub id (the hub needs the ``[hub]`` extra).

        Args:
            path: model folder or hub id; ``None`` loads the default model bundled with the
                package (``DefaultModelMissingError`` when there is none).
            normalize: normalize outputs; ``None`` uses the model's config (absent: false).
            subfolder: folder inside ``path`` holding the model.
            quantize_to: ``"float32"``, ``"float16"`` or ``"int8"``: convert the embedding
                table after loading (int8 keeps a scale, so outputs stay close).
            dimensionality: keep only the first N dimensions of the table (for PCA or
                Matryoshka-trained models; outputs are renormalized when normalizing).
            token, revision: passed to the hub when ``path`` is a hub id.
            max_length: default token limit of :meth:`encode`; ``None`` disables
                truncation; not passed: the config's ``max_length`` if the key is present,
                else 512.
            vocabulary_quantization: share N rows among all tokens (k-means on the
                token directions, seed 42; see ``m2v_format.quantize_vocabulary``): a
                smaller table, slightly different vectors.  Takes seconds to tens of
                seconds (about 35 s for 2,048 clusters of potion-base-8M on 2 cores).
            force_download: accepted for model2vec compatibility; has no effect (the hub
                cache is used as ``huggingface_hub`` decides).
            memory_map: ``True`` (default): the tables are read-only views on a memory map
                of ``model.safetensors`` - fast to load, pages shared by every process
                mapping the file, but the model stays backed by the file: truncating or
                rewriting it in place while the model is in use can kill the process with
                SIGBUS (or change its vectors).  ``False``: the file is read once into
                process memory (one private copy per process, as large as the file, about
                30 MB for potion-base-8M); the model then never reads the file again, and
                nothing done to it afterwards affects the model.  Long-running services
                should pass ``False`` (``m2v serve`` does).

        Raises:
            FormatError: any of m2v-format's typed errors for a bad or missing model.
            InvalidArgumentError: an argument is out of range.
        """
        del force_download
        resolved_normalize = check_normalize(normalize)
        if not isinstance(max_length, _Unset):
            max_length = check_max_length(max_length)
        folder: PathLike = default_model_path() if path is None else path
        data = load_model(
            folder,
            subfolder=subfolder,
            token=token,
            revision=revision,
            memory_map=check_flag(memory_map, "memory_map"),
        )
        dims = check_dimensions(dimensionality, data.dim, "dimensionality")
        if vocabulary_quantization is not None:
            clusters = check_positive(vocabulary_quantization, "vocabulary_quantization")
            try:
                data = quantize_vocabulary(data, clusters)
            except FormatInvalidArgumentError as error:  # too many clusters, already clustered
                raise InvalidArgumentError(f"vocabulary_quantization: {error}") from error
        if quantize_to is not None:
            data = quantize(data, dtype_name(quantize_to), dims=dims)  # type: ignore[arg-type]
        elif dims is not None and dims < data.dim:
            data = dataclasses.replace(
                data, embeddings=np.ascontiguousarray(data.embeddings[:, :dims])
            )
        return cls.from_data(data, normalize=resolved_normalize, max_length=max_length)

    # ------------------------------------------------------------------ properties

    @property
    def data(self) -> StaticModelData:
        """The model as :class:`m2v_format.StaticModelData`, config reflecting the current
        ``normalize`` and ``max_length`` (what :meth:`save_pretrained` writes)."""
        config = dataclasses.replace(
            self._data.config,
            normalize=self._normalize,
            max_length=self._max_length,
            has_max_length=True,
        )
        return dataclasses.replace(self._data, config=config)

    @property
    def dim(self) -> int:
        """Dimension of the vectors :meth:`encode` returns (without ``dimensions=``)."""
        return self._data.dim

    @property
    def normalize(self) -> bool:
        """Whether :meth:`encode` normalizes its outputs by default (settable)."""
        return self._normalize

    @normalize.setter
    def normalize(self, value: bool) -> None:
        checked = check_normalize(value)
        if checked is None:
            raise InvalidArgumentError("normalize must be True or False, got None")
        self._normalize = checked

    @property
    def max_length(self) -> int | None:
        """Default token limit of :meth:`encode`; ``None``: no truncation (settable)."""
        return self._max_length

    @max_length.setter
    def max_length(self, value: int | None) -> None:
        self._max_length = check_max_length(value)

    @property
    def embedding(self) -> npt.NDArray[Any]:
        """The embedding table as stored (float32, float16 or int8; read-only when loaded)."""
        return self._data.embeddings

    @property
    def weights(self) -> npt.NDArray[Any] | None:
        """Per-token weights (vocabulary-quantized models), or ``None``."""
        return self._data.weights

    @property
    def token_mapping(self) -> npt.NDArray[Any] | None:
        """Token id to embedding row (vocabulary-quantized models), or ``None``."""
        return self._data.mapping

    @property
    def embedding_dtype(self) -> str:
        """Name of the stored dtype of the embedding table (``"float32"``, ``"int8"``, ...)."""
        return np.dtype(self._data.dtype).name

    @property
    def vocabulary_quantization(self) -> int | None:
        """Number of embedding rows when the vocabulary is quantized, else ``None``."""
        quantized = self._data.mapping is not None or self._data.rows != len(self.tokens)
        return self._data.rows if quantized else None

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` (padding and truncation disabled)."""
        return self._data.tokenizer

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every vocabulary token (added tokens included), ordered by id."""
        if self._tokens is None:
            vocab = self._data.tokenizer.get_vocab(with_added_tokens=True)
            self._tokens = tuple(token for token, _ in sorted(vocab.items(), key=lambda kv: kv[1]))
        return self._tokens

    @property
    def config(self) -> dict[str, Any]:
        """The model's config as a new dict, with the current ``normalize`` and ``max_length``."""
        return self.data.config.to_dict()

    @property
    def unk_token_id(self) -> int | None:
        """The unknown token's id, dropped before averaging (rule K3), or ``None``."""
        return self._data.unknown_token_id

    @property
    def median_token_length(self) -> int:
        """Median vocabulary token length in code points (rule I1)."""
        return self._data.median_token_length

    @property
    def path(self) -> Path | None:
        """The folder the model was loaded from, if any."""
        return self._data.path

    def __repr__(self) -> str:
        return (
            f"StaticModel(path={str(self.path) if self.path else None!r}, "
            f"rows={self._data.rows}, dim={self.dim}, dtype={self.embedding_dtype}, "
            f"normalize={self.normalize}, max_length={self.max_length})"
        )

    # ------------------------------------------------------------------ engine

    def _get_engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = Engine.for_model(self._data)
                engine = self._engine
        return engine

    def _threads(self, num_threads: int | None) -> int:
        return 1 if num_threads is None else check_positive(num_threads, "num_threads")

    # ------------------------------------------------------------------ workers

    def workers(self, num_workers: int | str = "auto") -> WorkerPool:
        """Start worker processes that encode with this model, for reuse across calls.

        ``num_workers`` is a count or ``"auto"`` (every core this process may use).  Use it
        as a context manager so the workers stop when you are done::

            with model.workers(4) as pool:
                for chunk in chunks:
                    vectors = pool.encode(chunk)

        The pool's ``encode`` and ``encode_iter`` take this model's arguments and return
        the same vectors, bit for bit.  Starting workers costs about a third of a second
        (see docs/scale.md); one call of ``encode(..., num_workers=N)`` starts and stops
        its own.

        Raises:
            InvalidArgumentError: ``num_workers`` is not a count >= 1 or ``"auto"``.
            WorkerError: a worker could not start.
        """
        checked = check_workers(num_workers)
        count = available_cores() if checked == "auto" else int(checked)
        return WorkerPool(self, count)

    def _start_pool(self, count: int) -> ProcessPool:
        rows = self._engine.rows if self._engine is not None else effective_rows(self._data)
        folder, rows_file = export_rows(rows)
        init = WorkerInit(
            tokenizer_json=self._data.tokenizer.to_str(),
            rows_file=rows_file,
            unknown_id=self._data.unknown_token_id,
            median_length=self._data.median_token_length,
        )
        return ProcessPool(init, folder, count, dim=self.dim)

    # ------------------------------------------------------------------ encoding

    @overload
    def encode(
        self,
        sentences: str,
        *,
        show_progress_bar: bool = ...,
        max_length: int | _Unset | None = ...,
        normalize: bool | None = ...,
        batch_size: int = ...,
        use_multiprocessing: bool = ...,
        multiprocessing_threshold: int | None = ...,
        dimensions: int | None = ...,
        num_workers: int | str | None = ...,
        num_threads: int | None = ...,
        **kwargs: Any,
    ) -> npt.NDArray[np.float32]: ...

    @overload
    def encode(
        self,
        sentences: Iterable[str],
        *,
        show_progress_bar: bool = ...,
        max_length: int | _Unset | None = ...,
        normalize: bool | None = ...,
        batch_size: int = ...,
        use_multiprocessing: bool = ...,
        multiprocessing_threshold: int | None = ...,
        dimensions: int | None = ...,
        num_workers: int | str | None = ...,
        num_threads: int | None = ...,
        **kwargs: Any,
    ) -> npt.NDArray[np.float32]: ...

    def encode(
        self,
        sentences: str | Iterable[str],
        *,
        show_progress_bar: bool = False,
        max_length: int | _Unset | None = UNSET,
        normalize: bool | None = None,
        batch_size: int = 1024,
        use_multiprocessing: bool = True,
        multiprocessing_threshold: int | None = None,
        dimensions: int | None = None,
        num_workers: int | str | None = None,
        num_threads: int | None = None,
        **kwargs: Any,
    ) -> npt.NDArray[np.float32]:
        """Embed texts: the mean of their tokens' vectors, normalized if asked.

        Args:
            sentences: one string (a 1-D vector is returned) or any iterable of strings
                (a list, a generator, a file's lines...; a 2-D ``[n, dim]`` array is
                returned, ``(0, dim)`` for no texts).  Iterables are consumed a batch at a
                time, so only the output has to fit in memory (see :meth:`encode_iter`).
            show_progress_bar: draw a progress bar (rate and ETA) on stderr.
            max_length: token limit per text (rules I2/I3); ``None``: no truncation; not
                passed: the model's :attr:`max_length`.
            normalize: unit-length outputs; ``None``: the model's :attr:`normalize`.
            batch_size: texts per batch (and per task sent to a worker process).
            use_multiprocessing: with ``num_workers`` unset, ``True`` means ``"auto"``
                and ``False`` means one process, as in model2vec.
            multiprocessing_threshold: the fewest texts for which ``"auto"`` starts worker
                processes (default ``None``: the measured break-even for this machine's
                cores, about 53k texts on 2 cores and 27k on 16; see docs/scale.md).
            dimensions: keep only the first N dimensions of each output (renormalized when
                normalizing); ``None``: all :attr:`dim` dimensions.
            num_workers: worker processes: a count, or ``"auto"`` - every core this
                process may use, when the input has at least ``multiprocessing_threshold``
                texts (below that, starting processes costs more than it saves).  ``1``:
                this process only.  The vectors are the same bit for bit either way.
            num_threads: threads in this process when it encodes alone (default 1: the
                fast path is Python work, a second thread adds little; use processes).
                Passing it without ``num_workers`` means: this process only.
            kwargs: ignored (model2vec compatibility).

        Returns:
            float32 array ``[n, dims]`` (``[dims]`` for a single string).

        Raises:
            InvalidInputError: a text is not a string, or the tokenizer refuses it (its
                ``index`` names it).
            InvalidArgumentError: an argument is out of range.
            WorkerError: a worker process failed or died.
        """
        del kwargs
        return self._encode_all(
            sentences,
            max_length=max_length,
            normalize=normalize,
            batch_size=batch_size,
            dimensions=dimensions,
            threads=self._threads(num_threads),
            workers=_default_workers(num_workers, num_threads, use_multiprocessing),
            threshold=multiprocessing_threshold,
            show_progress_bar=show_progress_bar,
        )

    def _encode_all(
        self,
        sentences: str | Iterable[str],
        *,
        max_length: int | _Unset | None,
        normalize: bool | None,
        batch_size: int,
        dimensions: int | None,
        threads: int,
        workers: int | str,
        threshold: int | None,
        show_progress_bar: bool,
        pool: ProcessPool | None = None,
    ) -> npt.NDArray[np.float32]:
        """The body of :meth:`encode` (and of :meth:`WorkerPool.encode`): every batch
        assembled into one array, ``[dims]`` for a single string."""
        texts, single = as_texts(sentences)
        total = len(texts) if isinstance(texts, Sized) else None
        out_dim = check_dimensions(dimensions, self.dim, "dimensions") or self.dim
        chunks = self._pooled(
            texts,
            total=total,
            max_length=max_length,
            normalize=normalize,
            batch_size=batch_size,
            dimensions=dimensions,
            threads=threads,
            workers=workers,
            threshold=threshold,
            show_progress_bar=show_progress_bar,
            pool=pool,
            views=True,  # assemble copies each batch into the output
        )
        out = assemble(chunks, total, out_dim)
        return out[0] if single else out

    def encode_iter(
        self,
        sentences: Iterable[str],
        *,
        batch_size: int = 1024,
        max_length: int | _Unset | None = UNSET,
        normalize: bool | None = None,
        dimensions: int | None = None,
        num_workers: int | str | None = None,
        num_threads: int | None = None,
        show_progress_bar: bool = False,
    ) -> Iterator[npt.NDArray[np.float32]]:
        """Embed a stream of texts batch by batch, with bounded memory.

        Yields one float32 array ``[b, dims]`` per batch of ``batch_size`` consecutive
        texts (the last may be shorter), in input order.  The input is read lazily and only
        a few batches are in flight (two per worker process), so a corpus larger than
        memory can be embedded and written out as it goes.  ``num_workers`` defaults to
        ``"auto"``: worker processes once the stream proves longer than the break-even
        (the first texts are read ahead to find out).  Other arguments are as for
        :meth:`encode`; a single string counts as one text.  Arguments are checked on the
        first ``next()``.
        """
        texts, _ = as_texts(sentences)
        total = len(texts) if isinstance(texts, Sized) else None
        check_dimensions(dimensions, self.dim, "dimensions")
        yield from self._pooled(
            texts,
            total=total,
            max_length=max_length,
            normalize=normalize,
            batch_size=batch_size,
            dimensions=dimensions,
            threads=self._threads(num_threads),
            workers=_default_workers(num_workers, num_threads, True),
            threshold=None,
            show_progress_bar=show_progress_bar,
        )

    def _settings(
        self, max_length: int | _Unset | None, normalize: bool | None, dimensions: int | None
    ) -> EncodeSettings:
        limit = self._max_length if isinstance(max_length, _Unset) else check_max_length(max_length)
        checked_normalize = check_normalize(normalize)
        return EncodeSettings(
            max_length=limit,
            normalize=self._normalize if checked_normalize is None else checked_normalize,
            dimensions=check_dimensions(dimensions, self.dim, "dimensions"),
        )

    def _pooled(
        self,
        texts: Iterable[Any],
        *,
        total: int | None,
        max_length: int | _Unset | None,
        normalize: bool | None,
        batch_size: int,
        dimensions: int | None,
        threads: int,
        workers: int | str,
        threshold: int | None,
        show_progress_bar: bool,
        pool: ProcessPool | None = None,
        views: bool = False,
    ) -> Iterator[FloatMatrix]:
        """Vectors batch by batch, in one process or on workers.  With ``views`` results
        from workers may be views valid until the next batch (for callers that copy)."""
        settings = self._settings(max_length, normalize, dimensions)
        size = check_positive(batch_size, "batch_size")

        def on(workers: ProcessPool, texts: Iterable[Any]) -> Iterator[FloatMatrix]:
            return workers.map(
                texts,
                settings,
                batch_size=size,
                total=total,
                show_progress=show_progress_bar,
                views=views,
            )

        if pool is not None:
            return on(pool, texts)
        count, texts = plan_workers(
            workers,
            texts,
            total,
            None if threshold is None else check_positive(threshold, "multiprocessing_threshold"),
        )
        if count > 1:
            return _closing_after(self._start_pool(count), on, texts)
        engine = self._get_engine()

        def work(offset: int, batch: list[Any]) -> FloatMatrix:
            vectors = engine.pool(checked_texts(batch, offset), settings.max_length, offset=offset)
            return finish(vectors, dimensions=settings.dimensions, normalize=settings.normalize)

        return map_batches(
            work,
            texts,
            batch_size=size,
            threads=threads,
            total=total,
            show_progress=show_progress_bar,
            rows=len,
        )

    def encode_as_sequence(
        self,
        sentences: str | Iterable[str],
        *,
        max_length: int | None = None,
        batch_size: int = 1024,
        show_progress_bar: bool = False,
        use_multiprocessing: bool = True,
        multiprocessing_threshold: int = 10_000,
    ) -> Any:
        """Per-token vectors of each text: a float32 ``[tokens, dim]`` array per text.

        As model2vec, ``max_length`` defaults to ``None`` here (no truncation; the model's
        :attr:`max_length` is not used).  A text without known tokens gives a ``(0, dim)``
        array.  A single string gives one array; an iterable gives a list of arrays.
        """
        del multiprocessing_threshold
        texts, single = as_texts(sentences)
        total = len(texts) if isinstance(texts, Sized) else None
        rows = self._get_engine().rows
        result: list[FloatMatrix] = []
        for ids in self._token_batches(
            texts,
            total=total,
            max_length=max_length,
            batch_size=batch_size,
            threads=1,
            show_progress_bar=show_progress_bar,
        ):
            result.extend(rows[np.asarray(row, dtype=np.intp)] for row in ids)
        return result[0] if single else result

    def encode_with_token_count(
        self,
        sentences: Iterable[str],
        *,
        max_length: int | _Unset | None = UNSET,
        normalize: bool | None = None,
        dimensions: int | None = None,
    ) -> tuple[npt.NDArray[np.float32], int]:
        """Embed texts as one batch in this thread, and count the tokens that were pooled.

        For services that report usage (the OpenAI-compatible endpoint's
        ``usage.prompt_tokens``): the vectors are those of :meth:`encode` with the same
        arguments (``[n, dims]`` float32), and the count is the number of token ids
        averaged over all texts, after the cuts and without unknown ids (the lengths of
        :meth:`tokenize`'s lists, summed), taken while encoding at no extra cost.

        Raises:
            InvalidInputError: a text is not a string, or the tokenizer refuses it.
            InvalidArgumentError: an argument is out of range.
        """
        settings = self._settings(max_length, normalize, dimensions)
        texts, _ = as_texts(sentences)
        batch = list(texts)
        tally: list[int] = []
        pooled = self._get_engine().pool(checked_texts(batch, 0), settings.max_length, tally=tally)
        vectors = finish(pooled, dimensions=settings.dimensions, normalize=settings.normalize)
        return vectors, sum(tally)

    def tokenize(
        self, sentences: str | Iterable[str], *, max_length: int | _Unset | None = UNSET
    ) -> list[list[int]]:
        """The token ids :meth:`encode` averages for each text (rules I2-I4).

        Texts are cut to ``max_length * median_token_length`` code points, tokenized
        without special tokens, cut to ``max_length`` ids, and unknown-token ids dropped.
        ``max_length`` defaults to the model's :attr:`max_length`.
        """
        texts, _ = as_texts(sentences)
        result: list[list[int]] = []
        for ids in self._token_batches(
            texts,
            total=len(texts) if isinstance(texts, Sized) else None,
            max_length=self._max_length if isinstance(max_length, _Unset) else max_length,
            batch_size=1024,
            threads=1,
            show_progress_bar=False,
        ):
            result.extend(ids)
        return result

    def _token_batches(
        self,
        texts: Iterable[Any],
        *,
        total: int | None,
        max_length: int | None,
        batch_size: int,
        threads: int,
        show_progress_bar: bool,
    ) -> Iterator[list[list[int]]]:
        limit = check_max_length(max_length)
        size = check_positive(batch_size, "batch_size")
        engine = self._get_engine()

        def work(offset: int, batch: list[Any]) -> list[list[int]]:
            return engine.token_ids(checked_texts(batch, offset), limit, offset=offset)

        return map_batches(
            work,
            texts,
            batch_size=size,
            threads=threads,
            total=total,
            show_progress=show_progress_bar,
            rows=len,
        )

    # ------------------------------------------------------------------ saving

    def save_pretrained(
        self,
        path: PathLike,
        model_name: str | None = None,
        subfolder: str | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write the model as a native-layout folder (atomic; see m2v_format.save_model).

        The folder gets the current ``normalize`` and ``max_length`` in its config.
        ``model_name`` is accepted for model2vec compatibility (it names the model in
        model2vec's card).  Returns the folder written.

        Raises:
            OutputExistsError: the folder exists and ``overwrite`` is false.
        """
        del model_name
        folder = Path(path) / subfolder if subfolder else Path(path)
        return save_folder(
            folder, self.data, self.base_model_name, self.language, overwrite=overwrite
        )

    def push_to_hub(
        self,
        repo_id: str,
        private: bool = False,
        token: str | None = None,
        subfolder: str | None = None,
    ) -> None:
        """Upload the model to the Hugging Face hub (needs the ``[hub]`` extra).

        Raises:
            MissingDependencyError: ``huggingface_hub`` is not installed.
            HubUploadError: the hub refused the upload or could not be reached.
        """
        push_folder_to_hub(
            lambda folder: self.save_pretrained(folder, model_name=repo_id),
            repo_id,
            private=private,
            token=token,
            subfolder=subfolder,
        )


class WorkerPool:
    """Worker processes encoding with one :class:`StaticModel`, reused across calls.

    Made by :meth:`StaticModel.workers`.  :meth:`encode` and :meth:`encode_iter` take the
    model's arguments (``normalize``, ``max_length``, ``dimensions``, ``batch_size``,
    ``show_progress_bar``) and return exactly the vectors the model returns in-process.
    One call at a time; close it (or use ``with``) to stop the processes.
    """

    def __init__(self, model: StaticModel, num_workers: int) -> None:
        self.model = model
        self._pool = model._start_pool(num_workers)

    @property
    def num_workers(self) -> int:
        """How many worker processes there are."""
        return self._pool.num_workers

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids."""
        return self._pool.pids

    @property
    def closed(self) -> bool:
        """Whether the workers have been stopped."""
        return self._pool.closed

    def encode(
        self,
        sentences: str | Iterable[str],
        *,
        show_progress_bar: bool = False,
        max_length: int | _Unset | None = UNSET,
        normalize: bool | None = None,
        batch_size: int = 1024,
        dimensions: int | None = None,
    ) -> npt.NDArray[np.float32]:
        """:meth:`StaticModel.encode` on this pool's workers."""
        return self.model._encode_all(
            sentences,
            max_length=max_length,
            normalize=normalize,
            batch_size=batch_size,
            dimensions=dimensions,
            threads=1,
            workers=self.num_workers,
            threshold=1,
            show_progress_bar=show_progress_bar,
            pool=self._pool,
        )

    def encode_iter(
        self,
        sentences: Iterable[str],
        *,
        batch_size: int = 1024,
        max_length: int | _Unset | None = UNSET,
        normalize: bool | None = None,
        dimensions: int | None = None,
        show_progress_bar: bool = False,
        total: int | None = None,
    ) -> Iterator[npt.NDArray[np.float32]]:
        """:meth:`StaticModel.encode_iter` on this pool's workers (``total`` sizes the bar)."""
        texts, _ = as_texts(sentences)
        if total is None and isinstance(texts, Sized):
            total = len(texts)
        yield from self.model._pooled(
            texts,
            total=total,
            max_length=max_length,
            normalize=normalize,
            batch_size=batch_size,
            dimensions=dimensions,
            threads=1,
            workers=self.num_workers,
            threshold=1,
            show_progress_bar=show_progress_bar,
            pool=self._pool,
        )

    def close(self) -> None:
        """Stop the workers and free their shared memory (idempotent)."""
        self._pool.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"pids={self.pids}"
        return f"WorkerPool(num_workers={self.num_workers}, {state})"


def _closing_after(
    pool: ProcessPool,
    on: Callable[[ProcessPool, Iterable[Any]], Iterator[FloatMatrix]],
    texts: Iterable[Any],
) -> Iterator[FloatMatrix]:
    """``on(pool, texts)``'s batches, then the pool stopped (however the caller ends)."""
    try:
        yield from on(pool, texts)
    finally:
        pool.close()
