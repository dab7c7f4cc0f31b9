#!/usr/bin/env python
"""Closure of a format-2 (species) model against the classic cluster decays: mean
multiplicities of identified hadrons, their x_p spectra, and events/s, in one process.

Both generators run the same blocks in turn (classic block k, ML block k, k = 0..), with
the same seed per block, so load changes of a shared machine hit both alike. Multiplicities
are inclusive: every particle of the event record with that |PDG id| (primary hadrons and
decay products, as the PDG multiplicity tables count them); K0 counts K0_S + K0_L. x_p =
2|p|/sqrt(s); the two-sample chi2 (hadml.train.metrics.chi2_two_samples) of each species'
x_p in 20 bins equiprobable in the classic sample gives the p-value (independent samples:
the two runs share partons only at each block's first event).

    python training/species_closure.py --model v2.onnx -n 40000 --blocks 20 --seed 1000

With ``--primary CKPT TABLE`` it measures the species head alone instead, on the
validation clusters of the cluster table it was trained on (the events the training held
out): per primary species, the head's expected count (sum of its probabilities) against
the classic selector's, estimated with ``--draws`` selector draws per cluster.

    python training/species_closure.py --primary runs/species/species_head.pt clusters.parquet

With ``--target-set KEY=VALUE`` (repeatable) a third generator, classic with those
parameters, runs the same blocks: the event-level fit's measure. Per species it prints the
distance nominal -> target, ML -> target and the fraction of it closed,
1 - (ML - target) / (classic - target), with its statistical error.

    python training/species_closure.py --model fit.onnx -n 10000 --target-set PwtSquark=0.6

With ``--by-primary NAME`` (a species of the table, e.g. eta) it also splits that species'
inclusive multiplicity by the primary hadron each particle descends from (itself, if made
by a cluster): per primary |id| the mean count per event in each generator, largest
contributions to the ML - target difference first. Where the ML model misses a species'
inclusive rate, this says which primary rates carry the miss.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SPECIES = {  # name -> |PDG ids| counted
    "pi+-": (211,), "K+-": (321,), "K0": (310, 130), "p": (2212,), "Lambda": (3122,),
    "eta": (221,), "omega": (223,), "phi": (333,), "K*+-": (323,), "K*0": (313,),
    "D+-": (411,), "D0": (421,), "B+-": (521,), "B0": (511,),
}


def _count(events, ecm: float, counts: dict, xp: dict) -> None:
    for ev in events:
        a = np.abs(ev.pid)
        pabs = np.linalg.norm(ev.p[:, :3], axis=1)
        for name, ids in SPECIES.items():
            sel = np.isin(a, ids)
            counts[name].append(int(sel.sum()))
            xp[name].append(2.0 * pabs[sel] / ecm)


def primary_ancestors(ev) -> np.ndarray:
    """|PDG id| of each particle's primary hadron (the hadron made by a cluster that it is,
    or descends from through hadron decays), 0 where none (beams, partons, clusters)."""
    from hadml.event import CLUSTER_PID

    n = len(ev.pid)
    parent = ev.parents[:, 0].astype(np.int64)
    is_cluster = ev.pid == CLUSTER_PID
    primary = np.zeros(n, dtype=bool)
    has_parent = parent >= 0
    primary[has_parent] = is_cluster[parent[has_parent]]
    primary &= ~is_cluster
    anc = np.where(primary | ~has_parent, np.arange(n), parent)
    # Walk up the decay chain; each pass moves every non-primary one generation up.
    for _ in range(64):
        todo = ~primary[anc] & (ev.parents[anc, 0] >= 0) & ~is_cluster[anc]
        if not todo.any():
            break
        anc[todo] = ev.parents[anc[todo], 0]
    return np.where(primary[anc], np.abs(ev.pid[anc]), 0)


def _count_by_primary(events, ids: tuple[int, ...], totals: dict[int, float]) -> None:
    for ev in events:
        sel = np.isin(np.abs(ev.pid), ids)
        if sel.any():
            for h, c in zip(*np.unique(primary_ancestors(ev)[sel], return_counts=True),
                            strict=True):
                totals[int(h)] = totals.get(int(h), 0.0) + float(c)


def primary_closure(checkpoint: str, table_path: str, draws: int) -> int:
    import pyarrow as pa

    from hadml.data.datamodule import split_by_event
    from hadml.io import cluster_table
    from hadml.train.species import _spectrum, expected_counts, load_head, prepare

    head, saved = load_head(checkpoint)
    cfg = saved["config"]
    table = cluster_table.read(table_path)
    masks = split_by_event(table.column("event").to_numpy(), cfg["val_fraction"], 0.0,
                           cfg["split_seed"])
    val = table.filter(pa.array(masks["val"]))
    species = saved["species"]
    col = {h: k for k, h in enumerate(species)}
    data, channels, _, _ = prepare(val, saved["features"], species, saved["scaling"])
    model, observed = expected_counts(head, data, channels, species)
    spectrum = _spectrum()
    mass = val.column("mass").to_numpy()
    c1, c2 = val.column("c1_id").to_numpy(), val.column("c2_id").to_numpy()
    classic = np.zeros(len(species))
    for i in range(len(mass)):
        for ids in spectrum.sample_pairs(float(mass[i]), int(c1[i]), int(c2[i]), draws, 1 + i):
            for h in np.abs(ids):
                if int(h) in col:
                    classic[col[int(h)]] += 1.0 / draws
    print(f"{len(mass)} validation clusters, {draws} classic draws each")
    print(f"{'|id|':>8s} {'classic':>9s} {'model':>9s} {'observed':>8s} {'model/classic-1':>16s}")
    for k in np.argsort(-classic)[:40]:
        err = 100 / np.sqrt(classic[k] * draws)
        print(f"{species[k]:8d} {classic[k]:9.1f} {model[k]:9.1f} {observed[k]:8.0f} "
              f"{100 * (model[k] / classic[k] - 1):+8.2f} +- {err:.2f}%")
    return 0


def main() -> int:
    import hadml  # noqa: F401
    from hadml.config import GeneratorConfig
    from hadml.generator import Generator
    from hadml.train.metrics import chi2_sf, chi2_two_samples

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="format-2 ONNX model")
    ap.add_argument("--primary", nargs=2, metavar=("CKPT", "TABLE"),
                    help="species head checkpoint and its training cluster table")
    ap.add_argument("--draws", type=int, default=64)
    ap.add_argument("-n", "--events", type=int, default=20000, help="events per generator")
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1000, help="block k uses seed + k")
    ap.add_argument("--json", default=None, help="write the table as JSON here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="parameter of every generator (e.g. another tune's values)")
    ap.add_argument("--target-set", action="append", default=[], metavar="KEY=VALUE",
                    help="add a classic generator with these parameters (the fit's target)")
    ap.add_argument("--by-primary", choices=list(SPECIES), default=None,
                    help="split this species' inclusive rate by primary ancestor")
    args = ap.parse_args()
    if args.primary:
        return primary_closure(*args.primary, args.draws)
    if not args.model:
        ap.error("--model is required (or --primary)")
    per_block = args.events // args.blocks
    from hadml.config import apply_overrides, parse_set_options

    common = parse_set_options(args.set)
    gens = {"classic": Generator(apply_overrides(GeneratorConfig(seed=args.seed), common)),
            "ml": Generator(apply_overrides(GeneratorConfig(seed=args.seed, hadronization="ml",
                                                            model=args.model), common))}
    if args.target_set:
        gens["target"] = Generator(apply_overrides(
            apply_overrides(GeneratorConfig(seed=args.seed), common),
            parse_set_options(args.target_set)))
    ecm = gens["classic"].config.ecm
    counts = {g: {k: [] for k in SPECIES} for g in gens}
    xp = {g: {k: [] for k in SPECIES} for g in gens}
    seconds = dict.fromkeys(gens, 0.0)
    by_primary: dict[str, dict[int, float]] = {g: {} for g in gens}
    for k in range(args.blocks):
        for name, gen in gens.items():
            start = time.perf_counter()
            block = gen.run_block(k, per_block, k * per_block)
            seconds[name] += time.perf_counter() - start
            _count(block.events, ecm, counts[name], xp[name])
            if args.by_primary:
                _count_by_primary(block.events, SPECIES[args.by_primary], by_primary[name])
    n = per_block * args.blocks
    rows = {}
    print(f"{n} events each, seeds {args.seed}.., {args.blocks} blocks; model {args.model}")
    print(f"{'species':8s} {'classic':>9s} {'ML':>9s} {'ML/classic-1':>14s} {'x_p p-value':>11s}")
    for name in SPECIES:
        c = np.asarray(counts["classic"][name], float)
        m = np.asarray(counts["ml"][name], float)
        r = m.mean() / c.mean() - 1.0
        err = (m.mean() / c.mean()) * np.hypot(c.std() / np.sqrt(n) / c.mean(),
                                               m.std() / np.sqrt(n) / m.mean())
        xc, xm = np.concatenate(xp["classic"][name]), np.concatenate(xp["ml"][name])
        edges = np.quantile(xc, np.linspace(0, 1, 21))
        edges[0], edges[-1] = 0.0, 1.0 + 1e-9
        chi2, ndf = chi2_two_samples(xc, xm, np.unique(edges))
        pval = chi2_sf(chi2, ndf)
        rows[name] = {"classic": c.mean(), "ml": m.mean(), "rel_diff": r, "rel_err": err,
                      "xp_chi2": chi2, "xp_ndf": ndf, "xp_p": pval}
        print(f"{name:8s} {c.mean():9.4f} {m.mean():9.4f} {100 * r:+8.2f} +- {100 * err:4.2f}% "
              f"{pval:11.3g}")
    if "target" in gens:
        print(f"target: classic with {' '.join(args.target_set)}")
        print(f"{'species':8s} {'target':>9s} {'classic-target':>27s} {'ML-target':>10s} "
              f"{'closed':>14s}")
        for name in SPECIES:
            c, m, t = (np.asarray(counts[g][name], float) for g in ("classic", "ml", "target"))
            d0, d1 = c.mean() - t.mean(), m.mean() - t.mean()
            closed = 1.0 - d1 / d0
            # Error of 1 - d1/d0 from the three independent means.
            sc, sm, st_ = (x.std() / np.sqrt(n) for x in (c, m, t))
            err = np.sqrt((sm / d0) ** 2 + (d1 * sc / d0**2) ** 2
                          + (st_ * (d1 - d0) / d0**2) ** 2)
            # The shift resolves the change when d0 >= 3 of its errors.
            shift_sigma = abs(d0) / np.hypot(sc, st_)
            rows[name].update(target=t.mean(), closed=closed, closed_err=err,
                              shift_sigma=shift_sigma)
            print(f"{name:8s} {t.mean():9.4f} {d0:+9.4f} ({100 * d0 / t.mean():+5.1f}%, "
                  f"{shift_sigma:4.1f} sigma) {d1:+10.4f} {100 * closed:+7.1f} +- "
                  f"{100 * err:4.1f}%")
    if args.by_primary:
        print(f"{args.by_primary} per event by primary ancestor (|id|); Poisson errors")
        other = "target" if "target" in gens else "classic"
        keys = set().union(*(by_primary[g] for g in gens))
        diff = {h: (by_primary["ml"].get(h, 0.0) - by_primary[other].get(h, 0.0)) / n
                for h in keys}
        print(f"{'|id|':>8s} " + " ".join(f"{g:>9s}" for g in gens)
              + f" {'ML-' + other:>12s}")
        for h in sorted(keys, key=lambda h: -abs(diff[h]))[:15]:
            err = np.sqrt(by_primary["ml"].get(h, 0.0) + by_primary[other].get(h, 0.0)) / n
            print(f"{h:8d} " + " ".join(f"{by_primary[g].get(h, 0.0) / n:9.4f}" for g in gens)
                  + f" {diff[h]:+8.4f} +- {err:.4f}")
        rows["by_primary"] = {g: {str(h): c / n for h, c in by_primary[g].items()}
                              for g in gens}
    speed = {g: n / s for g, s in seconds.items()}
    st = gens["ml"].cluster_decayer.stats()
    print(f"events/s: classic {speed['classic']:.0f}, ML {speed['ml']:.0f}, "
          f"ML/classic {speed['ml'] / speed['classic']:.2f}; ML species fallbacks "
          f"{st['species_fallbacks']} of {st['decayed'] + st['fallbacks']} clusters")
    if args.json:
        from hadml.io.atomic import write_json_atomically

        write_json_atomically(args.json, {
            "events": n, "seed": args.seed, "blocks": args.blocks, "rows": rows,
            "target_set": args.target_set, "set": args.set, "events_per_s": speed,
            "ml_stats": dict(st)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
