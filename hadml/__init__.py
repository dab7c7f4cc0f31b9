"""hadml: machine-learned cluster hadronization for Herwig-style event generators."""

from __future__ import annotations

__version__ = "0.1.0"


def generate(*args, **kwargs):
    """Generate events; see :func:`hadml.generator.generate`."""
    from hadml.generator import generate as _generate

    return _generate(*args, **kwargs)


__all__ = ["generate", "__version__"]
