"""ONNX models shipped with hadml."""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = "default_cluster_decay.onnx"


def default_model_path() -> Path:
    """The default ML cluster-decay model (trained on classic hadml decays; see
    docs/training.md for the command that made it)."""
    path = Path(__file__).with_name(DEFAULT_MODEL)
    if not path.is_file():
        raise FileNotFoundError(
            f"the default model {path} is missing from this installation; pass --model"
        )
    return path
