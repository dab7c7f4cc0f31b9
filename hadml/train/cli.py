"""``hadml train`` and ``hadml export`` (registered into the top-level CLI by hadml/cli.py).

Also runnable alone: ``python -m hadml.train.cli train --config smoke``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hadml.train.config import TrainConfig
    from hadml.train.run import TrainResult


def _require(*modules: str) -> None:
    """Raise ImportError naming the first missing training dependency (without importing
    it: torch takes seconds), so the top-level CLI can show an install hint instead."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            raise ImportError(f"{name} is not installed", name=name)


def register(subparsers: argparse._SubParsersAction) -> None:
    _require("torch", "lightning", "onnx")
    p = subparsers.add_parser(
        "train", help="train the ML cluster-decay model (cluster- or event-level GAN)",
        description="Train a GAN on a cluster table; see docs/training.md. Ends with a "
                    "summary: best checkpoint, logs, and the commands to export and "
                    "generate with the model.",
    )
    p.add_argument("--config", default=None, metavar="NAME|FILE",
                   help="a shipped recipe by name (smoke, cluster_gan, event_gan, species, "
                        "species_event; see --list-configs) or a training YAML file")
    p.add_argument("--list-configs", action="store_true",
                   help="list the shipped recipes and exit")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides, dotted for data options: max_epochs=3 "
                        "data.source=herwig data.path=dump.dat")
    p.add_argument("--resume", default=None, metavar="CKPT", help="resume from a checkpoint")
    p.add_argument("--accelerator", choices=("cpu", "gpu", "auto"), default=None)
    p.add_argument("--devices", type=int, default=None)
    p.add_argument("--export", default=None, metavar="ONNX",
                   help="after training, export the best generator to this file")
    p.set_defaults(func=_run_train)

    e = subparsers.add_parser(
        "export", help="export a trained generator to a self-describing ONNX file",
        description="Write the generator of a checkpoint as ONNX (docs/model-contract.md) "
                    "and verify it with onnxruntime.",
    )
    e.add_argument("checkpoint", help="Lightning checkpoint (.ckpt)")
    e.add_argument("-o", "--output", required=True, help="ONNX file to write")
    e.add_argument("--angles-from", default=None, metavar="ONNX",
                   help="for a species head (species_head.pt of hadml train --config "
                        "species): the format-1 file whose angle generator the format-2 "
                        "file holds (default: the shipped model)")
    e.set_defaults(func=_run_export)


def _list_configs() -> int:
    from hadml.train.recipes import RECIPE_DIR, shipped_recipes

    recipes = shipped_recipes()
    width = max(len(r.name) for r in recipes)
    for recipe in recipes:
        print(f"{recipe.name:{width}s}  {recipe.description}")
    print(f"(files in {RECIPE_DIR}; run one with hadml train --config NAME [key=value ...])")
    return 0


def _run_train(args: argparse.Namespace) -> int:
    if args.list_configs:
        return _list_configs()
    if args.config is None:
        raise ValueError("give --config NAME (a shipped recipe, see --list-configs) or "
                         "--config FILE")
    try:
        from hadml.train.config import load_train_config
        from hadml.train.run import train
    except ImportError as err:  # found but not importable (a broken install)
        from hadml.cli import missing_extra

        return missing_extra("train", err)

    from hadml.train.species import is_species_config

    if is_species_config(args.config):
        return _run_species(args)
    if is_species_config(args.config, "species_event"):
        return _run_species(args, event_level=True)
    overrides = list(args.overrides)
    if args.accelerator is not None:
        overrides.append(f"accelerator={args.accelerator}")
    if args.devices is not None:
        overrides.append(f"devices={args.devices}")
    if args.export is not None:
        overrides.append(f"export={args.export}")
    cfg = load_train_config(args.config, overrides)
    if cfg.members > 1:
        if args.resume:
            print("error: --resume continues one model; resume ensemble members one by one "
                  "(members=1 name=<name>-member<k> seed=<seed+k>)", file=sys.stderr)
            return 2
        for k, member in enumerate(cfg.member_configs()):
            print(f"== ensemble member {k} of {cfg.members} (seed {member.seed})")
            _train_one(train, member, None)
        return 0
    return _train_one(train, cfg, args.resume)


