#!/usr/bin/env python
"""The LEP criterion of issue 17 ("Herwig+ML chi2/ndf within 5% of Herwig classic") with its
own null, from the summary.json files of scripts/herwig/compare_lep.py:

    PYTHONPATH=. python scripts/herwig/lep_null.py lep/summary.json lep_null/summary.json

Every sample whose label starts with "Herwig classic" is one classic run of the null (the
first one is the reference "classic"), every label starting with "Herwig+ML" one ML run. The
statistics are training/lep_criterion.py's (one definition): per analysis the ML / mean
classic ratio, ``null_sd`` (sqrt(2) x relative sd of the classic chi2, the spread of the
ratio of two classic runs), ``ml_z`` (the ML chi2's distance from the classic mean in units
of one more classic run) and ``resolved`` (null_sd below a third of the 5% tolerance).
compare_lep.py's chi2/ndf enter with ndf 1: every statistic is a ratio, so ndf cancels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hadml.io.atomic import write_json_atomically


def _lep_criterion():
    """training/lep_criterion.py, loaded from its file: one definition of the statistics,
    without putting the checkout on sys.path (a process that imports this module, a test
    say, would then import hadml from the source tree)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "training" / "lep_criterion.py"
    spec = importlib.util.spec_from_file_location("lep_criterion", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lep_criterion", module)  # for its dataclasses, if any
    spec.loader.exec_module(module)
    return module


_criterion = _lep_criterion()
TOLERANCE, rows_from = _criterion.TOLERANCE, _criterion.rows_from

CLASSIC = "Herwig classic"
ML = "Herwig+ML"
OVERALL = "all analyses"


def load(paths: list[str]) -> dict[str, dict]:
    """The samples of all summary files, by label (a label twice is an error)."""
    samples: dict[str, dict] = {}
    for p in paths:
        try:
            doc = json.loads(Path(p).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise SystemExit(
                f"{p}: not a readable summary.json of compare_lep.py ({err})") from None
        if not isinstance(doc, dict):
            raise SystemExit(f"{p}: not a summary.json of compare_lep.py (no samples by label)")
        for label, s in doc.items():
            if label in samples:
                raise SystemExit(f"{p}: sample {label!r} is also in an earlier file")
            samples[label] = s
    return samples


def criterion(samples: dict[str, dict]) -> tuple[list[str], list[str], dict[str, list[dict]]]:
    """Classic labels, ML labels and, per ML run, lep_criterion's rows (the overall chi2/ndf
    as the analysis OVERALL)."""
    classic = [k for k in samples if k.startswith(CLASSIC)]
    mls = [k for k in samples if k.startswith(ML)]
    if len(classic) < 2 or not mls:
        raise SystemExit(f"need two or more '{CLASSIC}...' samples and one '{ML}...'; "
                         f"got {list(samples)}")
    analyses = list(samples[classic[0]]["analyses"]) + [OVERALL]

    def chi2(label: str) -> dict[str, list[float]]:
        s = samples[label]
        return {**{a: [v, 1] for a, v in s["analyses"].items()}, OVERALL: [s["chi2_ndf"], 1]}

    rows = {}
    for m in mls:
        table = {"classic": chi2(classic[0]), "ML": chi2(m)}
        table.update({c: chi2(c) for c in classic[1:]})
        rows[m] = rows_from(table, analyses, classic[1:])
    return classic, mls, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary", nargs="+", help="summary.json of compare_lep.py")
    ap.add_argument("--json", default=None, help="write the rows here")
    args = ap.parse_args()
    samples = load(args.summary)
    classic, mls, rows = criterion(samples)
    events = sorted({samples[k]["events"] for k in classic + mls})
    print(f"LEP criterion in Herwig: {len(classic)} classic runs, {len(mls)} Herwig+ML runs, "
          f"{'/'.join(map(str, events))} events each (chi2/ndf against data)\n")
    head = ["analysis", "classic mean", "classic sd", "null sd of a ratio"]
    for m in mls:
        head += [f"{m}", "ML / mean", "z"]
    head += [f"5% resolved (null sd < {TOLERANCE / 3:.3f})"]
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for i, r0 in enumerate(rows[mls[0]]):
        c = np.array([r0["chi2_ndf"][k if k != classic[0] else "classic"] for k in classic])
        cells = [r0["analysis"], f"{c.mean():.3f}", f"{c.std(ddof=1):.3f}",
                 f"{r0['null_sd']:.3f}"]
        for m in mls:
            r = rows[m][i]
            cells += [f"{r['chi2_ndf']['ML']:.3f}", f"{r['ml_over_classic_mean']:.3f}",
                      f"{r['ml_z']:+.1f}"]
        cells.append("yes" if r0["resolved"] else "no")
        print("| " + " | ".join(cells) + " |")
    if args.json:
        write_json_atomically(args.json, {"classic": classic, "ml": mls, "rows": rows})


if __name__ == "__main__":
    main()
