"""Training data: cluster-table DataModules, condition features and input scaling."""

from hadml.data.datamodule import (
    ClusterDataModule,
    DataConfig,
    EventDataModule,
    load_table,
    split_by_event,
)
from hadml.data.features import (
    DEFAULT_FEATURES,
    KNOWN_FEATURES,
    Scaling,
    condition_features,
    target_angles,
)

__all__ = [
    "DEFAULT_FEATURES",
    "KNOWN_FEATURES",
    "ClusterDataModule",
    "DataConfig",
    "EventDataModule",
    "Scaling",
    "condition_features",
    "load_table",
    "split_by_event",
    "target_angles",
]
