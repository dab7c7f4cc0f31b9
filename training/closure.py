#!/usr/bin/env python
"""Calibrated closure test of an ML cluster-decay model against the classic decays.

Procedure (docs/validation.md, "Calibrated closure"). For each seed s, three runs share the
partons, clusters and hadron species (``seed`` = s) and differ in the decay streams
(``decay_seed``, docs/architecture.md "Random streams"):

    classic A (decay_seed 2s)   classic B (decay_seed 2s+1)   ML B (decay_seed 2s+1)

The ML statistic is chi2(classic A, ML B), the null statistic chi2(classic A, classic B):
the same procedure, so the null distribution (over the seeds) absorbs what the shared
clusters do to the statistic (the samples are not independent). chi2 is the two-sample
statistic of hadml.train.metrics.chi2_two_samples on 20 bins equiprobable in classic A.
Reported for each observable and class: the mean null and ML chi2, the ML statistic's rank
p-value in the empirical null (per seed; resolution 1/(n_null+1)), and the p-value of the
ML statistics of all ML seeds combined under the null model c chi2_ndf, c = mean null / ndf
(hadml.train.metrics.scaled_chi2_p), which reaches the tail the ranks cannot.

Observables: charged multiplicity, 1 - T (exact thrust, all final particles), ln(1/x_p) of
charged particles (per event: all, and by the event's heaviest cluster flavour: light,
charm, bottom); x_E = 2E/sqrt(s) of the primary hadrons and the decay angles (cos theta,
phi) of hadron 1 in the model frame of every two-hadron cluster decay (per cluster: all,
by flavour class and by whether a constituent is perturbative).

    python training/closure.py -n 20000 --seeds 10 --ml-seeds 3 --json closure.json

The null runs do not depend on the model: run them once (``--ml-seeds 0``), the ML seeds
per model on other seeds, and pool the two with ``--merge null.json ml.json``.

With ``--target-set KEY=VALUE ...`` it measures an event-level fit instead: a third run, classic
with the varied settings, is the target; the table gives the distance nominal classic ->
target next to ML -> target (same observables, one seed), and the fraction of the distance
the ML model closes, 1 - W1(ML, target) / W1(nominal, target).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from hadml.analysis.observables import charge3, thrust_axis
from hadml.config import GeneratorConfig, load_config
from hadml.data.features import heaviest_quark, target_angles
from hadml.event import STATUS_PARTON
from hadml.generator import run_blocks
from hadml.io import cluster_table
from hadml.train.metrics import (
    COS_THETA_EDGES,
    PHI_EDGES,
    chi2_two_samples,
    empirical_p,
    equiprobable_edges,
    scaled_chi2_p,
    wasserstein_1d,
)


@dataclass(frozen=True)
class Observable:
    name: str
    label: str
    edges: np.ndarray  # fixed binning of the plots and of the --target-set mode
    per_cluster: bool  # classes of clusters (else of events)
    discrete: bool = False


OBSERVABLES = (
    Observable("n_ch", "charged multiplicity", np.arange(-0.5, 61.5, 2.0), False, True),
    Observable("one_minus_thrust", "1 - T", np.linspace(0.0, 0.4, 33), False),
    Observable("ln_inv_xp", "ln(1/x_p), charged", np.linspace(0.0, 6.0, 31), False),
    Observable("x_e_primary", "x_E, primary hadrons", np.linspace(0.0, 0.5, 26), True),
    Observable("cos_theta", "cos theta (model frame)", COS_THETA_EDGES, True),
    Observable("phi", "phi (model frame)", PHI_EDGES, True),
)

FLAVOURS = ("light", "charm", "bottom")
#: Rows per observable: (label, flavour index or None, perturbative flag or None).
EVENT_CLASSES = (("all", None, None),) + tuple((f, k, None) for k, f in enumerate(FLAVOURS))
CLUSTER_CLASSES = EVENT_CLASSES + tuple(
    (f"{f} {'pert' if pert else 'non-pert'}", k, pert)
    for k, f in enumerate(FLAVOURS) for pert in (True, False))
N_BINS = 20


def flavour_class(c1_id: np.ndarray, c2_id: np.ndarray) -> np.ndarray:
    """0 light, 1 charm, 2 bottom: the heaviest quark of the two constituents."""
    q = np.maximum(heaviest_quark(c1_id), heaviest_quark(c2_id))
    return np.clip(q, 3, 5).astype(np.int64) - 3


def sample(config: GeneratorConfig, n_events: int, jobs: int) -> dict[str, np.ndarray]:
    """Observables of one run, each with its class columns: ``<name>`` values,
    ``<name>:flavour`` (0-2) and, per cluster, ``<name>:pert`` (bool)."""
    n_ch, one_minus_t, ln_inv_xp, ev_flav, xp_flav = [], [], [], [], []
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
            # Event class: the heaviest quark among the cluster constituents, i.e. among
            # the partons entering the cluster stage (quarks only; gluons are 21).
            partons = np.abs(ev.pid[ev.status == STATUS_PARTON])
            flav = int(np.clip(partons[partons <= 5].max(initial=3), 3, 5)) - 3
            ev_flav.append(flav)
            xp_flav.append(np.full(len(xp), flav))
        tables.append(block.clusters)
    table = cluster_table.concat(tables)
    angles = target_angles(table)
    cl_flav = flavour_class(table.column("c1_id").to_numpy(), table.column("c2_id").to_numpy())
    cl_pert = (table.column("c1_pert").to_numpy(False) | table.column("c2_pert").to_numpy(False))
    # Primary hadrons of the two-hadron cluster decays, before hadron decays: the decay
    # angles move energy between the two, which their x_E spectrum shows directly.
    e = np.concatenate([table.column("h1_e").to_numpy(), table.column("h2_e").to_numpy()])
    ev_flav_a = np.asarray(ev_flav, dtype=np.int64)
    out = {"n_ch": np.asarray(n_ch, dtype=float), "n_ch:flavour": ev_flav_a,
           "one_minus_thrust": np.asarray(one_minus_t), "one_minus_thrust:flavour": ev_flav_a,
           "ln_inv_xp": np.concatenate(ln_inv_xp), "ln_inv_xp:flavour": np.concatenate(xp_flav),
           "x_e_primary": 2.0 * e / config.ecm,
           "x_e_primary:flavour": np.tile(cl_flav, 2), "x_e_primary:pert": np.tile(cl_pert, 2)}
    for k, name in enumerate(("cos_theta", "phi")):
        out[name] = angles[:, k]
        out[f"{name}:flavour"] = cl_flav
        out[f"{name}:pert"] = cl_pert
    return out


def select(run: dict[str, np.ndarray], obs: Observable, flavour: int | None,
           pert: bool | None) -> np.ndarray:
    keep = np.ones(len(run[obs.name]), dtype=bool)
    if flavour is not None:
        keep &= run[f"{obs.name}:flavour"] == flavour
    if pert is not None:
        keep &= run[f"{obs.name}:pert"] == pert
    return run[obs.name][keep]


def seed_statistics(run: dict[str, dict], with_ml: bool) -> dict[tuple[str, str], dict]:
    """chi2 of classic A vs classic B (null) and vs ML B, per observable and class, for the
    runs of one seed (bins equiprobable in classic A)."""
    out = {}
    for obs in OBSERVABLES:
        for label, flavour, pert in (CLUSTER_CLASSES if obs.per_cluster else EVENT_CLASSES):
            a = select(run["classic_a"], obs, flavour, pert)
            entry: dict = {"n_ref": len(a)}
            if len(a) >= N_BINS:
                edges = equiprobable_edges(a, N_BINS, obs.discrete)
                entry["null"], entry["ndf"] = chi2_two_samples(
                    a, select(run["classic_b"], obs, flavour, pert), edges)
                if with_ml:
                    entry["ml"] = chi2_two_samples(
                        a, select(run["ml_b"], obs, flavour, pert), edges)[0]
            out[(obs.name, label)] = entry
    return out


def closure_rows(per_seed: list[dict]) -> list[dict]:
    """Null and ML statistics per observable and class over the seeds, with p-values."""
    rows = []
    for key in per_seed[0]:
        entries = [e[key] for e in per_seed]
        rows.append(with_p_values({
            "observable": key[0], "class": key[1],
            "ndf": [e["ndf"] for e in entries if "ndf" in e],
            "null": [e["null"] for e in entries if "null" in e],
            "ml": [e["ml"] for e in entries if "ml" in e],
            "n_ref": int(np.mean([e["n_ref"] for e in entries]))}))
    return rows


def with_p_values(row: dict) -> dict:
    """``row`` with the rank p-value of each ML value in the null values and the combined
    p-value of all ML values (when there are at least two null values and an ML one)."""
    null, ml, ndf = row["null"], row["ml"], row["ndf"]
    row.pop("p_rank", None)
    row.pop("p_combined", None)
    if len(null) >= 2 and ml:
        row["p_rank"] = [empirical_p(v, np.asarray(null)) for v in ml]
        try:
            row["p_combined"] = scaled_chi2_p(np.asarray(ml), np.asarray(null),
                                              int(np.median(ndf)))
        except ValueError:
            row["p_combined"] = float("nan")
    return row


def merge_results(results: list[dict]) -> dict:
    """One result from the JSON files of several runs of this script on disjoint seeds and
    the same events per run and binning (e.g. the null seeds once, the ML seeds per model):
    the null and ML statistics of each row are pooled and the p-values recomputed."""
    if not results:
        raise ValueError("nothing to merge")
    for key in ("events", "bins"):
        if len({r[key] for r in results}) != 1:
            raise ValueError(f"the runs to merge differ in {key!r}")
    seeds = [s for r in results for s in r["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs to merge share seeds: {sorted(seeds)}")
    models = {r["model"] for r in results if r["ml_seeds"]}
    if len(models) > 1:
        raise ValueError(f"the runs to merge have ML runs of different models: {models}")
    merged: dict[tuple[str, str], dict] = {}
    for r in results:
        for row in r["rows"]:
            key = (row["observable"], row["class"])
            m = merged.setdefault(key, {"observable": key[0], "class": key[1], "ndf": [],
                                        "null": [], "ml": [], "n_ref": []})
            for k in ("ndf", "null", "ml"):
                m[k] += row[k]
            m["n_ref"].append(row["n_ref"])
    rows = []
    for m in merged.values():
        m["n_ref"] = int(np.mean(m["n_ref"]))
        rows.append(with_p_values(m))
    return {"events": results[0]["events"], "seeds": seeds,
            "ml_seeds": [s for r in results for s in r["ml_seeds"]],
            "model": models.pop() if models else None, "bins": results[0]["bins"],
            "rows": rows,
            "seconds": {k: sum(r["seconds"][k] for r in results) for k in ("classic", "ml")}}


def print_closure(rows: list[dict], events: int, n_null: int, n_ml: int) -> None:
    print(f"\nCalibrated closure, {events} events per run, null from {n_null} seeds, "
          f"ML on {n_ml} seeds\n")
    print("| observable | class | clusters/events per run | ndf | null chi2 mean +- sd "
          "| ML chi2 (per seed) | p (rank, per seed) | p (combined, scaled chi2) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if not r["null"] or not r["ml"]:
            print(f"| {r['observable']} | {r['class']} | {r['n_ref']} | - | too few entries "
                  "| - | - | - |")
            continue
        null = np.asarray(r["null"])
        ml = " / ".join(f"{v:.0f}" for v in r["ml"])
        # One null seed (a run made for --merge) has no spread and no p-values yet.
        sd = f"{null.std(ddof=1):.1f}" if len(null) > 1 else "-"
        ranks = " / ".join(f"{v:.2f}" for v in r["p_rank"]) if "p_rank" in r else "-"
        combined = f"{r['p_combined']:.2g}" if "p_combined" in r else "-"
        print(f"| {r['observable']} | {r['class']} | {r['n_ref']} | {int(np.median(r['ndf']))} "
              f"| {null.mean():.1f} +- {sd} | {ml} | {ranks} | {combined} |")


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
    ap.add_argument("-n", "--events", type=int, default=20000, help="events per run")
    ap.add_argument("--seed", type=int, default=2, help="first seed")
    ap.add_argument("--seeds", type=int, default=10, help="seeds of the null distribution")
    ap.add_argument("--ml-seeds", type=int, default=3,
                    help="of those, how many also get an ML run (the first ones)")
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--config", default=None, help="YAML run configuration")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--plot", default=None, help="PNG file for the overlay/ratio plots")
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    ap.add_argument("--target-set", action="append", default=[], metavar="KEY=VALUE",
                    help="settings of a classic target run (event-level fit), repeatable")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="pool the --json files of runs on disjoint seeds (e.g. null seeds "
                         "once, ML seeds per model) and print the table; runs nothing")
    args = ap.parse_args()

    if args.merge:
        try:
            result = merge_results([json.load(open(path)) for path in args.merge])
        except (OSError, ValueError, KeyError) as err:
            ap.error(f"--merge: {err}")
        print_closure(result["rows"], result["events"], len(result["seeds"]),
                      len(result["ml_seeds"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        return

    from hadml.config import parse_set_options

    base = load_config(args.config, {"seed": args.seed})
    if args.target_set:
        plan = {"classic": {"hadronization": "classic"},
                "ml": {"hadronization": "ml", "model": args.model},
                "target": {"hadronization": "classic", **parse_set_options(args.target_set)}}
        runs = {name: sample(load_config(overrides=o, base=base), args.events, args.jobs)
                for name, o in plan.items()}
        report_fit(runs, args)
        if args.plot:
            plot(runs["target"], runs["ml"], args.plot, ("target", "ML"))
        return

    if args.seeds < 2 and not args.json:
        ap.error("--seeds must be at least 2 (the null distribution), or write --json and "
                 "pool it with other seeds' files (--merge)")
    seeds = [args.seed + i for i in range(args.seeds)]
    ml_seeds = seeds[:max(args.ml_seeds, 0)]
    per_seed: list[dict] = []
    seconds = {"classic": 0.0, "ml": 0.0}
    for s in seeds:
        plan = {"classic_a": {"hadronization": "classic", "decay_seed": 2 * s},
                "classic_b": {"hadronization": "classic", "decay_seed": 2 * s + 1}}
        if s in ml_seeds:
            plan["ml_b"] = {"hadronization": "ml", "model": args.model, "decay_seed": 2 * s + 1}
        run = {}
        for name, overrides in plan.items():
            start = time.perf_counter()
            # Each seed's runs: the base config with this seed (the seed rule refuses a
            # second, different seed given as an override).
            config = load_config(overrides=overrides, base=dataclasses.replace(base, seed=s))
            run[name] = sample(config, args.events, args.jobs)
            seconds["ml" if name == "ml_b" else "classic"] += time.perf_counter() - start
        if args.plot and s == seeds[0] and "ml_b" in run:
            plot(run["classic_a"], run["ml_b"], args.plot, ("classic A", "ML B"))
        per_seed.append(seed_statistics(run, "ml_b" in run))
        print(f"seed {s} done ({', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())})",
              file=sys.stderr, flush=True)
        if args.json:  # after every seed, so an interrupted run leaves its numbers
            rows = closure_rows(per_seed)  # p-values from 2 null seeds on (--merge)
            tmp = args.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"events": args.events, "seeds": seeds[:len(per_seed)],
                           "ml_seeds": [m for m in ml_seeds if m in seeds[:len(per_seed)]],
                           "model": args.model, "bins": N_BINS, "rows": rows,
                           "seconds": seconds}, f, indent=1)
            os.replace(tmp, args.json)
    rows = closure_rows(per_seed)
    print_closure(rows, args.events, args.seeds, min(args.ml_seeds, args.seeds))
    print("\nwall time: " + ", ".join(f"{k} runs {v:.0f} s" for k, v in seconds.items()))
    if args.plot:
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
