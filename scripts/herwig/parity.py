#!/usr/bin/env python
"""Parity harness: hadml's cluster stage and Herwig's on identical partons (issue 17 item 3).

    PYTHONPATH=. python scripts/herwig/parity.py hadronization.jsonl --tune herwig73 \
        --nulls 4 -o parity.json

Input: the partons Herwig hadronized and the clusters it made, per event, as written by the
Herwig adapter (``set MLRedecayer:HadronizationDump hadronization.jsonl``, docs/herwig.md).
hadml's cluster stage (``ClusterHadronizer``, classic cluster decays, the given tune) runs
on exactly those partons (momenta, masses from the momenta, colour lines). Compared per
observable with the two-sample chi2 of hadml.train.metrics:

- clusters per event, primary clusters per event, fissions per event, single-hadron
  clusters per event (integer histograms);
- the mass spectrum of all clusters and of primary clusters;
- primary-hadron species: counts per PDG id (|id|, ids with >= 20 entries).

Calibration: the test statistic's null comes from hadml against itself on the same partons
with independent seeds (--nulls pairs); Herwig cannot re-hadronize a stored event, so the
Herwig-vs-Herwig null of the issue is replaced by this one (same shared-parton correlation).
The null fixes the scale c of the model c * chi2_ndf (hadml.train.metrics.null_scale: c < 1
when the samples share their partons); p = P(chi2_ndf >= chi2 / c). The uncalibrated
asymptotic p (c = 1) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hadml.io import herwig_dump
from hadml.train.metrics import chi2_sf, chi2_two_samples

INT_OBSERVABLES = ("clusters", "primary_clusters", "fissions", "single_hadron")
MASS_EDGES = np.concatenate([np.linspace(0.0, 4.0, 41), [5.0, 6.0, 8.0, 12.0, 20.0, 100.0]])


@dataclass
class Sample:
    """Per-event cluster counts, cluster masses and primary-hadron ids of one generator."""
    clusters: list[int]
    primary_clusters: list[int]
    fissions: list[int]
    single_hadron: list[int]
    mass_all: list[float]
    mass_primary: list[float]
    species: Counter

    @classmethod
    def empty(cls) -> Sample:
        return cls([], [], [], [], [], [], Counter())


def herwig_sample(records: list[herwig_dump.HadronizationRecord]) -> Sample:
    s = Sample.empty()
    for r in records:
        s.clusters.append(len(r.cluster_mass))
        s.primary_clusters.append(int(np.count_nonzero(r.cluster_parent < 0)))
        s.fissions.append(int(np.count_nonzero(r.fissioned)))
        s.single_hadron.append(int(np.count_nonzero(r.single_hadron)))
        s.mass_all += r.cluster_mass.tolist()
        s.mass_primary += r.cluster_mass[r.cluster_parent < 0].tolist()
        s.species.update(np.abs(r.primary_hadrons).tolist())
    return s


def hadml_sample(results: list[dict]) -> Sample:
    """From ClusterHadronizer results (cluster_fate: 0 active, 1 fissioned, 2 single hadron,
    3 decayed; cluster_p_initial: the momentum each cluster was formed with)."""
    s = Sample.empty()
    for res in results:
        fate, parent = np.asarray(res["cluster_fate"]), np.asarray(res["cluster_parent"])
        p = np.asarray(res["cluster_p_initial"])
        mass = np.sqrt(np.maximum(p[:, 3] ** 2 - np.sum(p[:, :3] ** 2, axis=1), 0.0))
        s.clusters.append(len(fate))
        s.primary_clusters.append(int(np.count_nonzero(parent < 0)))
        s.fissions.append(int(np.count_nonzero(fate == 1)))
        s.single_hadron.append(int(np.count_nonzero(fate == 2)))
        s.mass_all += mass.tolist()
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


def run_hadml(records, tune: str, seed: int) -> list[dict]:
    import hadml.generator as gen
    from hadml.config import load_config

    config = load_config(None, {"tune": tune, "seed": seed})
    generator = gen.Generator(config)
    generator.hadronizer.seed(2 * seed + 1, 2 * seed + 2)
    empty_octets = np.zeros((0, 2), np.int32)
    results = generator.hadronizer.hadronize(
        [(*r.partons(), empty_octets) for r in records])
    failed = [i for i, res in enumerate(results) if res["error"] is not None]
    if failed:
        print(f"hadml: {len(failed)} of {len(records)} events failed (first: event "
              f"{failed[0]}: {results[failed[0]]['error']}); they are left out")
    return [res for res in results if res["error"] is None]


def compare(records: list[herwig_dump.HadronizationRecord], tune: str = "herwig73",
            seed: int = 1, nulls: int = 4) -> dict:
    """Herwig's hadronization of `records` against hadml's on the same partons; the null
    from `nulls` hadml-vs-hadml pairs. Returns the summary (see the module docstring)."""
    herwig = herwig_sample(records)
    hadml_runs = [hadml_sample(run_hadml(records, tune, seed + k))
                  for k in range(2 * nulls + 1)]
    observed = statistics(herwig, hadml_runs[0])
    null_stats = [statistics(hadml_runs[2 * k + 1], hadml_runs[2 * k + 2])
                  for k in range(nulls)]
    summary: dict = {
        "events": len(records), "tune": tune, "observables": {},
        "means": {"herwig": {n: float(np.mean(getattr(herwig, n))) for n in INT_OBSERVABLES},
                  "hadml": {n: float(np.mean(getattr(hadml_runs[0], n)))
                            for n in INT_OBSERVABLES}}}
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
    ap.add_argument("--nulls", type=int, default=4, help="hadml-vs-hadml null pairs")
    ap.add_argument("--max-events", type=int, default=None)
    ap.add_argument("-o", "--output", default=None, help="JSON summary")
    args = ap.parse_args()

    records = list(herwig_dump.read_hadronization(args.record))[:args.max_events]
    summary = compare(records, args.tune, args.seed, args.nulls)
    print(f"{len(records)} events; per event (Herwig / hadml {args.tune}):")
    for n in INT_OBSERVABLES:
        print(f"  {n:18s} {summary['means']['herwig'][n]:7.3f} "
              f"{summary['means']['hadml'][n]:7.3f}")
    print(f"{'observable':18s} {'chi2/ndf':>9s} {'ndf':>4s} {'null chi2/ndf':>14s} "
          f"{'p (null)':>9s} {'p (asympt.)':>11s}")
    for name, o in summary["observables"].items():
        print(f"{name:18s} {o['chi2'] / max(o['ndf'], 1):9.2f} {o['ndf']:4d} "
              f"{o['null_scale']:14.2f} {o['p_null']:9.3g} {o['p_asymptotic']:11.3g}")
    if args.output:
        Path(args.output).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
