"""hadml: machine-learned cluster hadronization for Herwig-style event generators."""

from __future__ import annotations

from hadml._ortlib import preload_onnxruntime as _preload_onnxruntime

__version__ = "0.1.0"

_preload_onnxruntime()  # before any import of hadml._core (see hadml/_ortlib.py)


def generate(*args, **kwargs):
    """Generate events; see :func:`hadml.generator.generate`."""
    from hadml.generator import generate as _generate

    return _generate(*args, **kwargs)


__all__ = ["generate", "__version__"]
