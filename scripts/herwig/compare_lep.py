#!/usr/bin/env python
"""Herwig's LEP events (HepMC files) next to Pythia 8 in hadml's LEP analyses.

    PYTHONPATH=. python scripts/herwig/compare_lep.py --hepmc "Herwig 7.3=lep.hepmc" \
        --pythia 10000 [--hadml 10000] -o report_herwig

Runs hadml's analyses (hadml.analysis.compare_events, the code behind `hadml compare`) on
each HepMC input and, unless --pythia 0, on Pythia 8 default (string hadronization, the
same e+e- -> gamma*/Z -> u d s c b settings as hadml, no ISR); with --hadml N also on hadml
with classic cluster decays and the shipped tune (as `examples/compare.py`, the same seed
rule). Prints <n_ch> (charged
final-state particles per event, all events), chi2/ndf per analysis and per observable
group (hadml.analysis.tune.GROUP_TABLE), and writes report.md/report.json to -o.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from hadml.analysis import compare_events
from hadml.analysis.analyses import ANALYSES
from hadml.analysis.events import HepMCEvents
from hadml.analysis.observables import charge3
from hadml.analysis.pythia_peer import pythia_string_events
from hadml.analysis.tune import group_of


class ChargedCounter:
    """Passes events through and counts charged final-state particles per event."""

    def __init__(self, events: Iterable[dict]) -> None:
        self.events, self.counts = events, []

    def __iter__(self) -> Iterator[dict]:
        for ev in self.events:
            self.counts.append(int(np.count_nonzero(charge3(np.asarray(ev["pid"])))))
            yield ev

    def mean(self) -> tuple[float, float]:
        c = np.asarray(self.counts, dtype=float)
        return float(c.mean()), float(c.std(ddof=1) / np.sqrt(len(c)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hepmc", action="append", default=[], metavar="LABEL=FILE",
                    help="HepMC input with its label (repeatable)")
    ap.add_argument("--pythia", type=int, default=10000, help="Pythia 8 events (0: none)")
    ap.add_argument("--hadml", type=int, default=0,
                    help="hadml classic events, shipped tune (0: none)")
    ap.add_argument("--seed", type=int, default=1, help="Pythia (and hadml) seed")
    ap.add_argument("--max-events", type=int, default=None)
    ap.add_argument("--refdir", default=None)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    sources: dict[str, ChargedCounter] = {}
    for item in args.hepmc:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            ap.error(f"--hepmc takes LABEL=FILE, got {item!r}")
        src = HepMCEvents(path, args.max_events)
        src.check()
        sources[label] = ChargedCounter(src)
    if args.hadml > 0:
        import hadml

        sources["hadml classic"] = ChargedCounter(
            ev.final_state() for ev in hadml.iter_events(args.hadml, seed=args.seed,
                                                         hadronization="classic"))
    if args.pythia > 0:
        sources["Pythia 8"] = ChargedCounter(pythia_string_events(args.pythia, seed=args.seed))
    if not sources:
        ap.error("nothing to compare: give --hepmc, --pythia N and/or --hadml N")

    res = compare_events(sources, list(ANALYSES), refdir=args.refdir, outdir=args.output,
                         max_events=args.max_events, plots=False)
    summary: dict[str, dict] = {}
    for label in res.labels:
        mean, err = sources[label].mean()
        groups: dict[str, list[float]] = {}
        for h in res.histos:
            g = group_of(h.id) or "other"
            # the groups overall, and ALEPH 1996's own split (issue 17 quotes those)
            for key in (g, f"{h.analysis}:{g}") if h.analysis == "ALEPH_1996_S3486095" else (g,):
                c, n = groups.setdefault(key, [0.0, 0])
                groups[key] = [c + h.chi2[label], n + h.ndf[label]]
        per_analysis = {}
        for a in sorted({h.analysis for h in res.histos}):
            c, n = res.total(label, a)
            per_analysis[a] = c / n if n else float("nan")
        c, n = res.total(label)
        summary[label] = {
            "events": res.n_events[label], "n_ch": mean, "n_ch_err": err,
            "chi2_ndf": c / n,
            "groups": {g: v[0] / v[1] for g, v in groups.items() if v[1]},
            "analyses": per_analysis,
        }
        print(f"{label}: {res.n_events[label]} events, <n_ch> = {mean:.3f} +- {err:.3f}, "
              f"chi2/ndf all {c / n:.2f}")
        for g, v in summary[label]["groups"].items():
            print(f"  group {g:34s} {v:7.2f}")
        for a, v in per_analysis.items():
            print(f"  {a:28s} {v:7.2f}")
    Path(args.output, "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
