"""The ``hadml`` command line: a thin layer over the Python API.

Subcommands: ``generate`` and ``merge`` (this file), ``compare`` (hadml.analysis.cli),
``train`` and ``export`` (hadml.train.cli; needs the ``[train]`` extra), ``reweight``
(hadml.reweight.cli; the same extra).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

#: The executors of ``hadml generate --executor`` (hadml.scaleout.EXECUTORS; written out
#: here so that ``hadml --help`` does not import the generator).
EXECUTORS = ("local", "dask")


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate e+e- -> hadrons events with cluster hadronization (classic or ML)",
        description=(
            "Pythia 8 hard process and shower, hadml's Herwig-7 cluster stage, Pythia 8 "
            "hadron decays. Writes HepMC3 events and/or the Parquet cluster table, and "
            "prints a run summary."
        ),
    )
    p.add_argument("-n", "--events", type=int, required=True, help="number of events")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed (same seed, same events). It may also come from --set "
                        "seed=N or the config file's seed:, but two different values are an "
                        "error; none given: 1")
    p.add_argument("--ecm", type=float, default=None, help="sqrt(s) in GeV (default 91.188)")
    p.add_argument("--out", default=None, help="HepMC3 output file")
    p.add_argument("--clusters", default=None, help="Parquet cluster-table output file")
    p.add_argument("--config", default=None, help="YAML run configuration")
    p.add_argument("--tune", default=None,
                   help="parameter set under --config/--set: lep (default; hadml's LEP tune), "
                        "herwig73 (Herwig 7.3 defaults) or a tune YAML file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override an option or cluster parameter (repeatable), e.g. "
                        "--set ClMaxLight=3.6 --set shower_pt_min=0.8")
    p.add_argument("--hadronization", choices=("classic", "ml"), default=None,
                   help="cluster-decay algorithm (default classic)")
    p.add_argument("--model", default=None,
                   help="ONNX model for --hadronization ml: a file, or a shipped model's name "
                        "(default, species; default: default)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="ONNX Runtime device for --hadronization ml (default cpu)")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes (derived seeds; output identical to --jobs 1); "
                        "at most the number of cores unless --force-jobs")
    p.add_argument("--force-jobs", action="store_true",
                   help="use --jobs as given even above the number of cores")
    p.add_argument("--variations", default=None, metavar="FILE.yaml",
                   help="parameter variations (YAML list of name + cluster parameters): "
                        "exact per-event weights written as named HepMC3 weights and "
                        "weight_<name> columns of the cluster table (docs/variations.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list-params", action="store_true",
                   help="print the cluster parameters with their values and exit")
    scale = p.add_argument_group(
        "scale-out (docs/scale-out.md)",
        "A run is a fixed list of blocks of block_size events, each seeded on its own, so "
        "shards made anywhere join into the bytes of one --jobs 1 run.")
    scale.add_argument("--shard", default=None, metavar="I/N",
                       help="make only shard I of N (0 <= I < N: contiguous blocks) of the "
                            "-n run, e.g. --shard $SLURM_ARRAY_TASK_ID/100, and write a "
                            "manifest; join the shards with 'hadml merge'")
    scale.add_argument("--manifest", default=None, metavar="FILE",
                       help="the shard's manifest (default: <--out or --clusters>"
                            ".manifest.json)")
    scale.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local: --jobs processes on this machine (default); dask: "
                            "blocks as dask.distributed tasks, each writing a shard, merged "
                            "here into --out/--clusters (needs hadml[dask])")
    scale.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="dask scheduler address (tcp://host:8786) or scheduler file "
                            "(.json); none: a local cluster of --jobs worker processes")
    scale.add_argument("--task-blocks", type=int, default=None, metavar="K",
                       help="blocks per dask task (default: about 4 tasks per worker "
                            "thread)")
    scale.add_argument("--work-dir", default=None, metavar="DIR",
                       help="where dask tasks write their shards, at the same path on the "
                            "workers and here (default: a hidden directory beside the "
                            "output; removed at the end)")
    p.set_defaults(func=_run_generate)


def _add_merge(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge", help="check the shards of a run (--shard I/N) and join them",
        description=textwrap.fill(
            "Read the manifests of the shards of one run (hadml generate --shard I/N), "
            "check that they are shards of one run (hadml version, seed, configuration "
            "hash), that every block is there exactly once, that the event counts match and "
            "that the files are the ones the manifests describe (size, SHA-256), then join "
            "them into one HepMC3 file and/or one Parquet cluster table: the same bytes as "
            "one --jobs 1 run. Outputs are written atomically."),
        epilog=(
            "example (a Slurm array of 100 jobs, then the merge; docs/scale-out.md):\n"
            "  hadml generate -n 1000000 --seed 42 --shard $SLURM_ARRAY_TASK_ID/100 \\\n"
            "      --out ev.$SLURM_ARRAY_TASK_ID.hepmc.gz --no-progress\n"
            "  hadml merge ev.*.hepmc.gz.manifest.json --out events.hepmc.gz"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("manifests", nargs="+", metavar="MANIFEST",
                   help="the shards' manifests (*.manifest.json), in any order")
    p.add_argument("--out", default=None,
                   help="merged HepMC3 output (compressed for .gz, .bz2, .xz)")
    p.add_argument("--clusters", default=None, help="merged Parquet cluster-table output")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the SHA-256 check of the shard files (event counts are still "
                        "checked)")
    p.set_defaults(func=_run_merge)


def _run_merge(args: argparse.Namespace) -> int:
    from hadml.io.manifest import read_manifest
    from hadml.io.merge import merge_shards
    from hadml.scaleout import sigterm_interrupts

    manifests = [read_manifest(path) for path in args.manifests]
    with sigterm_interrupts():  # SIGTERM, like Ctrl-C, leaves no temporary file
        result = merge_shards(manifests, hepmc=args.out, clusters=args.clusters,
                              verify=not args.no_verify)
    first = manifests[0]
    print(f"shards merged         : {result.n_shards} (blocks 0-{first.run_blocks - 1}, "
          f"seed {first.seed}, config {first.config_hash[:12]})")
    print(f"events                : {result.n_events}")
    if result.hepmc is not None:
        print(f"events written to     : {args.out}")
    if result.clusters is not None:
        print(f"cluster table written : {args.clusters} ({result.n_rows} clusters)")
    return 0


def _effective_jobs(requested: int, force: bool) -> int:
    cores = os.cpu_count() or 1
    if requested > cores and not force:
        print(f"hadml generate: note: --jobs {requested} is more than the {cores} cores of "
              f"this machine; using {cores} (--force-jobs keeps {requested})",
              file=sys.stderr)
        return cores
    return requested


def _run_generate(args: argparse.Namespace) -> int:
    from hadml._malloc import pin_mmap_threshold
    from hadml.config import ConfigError, load_config, parse_set_options
    from hadml.generator import resolve_seed
    from hadml.scaleout import ShardSpec, run

    overrides: dict[str, object] = parse_set_options(args.set)
    for name in ("ecm", "tune", "hadronization", "model", "device"):
        value = getattr(args, name)
        if value is not None:
            if name in overrides:
                raise ConfigError(f"--{name} and --set {name}= both given")
            overrides[name] = value
    if "model" in overrides:  # a shipped model by name (hadml.models.SHIPPED_MODELS)
        from hadml.models import resolve_model

        overrides["model"] = resolve_model(str(overrides["model"]))
    config = load_config(args.config, overrides)
    if args.list_params:
        config.validate()
        print(f"# tune {config.tune}; shower_pt_min {config.effective_shower_pt_min():g}")
        for key, value in sorted(config.cluster_params().items()):
            print(f"{key:28s} {value:g}")
        return 0
    config = resolve_seed(args.seed, config, source="--seed")
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    if args.events < 1:
        raise ConfigError(f"-n/--events must be at least 1, got {args.events}")
    shard = ShardSpec.parse(args.shard) if args.shard is not None else None
    if args.executor != "dask":
        for name in ("scheduler", "task_blocks", "work_dir"):
            if getattr(args, name) is not None:
                raise ConfigError(f"--{name.replace('_', '-')} is for --executor dask")
    if args.scheduler is not None and args.jobs != 1:
        raise ConfigError("--jobs sets the workers of a local dask cluster; with "
                          "--scheduler the cluster's workers run the tasks")
    variations = None
    if args.variations is not None:
        from hadml.variations import load_variations

        variations = load_variations(args.variations)
    jobs = _effective_jobs(args.jobs, args.force_jobs)
    pin_mmap_threshold()  # flat memory over long runs (hadml/_malloc.py)
    # SIGINT and SIGTERM stop the run between two events (hadml.generator.Interrupted).
    summary, manifest = run(
        args.events, config, hepmc=args.out, clusters=args.clusters, shard=shard,
        manifest=args.manifest, executor=args.executor, jobs=jobs,
        scheduler=args.scheduler, task_blocks=args.task_blocks, work_dir=args.work_dir,
        progress=not args.no_progress, variations=variations,
    )
    print(summary.text())
    if manifest is not None:
        print(f"shard                 : {shard} (blocks {manifest.blocks[0]}-"
              f"{manifest.blocks[1] - 1} of {manifest.run_blocks}, {manifest.events} of "
              f"{manifest.run_events} events)")
    if args.out:
        print(f"events written to     : {args.out}")
    if args.clusters:
        print(f"cluster table written : {args.clusters}")
    if manifest is not None:
        print(f"manifest written      : {manifest.path}")
    return 0


@dataclass(frozen=True)
class _Plugin:
    """Subcommands provided by an optional part of the package (an extra)."""

    commands: tuple[str, ...]
    needs: str  # what the extra brings, in words
    install: tuple[str, ...]  # the commands that install it, in order
    modules: tuple[str, ...]  # top-level modules of the extra


#: Optional parts: CLI module -> its commands and what they need.
_PLUGINS = {
    "hadml.analysis.cli": _Plugin(
        ("compare",), "the analysis extra (matplotlib, fastjet)",
        ("pip install 'hadml[analysis]'",), ("matplotlib", "fastjet")),
    "hadml.train.cli": _Plugin(
        ("train", "export"), "torch and Lightning (the train extra)",
        # The CPU build of torch first (as scripts/bootstrap.sh): an unpinned torch pulls a
        # multi-GB CUDA build.
        ("pip install torch==2.13.0    # the CPU build of torch, first",
         "pip install 'hadml[train]'"),
        ("torch", "lightning", "onnx", "onnxscript", "tensorboard")),
    "hadml.reweight.cli": _Plugin(
        ("reweight",), "torch and Lightning (the train extra)",
        ("pip install torch==2.13.0    # the CPU build of torch, first",
         "pip install 'hadml[train]'"),
        ("torch", "lightning")),
}


def missing_extra(command: str, err: ImportError) -> int:
    """Say which extra ``hadml COMMAND`` needs and how to install it; the exit status 2.

    Re-raises ``err`` when the missing module is not one of the extra's (a bug, not a
    missing install)."""
    for plugin in _PLUGINS.values():
        if command in plugin.commands:
            break
    else:
        raise err
    missing = (err.name or "").split(".")[0]
    if missing not in plugin.modules:
        raise err
    if isinstance(err, ModuleNotFoundError) and err.name == missing:
        problem = f"{missing} is not installed"
    else:  # installed but broken, e.g. a shared library of torch's that does not load
        problem = f"{missing} cannot be imported ({err})"
    lines = "\n".join(f"    {line}" for line in plugin.install)
    print(f"hadml {command}: needs {plugin.needs}; {problem}. Install it with:\n{lines}",
          file=sys.stderr)
    return 2


def _add_unavailable(sub: argparse._SubParsersAction, command: str, plugin: _Plugin,
                     err: ImportError) -> None:
    """A placeholder for a command whose extra is missing: it accepts any arguments (even
    --help) and answers with the install hint instead of an argparse error."""
    stub = sub.add_parser(
        command, help=f"(unavailable: {err.name} missing; {plugin.install[-1]})",
        # No option prefix and no -h: every argument lands in `arguments`, unparsed.
        add_help=False, prefix_chars="\0",
    )
    stub.add_argument("arguments", nargs="*")
    stub.set_defaults(func=lambda _a, c=command, e=err: missing_extra(c, e))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hadml", description="Machine-learned cluster hadronization for e+e- -> hadrons."
    )
    from hadml import __version__

    parser.add_argument("--version", action="version", version=f"hadml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_generate(sub)
    _add_merge(sub)
    for module, plugin in _PLUGINS.items():
        try:
            importlib.import_module(module).register(sub)
        except ImportError as err:
            for command in plugin.commands:
                _add_unavailable(sub, command, plugin, err)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand. Exit status: 0 success; 2 bad input (options, files, models,
    output paths: the message says what to fix); 1 a run that failed (a write error, a
    conservation violation, a broken model); 130 / 143 interrupted by SIGINT / SIGTERM.
    An unfinished run keeps its outputs as <name>.partial and says so."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from hadml.config import ConfigError
    from hadml.generator import RunStopped

    prog = f"hadml {args.command}"
    try:
        return int(args.func(args) or 0)
    except RunStopped as err:
        cause = err.__cause__
        if isinstance(cause, KeyboardInterrupt):
            signum = getattr(cause, "signum", signal.SIGINT)
            print(f"{prog}: interrupted ({signal.Signals(signum).name}): {err}",
                  file=sys.stderr)
            return 128 + int(signum)
        print(f"{prog}: failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", signal.SIGINT)
        print(f"{prog}: interrupted ({signal.Signals(signum).name}); no output written",
              file=sys.stderr)
        return 128 + int(signum)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        # Bad input (options, files, a model that breaks the contract, an output path):
        # the message says what to fix; a traceback would only hide it.
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as err:
        print(f"{prog}: failed: {err}", file=sys.stderr)
        return 1
    except (MemoryError, RecursionError) as err:
        print(f"{prog}: failed: out of resources ({type(err).__name__}: {err})",
              file=sys.stderr)
        return 1
    except Exception as err:  # a bug: say so in one line; HADML_DEBUG=1 shows the traceback
        if os.environ.get("HADML_DEBUG"):
            raise
        print(f"{prog}: internal error ({type(err).__name__}: {err}); please report it "
              "(HADML_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
