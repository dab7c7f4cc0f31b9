"""Load a script of the checkout (scripts/, training/) as a module by its file: those
folders are not packages on sys.path in CI, where hadml is imported from the installed
package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relative: str) -> ModuleType:
    """The module of REPO/relative, registered in sys.modules under its stem (dataclasses
    of the script look their module up there)."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
