"""Train the ML cluster-decay model from Python, export it, and generate with it.

    python examples/train.py [--herwig DUMP | --parquet TABLE] [--epochs N]

Without a data option the sample is generated with hadml's classic cluster stage.
"""

from __future__ import annotations

import argparse
import json

import hadml
from hadml.train import export_generator, load_train_config, read_metadata, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--herwig", help="Herwig dump (formats a/b) to train on")
    ap.add_argument("--parquet", help="cluster table (Parquet) to train on")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", default="model.onnx")
    args = ap.parse_args()

    overrides = [f"max_epochs={args.epochs}", "out_dir=runs"]
    if args.herwig:
        overrides += ["data.source=herwig", f"data.path={args.herwig}"]
    elif args.parquet:
        overrides += ["data.source=parquet", f"data.path={args.parquet}"]
    cfg = load_train_config("training/smoke.yaml", overrides)

    result = train(cfg)
    print("best checkpoint:", result.best_checkpoint)
    print("last validation:", result.module.val_history[-1])

    path = export_generator(result.best_checkpoint, args.out)
    meta = read_metadata(path)
    print("exported", path, "features", json.loads(meta["hadml.condition_features"]))

    # Generate with the new model: the C++ ONNX shim decays every cluster of a block of
    # events in one batched call.
    run = hadml.generate(100, seed=3, hadronization="ml", model=str(path))
    print(run.summary.text())


if __name__ == "__main__":
    main()
