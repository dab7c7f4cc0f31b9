"""hadml: machine-learned cluster hadronization for Herwig-style event generators."""

from __future__ import annotations

__version__ = "0.1.0"
