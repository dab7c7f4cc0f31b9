#!/usr/bin/env python
"""Parity harness: hadml's cluster stage and Herwig's on identical partons (issue 17 item 3).

    PYTHONPATH=. python scripts/herwig/parity.py A.jsonl --tune herwig73 \
        --herwig-null B.jsonl C.jsonl D.jsonl -o parity.json

Input: the partons Herwig hadronized and the clusters it made, per event, as written by the
Herwig adapter (``set MLRedecayer:HadronizationDump hadronization.jsonl``, docs/herwig.md).
hadml's cluster stage (``ClusterHadronizer``, classic cluster decays, the given tune) runs
on exactly those partons (momenta, masses from the momenta, colour lines, and the colour
octets of their shower history, which Herwig's OctetTreatment All uses). Compared per
observable with the two-sample chi2 of hadml.train.metrics, both records brought to one
representation (Sample):

- clusters, primary clusters, fissions, hadrons made inside fission and single-hadron
  clusters of the light-cluster step, per event (integer histograms);
- the mass spectrum of all clusters (as formed) and of primary clusters;
- primary-hadron species: counts per PDG id (|id|, ids with >= 20 entries).

Calibration (docs/parity.md): the null is Herwig against Herwig on the same partons, from
runs with one run seed and different ``HadronizationSeed`` of the adapter's
``Herwig::HadronizationReseeder`` (--herwig-null, every pair of those runs); without them,
hadml against itself on the same partons with independent seeds (--nulls pairs). The null
fixes the scale c of the model c * chi2_ndf (c < 1 when the samples share their partons);
p = P(chi2_ndf >= chi2 / c). The uncalibrated asymptotic p (c = 1) is printed beside it.
The counts per event are also compared event by event (paired_mean_test): the shared
partons cancel in the per-event difference, which makes it much more sensitive to a shift of
the mean than the shape chi2 and needs no null runs (the Herwig pairs check it).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from hadml.io import herwig_dump
from hadml.train.metrics import chi2_sf, chi2_two_samples

INT_OBSERVABLES = ("clusters", "primary_clusters", "fissions", "fission_hadrons",
                   "single_hadron")
MASS_EDGES = np.concatenate([np.linspace(0.0, 4.0, 41), [5.0, 6.0, 8.0, 12.0, 20.0, 100.0]])


@dataclass
class Sample:
    """Per-event cluster counts, cluster masses and primary-hadron ids of one generator, in
    one representation for both (see herwig_sample and hadml_sample):

    - clusters: every cluster as formed (primary or fission child), counted once;
    - fissions: clusters that split into a cluster and a cluster or a hadron (C -> C' C'',
      C -> H C'); a fission into two hadrons looks like a two-hadron decay in Herwig's record
      (ClusterFissioner::cut adds the hadrons as the cluster's children) and counts as one;
    - fission_hadrons: hadrons made inside fission (BelowThreshold, C -> H C');
    - single_hadron: clusters of the light-cluster step that became one hadron
      (LightClusterDecayer, the reshuffling partner included when it became a hadron too).
    """
    clusters: list[int]
    primary_clusters: list[int]
    fissions: list[int]
    fission_hadrons: list[int]
    single_hadron: list[int]
    mass_all: list[float]
    mass_primary: list[float]
    species: Counter

    @classmethod
    def empty(cls) -> Sample:
        return cls([], [], [], [], [], [], [], Counter())


def _herwig_clusters(r: herwig_dump.HadronizationRecord) -> tuple[list[int], list[int],
                                                                 list[tuple[int, ...]]]:
    """(original clusters, primary ones, each original's final children) of one record. A
    cluster whose only child is a cluster is the same cluster redefined, not a new one: the
    three-component cluster of baryonic reconnection reduced to two components
    (ClusterFinder::reduceToTwoComponents) or the reshuffling partner of a light cluster
    given its new momentum (LightClusterDecayer::reshuffling). The copy is dropped; the
    original keeps its mass as formed and takes the copy's children."""
    children, parent = r.cluster_children, r.cluster_parent
    redefined = [len(c) == 1 and c[0] == herwig_dump.CLUSTER_ID for c in children]
    copy_of = {i: int(parent[i]) for i in range(len(children))
               if parent[i] >= 0 and redefined[parent[i]]}
    copy_by_original = {p: i for i, p in copy_of.items()}
    originals = [i for i in range(len(children)) if i not in copy_of]

    def final(i: int) -> tuple[int, ...]:
        while redefined[i]:
            i = copy_by_original[i]
        return children[i]

    primary = [i for i in originals if parent[i] < 0]
    return originals, primary, [final(i) for i in originals]


def herwig_sample(records: list[herwig_dump.HadronizationRecord]) -> Sample:
    """Herwig's records in the common representation (_herwig_clusters)."""
    s = Sample.empty()
    for r in records:
        originals, primary, finals = _herwig_clusters(r)
        n_fissions = n_fission_hadrons = n_single = 0
        for kids in finals:
            n_clusters = sum(k == herwig_dump.CLUSTER_ID for k in kids)
            if len(kids) == 2 and n_clusters >= 1:
                n_fissions += 1
                n_fission_hadrons += 2 - n_clusters
            elif len(kids) == 1:
                n_single += 1
        s.clusters.append(len(originals))
        s.primary_clusters.append(len(primary))
        s.fissions.append(n_fissions)
        s.fission_hadrons.append(n_fission_hadrons)
        s.single_hadron.append(n_single)
        s.mass_all += r.cluster_mass[originals].tolist()
        s.mass_primary += r.cluster_mass[primary].tolist()
        s.species.update(np.abs(r.primary_hadrons).tolist())
    return s


def hadml_sample(results: list[dict]) -> Sample:
    """From ClusterHadronizer results (cluster_fate: 0 active, 1 fissioned, 2 single hadron,
    3 decayed; cluster_p_initial: the momentum each cluster was formed with;
    cluster_exchange: the light-cluster step's reshuffling partner, -1 for none). hadml keeps
    a hadron made inside fission as a child cluster entry with fate 2 and no exchange
    partner; in the common representation it is a hadron child of the fissioned cluster."""
    s = Sample.empty()
    for res in results:
        fate, parent = np.asarray(res["cluster_fate"]), np.asarray(res["cluster_parent"])
        exchange = np.asarray(res["cluster_exchange"])
        p = np.asarray(res["cluster_p_initial"])
        mass = np.sqrt(np.maximum(p[:, 3] ** 2 - np.sum(p[:, :3] ** 2, axis=1), 0.0))
        made_in_fission = (fate == 2) & (exchange < 0) & (parent >= 0)
        hadron_children = np.bincount(parent[made_in_fission], minlength=len(fate))
        cluster = ~made_in_fission
        fissioned = (fate == 1) & (hadron_children < 2)
        s.clusters.append(int(np.count_nonzero(cluster)))
        s.primary_clusters.append(int(np.count_nonzero(parent < 0)))
        s.fissions.append(int(np.count_nonzero(fissioned)))
        s.fission_hadrons.append(int(np.sum(hadron_children[fissioned])))
        s.single_hadron.append(int(np.count_nonzero((fate == 2) & cluster)))
        s.mass_all += mass[cluster].tolist()
        s.mass_primary += mass[parent < 0].tolist()
        s.species.update(np.abs(np.asarray(res["hadron_id"])).tolist())
    return s


def statistics(a: Sample, b: Sample) -> dict[str, tuple[float, int]]:
    """{observable: (chi2, ndf)} of the two-sample chi2 of every compared observable."""
    out = {}
    for name in INT_OBSERVABLES:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        edges = np.arange(min(x.min(), y.min()), max(x.max(), y.max()) + 2) - 0.5
        out[name] = chi2_two_samples(x, y, edges)
    out["mass_all"] = chi2_two_samples(np.asarray(a.mass_all), np.asarray(b.mass_all),
                                       MASS_EDGES)
    out["mass_primary"] = chi2_two_samples(np.asarray(a.mass_primary),
                                           np.asarray(b.mass_primary), MASS_EDGES)
    ids = sorted(k for k in set(a.species) | set(b.species)
                 if a.species[k] + b.species[k] >= 20)
    # species as a histogram over an index per id: same chi2 as a contingency table
    xa = np.repeat(np.arange(len(ids)), [a.species[k] for k in ids])
    xb = np.repeat(np.arange(len(ids)), [b.species[k] for k in ids])
    out["species"] = chi2_two_samples(xa, xb, np.arange(len(ids) + 1) - 0.5)
    return out


def paired_mean_test(a: list[int], b: list[int]) -> tuple[float, float, float]:
    """(mean difference b - a per event, z, two-sided p) of a per-event count in two samples of
    the same events: both hadronize the same partons independently, so the differences d_i
    are independent across events and, when both generators agree, have mean zero; z =
    mean(d) / (sd(d) / sqrt(n)) is normal for large n (the paired t-test). This sees shifts
    of the mean that the shape chi2 misses, because the shared partons cancel in d_i."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    sd = float(np.std(d, ddof=1)) if d.size > 1 else 0.0
    if sd == 0.0:
        return float(np.mean(d)) if d.size else 0.0, 0.0, 1.0
    z = float(np.mean(d) / (sd / np.sqrt(d.size)))
    return float(np.mean(d)), z, float(math.erfc(abs(z) / math.sqrt(2.0)))


def run_hadml(records, tune: str, seed: int, params: dict | None = None) -> list[dict]:
    import hadml.generator as gen
    from hadml.config import load_config

    config = load_config(None, {"tune": tune, "seed": seed, **(params or {})})
    generator = gen.Generator(config)
    generator.hadronizer.seed(2 * seed + 1, 2 * seed + 2)
    # the shower history's colour octets (OctetTreatment All), when the record has them
    results = generator.hadronizer.hadronize([(*r.partons(), r.octets) for r in records])
    failed = [i for i, res in enumerate(results) if res["error"] is not None]
    if failed:
        print(f"hadml: {len(failed)} of {len(records)} events failed (first: event "
              f"{failed[0]}: {results[failed[0]]['error']}); they are left out")
    return [res for res in results if res["error"] is None]


def same_partons(a: herwig_dump.HadronizationRecord,
                 b: herwig_dump.HadronizationRecord) -> bool:
    """True when two records of one event hold the same partons (ids, colours, momenta)."""
    return (np.array_equal(a.parton_id, b.parton_id) and np.array_equal(a.parton_col, b.parton_col)
            and np.array_equal(a.parton_acol, b.parton_acol)
            and np.array_equal(a.parton_p, b.parton_p))


def common_partons(runs: list[list[herwig_dump.HadronizationRecord]]
                   ) -> list[list[herwig_dump.HadronizationRecord]]:
    """Each run's records of the events that every run completed with identical partons, in
    the first run's order (runs of one run seed with different HadronizationSeed,
    docs/parity.md). Events are matched by ThePEG's event number; of an event discarded
    after hadronization and generated again only the last record counts
    (herwig_dump.completed_events). Such an event starts from the hadronization stream, so
    its partons can differ between the runs: it is left out."""
    by_event = [{r.event: r for r in herwig_dump.completed_events(run)} for run in runs]
    keep = [e for e in by_event[0]
            if all(e in other and same_partons(by_event[0][e], other[e])
                   for other in by_event[1:])]
    return [[events[e] for e in keep] for events in by_event]


def compare(records: list[herwig_dump.HadronizationRecord], tune: str = "herwig73",
            seed: int = 1, nulls: int = 4,
            herwig_nulls: list[list[herwig_dump.HadronizationRecord]] | None = None,
            params: dict | None = None) -> dict:
    """Herwig's hadronization of `records` against hadml's on the same partons.

    The null: with `herwig_nulls` (two or more further Herwig runs on the same partons,
    different HadronizationSeed) every pair of them (Herwig against Herwig, the calibrated
    null of issue 17); without, `nulls` hadml-vs-hadml pairs. Only events whose partons
    agree in all Herwig runs are used. Returns the summary (see the module docstring)."""
    null_source = "herwig" if herwig_nulls else "hadml"
    if herwig_nulls is not None and len(herwig_nulls) < 2:
        raise ValueError("a Herwig null needs at least two further Herwig runs")
    records, *herwig_nulls = common_partons([records, *(herwig_nulls or [])])
    herwig = herwig_sample(records)
    n_hadml = 1 if herwig_nulls else 2 * nulls + 1
    hadml_runs = [hadml_sample(run_hadml(records, tune, seed + k, params))
                  for k in range(n_hadml)]
    observed = statistics(herwig, hadml_runs[0])
    if herwig_nulls:
        null_samples = [herwig_sample(run) for run in herwig_nulls]
        null_stats = [statistics(null_samples[i], null_samples[j])
                      for i, j in combinations(range(len(null_samples)), 2)]
    else:
        null_samples = []
        null_stats = [statistics(hadml_runs[2 * k + 1], hadml_runs[2 * k + 2])
                      for k in range(nulls)]
    summary: dict = {
        "events": len(records), "tune": tune, "params": params or {}, "null": null_source,
        "null_pairs": len(null_stats), "observables": {},
        "means": {"herwig": {n: float(np.mean(getattr(herwig, n))) for n in INT_OBSERVABLES},
                  "hadml": {n: float(np.mean(getattr(hadml_runs[0], n)))
                            for n in INT_OBSERVABLES}},
        "species": {"herwig": dict(herwig.species), "hadml": dict(hadml_runs[0].species)}}
    if null_samples:
        summary["means"]["herwig_null_runs"] = [
            {n: float(np.mean(getattr(ns, n))) for n in INT_OBSERVABLES} for ns in null_samples]
    # per-event paired test of the counts: hadml against Herwig, and (its check) the Herwig
    # null runs against each other
    summary["paired"] = {}
    for name in INT_OBSERVABLES:
        diff, z, p = paired_mean_test(getattr(herwig, name), getattr(hadml_runs[0], name))
        null_z = [paired_mean_test(getattr(null_samples[i], name),
                                   getattr(null_samples[j], name))[1]
                  for i, j in combinations(range(len(null_samples)), 2)]
        summary["paired"][name] = {"mean_difference": diff, "z": z, "p": p, "null_z": null_z}
    for name, (c2, ndf) in observed.items():
        # null chi2/ndf values (their ndf may differ by a bin or two from the observed one)
        null = np.array([n[name][0] / max(n[name][1], 1) for n in null_stats])
        scale = float(np.mean(null)) if len(null) >= 2 else float("nan")
        summary["observables"][name] = {
            "chi2": c2, "ndf": ndf, "null_chi2_ndf": null.tolist(), "null_scale": scale,
            "p_null": chi2_sf(c2 / scale, ndf) if ndf and scale > 0 else float("nan"),
            "p_asymptotic": chi2_sf(c2, ndf) if ndf else float("nan")}
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("record", help="hadronization record (JSON lines) from the Herwig adapter")
    ap.add_argument("--tune", default="herwig73")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nulls", type=int, default=4,
                    help="hadml-vs-hadml null pairs (without --herwig-null)")
    ap.add_argument("--herwig-null", nargs="+", default=None, metavar="RECORD",
                    help="two or more records of Herwig runs on the same partons (same run "
                         "seed, other HadronizationSeed): the null is Herwig against Herwig")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="a cluster parameter of hadml on top of the tune (repeatable), to "
                         "match a Herwig run with changed settings")
    ap.add_argument("--max-events", type=int, default=None)
    ap.add_argument("-o", "--output", default=None, help="JSON summary")
    args = ap.parse_args()

    records = list(herwig_dump.read_hadronization(args.record))[:args.max_events]
    herwig_nulls = ([list(herwig_dump.read_hadronization(f))[:args.max_events]
                     for f in args.herwig_null] if args.herwig_null else None)
    try:
        params = {k: float(v) for k, v in (a.split("=", 1) for a in args.param)}
    except ValueError:
        ap.error(f"--param wants NAME=NUMBER, got {args.param}")
    summary = compare(records, args.tune, args.seed, args.nulls, herwig_nulls, params)
    print(f"{summary['events']} of {len(records)} records: events with the same partons in all "
          f"run; null: {summary['null']} ({summary['null_pairs']} pairs); per event "
          f"(Herwig / hadml {args.tune}):")
    for n in INT_OBSERVABLES:
        print(f"  {n:18s} {summary['means']['herwig'][n]:7.3f} "
              f"{summary['means']['hadml'][n]:7.3f}")
    print(f"{'observable':18s} {'chi2/ndf':>9s} {'ndf':>4s} {'null chi2/ndf':>14s} "
          f"{'p (null)':>9s} {'p (asympt.)':>11s}")
    for name, o in summary["observables"].items():
        print(f"{name:18s} {o['chi2'] / max(o['ndf'], 1):9.2f} {o['ndf']:4d} "
              f"{o['null_scale']:14.2f} {o['p_null']:9.3g} {o['p_asymptotic']:11.3g}")
    print("per-event paired difference (hadml - Herwig): mean, z, p; z of the null pairs")
    for name, o in summary["paired"].items():
        print(f"  {name:18s} {o['mean_difference']:+8.4f} {o['z']:+7.2f} {o['p']:9.3g}  "
              + " ".join(f"{z:+.1f}" for z in o["null_z"]))
    if args.output:
        Path(args.output).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
