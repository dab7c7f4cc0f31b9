#!/usr/bin/env python
"""Redraw the decays of one closure seed: is an ML closure row's chi2 the model or its noise?

training/closure.py compares, per seed s, classic A (decay_seed 2s) with ML B (decay_seed
2s + 1). This script keeps classic A and the clusters (same seed) and redraws only the
decays, with ``--redraws`` other decay seeds, for a classic run and an ML run each, and
prints for one cluster class the primary-x_E chi2 against classic A (the closure's
statistic: 20 bins equiprobable in classic A), so the ML value of the closure can be placed
among ML values of other noise draws and classic values of other decay draws. It also
gives a paired test of ML against classic on the same clusters: the bin fractions averaged
over the redraws, z per bin from the redraws' spread (the clusters' own fluctuation
cancels). Cluster tables only (no event record, no hadron decays): about 10 s per 20k
events. docs/validation.md section 11.6.

    python training/decay_seed_scan.py --seed 602 -n 20000 --redraws 10 --class "light non-pert"
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from closure import CLUSTER_CLASSES, N_BINS, flavour_class  # training/, the script's folder

from hadml.config import load_config
from hadml.generator import run_blocks
from hadml.io import cluster_table
from hadml.io.atomic import write_json_atomically
from hadml.train.metrics import chi2_two_samples, equiprobable_edges

#: Decay seeds of the redraws: REDRAW_BASE + MAX_REDRAWS s + j, apart from the closure's 2s
#: and 2s + 1 and from the redraws of every other closure seed.
REDRAW_BASE = 10_000_000
MAX_REDRAWS = 1000


def primary_x_e(seed: int, n_events: int, overrides: dict, flavour: int | None,
                pert: bool | None) -> np.ndarray:
    """x_E of both hadrons of the selected class's two-hadron cluster decays of one run."""
    config = load_config(overrides={"seed": seed, **overrides})
    table = cluster_table.concat([b.clusters for b in run_blocks(
        config, n_events, 1, keep_events=False, keep_clusters=True)])
    keep = np.ones(table.num_rows, dtype=bool)
    if flavour is not None:
        keep &= flavour_class(table.column("c1_id").to_numpy(),
                              table.column("c2_id").to_numpy()) == flavour
    if pert is not None:
        keep &= (table.column("c1_pert").to_numpy(False)
                 | table.column("c2_pert").to_numpy(False)) == pert
    e = np.concatenate([table.column("h1_e").to_numpy()[keep],
                        table.column("h2_e").to_numpy()[keep]])
    return 2.0 * e / config.ecm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True, help="the closure seed s")
    ap.add_argument("-n", "--events", type=int, default=20000)
    ap.add_argument("--redraws", type=int, default=10)
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--class", dest="cls", default="light non-pert",
                    choices=[c[0] for c in CLUSTER_CLASSES])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if not 2 <= args.redraws <= MAX_REDRAWS:
        ap.error(f"--redraws must be from 2 to {MAX_REDRAWS}")
    _, flavour, pert = next(c for c in CLUSTER_CLASSES if c[0] == args.cls)
    s = args.seed
    a = primary_x_e(s, args.events, {"hadronization": "classic", "decay_seed": 2 * s},
                    flavour, pert)
    edges = equiprobable_edges(a, N_BINS, False)
    decay_seeds = [2 * s + 1] + [REDRAW_BASE + MAX_REDRAWS * s + j for j in range(args.redraws)]
    chi2: dict[str, list[float]] = {"classic": [], "ml": []}
    fractions: dict[str, list[np.ndarray]] = {"classic": [], "ml": []}
    for d in decay_seeds:
        for kind in ("classic", "ml"):
            overrides = {"hadronization": kind, "decay_seed": d}
            if kind == "ml":
                overrides["model"] = args.model
            x = primary_x_e(s, args.events, overrides, flavour, pert)
            chi2[kind].append(chi2_two_samples(a, x, edges)[0])
            if d != decay_seeds[0]:
                fractions[kind].append(np.histogram(x, edges)[0] / len(x))
        print(f"decay_seed {d}: chi2 vs classic A: classic {chi2['classic'][-1]:.1f}, "
              f"ML {chi2['ml'][-1]:.1f}", file=sys.stderr, flush=True)
    f = {k: np.asarray(v) for k, v in fractions.items()}
    z = (f["ml"].mean(0) - f["classic"].mean(0)) / np.sqrt(
        f["ml"].var(0, ddof=1) / len(f["ml"]) + f["classic"].var(0, ddof=1) / len(f["classic"]))
    print(f"\nseed {s}, {args.events} events, x_E primary, {args.cls}: {len(a)} entries in "
          f"classic A")
    for kind in ("classic", "ml"):
        v = np.asarray(chi2[kind][1:])
        print(f"{kind:8s} decay_seed {2 * s + 1} (the closure's B): {chi2[kind][0]:.1f}; "
              f"{args.redraws} redraws: mean {v.mean():.1f} sd {v.std(ddof=1):.1f} "
              f"(min {v.min():.1f}, max {v.max():.1f})")
    print(f"paired ML - classic over the redraws: sum z^2 = {np.sum(z ** 2):.1f} for "
          f"{len(z)} bins (19 independent); largest |z| {np.abs(z).max():.1f}")
    if args.json:
        write_json_atomically(args.json, {
            "seed": s, "events": args.events, "class": args.cls, "model": args.model,
            "decay_seeds": decay_seeds, "chi2": chi2, "paired_z": z.tolist()})


if __name__ == "__main__":
    main()
