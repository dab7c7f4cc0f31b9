#!/usr/bin/env python
"""Closure test of an ML cluster-decay model against the classic decays it was trained on.

Both runs use the same seed, so the perturbative stage (partons, clusters) is identical
event by event and only the cluster decays differ. Compared, as normalised histograms with
chi2/ndf = sum (a - b)^2 / (sigma_a^2 + sigma_b^2) over filled bins (statistical errors of
both samples): the charged multiplicity, 1 - T (exact thrust, all final particles),
ln(1/x_p) of charged particles, x_E = 2E/sqrt(s) of the primary hadrons of two-hadron cluster
decays (before hadron decays), and the decay angles (cos theta, phi) of hadron 1 in the
model frame of every two-hadron cluster decay; plus the 1-D Wasserstein distances of the
angles.

    python training/closure.py -n 20000 --model hadml/models/default_cluster_decay.onnx \
        --plot docs/img/closure.png --json closure.json

With ``--target-set KEY=VALUE ...`` it measures an event-level fit instead: a third run, classic
with the varied settings, is the target; the table gives the distance nominal classic ->
target next to ML -> target (same observables), and the fraction of the distance the ML
model closes, 1 - W1(ML, target) / W1(nominal, target).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np

from hadml.analysis.observables import charge3, thrust_axis
from hadml.config import GeneratorConfig, load_config
from hadml.data.features import target_angles
from hadml.generator import run_blocks
from hadml.io import cluster_table
from hadml.train.metrics import COS_THETA_EDGES, PHI_EDGES, chi2_two_samples, wasserstein_1d


@dataclass(frozen=True)
class Observable:
    name: str
    label: str
    edges: np.ndarray


OBSERVABLES = (
    Observable("n_ch", "charged multiplicity", np.arange(-0.5, 61.5, 2.0)),
    Observable("one_minus_thrust", "1 - T", np.linspace(0.0, 0.4, 33)),
    Observable("ln_inv_xp", "ln(1/x_p), charged", np.linspace(0.0, 6.0, 31)),
    Observable("x_e_primary", "x_E, primary hadrons", np.linspace(0.0, 0.5, 26)),
    Observable("cos_theta", "cos theta (model frame)", COS_THETA_EDGES),
    Observable("phi", "phi (model frame)", PHI_EDGES),
)


def sample(config: GeneratorConfig, n_events: int, jobs: int) -> dict[str, np.ndarray]:
    """Per-event and per-decay observables of one run (events analysed block by block)."""
    n_ch, one_minus_t, ln_inv_xp = [], [], []
    tables = []
    for block in run_blocks(config, n_events, jobs, keep_events=True, keep_clusters=True):
        for ev in block.events:
            fs = ev.final_state()
            charged = charge3(fs["pid"]) != 0
            n_ch.append(int(charged.sum()))
            thrust, _ = thrust_axis(fs["p"][:, :3])
            one_minus_t.append(1.0 - thrust)
            xp = 2.0 * np.linalg.norm(fs["p"][charged, :3], axis=1) / config.ecm
            ln_inv_xp.append(-np.log(xp))
        tables.append(block.clusters)
    table = cluster_table.concat(tables)
    angles = target_angles(table)
    # Primary hadrons of the two-hadron cluster decays, before hadron decays: the decay
    # angles move energy between the two, which their x_E spectrum shows directly.
    e = np.concatenate([table.column("h1_e").to_numpy(), table.column("h2_e").to_numpy()])
    return {"n_ch": np.asarray(n_ch, dtype=float), "one_minus_thrust": np.asarray(one_minus_t),
            "ln_inv_xp": np.concatenate(ln_inv_xp), "x_e_primary": 2.0 * e / config.ecm,
            "cos_theta": angles[:, 0], "phi": angles[:, 1]}


def plot(classic: dict, ml: dict, path: str, labels: tuple[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(OBSERVABLES), figsize=(4 * len(OBSERVABLES), 5.5),
                             gridspec_kw={"height_ratios": [3, 1]}, sharex="col")
    for k, obs in enumerate(OBSERVABLES):
        top, bottom = axes[0, k], axes[1, k]
        ha, _ = np.histogram(classic[obs.name], obs.edges)
        hb, _ = np.histogram(ml[obs.name], obs.edges)
        width = np.diff(obs.edges)
        da = ha / max(ha.sum(), 1) / width
        db = hb / max(hb.sum(), 1) / width
        centres = 0.5 * (obs.edges[1:] + obs.edges[:-1])
        top.stairs(da, obs.edges, label=labels[0], color="black")
        top.stairs(db, obs.edges, label=labels[1], color="tab:red")
        top.set_title(obs.label, fontsize=10)
        filled = (ha > 0) & (hb > 0)
        ratio = db[filled] / da[filled]
        err = ratio * np.sqrt(1 / ha[filled] + 1 / hb[filled])
        bottom.errorbar(centres[filled], ratio, yerr=err, fmt=".", color="tab:red")
        bottom.axhline(1.0, color="black", lw=0.8)
        bottom.set_ylim(0.8, 1.2)
        bottom.set_xlabel(obs.label, fontsize=9)
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].set_ylabel(f"{labels[1]} / {labels[0]}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


# An observable the varied setting does not change beyond statistics (nominal -> target
# chi2/ndf below this) cannot show a closed distance: the ratio of two noise-sized W1
# would be noise. Such rows are reported but marked "not sensitive".
SENSITIVE_CHI2_NDF = 2.0


def report_fit(runs: dict, args: argparse.Namespace) -> None:
    """Distances nominal -> target and ML -> target, per observable."""
    rows = []
    print(f"\nEvent-level fit, {args.events} events per run, target: {args.target_set}\n")
    print("| observable | chi2/ndf nominal->target | chi2/ndf ML->target | W1 nominal->target "
          "| W1 ML->target | closed |\n|---|---|---|---|---|---|")
    for obs in OBSERVABLES:
        c_n, n_n = chi2_two_samples(runs["classic"][obs.name], runs["target"][obs.name],
                                    obs.edges)
        c_m, n_m = chi2_two_samples(runs["ml"][obs.name], runs["target"][obs.name], obs.edges)
        w_n = wasserstein_1d(runs["classic"][obs.name], runs["target"][obs.name])
        w_m = wasserstein_1d(runs["ml"][obs.name], runs["target"][obs.name])
        closed = 1.0 - w_m / w_n if w_n > 0 else float("nan")
        sensitive = c_n / max(n_n, 1) >= SENSITIVE_CHI2_NDF
        rows.append({"observable": obs.name, "chi2_nominal": c_n, "ndf_nominal": n_n,
                     "chi2_ml": c_m, "ndf_ml": n_m, "w1_nominal": w_n, "w1_ml": w_m,
                     "closed": closed, "sensitive": sensitive})
        shown = f"{closed:+.0%}" if sensitive else f"not sensitive ({closed:+.0%})"
        print(f"| {obs.label} | {c_n / max(n_n, 1):.2f} | {c_m / max(n_m, 1):.2f} | {w_n:.4f} "
              f"| {w_m:.4f} | {shown} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"events": args.events, "seed": args.seed, "model": args.model,
                       "target": args.target_set, "rows": rows}, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--events", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--config", default=None, help="YAML run configuration")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--plot", default=None, help="PNG file for the overlay/ratio plots")
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    ap.add_argument("--target-set", action="append", default=[], metavar="KEY=VALUE",
                    help="settings of a classic target run (event-level fit), repeatable")
    args = ap.parse_args()

    from hadml.config import parse_set_options

    base = load_config(args.config, {"seed": args.seed})
    plan = {"classic": {"hadronization": "classic"},
            "ml": {"hadronization": "ml", "model": args.model}}
    if args.target_set:
        plan["target"] = {"hadronization": "classic", **parse_set_options(args.target_set)}
    runs, seconds = {}, {}
    for name, overrides in plan.items():
        cfg = load_config(overrides=overrides, base=base)
        start = time.perf_counter()
        runs[name] = sample(cfg, args.events, args.jobs)
        seconds[name] = time.perf_counter() - start
    if args.target_set:
        report_fit(runs, args)
        if args.plot:
            plot(runs["target"], runs["ml"], args.plot, ("target", "ML"))
        return

    rows = []
    print(f"\nClosure, {args.events} events each, seed {args.seed}\n")
    print("| observable | chi2 / ndf | chi2/ndf | W1 |\n|---|---|---|---|")
    for obs in OBSERVABLES:
        c2, ndf = chi2_two_samples(runs["classic"][obs.name], runs["ml"][obs.name], obs.edges)
        w1 = wasserstein_1d(runs["classic"][obs.name], runs["ml"][obs.name])
        rows.append({"observable": obs.name, "chi2": c2, "ndf": ndf, "w1": w1})
        print(f"| {obs.label} | {c2:.1f} / {ndf} | {c2 / max(ndf, 1):.2f} | {w1:.4f} |")
    print("\nwall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    if args.plot:
        plot(runs["classic"], runs["ml"], args.plot, ("classic", "ML"))
        print(f"plot: {args.plot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"events": args.events, "seed": args.seed, "model": args.model,
                       "rows": rows, "seconds": seconds}, f, indent=1)


if __name__ == "__main__":
    main()
