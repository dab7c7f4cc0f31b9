"""Train the ML cluster-decay model from Python, export it, and generate with it.

    python examples/train.py [--herwig DUMP | --parquet TABLE] [--epochs N] [--outdir DIR]

Starts from the shipped ``smoke`` recipe (hadml train --list-configs). Without a data
option the sample is generated with hadml's classic cluster stage. Runs from any folder;
writes the training run (checkpoints, logs, validation plot) and model.onnx into --outdir.
Needs the [train] extra.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import hadml
from hadml.train import export_generator, load_train_config, read_metadata, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = ap.add_mutually_exclusive_group()
    data.add_argument("--herwig", help="Herwig dump (formats a/b) to train on")
    data.add_argument("--parquet", help="cluster table (Parquet) to train on")
    ap.add_argument("--events", type=int, default=None,
                    help="events to generate for the training sample (default: the recipe's)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--generate", type=int, default=100, metavar="N",
                    help="events to generate with the trained model at the end")
    ap.add_argument("--outdir", default="hadml-train-example",
                    help="output folder (default: ./hadml-train-example)")
    args = ap.parse_args()

    outdir = Path(args.outdir).resolve()
    overrides = [f"max_epochs={args.epochs}", f"out_dir={outdir / 'runs'}"]
    if args.herwig:
        overrides += ["data.source=herwig", f"data.path={Path(args.herwig).resolve()}"]
    elif args.parquet:
        overrides += ["data.source=parquet", f"data.path={Path(args.parquet).resolve()}"]
    elif args.events is not None:
        overrides.append(f"data.n_events={args.events}")
    # "smoke" is a recipe shipped inside the package, so this works from any folder.
    cfg = load_train_config("smoke", overrides)

    result = train(cfg)
    print(result.summary.text())

    path = export_generator(result.best_checkpoint, outdir / "model.onnx")
    meta = read_metadata(path)
    print("exported", path, "features", json.loads(meta["hadml.condition_features"]))

    # Generate with the new model: the C++ ONNX shim decays every cluster of a block of
    # events in one batched call.
    run = hadml.generate(args.generate, seed=3, hadronization="ml", model=str(path))
    print(run.summary.text())
    print(f"outputs written to {outdir} (model.onnx, runs/)")


if __name__ == "__main__":
    main()
