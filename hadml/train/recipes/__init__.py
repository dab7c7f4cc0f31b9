"""The training recipes shipped with hadml: ``hadml train --config NAME`` (this folder's
NAME.yaml) or ``hadml train --list-configs``.

Each recipe is a training YAML (hadml.train.config) with a one-line ``description``. This
module reads YAML only (no torch), so listing recipes is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RECIPE_DIR = Path(__file__).resolve().parent
SUFFIX = ".yaml"
#: A recipe's one-line summary (hadml train --list-configs); not a training option.
DESCRIPTION_KEY = "description"


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    description: str


def shipped_recipes(directory: Path = RECIPE_DIR) -> list[Recipe]:
    """The shipped recipes (of ``directory``: hadml.reweight ships its own), sorted by name."""
    recipes = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        raw = yaml.safe_load(path.read_text()) or {}
        description = raw.get(DESCRIPTION_KEY, "") if isinstance(raw, dict) else ""
        recipes.append(Recipe(path.stem, path, str(description)))
    return recipes


def find_recipe(config: str | Path, directory: Path = RECIPE_DIR,
                command: str = "hadml train") -> Path:
    """A training config given as a path (used when it exists) or as the name of a shipped
    recipe in ``directory`` (``smoke`` or ``smoke.yaml``). Raises FileNotFoundError naming
    the recipes and the ``command`` that lists them."""
    path = Path(config)
    if path.is_file():
        return path
    text = str(config)
    if "/" not in text and "\\" not in text:
        name = text[: -len(SUFFIX)] if text.endswith(SUFFIX) else text
        shipped = directory / f"{name}{SUFFIX}"
        if shipped.is_file():
            return shipped
    names = ", ".join(r.name for r in shipped_recipes(directory))
    raise FileNotFoundError(f"training config {text!r} is neither a file nor a shipped recipe "
                            f"({names}; see {command} --list-configs)")


def set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    """``d["a"]["b"] = value`` for ``key = "a.b"`` (creating the inner mappings)."""
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def read_recipe(config: str | Path | None, overrides: Sequence[str] = (), *,
                directory: Path = RECIPE_DIR, command: str = "hadml train",
                what: str = "a training config") -> dict[str, Any]:
    """The mapping of a recipe (a path, or a shipped name in ``directory``; None: empty)
    with ``key=value`` overrides applied (values parsed by YAML, dotted keys reach into
    mappings). The recipe's ``description`` is documentation and is dropped."""
    raw: dict[str, Any] = {}
    if config is not None:
        path = find_recipe(config, directory, command)
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: {what} is a YAML mapping")
        raw.pop(DESCRIPTION_KEY, None)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        set_dotted(raw, key.strip(), yaml.safe_load(value))
    return raw
