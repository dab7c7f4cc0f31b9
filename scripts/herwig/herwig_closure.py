#!/usr/bin/env python
"""Calibrated closure of an ML cluster-decay model inside Herwig, from the adapter's dumps.

    PYTHONPATH=. python scripts/herwig/herwig_closure.py --classic-a A/clusters.dat \
        --classic-b B/clusters.dat --ml ML/after.dat [--paired ML/before.dat] \
        --blocks 10 --json closure.json

Inputs are cluster dumps of hadml's Herwig adapter (docs/herwig.md, "Dumping Herwig clusters"):
two Herwig classic runs with different seeds (A, B) and one Herwig+ML run with a third seed,
in which a dump-only handler placed AFTER the ML re-decayer dumps the re-decayed clusters.
The three runs are independent (no shared clusters, unlike training/closure.py, where the
runs share their partons), so each is cut into ``--blocks`` blocks of consecutive events and
for block k the statistics are

    null_k = chi2(A_k, B_k)     ml_k = chi2(A_k, ML_k)

(the two-sample chi2 of hadml.train.metrics on 20 bins equiprobable in A_k), per decay
angle (cos theta, phi of hadron 1 in the model frame) and cluster class (training/closure.py's
classes: all, light/charm/bottom by the heaviest constituent quark, each with or without a
perturbative constituent). Reported, as training/closure.py does: the rank p-value of each
ml_k in the nulls and the combined p-value of all ml_k under the null model c chi2_ndf, c
fitted to the nulls (hadml.train.metrics.scaled_chi2_p). The whole samples' chi2(A, ML) and
chi2(A, B) are printed next to them, with the p-value of chi2(A, ML) under c chi2_ndf (c from
the blocks' nulls): one test on all events, more powerful than the ten blocks' sum (the same
difference, 19 instead of 190 degrees of freedom).

``--paired BEFORE`` (a dump-only handler placed BEFORE the re-decayer of the same ML run)
adds the mean cos theta of Herwig's own decays and of the model's decays of the very same
clusters, per class (a paired difference: the clusters are shared).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "training"))

from closure import CLUSTER_CLASSES, N_BINS, flavour_class, with_p_values  # noqa: E402

from hadml.data.features import target_angles  # noqa: E402
from hadml.io import herwig_dump  # noqa: E402
from hadml.train.metrics import (  # noqa: E402
    chi2_sf,
    chi2_two_samples,
    equiprobable_edges,
    null_scale,
)

ANGLES = ("cos_theta", "phi")


def dump_angles(path: str | Path) -> dict[str, np.ndarray]:
    """Decay angles of every cluster of a dump, with its event index, flavour class (0 light,
    1 charm, 2 bottom) and whether a constituent is perturbative."""
    table = herwig_dump.to_cluster_table(herwig_dump.read(path))
    if table.num_rows == 0:
        raise herwig_dump.HerwigDumpError(f"{path} has no two-hadron clusters")
    angles = target_angles(table)
    return {
        "cos_theta": angles[:, 0], "phi": angles[:, 1],
        "event": table.column("event").to_numpy(),
        "flavour": flavour_class(table.column("c1_id").to_numpy(),
                                 table.column("c2_id").to_numpy()),
        "pert": (table.column("c1_pert").to_numpy(zero_copy_only=False)
                 | table.column("c2_pert").to_numpy(zero_copy_only=False)),
    }


def select(sample: dict[str, np.ndarray], name: str, flavour: int | None, pert: bool | None,
           rows: np.ndarray | None = None) -> np.ndarray:
    keep = np.ones(len(sample[name]), dtype=bool) if rows is None else rows.copy()
    if flavour is not None:
        keep &= sample["flavour"] == flavour
    if pert is not None:
        keep &= sample["pert"] == pert
    return sample[name][keep]


def block_rows(sample: dict[str, np.ndarray], n_blocks: int) -> list[np.ndarray]:
    """Row masks of ``n_blocks`` blocks of consecutive events (equal numbers of events)."""
    events = sample["event"]
    block = (events - events.min()) * n_blocks // (events.max() - events.min() + 1)
    return [block == k for k in range(n_blocks)]


def closure(a: dict, b: dict, ml: dict, n_blocks: int) -> list[dict]:
    """Rows per angle and class: block statistics, p-values and the whole-sample chi2."""
    blocks = {name: block_rows(s, n_blocks) for name, s in (("a", a), ("b", b), ("ml", ml))}
    rows = []
    for name in ANGLES:
        for label, flavour, pert in CLUSTER_CLASSES:
            row: dict = {"observable": name, "class": label, "ndf": [], "null": [], "ml": [],
                         "n_ref": 0}
            for k in range(n_blocks):
                ref = select(a, name, flavour, pert, blocks["a"][k])
                if len(ref) < 5 * N_BINS:
                    continue
                edges = equiprobable_edges(ref, N_BINS)
                c_null, ndf = chi2_two_samples(
                    ref, select(b, name, flavour, pert, blocks["b"][k]), edges)
                c_ml, _ = chi2_two_samples(
                    ref, select(ml, name, flavour, pert, blocks["ml"][k]), edges)
                row["ndf"].append(ndf)
                row["null"].append(c_null)
                row["ml"].append(c_ml)
                row["n_ref"] += len(ref)
            ref = select(a, name, flavour, pert)
            row["n"] = {"a": len(ref), "b": len(select(b, name, flavour, pert)),
                        "ml": len(select(ml, name, flavour, pert))}
            if len(ref) >= 5 * N_BINS:
                edges = equiprobable_edges(ref, N_BINS)
                for key, other in (("whole_null", b), ("whole_ml", ml)):
                    c2, ndf = chi2_two_samples(ref, select(other, name, flavour, pert), edges)
                    row[key] = {"chi2": c2, "ndf": ndf, "p": chi2_sf(c2, ndf)}
            row = with_p_values(row)
            if "whole_ml" in row and len(row["null"]) >= 2:
                # the whole samples under the null model c chi2_ndf, c fitted to the blocks
                ndf = row["whole_ml"]["ndf"]
                c = null_scale(np.asarray(row["null"]), int(np.median(row["ndf"])))
                row["whole_ml"]["c"] = c
                row["whole_ml"]["p_scaled"] = chi2_sf(row["whole_ml"]["chi2"] / c, ndf)
            rows.append(row)
    return rows


def paired_means(before: dict, after: dict) -> list[dict]:
    """Mean cos theta of Herwig's and the model's decays of the same clusters, per class."""
    if len(before["cos_theta"]) != len(after["cos_theta"]) or not np.array_equal(
            before["flavour"], after["flavour"]):
        raise ValueError("--paired: the before and after dumps do not hold the same clusters")
    out = []
    for label, flavour, pert in CLUSTER_CLASSES:
        x = select(before, "cos_theta", flavour, pert)
        y = select(after, "cos_theta", flavour, pert)
        if len(x) < 2:
            continue
        d = y - x
        out.append({"class": label, "n": len(x), "herwig": float(x.mean()),
                    "ml": float(y.mean()), "diff": float(d.mean()),
                    "diff_err": float(d.std(ddof=1) / np.sqrt(len(d)))})
    return out


def print_rows(rows: list[dict], n_blocks: int) -> None:
    print(f"\nCalibrated closure in Herwig: {n_blocks} blocks per run, bins equiprobable in "
          f"classic A ({N_BINS})\n")
    print("| angle | class | clusters A / B / ML | null chi2 mean +- sd (ndf) | ML chi2 mean "
          "| p (rank) min | p (combined) | whole: chi2/ndf A-B, A-ML | whole: p A-ML (c) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        n = r["n"]
        head = f"| {r['observable']} | {r['class']} | {n['a']} / {n['b']} / {n['ml']} "
        if len(r["null"]) < 2:
            print(head + "| too few clusters | - | - | - | - | - |")
            continue
        null = np.asarray(r["null"])
        whole = " | "
        if "whole_ml" in r and r["whole_ml"]["ndf"] > 0 and r["whole_null"]["ndf"] > 0:
            wn, wm = r["whole_null"], r["whole_ml"]
            whole = (f"{wn['chi2'] / wn['ndf']:.2f}, {wm['chi2'] / wm['ndf']:.2f} "
                     f"| {wm['p_scaled']:.2g} ({wm['c']:.2f})")
        print(head + f"| {null.mean():.1f} +- {null.std(ddof=1):.1f} "
              f"({int(np.median(r['ndf']))}) | {np.mean(r['ml']):.1f} "
              f"| {min(r['p_rank']):.2f} | {r['p_combined']:.3g} | {whole} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classic-a", required=True, help="dump of Herwig classic, seed A")
    ap.add_argument("--classic-b", required=True, help="dump of Herwig classic, seed B")
    ap.add_argument("--ml", required=True,
                    help="dump of the Herwig+ML run, written after the re-decay")
    ap.add_argument("--paired", default=None,
                    help="dump of the same Herwig+ML run written before the re-decay")
    ap.add_argument("--blocks", type=int, default=10, help="blocks of events per run")
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = ap.parse_args(argv)
    if args.blocks < 2:
        ap.error("--blocks must be at least 2 (the null distribution)")
    try:
        a, b, ml = (dump_angles(p) for p in (args.classic_a, args.classic_b, args.ml))
        paired = paired_means(dump_angles(args.paired), ml) if args.paired else None
    except (herwig_dump.HerwigDumpError, ValueError) as err:
        print(f"herwig_closure: {err}", file=sys.stderr)
        return 2
    rows = closure(a, b, ml, args.blocks)
    print_rows(rows, args.blocks)
    if paired:
        print("\nSame clusters, Herwig's decay vs the model's (ML run, before/after dumps)\n")
        print("| class | clusters | <cos theta> Herwig | <cos theta> ML | ML - Herwig |")
        print("|---|---|---|---|---|")
        for p in paired:
            print(f"| {p['class']} | {p['n']} | {p['herwig']:.4f} | {p['ml']:.4f} "
                  f"| {p['diff']:+.4f} +- {p['diff_err']:.4f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"blocks": args.blocks, "bins": N_BINS, "inputs": vars(args), "rows": rows,
             "paired": paired}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
