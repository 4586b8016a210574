"""``distill`` and ``distill_from_model``: a teacher in, an m2v static model out.

The recipe: build the student vocabulary (teacher tokens minus specials and pattern
matches, plus extra words), embed every token with one forward pass of the teacher,
reduce dimensions with PCA, weight each row by SIF, optionally cluster the vocabulary,
and store the table in the requested precision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from m2v_format import (
    InvalidArgumentError,
    ModelConfig,
    StaticModelData,
    quantize,
    quantize_vocabulary,
)
from tqdm import tqdm

from m2v_distill._embed import embed_sequences, native_bfloat16
from m2v_distill._errors import InvalidParameterError
from m2v_distill._options import (
    DEFAULT_TOKEN_REMOVE_PATTERN,
    DistillOptions,
    PCADims,
    PoolingMode,
    check_options,
    check_pattern,
)
from m2v_distill._pca import fit_transform_pca
from m2v_distill._teacher import backend_tokenizer, display_name, load_teacher, resolve_device
from m2v_distill._vocabulary import build_student_vocabulary
from m2v_distill._weights import zipf_sif_weights

if TYPE_CHECKING:
    from m2v_infer import StaticModel

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2048
MAX_LENGTH = 512


def distill_from_model(
    model: Any,
    tokenizer: Any,
    vocabulary: Sequence[str] | None = None,
    device: str | None = "auto",
    pca_dims: PCADims = 256,
    sif_coefficient: float | None = 1e-4,
    token_remove_pattern: str | None = DEFAULT_TOKEN_REMOVE_PATTERN,
    quantize_to: str = "float16",
    vocabulary_quantization: int | None = None,
    pooling: PoolingMode | str = PoolingMode.MEAN,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_progress: bool = True,
    compute_dtype: str = "auto",
    teacher_name: str | None = None,
) -> StaticModel:
    """Distill a static model from an already loaded transformers model and tokenizer.

    Args:
        model: a transformers model (e.g. from ``AutoModel.from_pretrained``) whose output
            has ``last_hidden_state`` (and ``pooler_output`` for ``pooling="pooler"``).
        tokenizer: its fast tokenizer (a transformers tokenizer backed by ``tokenizers``,
            or a ``tokenizers.Tokenizer``); WordPiece, BPE, Unigram and WordLevel work.
        vocabulary: extra words (or phrases) that get one vector each, even when the
            teacher splits them into several tokens; ``None`` uses only the teacher's tokens.
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``
            or ``"mps"``.
        pca_dims: output dimensions: an int, a float in (0, 1) (keep that fraction of the
            variance), ``"auto"`` (all dimensions, rotated onto principal axes) or ``None``
            (no PCA).
        sif_coefficient: SIF weighting strength, > 0 and < 1; ``None`` disables weighting.
        token_remove_pattern: regular expression; teacher tokens it matches (from their
            start) are left out.  ``None`` keeps every token.
        quantize_to: stored precision of the table: ``"float16"``, ``"float32"`` or
            ``"int8"`` (one scale per row, in the per-token weights; format 1.0).
        vocabulary_quantization: number of k-means clusters; the model then stores that
            many rows plus a per-token weight and cluster index.  ``None``: off.
        pooling: ``"mean"``, ``"first"``, ``"last"`` or ``"pooler"``.
        batch_size: sequences per forward pass (fewer when sequences are long: a pass
            holds at most ``4 * batch_size`` padded positions).
        show_progress: draw a progress line on stderr while embedding.
        compute_dtype: precision of the teacher's forward passes: ``"float32"``,
            ``"bfloat16"`` (``torch.autocast``; the model is not modified) or ``"auto"``:
            bfloat16 on CPUs with bfloat16 matrix instructions (AMX, AVX512-BF16), where it
            is 2-3x faster, float32 everywhere else.  Use ``"float32"`` for results that do
            not depend on the CPU.
        teacher_name: name recorded as the base model (default: the model's name_or_path).

    Returns:
        An ``m2v_infer.StaticModel`` (normalizing); ``save_pretrained`` writes it.

    Raises:
        DistillError: a typed error with a stable ``code`` for any invalid option or
            unusable teacher (see ``m2v_distill.DistillError``'s subclasses).
    """
    options = check_options(
        vocabulary=vocabulary,
        device=device,
        pca_dims=pca_dims,
        sif_coefficient=sif_coefficient,
        token_remove_pattern=token_remove_pattern,
        quantize_to=quantize_to,
        vocabulary_quantization=vocabulary_quantization,
        pooling=pooling,
        batch_size=batch_size,
        show_progress=show_progress,
        compute_dtype=compute_dtype,
    )
    fast = backend_tokenizer(tokenizer)
    pad_token = getattr(tokenizer, "pad_token", None)
    pad_id = getattr(tokenizer, "pad_token_id", None)
    name = teacher_name or display_name(str(getattr(model, "name_or_path", "") or "teacher"))
    return _run(
        model,
        fast,
        options,
        pad_token=pad_token if isinstance(pad_token, str) else None,
        pad_id=pad_id if isinstance(pad_id, int) else 0,
        teacher_name=name,
    )


def distill(
    model_name: str,
    vocabulary: Sequence[str] | None = None,
    device: str | None = "auto",
    pca_dims: PCADims = 256,
    sif_coefficient: float | None = 1e-4,
    token_remove_pattern: str | None = DEFAULT_TOKEN_REMOVE_PATTERN,
    trust_remote_code: bool = False,
    quantize_to: str = "float16",
    vocabulary_quantization: int | None = None,
    pooling: PoolingMode | str = PoolingMode.MEAN,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_progress: bool = True,
    compute_dtype: str = "auto",
) -> StaticModel:
    """Distill a static model from a sentence transformer given by folder or hub id.

    ``model_name`` is a local Hugging Face model folder or a hub id (transformers resolves
    it, honouring ``HF_HUB_OFFLINE``); ``trust_remote_code`` is passed to transformers and
    defaults to False.  Every other argument is as in :func:`distill_from_model`; options
    are checked before the teacher is loaded.

    Raises:
        TeacherNotFoundError: no such folder and the hub id cannot be resolved.
        SlowTokenizerError: the teacher has no fast tokenizer.
        DistillError: any other invalid option or unusable teacher.
    """
    options = check_options(
        vocabulary=vocabulary,
        device=device,
        pca_dims=pca_dims,
        sif_coefficient=sif_coefficient,
        token_remove_pattern=token_remove_pattern,
        quantize_to=quantize_to,
        vocabulary_quantization=vocabulary_quantization,
        pooling=pooling,
        batch_size=batch_size,
        show_progress=show_progress,
        compute_dtype=compute_dtype,
    )
    teacher = load_teacher(model_name, trust_remote_code=trust_remote_code)
    return _run(
        teacher.model,
        teacher.tokenizer,
        options,
        pad_token=teacher.pad_token,
        pad_id=teacher.pad_id,
        teacher_name=teacher.name,
    )


def _run(
    model: Any,
    tokenizer: Any,
    options: DistillOptions,
    *,
    pad_token: str | None,
    pad_id: int,
    teacher_name: str,
) -> StaticModel:
    from m2v_infer import StaticModel

    started = time.perf_counter()
    student = build_student_vocabulary(
        tokenizer,
        pad_token=pad_token,
        extra_words=options.vocabulary,
        remove_pattern=check_pattern(options.token_remove_pattern),
    )
    if options.vocabulary and student.stats.total_added == 0:
        logger.warning(
            "none of the %d vocabulary words is new (blank, already a teacher token, or "
            "removed by token_remove_pattern)",
            len(options.vocabulary),
        )
    logger.info("student vocabulary: %d tokens (%s)", student.size, student.stats)
    device = resolve_device(options.device)
    bfloat16 = options.compute_dtype == "bfloat16" or (
        options.compute_dtype == "auto" and native_bfloat16(device)
    )
    model = model.to(device).eval()
    vectors = embed_sequences(
        model,
        student.sequences,
        pooling=options.pooling,
        device=device,
        batch_size=options.batch_size,
        pad_id=pad_id,
        show_progress=options.show_progress,
        bfloat16=bfloat16,
    )
    data = _assemble(vectors, student.tokenizer, options, teacher_name)
    if options.quantize_to != "float32":
        data = quantize(data, options.quantize_to)
    logger.info(
        "distilled %s into %d x %d %s in %.1f s",
        teacher_name,
        data.rows,
        data.dim,
        options.quantize_to,
        time.perf_counter() - started,
    )
    result = StaticModel.from_data(data)
    result.base_model_name = teacher_name
    return result


def _assemble(
    vectors: np.ndarray[Any, Any],
    tokenizer: Any,
    options: DistillOptions,
    teacher_name: str,
) -> StaticModelData:
    """PCA, SIF weighting and (optionally) vocabulary clusters: the float32 student."""
    pca = fit_transform_pca(vectors, options.pca_dims)
    sif = zipf_sif_weights(len(vectors), options.sif_coefficient)
    clusters = options.vocabulary_quantization
    if clusters is None:
        table = (pca.projected * sif[:, None]).astype(np.float32)
    else:  # clustered below; each token's SIF weight goes into ``weights``
        table = np.ascontiguousarray(pca.projected, dtype=np.float32)
    config = ModelConfig.from_dict(
        {
            "normalize": True,
            "max_length": MAX_LENGTH,
            "model_type": "model2vec",
            "architectures": ["StaticModel"],
            "tokenizer_name": teacher_name,
            "apply_pca": options.pca_dims,
            "sif_coefficient": options.sif_coefficient,
            "hidden_dim": int(table.shape[1]),
            "seq_length": 1_000_000,
            "pooling": options.pooling.value,
            "base_model": teacher_name,
        }
    )
    data = StaticModelData(
        embeddings=table,
        tokenizer=tokenizer,
        config=config,
        weights=None if clusters is None else sif.astype(np.float32),
    )
    if clusters is None:
        return data
    with tqdm(
        desc=f"k-means, {clusters:,} clusters",
        unit="iteration",
        disable=not options.show_progress,
    ) as bar:

        def advance(_iteration: int, most: int, inertia: float) -> None:
            bar.total = most
            bar.set_postfix(inertia=f"{inertia:.4g}", refresh=False)
            bar.update(1)

        try:
            return quantize_vocabulary(data, clusters, on_iteration=advance)
        except InvalidArgumentError as error:  # more clusters than tokens
            raise InvalidParameterError(f"vocabulary_quantization={clusters}: {error}") from error
