"""Torch device choice and seeding (imported only where torch is needed)."""

from __future__ import annotations

import random

import numpy as np
import torch

from m2v_train._errors import DeviceError


def resolve_device(device: str | None) -> torch.device:
    """``"auto"``/``None``: CUDA when present, else CPU; otherwise the named device, checked."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise DeviceError(f"unknown torch device {device!r}: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} requested but CUDA is not available")
    return resolved


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
