"""Training of the ML cluster-decay model (needs the ``[train]`` extra: torch, lightning).

Entry points: :func:`train` (hadml.train.run), :func:`export_generator`
(hadml.train.export), and the ``hadml train`` / ``hadml export`` commands. Names are
imported lazily so that ``hadml --help`` does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ClusterGAN": "hadml.train.modules",
    "EventGAN": "hadml.train.modules",
    "load_module": "hadml.train.modules",
    "TrainConfig": "hadml.train.config",
    "load_train_config": "hadml.train.config",
    "export_generator": "hadml.train.export",
    "read_metadata": "hadml.train.export",
    "TrainResult": "hadml.train.run",
    "train": "hadml.train.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hadml.train' has no attribute {name!r}")
