"""Reading a model folder: path resolution (L1, L6, L7) and loading (memory-mapped or copied)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2v_format._checks import (
    MAPPING,
    SCALE,
    WEIGHTS,
    TensorMeta,
    check_finite,
    check_mapping_range,
    check_scale_value,
    check_structure,
    check_vocabulary,
    first,
)
from m2v_format._config import ModelConfig
from m2v_format._errors import InvalidJSONError, MissingTensorError, ModelNotFoundError
from m2v_format._hub import download_snapshot, hub_cache_root, looks_like_hub_id
from m2v_format._json import read_json
from m2v_format._layout import (
    ResolvedLayout,
    apply_subfolder,
    check_inside,
    detect_layout,
    local_folder,
)
from m2v_format._model import StaticModelData
from m2v_format._safetensors import MappedSafetensors
from m2v_format._tokenizer import load_tokenizer, vocab_size

PathOrId = str | os.PathLike[str]

NORMALIZE_TYPE = "sentence_transformers.models.Normalize"


@dataclass(frozen=True)
class ModelLocation:
    """A resolved model folder and the root its files must stay inside (L6)."""

    folder: Path
    trusted_root: Path


def locate(
    path_or_id: PathOrId,
    *,
    subfolder: str | None = None,
    token: str | None = None,
    revision: str | None = None,
) -> ModelLocation:
    """Resolve a local folder or hub id, then the subfolder (L1, L6, L7)."""
    text = os.fspath(path_or_id)
    local = local_folder(text)
    if local is None:
        if isinstance(path_or_id, os.PathLike) or not looks_like_hub_id(text):
            raise ModelNotFoundError("no such folder", path=text)
        local = download_snapshot(text, subfolder=subfolder, token=token, revision=revision)
    local = local.absolute()
    trusted = hub_cache_root(local)
    folder = apply_subfolder(local, subfolder, trusted)
    return ModelLocation(folder, trusted)


def resolve_model_path(
    path_or_id: PathOrId,
    *,
    subfolder: str | None = None,
    token: str | None = None,
    revision: str | None = None,
) -> Path:
    """Return the local model folder for a path or hub id (rules L1, L6, L7).

    A path that exists locally is used as is; otherwise an ``owner/name`` id is resolved
    to a snapshot in the Hugging Face cache with ``huggingface_hub`` (downloading unless
    ``HF_HUB_OFFLINE`` is set).  ``token`` and ``revision`` only apply to hub ids.

    Raises:
        ModelNotFoundError: not a local folder and not resolvable on the hub.
        MissingDependencyError: a hub id was given but huggingface_hub is not installed.
        SubfolderEscapeError: ``subfolder`` leaves the model folder.
    """
    return locate(path_or_id, subfolder=subfolder, token=token, revision=revision).folder


def normalize_from_modules(modules: list[Any], path: Path) -> bool:
    """Rule L3: whether modules.json lists a Normalize module.

    Accepts ``sentence_transformers.models.Normalize`` and the module paths newer
    sentence-transformers versions write (e.g. ``sentence_transformers.base.modules.
    normalize.Normalize``).
    """
    found = False
    for entry in modules:
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise InvalidJSONError(
                "every modules.json entry must be an object with a string 'type'", path=path
            )
        kind: str = entry["type"]
        if kind == NORMALIZE_TYPE or (
            kind.startswith("sentence_transformers.") and kind.endswith(".Normalize")
        ):
            found = True
    return found


def read_config(layout: ResolvedLayout) -> ModelConfig:
    """The model config: config.json (native), else resolved from modules.json (L3)."""
    if layout.config is not None:
        return ModelConfig.from_dict(read_json(layout.config, dict), path=layout.config)
    if layout.st_config is not None:
        read_json(layout.st_config, dict)
    normalize = False
    if layout.modules is not None:
        normalize = normalize_from_modules(read_json(layout.modules, list), layout.modules)
    return ModelConfig(normalize=normalize)


def layout_files(layout: ResolvedLayout, *, read_only: bool = False) -> list[Path]:
    """The files of this layout; with ``read_only``, only those the loader reads (a native
    folder's modules.json is for sentence-transformers, the loader ignores it)."""
    modules = None if read_only and layout.config is not None else layout.modules
    candidates = (layout.config, layout.st_config, modules, layout.tokenizer, layout.weights)
    return [path for path in candidates if path is not None]


def embedding_tensor_name(mapped: MappedSafetensors, layout: ResolvedLayout) -> str:
    """The embedding tensor's name (L4, with fallback), or MissingTensorError (T1)."""
    for name in (layout.tensor_name, layout.fallback_tensor_name):
        if name in mapped:
            return name
    names = sorted(mapped.tensors)
    shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
    hint = ""
    if len(names) > 3:
        hint = " (this looks like a transformer checkpoint, not a static embedding model)"
    raise MissingTensorError(
        f"no tensor {layout.tensor_name!r} (nor {layout.fallback_tensor_name!r}); "
        f"the file has {len(names)} tensors{': ' + shown if names else ''}{hint}",
        path=layout.weights,
    )


def _meta(mapped: MappedSafetensors, name: str) -> TensorMeta | None:
    info = mapped.tensors.get(name)
    return None if info is None else TensorMeta(name, info.dtype, info.shape)


def load_model(
    path_or_id: PathOrId,
    *,
    subfolder: str | None = None,
    token: str | None = None,
    revision: str | None = None,
    check_values: bool = True,
    memory_map: bool = True,
) -> StaticModelData:
    """Load a model folder (or hub id), by default without copying its tensors.

    The tensors are read-only numpy views on a memory map of model.safetensors: loading
    is fast and processes mapping the same file share its pages, but the arrays stay
    backed by the file, so truncating or rewriting it in place while they are in use can
    kill the process with SIGBUS or change its vectors.  ``memory_map=False`` reads the
    file once into process memory instead (one private copy per process, as large as the
    file) and the loaded model no longer depends on it.  The tokenizer and config are
    parsed into memory either way.

    Every rule of the spec a reader enforces is checked; ``check_values=False`` skips the
    scan for NaN/inf (T4), the one check that reads every value.  The mapping range check
    (T6) always runs.

    Raises:
        FormatError: a subclass naming the rule the folder breaks.
    """
    location = locate(path_or_id, subfolder=subfolder, token=token, revision=revision)
    layout = detect_layout(location.folder)
    for file in layout_files(layout, read_only=True):
        check_inside(file, location.trusted_root)
    config = read_config(layout)
    tokenizer = load_tokenizer(layout.tokenizer)
    mapped = MappedSafetensors(layout.weights, memory_map=memory_map)
    where = layout.weights

    name = embedding_tensor_name(mapped, layout)
    embeddings_meta = _meta(mapped, name)
    assert embeddings_meta is not None
    weights_meta, mapping_meta, scale_meta = (_meta(mapped, n) for n in (WEIGHTS, MAPPING, SCALE))
    first(check_structure(embeddings_meta, weights_meta, mapping_meta, scale_meta, where))

    embeddings = mapped.view(name)
    weights = mapped.view(WEIGHTS) if weights_meta else None
    mapping = mapped.view(MAPPING) if mapping_meta else None
    scale = float(mapped.view(SCALE)[0]) if scale_meta else None
    rows = int(embeddings.shape[0])
    first(
        check_vocabulary(
            rows,
            None if weights is None else len(weights),
            None if mapping is None else len(mapping),
            vocab_size(tokenizer),
            where,
        )
    )
    if mapping is not None:
        first(check_mapping_range(mapping, rows, where))
    if scale is not None:
        first(check_scale_value(scale, where))
    if check_values:
        first(check_finite(name, embeddings, where))
        if weights is not None:
            first(check_finite(WEIGHTS, weights, where))
    return StaticModelData(
        embeddings=embeddings,
        tokenizer=tokenizer,
        config=config,
        weights=weights,
        mapping=mapping,
        embeddings_scale=scale,
        path=location.folder,
        layout=layout.layout,
    )
