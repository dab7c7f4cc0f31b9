#!/usr/bin/env python
"""Logit calibration of a trained species head (hadml.train.species.calibrate_offsets) on
the training split of the cluster table it was trained on, with the per-species report
that diagnoses a rate deficit: for the named species, the head's expected count (sum of
probabilities, hadron 1 + hadron 2) against the observed one on the training and on the
validation clusters, before and after.

    python training/species_calibrate.py runs/species/species_head.pt clusters.parquet \
        --out calibrated.pt --export v2.onnx
"""

from __future__ import annotations

import argparse
import json

import numpy as np

SPECIES = {"pi+-": 211, "pi0": 111, "K+-": 321, "K0": 311, "eta": 221, "omega": 223,
           "phi": 333, "p": 2212, "n": 2112, "Lambda": 3122, "Sigma0": 3212, "Sigma+": 3222,
           "Sigma-": 3112, "Sigma*0": 3214, "Sigma*+": 3224, "Sigma*-": 3114, "Xi-": 3312,
           "Xi0": 3322, "Delta++": 2224}


def main() -> int:
    import torch

    from hadml.data.datamodule import split_by_event
    from hadml.io import cluster_table
    from hadml.train.species import calibrate_offsets, load_head, nll, prepare, side_counts

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("table")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--out", help="write the calibrated checkpoint here")
    ap.add_argument("--export", help="write the calibrated format-2 file here")
    ap.add_argument("--json", help="write the report here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    head, saved = load_head(args.checkpoint)
    cfg = saved["config"]
    table = cluster_table.read(args.table)
    masks = split_by_event(table.column("event").to_numpy(), cfg["val_fraction"], 0.0,
                           cfg.get("split_seed", 0))
    species = saved["species"]
    data, channels, _, _ = prepare(table, saved["features"], species, saved["scaling"])
    rows = {k: torch.as_tensor(np.flatnonzero(masks[k])) for k in ("train", "val")}

    def counts() -> dict[str, dict[str, tuple[float, float]]]:
        out = {}
        for split, r in rows.items():
            with torch.no_grad():
                logits = torch.cat([head(data.x[r[i:i + 8192]]) for i in range(0, len(r), 8192)])
            e, o = side_counts(logits, data, r, channels)
            s = len(species)
            out[split] = {name: (float(e[species.index(h)] + e[s + species.index(h)]),
                                 float(o[species.index(h)] + o[s + species.index(h)]))
                          for name, h in SPECIES.items() if h in species}
        return out

    with torch.no_grad():
        val_before = float(nll(head, data, rows["val"], channels))
    before = counts()
    report = calibrate_offsets(head, data, rows["train"], channels, args.iterations)
    with torch.no_grad():
        val_after = float(nll(head, data, rows["val"], channels))
    after = counts()
    print(f"validation NLL {val_before:.5f} -> {val_after:.5f}; largest train deviation "
          f"{report['max_rel_dev_before']:.4f} -> {report['max_rel_dev_after']:.5f}")
    print("| species | train obs | train exp/obs - 1 before | after | val obs | val before "
          "| val after |")
    for name in before["train"]:
        (eb, ob), (ea, _) = before["train"][name], after["train"][name]
        (vb, vo), (va, _) = before["val"][name], after["val"][name]
        err = 100 / np.sqrt(max(vo, 1))
        print(f"| {name} | {ob:.0f} | {100 * (eb / ob - 1):+.2f}% | {100 * (ea / ob - 1):+.2f}% "
              f"| {vo:.0f} | {100 * (vb / vo - 1):+.1f} +- {err:.1f}% | "
              f"{100 * (va / vo - 1):+.1f}% |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"report": report, "val_nll": [val_before, val_after],
                       "before": before, "after": after}, f, indent=1)
    if args.out or args.export:
        path = args.out or args.export + ".pt"
        torch.save({**saved, "state_dict": head.state_dict(), "val_nll": val_after,
                    "calibration": {**report, "val_nll_before": val_before,
                                    "val_nll_after": val_after}}, path)
        print(f"calibrated checkpoint: {path}")
        if args.export:
            from hadml.train.export import export_species_model

            export_species_model(path, cfg.get("angles_from"), args.export)
            print(f"format-2 file: {args.export}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
