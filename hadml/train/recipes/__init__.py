"""The training recipes shipped with hadml: ``hadml train --config NAME`` (this folder's
NAME.yaml) or ``hadml train --list-configs``.

Each recipe is a training YAML (hadml.train.config) with a one-line ``description``. This
module reads YAML only (no torch), so listing recipes is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def shipped_recipes() -> list[Recipe]:
    """The shipped recipes, sorted by name."""
    recipes = []
    for path in sorted(RECIPE_DIR.glob(f"*{SUFFIX}")):
        raw = yaml.safe_load(path.read_text()) or {}
        description = raw.get(DESCRIPTION_KEY, "") if isinstance(raw, dict) else ""
        recipes.append(Recipe(path.stem, path, str(description)))
    return recipes


def find_recipe(config: str | Path) -> Path:
    """A training config given as a path (used when it exists) or as the name of a shipped
    recipe (``smoke`` or ``smoke.yaml``). Raises FileNotFoundError naming the recipes."""
    path = Path(config)
    if path.is_file():
        return path
    text = str(config)
    if "/" not in text and "\\" not in text:
        name = text[: -len(SUFFIX)] if text.endswith(SUFFIX) else text
        shipped = RECIPE_DIR / f"{name}{SUFFIX}"
        if shipped.is_file():
            return shipped
    names = ", ".join(r.name for r in shipped_recipes())
    raise FileNotFoundError(f"training config {text!r} is neither a file nor a shipped recipe "
                            f"({names}; see hadml train --list-configs)")
