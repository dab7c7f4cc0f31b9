"""ONNX models shipped with hadml."""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = "default_cluster_decay.onnx"
#: Shipped models by name (``hadml generate --hadronization ml --model NAME``): a file of
#: that name in the working folder wins. ``species``: the format-2 model that also chooses
#: the hadron species (docs/species.md, "Shipped model").
SHIPPED_MODELS = {"default": DEFAULT_MODEL, "species": "species_cluster_decay.onnx"}


def resolve_model(model: str | None) -> str | None:
    """A shipped model's name -> its path; anything else (a path, None) unchanged."""
    if model in SHIPPED_MODELS and not Path(model).exists():
        return str(Path(__file__).with_name(SHIPPED_MODELS[model]))
    return model


def default_model_path() -> Path:
    """The default ML cluster-decay model (trained on classic hadml decays; see
    docs/training.md for the command that made it)."""
    path = Path(__file__).with_name(DEFAULT_MODEL)
    if not path.is_file():
        raise FileNotFoundError(
            f"the default model {path} is missing from this installation; pass --model"
        )
    return path
