"""hadml: machine-learned cluster hadronization for Herwig-style event generators."""

from __future__ import annotations

from hadml._ortlib import preload_onnxruntime as _preload_onnxruntime

__version__ = "0.1.0"

_preload_onnxruntime()  # before any import of hadml._core (see hadml/_ortlib.py)


def generate(*args, **kwargs):
    """Generate events; see :func:`hadml.generator.generate`."""
    from hadml.generator import generate as _generate

    return _generate(*args, **kwargs)


def iter_events(*args, **kwargs):
    """Yield events without keeping the run in memory; see
    :func:`hadml.generator.iter_events`."""
    from hadml.generator import iter_events as _iter_events

    return _iter_events(*args, **kwargs)


__all__ = ["generate", "iter_events", "__version__"]