def _run_species(args: argparse.Namespace, event_level: bool = False) -> int:
    """The species head of a format-2 model (docs/species.md): CPU, no checkpoint resume.
    ``event_level``: its event-level fit (hadml.train.species_event)."""
    from hadml.train.species import load_species_config, train_species

    if args.resume or args.accelerator not in (None, "cpu") or args.devices not in (None, 1):
        raise ValueError("a species config trains on one CPU and cannot resume "
                         "(--resume, --accelerator, --devices do not apply)")
    overrides = list(args.overrides)
    if args.export is not None:
        overrides.append(f"export={args.export}")
    if event_level:
        from hadml.train.species_event import load_species_event_config, train_species_event

        fit = train_species_event(load_species_event_config(args.config, overrides))
        print(f"checkpoint: {fit.checkpoint} ({fit.seconds:.0f} s)")
        if fit.exported:
            print(f"format-2 model: {fit.exported}")
        return 0
    result = train_species(load_species_config(args.config, overrides))
    common = sorted(result.closure.items(), key=lambda kv: -kv[1][1])[:10]
    worst = max((abs(e / o - 1.0), h, o) for h, (e, o) in common if o > 0)
    print(f"species head: validation NLL {result.val_nll:.5f}; largest expected/observed "
          f"deviation among the 10 commonest species of the validation clusters: "
          f"{100 * worst[0]:.2f}% (|id| {worst[1]}, {worst[2]:.0f} observed); "
          f"{result.seconds:.0f} s")
    print(f"checkpoint: {result.checkpoint}")
    if result.exported:
        print(f"format-2 model: {result.exported}\n"
              f"generate with: hadml generate -n 1000 --hadronization ml --model "
              f"{result.exported}")
    return 0


def _train_one(train: Callable[..., TrainResult], cfg: TrainConfig, resume: str | None) -> int:
    result = train(cfg, resume=resume, enable_progress_bar=sys.stderr.isatty())
    if result.test_metrics:
        print("held-out test (best checkpoint): " + ", ".join(
            f"{k}={v:.4g}" for k, v in sorted(result.test_metrics.items())))
    print(result.summary.text())  # last: it ends with the commands to run next
    return 0


def _run_export(args: argparse.Namespace) -> int:
    try:
        from hadml.train.export import export_generator, read_metadata
    except ImportError as err:
        from hadml.cli import missing_extra

        return missing_extra("export", err)

    if args.checkpoint.endswith(".pt"):  # a species head (docs/species.md)
        from hadml.train.export import export_species_model

        path = export_species_model(args.checkpoint, args.angles_from, args.output)
        meta = read_metadata(path)
        print(f"wrote {path}: format 2, {len(json.loads(meta['hadml.species']))} species, "
              f"species features {meta['hadml.species_features']}")
        return 0
    if args.angles_from is not None:
        raise ValueError("--angles-from applies to a species head (.pt) only")
    path = export_generator(args.checkpoint, args.output)
    meta = read_metadata(path)
    print(f"wrote {path}: features {meta['hadml.condition_features']}, "
          f"noise {meta['hadml.noise_dim']} ({meta['hadml.noise_distribution']})")
    return 0


def run_standalone(prog: str, register_commands: Callable[[Any], None],
                   argv: Sequence[str] | None = None) -> int:
    """``python -m`` entry of a subcommand module: its subcommands alone, with the same
    one-line error and exit status 2 for a user error as ``hadml``."""
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    register_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    return run_standalone("python -m hadml.train.cli", register, argv)


if __name__ == "__main__":
    sys.exit(main())
