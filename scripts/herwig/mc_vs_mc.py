#!/usr/bin/env python
"""Two generator runs against each other (not against data), per analysis, from the YODA
files that `hadml compare` / scripts/herwig/compare_lep.py write:

    PYTHONPATH=. python scripts/herwig/mc_vs_mc.py lep/Herwig_classic_A.yoda lep/Herwig_ML.yoda

chi2 = sum over bins of (y1 - y2)^2 / (e1^2 + e2^2), the two runs' statistical errors; ndf =
the bins with e1^2 + e2^2 > 0. For two runs of the same physics chi2/ndf is about 1; it says
whether a difference in chi2/ndf against data is a difference between the runs or noise.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import numpy as np

from hadml.analysis import yoda
from hadml.train.metrics import chi2_sf


def compare(a: dict[str, yoda.Scatter2D], b: dict[str, yoda.Scatter2D]) -> dict[str, tuple]:
    """(chi2, ndf) per analysis (the first path component after /HADML/), and "all"."""
    total: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for path, sa in a.items():
        sb = b.get(path)
        if sb is None or len(sa) != len(sb):
            continue
        # each run's error: the mean of its - and + errors
        ea = 0.5 * (sa.yerr_minus + sa.yerr_plus)
        eb = 0.5 * (sb.yerr_minus + sb.yerr_plus)
        var = ea ** 2 + eb ** 2
        keep = var > 0
        c2 = float(np.sum((sa.y[keep] - sb.y[keep]) ** 2 / var[keep]))
        parts = path.strip("/").split("/")
        analysis = parts[1] if parts[0] == "HADML" and len(parts) > 2 else parts[0]
        for key in (analysis, "all"):
            total[key][0] += c2
            total[key][1] += int(keep.sum())
    return {k: (c, n) for k, (c, n) in total.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("first")
    ap.add_argument("second")
    args = ap.parse_args(argv)
    try:
        res = compare(yoda.read(args.first), yoda.read(args.second))
    except (OSError, yoda.YodaError) as err:
        print(f"mc_vs_mc: {err}", file=sys.stderr)
        return 2
    if not res:
        print("mc_vs_mc: the two files share no histogram", file=sys.stderr)
        return 2
    print(f"| analysis | bins | chi2/ndf ({args.second} vs {args.first}) | p |")
    print("|---|---|---|---|")
    for k in sorted(res, key=lambda k: (k == "all", k)):
        c, n = res[k]
        print(f"| {k} | {n} | {c / n:.2f} | {chi2_sf(c, n):.2g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
