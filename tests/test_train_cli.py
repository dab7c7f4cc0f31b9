"""``hadml train`` / ``hadml export`` as a user meets them: shipped recipes by name, and the
answer without the [train] extra (a real subprocess in which torch cannot be imported)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hadml
from hadml.cli import main

# Runs the CLI in an interpreter where torch and lightning are not installed: a meta-path
# finder refuses them, as the import system does for a missing module.
WITHOUT_TRAIN_EXTRA = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "lightning"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from hadml.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_without_extra(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(hadml.__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", WITHOUT_TRAIN_EXTRA, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ["train", "--config", "smoke"],
    ["train", "--config", "x.yaml", "max_epochs=3", "--resume", "a.ckpt"],
    ["train", "--help"],
    ["train", "--list-configs"],
    ["export", "a.ckpt", "-o", "b.onnx"],
    ["export", "-h"],
    ["export"],
])
def test_missing_train_extra_gives_the_install_commands(args, tmp_path):
    r = _run_without_extra(args, tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith(f"hadml {args[0]}: needs torch and Lightning")
    assert "torch is not installed" in r.stderr
    # The CPU torch first, then the extra; one command per line, as pasted into a shell.
    lines = [line.strip() for line in r.stderr.splitlines()]
    torch_line = next(i for i, line in enumerate(lines) if line.startswith("pip install torch"))
    assert lines[torch_line].split("#")[0].strip() == "pip install torch==2.13.0"
    assert lines[torch_line + 1] == "pip install 'hadml[train]'"
    assert "usage:" not in r.stderr and "Traceback" not in r.stderr


def test_broken_torch_install_gives_the_install_commands(tmp_path):
    """torch is found but does not import (a missing shared library): the same answer."""
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise ImportError("libtorch_cpu.so: cannot open shared object file", '
        'name="torch._C")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(fake.parent), str(Path(hadml.__file__).resolve().parents[1])])}
    r = subprocess.run([sys.executable, "-m", "hadml", "train", "--config", "smoke"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("hadml train: needs torch and Lightning (the train extra); "
                               "torch cannot be imported (libtorch_cpu.so: cannot open")
    assert "pip install 'hadml[train]'" in r.stderr and "Traceback" not in r.stderr


def test_help_without_train_extra_lists_the_commands(tmp_path):
    r = _run_without_extra(["--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    for command in ("train", "export"):
        assert re.search(rf"^ +{command} +\(unavailable: torch missing; "
                         r"pip install 'hadml\[train\]'\)$", r.stdout, re.M), r.stdout
    assert "generate" in r.stdout
    # generate still parses its own options strictly.
    bad = _run_without_extra(["generate", "-n", "1", "--bogus"], tmp_path)
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr


def test_list_configs(capsys):
    from hadml.train.recipes import RECIPE_DIR, shipped_recipes

    assert main(["train", "--list-configs"]) == 0
    out = capsys.readouterr().out.splitlines()
    recipes = shipped_recipes()
    assert [r.name for r in recipes] == ["cluster_gan", "cluster_mle", "event_gan", "smoke",
                                         "species", "species_event"]
    for recipe, line in zip(recipes, out, strict=False):
        assert line.split(None, 1) == [recipe.name, recipe.description]
        assert recipe.path == RECIPE_DIR / f"{recipe.name}.yaml"
        assert len(recipe.description) > 20 and "\n" not in recipe.description
    assert str(RECIPE_DIR) in out[len(recipes)]
    # The same from the training CLI alone (python -m hadml.train.cli).
    from hadml.train.cli import main as train_main

    assert train_main(["train", "--list-configs"]) == 0
    assert capsys.readouterr().out.splitlines()[:len(recipes)] == out[:len(recipes)]


def test_recipes_by_name_or_path(tmp_path, monkeypatch):
    from hadml.train.config import load_train_config
    from hadml.train.recipes import RECIPE_DIR, shipped_recipes

    # Every shipped recipe is a valid config (its description is not an option).
    from hadml.train.species import is_species_config, load_species_config

    for recipe in shipped_recipes():
        load = load_species_config if is_species_config(recipe.name) else load_train_config
        if is_species_config(recipe.name, "species_event"):
            from hadml.train.species_event import load_species_event_config as load
        cfg = load(recipe.name)
        assert cfg.name == recipe.name
    smoke = load_train_config("smoke", ["max_epochs=2"])
    assert (smoke.max_epochs, smoke.data.source, smoke.data.n_events) == (2, "generate", 300)
    assert load_train_config("smoke.yaml") == load_train_config(RECIPE_DIR / "smoke.yaml")
    # A file path wins over a recipe name, from any folder.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smoke").write_text("name: mine\nmax_epochs: 1\n")
    mine = load_train_config("smoke")
    assert (mine.name, mine.max_epochs) == ("mine", 1)
    with pytest.raises(FileNotFoundError, match="neither a file nor a shipped recipe "
                                                "\\(cluster_gan, cluster_mle, event_gan, smoke, "
                                                "species, species_event;"):
        load_train_config("smok")
    with pytest.raises(FileNotFoundError, match="neither a file"):
        load_train_config("sub/smoke.yaml")


def test_train_cli_errors(capsys):
    assert main(["train"]) == 2
    assert "give --config NAME" in capsys.readouterr().err
    assert main(["train", "--config", "nosuch"]) == 2
    assert "'nosuch' is neither a file nor a shipped recipe" in capsys.readouterr().err
    assert main(["train", "--config", "smoke", "nonsense_option=1"]) == 2
    assert "hadml train: error: unknown training options ['nonsense_option']" \
        in capsys.readouterr().err
