"""Temperature-scale the classifiers of finished bench/dctr_validation.py runs after the
fact (hadml.reweight.run.calibrate: one factor on the logit, fitted on each run's own
validation events) and write their calibrated test weights as a new run tag, to be
compared with ``dctr_validation.py --combine TAG_cal`` (docs/reweighting.md, "What makes
DCTR close at 50k").

    nice -n 10 python bench/dctr_calibrate.py --samples S --out V --study ptmin \\
        --tags _seed43 _seed44
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from dctr_validation import STUDIES, events

from hadml.io.atomic import write_json_atomically
from hadml.reweight.config import ReweightConfig
from hadml.reweight.model import load_classifier
from hadml.reweight.run import calibrate, compute_weights, training_data
from hadml.reweight.weights import normalised


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--study", choices=sorted(STUDIES), required=True)
    ap.add_argument("--tags", nargs="+", required=True)
    args = ap.parse_args()
    s = STUDIES[args.study]
    samples, out = Path(args.samples), Path(args.out)
    test_nominal = events(samples, s["test_nominal"])
    for tag in args.tags:
        start = time.perf_counter()
        (ckpt,) = (out / "runs" / f"dctr_{args.study}{tag}").glob(
            "version_0/checkpoints/best-*.ckpt")
        module = load_classifier(str(ckpt))
        cfg = ReweightConfig.from_dict(dict(module.hparams["config"]))
        data = training_data(cfg, events(samples, s["nominal"][0]),
                             [events(samples, n) for n, _ in s["varied"]])
        scale = calibrate(module, data)
        del data
        raw = compute_weights(module, test_nominal,
                              {"target": {s["param"]: s["target"]}})["target"]
        np.save(out / f"weights_{args.study}{tag}_cal.npy", normalised(raw))
        report = json.loads((out / f"report_{args.study}{tag}.json").read_text())
        report["logit_scale"] = scale
        report["calibration_wall_s"] = time.perf_counter() - start
        write_json_atomically(out / f"report_{args.study}{tag}_cal.json", report)
        print(f"{tag}: logit scale {scale:.3f} ({time.perf_counter() - start:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
