"""m2v_all: the import name of the umbrella install of the m2v packages.

The code lives in the packages it installs (``m2v_format``, ``m2v_infer`` and, with the
extras, ``m2v_grpc``, ``m2v_distill``, ``m2v_train``); :func:`installed` tells which are
present and their versions.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

__version__ = _version("m2v")
"""This package's version (every m2v package has the same)."""

PACKAGES = ("m2v-format", "m2v-infer", "m2v-grpc", "m2v-distill", "m2v-train")
"""The m2v packages, runtime first."""


def installed() -> dict[str, str]:
    """The m2v packages installed here, with their versions (``{"m2v-infer": "X.Y.Z", ...}``)."""
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = _version(name)
        except PackageNotFoundError:
            continue
    return found


__all__ = ["PACKAGES", "__version__", "installed"]
