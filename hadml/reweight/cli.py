"""``hadml reweight train`` and ``hadml reweight apply`` (registered into the top-level CLI
by hadml/cli.py; they need the ``[train]`` extra, as ``hadml train``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hadml.train.cli import _require, run_standalone


def register(subparsers: argparse._SubParsersAction) -> None:
    _require("torch", "lightning")
    p = subparsers.add_parser(
        "reweight", help="neural (DCTR) reweighting of a sample to other parameters",
        description="Train a parametrized classifier between a nominal and varied samples, "
                    "then weight the nominal sample to a target (docs/reweighting.md).",
    )
    sub = p.add_subparsers(dest="reweight_command", metavar="{train,apply}")
    sub.required = True
    t = sub.add_parser(
        "train", help="train the classifier",
        description="Fit the DCTR classifier (Lightning). Samples are HepMC3 files written by "
                    "hadml generate, each with the parameter values it was made with. Ends "
                    "with a summary: checkpoint, held-out weight checks, the apply command.",
    )
    t.add_argument("--config", default=None, metavar="NAME|FILE",
                   help="a shipped recipe by name (dctr, smoke; see --list-configs) or a YAML "
                        "file (default: dctr)")
    t.add_argument("--list-configs", action="store_true",
                   help="list the shipped recipes and exit")
    t.add_argument("--nominal", default=None, metavar="FILE:NAME=VALUE[,...]",
                   help="the nominal sample and its parameters, e.g. "
                        "nominal.hepmc:shower_pt_min=1.0")
    t.add_argument("--varied", action="append", default=[], metavar="FILE:NAME=VALUE[,...]",
                   help="a varied sample and its parameters (repeatable)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set_",
                   help="override a config option (repeatable), e.g. --set max_epochs=5")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides, as --set")
    t.add_argument("--accelerator", choices=("cpu", "gpu", "auto"), default=None)
    t.set_defaults(func=_run_train)

    a = sub.add_parser(
        "apply", help="write per-event weights of a sample",
        description="Weights w = exp(logit) of every event of SAMPLE at each target, "
                    "normalised to mean 1, to a Parquet/NPZ file keyed by event number and/or "
                    "as named weights into a HepMC3 copy.",
    )
    a.add_argument("checkpoint", nargs="+",
                   help="the classifier checkpoint (.ckpt) of reweight train; several: an "
                        "ensemble (the same recipe trained with different --set seed=N), "
                        "whose log weights are averaged")
    a.add_argument("--sample", required=True, help="HepMC3 file of hadml generate (nominal)")
    a.add_argument("--target", action="append", default=[], metavar="NAME:PARAM=VALUE[,...]",
                   help="a named target (repeatable), e.g. pt14:shower_pt_min=1.4")
    a.add_argument("-o", "--output", default=None, help="weight file (.parquet or .npz)")
    a.add_argument("--hepmc-out", default=None,
                   help="also write a copy of SAMPLE with the weights as named event weights")
    a.set_defaults(func=_run_apply)


def _list_configs() -> int:
    from hadml.reweight.config import RECIPE_DIR, recipes

    shipped = recipes()
    width = max(len(r.name) for r in shipped)
    for recipe in shipped:
        print(f"{recipe.name:{width}s}  {recipe.description}")
    print(f"(files in {RECIPE_DIR}; hadml reweight train --config NAME --nominal ... "
          "--varied ...)")
    return 0


def _run_train(args: argparse.Namespace) -> int:
    if args.list_configs:
        return _list_configs()
    try:
        from hadml.reweight.config import load_reweight_config
        from hadml.reweight.run import train
    except ImportError as err:  # found but not importable (a broken install)
        from hadml.cli import missing_extra

        return missing_extra("reweight", err)
    overrides = list(args.set_) + list(args.overrides)
    if args.accelerator is not None:
        overrides.append(f"accelerator={args.accelerator}")
    cfg = load_reweight_config(args.config or "dctr", overrides, args.nominal, args.varied)
    result = train(cfg, enable_progress_bar=sys.stderr.isatty())
    print(result.text())
    return 0


def parse_target(text: str) -> tuple[str, dict[str, float]]:
    """``NAME:param=value[,...]``."""
    from hadml.reweight.config import SampleSpec

    spec = SampleSpec.parse(text)
    if not spec.path or not spec.path.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise ValueError(f"target {text!r}: the name before ':' must be letters, digits, "
                         "'_', '-' or '.' (it names the weight), e.g. pt14:shower_pt_min=1.4")
    spec.check_params(f"target {spec.path}")
    return spec.path, spec.params


def _run_apply(args: argparse.Namespace) -> int:
    try:
        from hadml.reweight.run import apply
    except ImportError as err:
        from hadml.cli import missing_extra

        return missing_extra("reweight", err)
    targets: dict[str, dict[str, float]] = {}
    for text in args.target:
        name, params = parse_target(text)
        if name in targets:
            raise ValueError(f"target name {name!r} given twice")
        targets[name] = params
    from pathlib import Path

    for checkpoint in args.checkpoint:
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    result = apply(args.checkpoint, args.sample, targets, args.output, args.hepmc_out)
    print(result.text())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_standalone("python -m hadml.reweight.cli", register, argv)


if __name__ == "__main__":
    sys.exit(main())
