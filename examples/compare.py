#!/usr/bin/env python
"""Generate e+e- -> hadrons at the Z pole with classic and ML cluster decays (and Pythia 8's
string model as a peer) and compare them with every LEP analysis hadml implements (event
shapes, charged spectra, identified multiplicities, b fragmentation, D*) in one report.

    python examples/compare.py -n 5000 --refdir /path/to/refdata -o report/

Writes report/report.md (chi2/ndf per histogram), report/report.json, one YODA file per
generator and ratio plots in report/plots/ (-o, default ./hadml-compare-report). The
reference YODA files come from --refdir or $HADML_REFDIR. Events are analysed as they are
generated, so memory stays flat for any -n. Runs from any folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import hadml
from hadml.analysis import compare_events
from hadml.analysis.analyses import ANALYSES
from hadml.analysis.pythia_peer import pythia_string_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--events", type=int, default=5000, help="events per generator")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--config", default=None, help="YAML run configuration (e.g. a tune)")
    parser.add_argument("--refdir", default=None, help="reference YODA directory "
                        "(default: $HADML_REFDIR)")
    parser.add_argument("--jobs", type=int, default=1, help="generator processes")
    parser.add_argument("--no-pythia", action="store_true", help="skip the Pythia 8 peer")
    parser.add_argument("--no-ml", action="store_true", help="skip the ML cluster decays")
    parser.add_argument("--also", action="append", default=[], metavar="LABEL=CONFIG.yaml",
                        help="also classic hadml with another run configuration (repeatable), "
                             "e.g. a previous tune")
    parser.add_argument("--herwig73", action="store_true",
                        help="also classic hadml with Herwig 7.3's parameters (untuned)")
    parser.add_argument("-o", "--output", default="hadml-compare-report",
                        help="report directory (default: ./hadml-compare-report)")
    args = parser.parse_args()

    from hadml.config import load_config

    config = load_config(args.config)

    def hadml_events(hadronization: str, **overrides):
        # The same seed gives the same perturbative events for both cluster-decay modes.
        # --model is for the ML run only (a classic run refuses a model option).
        model = args.model if hadronization == "ml" else None
        events = hadml.iter_events(args.events, seed=args.seed, config=config, jobs=args.jobs,
                                   hadronization=hadronization, model=model, **overrides)
        return (ev.final_state() for ev in events)

    sources = {"hadml classic": hadml_events("classic")}
    if not args.no_ml:
        sources["hadml ML"] = hadml_events("ml")
    for item in args.also:
        label, sep, path = item.partition("=")
        if not sep:
            parser.error(f"--also takes LABEL=CONFIG.yaml, got {item!r}")
        other = load_config(path)
        sources[label] = (ev.final_state() for ev in hadml.iter_events(
            args.events, seed=args.seed, config=other, jobs=args.jobs))
    if args.herwig73:
        sources["hadml classic, Herwig 7.3 parameters"] = hadml_events("classic",
                                                                        tune="herwig73")
    if not args.no_pythia:
        sources["Pythia 8 string"] = pythia_string_events(args.events, seed=args.seed)

    result = compare_events(sources, refs=list(ANALYSES), refdir=args.refdir,
                            outdir=args.output)
    for label in result.labels:
        chi2, ndf = result.total(label)
        print(f"{label:16s} chi2/ndf = {chi2:8.1f} / {ndf} = {chi2 / max(ndf, 1):.2f}")
        for analysis in ANALYSES:
            c, n = result.total(label, analysis)
            print(f"    {analysis:28s} {c / max(n, 1):6.2f} ({n} bins)")
    print(f"report written to {Path(args.output).resolve() / 'report.md'}")


if __name__ == "__main__":
    main()
