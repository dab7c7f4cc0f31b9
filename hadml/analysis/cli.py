"""``hadml compare``: HepMC3 events vs. LEP reference data (chi2, plots, report)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .analyses import ANALYSES

#: Every implemented analysis runs unless --ref picks some.
DEFAULT_REFS = tuple(ANALYSES)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "compare",
        help="compare HepMC3 events with LEP data (chi2/ndf, ratio plots, report)",
        description=(
            "Analyse HepMC files with the LEP analyses named by --ref and compare with "
            "the reference YODA files shipped with hadml (Rivet 3.1.6 reference data, see "
            "hadml/analysis/refdata/PROVENANCE.md): per-histogram chi2/ndf (data and MC "
            "errors), report.md, report.json, <label>.yoda and ratio plots in REPORT_DIR. "
            "The report files replace older ones only when the run succeeds. An input with "
            "named event weights (hadml generate --variations) is drawn with a band: the "
            "envelope of its weighted parameter variations."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE.hepmc",
                   help="HepMC3 or HepMC2 ASCII event files (plain, .gz, .bz2 or .xz)")
    p.add_argument("--label", action="append", default=None,
                   help="label per file, in order (default: file name without suffixes)")
    p.add_argument("--ref", action="append", default=None,
                   help="reference analysis (repeatable): " + ", ".join(DEFAULT_REFS)
                        + " (default: all)")
    p.add_argument("--refdir", default=None,
                   help="directory of <analysis>.yoda files (default: $HADML_REFDIR, else the "
                        "reference data shipped with hadml)")
    p.add_argument("-o", "--output", required=True, metavar="REPORT_DIR", help="report directory")
    p.add_argument("--max-events", type=int, default=None, help="read at most N events per file")
    p.add_argument("--ecm", type=float, default=None,
                   help="sqrt(s) in GeV for x_p (default: invariant mass of each event)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG ratio plots")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip corrupt event records (and accept a truncated file), counting "
                        "them in the report, instead of stopping with an error")
    p.add_argument("--member", action="append", default=[], metavar="LABEL=FILE.hepmc",
                   help="events of an ensemble member of input LABEL (repeatable): shown "
                        "as a band (envelope of the members) and a chi2/ndf range")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from .compare import CompareError, compare_files

    refs = args.ref or list(DEFAULT_REFS)
    members: dict[str, list[str]] = {}
    for item in args.member:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise CompareError(f"--member takes LABEL=FILE.hepmc, got {item!r}")
        members.setdefault(label, []).append(path)
    try:
        res = compare_files(args.files, args.label, refs, refdir=args.refdir,
                            outdir=args.output, max_events=args.max_events, ecm=args.ecm,
                            plots=not args.no_plots, skip_bad=args.skip_bad, members=members)
    except KeyboardInterrupt:
        print("hadml compare: interrupted; no report written (existing report files are "
              "unchanged)", file=sys.stderr)
        return 130
    except OSError as err:
        if isinstance(err, FileNotFoundError) and err.filename is None:
            raise  # our own message (missing file or reference data)
        where = f"{err.filename}: " if err.filename else ""
        raise CompareError(f"{where}{err.strerror or err}") from None
    for note in res.notes:
        if note.startswith(("plots off", "analysis ")):
            print(f"hadml compare: note: {note}", file=sys.stderr)
    for lab in res.labels:
        c, n = res.total(lab)
        skipped = res.skipped_records(lab)
        extra = f"; {skipped} bad records skipped" if skipped else ""
        stats = res.read_stats.get(lab)
        if stats is not None and stats.unterminated:
            extra += "; file truncated"
        spread = res.member_totals(lab)
        kind = "variations" if any(h.band_label.get(lab) for h in res.histos) else "members"
        band = (f", {kind} {min(spread) / max(n, 1):.2f}-{max(spread) / max(n, 1):.2f}"
                if spread else "")
        print(f"{lab}: chi2/ndf = {c:.1f}/{n} = {c / max(n, 1):.2f}{band} "
              f"({res.n_events[lab]} events{extra})")
    print(f"report: {args.output}/report.md")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hadml.analysis.cli")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        print(f"hadml {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
