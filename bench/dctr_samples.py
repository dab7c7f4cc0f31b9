"""Generate the event samples of the DCTR validation (docs/reweighting.md) as NPZ event
samples (hadml.reweight.samples), one per (study, role); existing files are kept.

    nice -n 10 python bench/dctr_samples.py --out /tmp/dctr -n 50000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hadml.generator import iter_events
from hadml.reweight.samples import from_events, save_npz

#: name -> (seed, generator overrides). Seeds are distinct: all samples are independent.
SAMPLES = {
    # shower cut-off TimeShower:pTmin, LEP tune otherwise
    "ptmin_train_1.0": (11, {"shower_pt_min": 1.0}),
    "ptmin_train_1.2": (13, {"shower_pt_min": 1.2}),
    "ptmin_train_1.4": (12, {"shower_pt_min": 1.4}),
    # more training events for the same two settings (docs/reweighting.md, "What makes
    # DCTR close at 50k"; made with -n 100000)
    "ptmin_train2_1.0": (14, {"shower_pt_min": 1.0}),
    "ptmin_train2_1.4": (15, {"shower_pt_min": 1.4}),
    "ptmin_test_1.0": (21, {"shower_pt_min": 1.0}),
    "ptmin_test_1.4": (22, {"shower_pt_min": 1.4}),
    # classic cluster decays -> the shipped ML model, LEP tune
    "ml_train_classic": (31, {"hadronization": "classic"}),
    "ml_train_ml": (32, {"hadronization": "ml"}),
    "ml_test_classic": (41, {"hadronization": "classic"}),
    "ml_test_ml": (42, {"hadronization": "ml"}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("-n", "--events", type=int, default=50_000)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (seed, overrides) in SAMPLES.items():
        if args.only and name not in args.only:
            continue
        path = out / f"{name}.npz"
        if path.exists():
            continue
        start = time.perf_counter()
        events = list(from_events(iter_events(args.events, seed=seed, **overrides)))
        save_npz(path, events)
        print(f"{name}: {len(events)} events, seed {seed}, {overrides}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
