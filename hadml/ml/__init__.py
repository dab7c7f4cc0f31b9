"""The ML cluster-decay model: contract constants and a Python reference implementation."""

from hadml.ml.contract import (
    FORMAT_VERSION,
    FRAME,
    INPUT_CONDITION,
    INPUT_NOISE,
    KNOWN_FEATURES,
    METADATA_KEYS,
    OUTPUT_ANGLES,
    OUTPUT_CONVENTION,
    compute_features,
    reference_angles,
    reference_decay,
)

__all__ = [
    "FORMAT_VERSION", "FRAME", "INPUT_CONDITION", "INPUT_NOISE", "KNOWN_FEATURES",
    "METADATA_KEYS", "OUTPUT_ANGLES", "OUTPUT_CONVENTION", "compute_features",
    "reference_angles", "reference_decay",
]
