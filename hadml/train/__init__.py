"""Training of the ML cluster-decay model (needs the ``[train]`` extra: torch, lightning).

Entry points: :func:`train` (hadml.train.run), :func:`export_generator`
(hadml.train.export), and the ``hadml train`` / ``hadml export`` commands.
"""

from hadml.train.config import TrainConfig, load_train_config
from hadml.train.export import export_generator, read_metadata
from hadml.train.modules import ClusterGAN, EventGAN, load_module
from hadml.train.run import TrainResult, train

__all__ = [
    "ClusterGAN",
    "EventGAN",
    "TrainConfig",
    "TrainResult",
    "export_generator",
    "load_module",
    "load_train_config",
    "read_metadata",
    "train",
]
