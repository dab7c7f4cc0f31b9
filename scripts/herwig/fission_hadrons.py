#!/usr/bin/env python
"""Charm and anti-charm hadrons made inside cluster fission (ClusterFissioner::cutTwo with
BelowThreshold), Herwig's hadronization record against hadml on the same partons:

    PYTHONPATH=. python scripts/herwig/fission_hadrons.py RECORD [--max-events N] [--seed 1]

RECORD is the adapter's HadronizationDump (docs/parity.md). Herwig's fission hadrons are
counted from the record as scripts/herwig/parity.py does (a cluster with one cluster and one
hadron child); hadml runs through parity.run_hadml (--tune herwig73) and counts the hadrons
of its fission-made single-hadron clusters. docs/parity.md, "Hadrons made inside fission".
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parity import _herwig_clusters, run_hadml  # noqa: E402

from hadml.io import herwig_dump  # noqa: E402


def is_charm(pid: int) -> bool:
    """A charm hadron or antihadron (PDG numbering: the quark digits of a meson or baryon)."""
    a = abs(pid) % 10000
    return 4 in ((a // 1000) % 10, (a // 100) % 10, (a // 10) % 10)


def herwig_counts(records: list[herwig_dump.HadronizationRecord]) -> Counter:
    out: Counter = Counter()
    for r in records:
        for kids in _herwig_clusters(r)[2]:
            if len(kids) == 2 and sum(k == herwig_dump.CLUSTER_ID for k in kids) == 1:
                for k in kids:
                    if k != herwig_dump.CLUSTER_ID and is_charm(k):
                        out["charm" if k > 0 else "anti-charm"] += 1
    return out


def hadml_counts(results: list[dict]) -> Counter:
    out: Counter = Counter()
    for r in results:
        fate, parent = np.asarray(r["cluster_fate"]), np.asarray(r["cluster_parent"])
        made = np.flatnonzero((fate == 2) & (np.asarray(r["cluster_exchange"]) < 0) & (parent >= 0))
        ids = np.asarray(r["hadron_id"])[np.isin(np.asarray(r["hadron_cluster"]), made)]
        for k in ids:
            if is_charm(int(k)):
                out["charm" if k > 0 else "anti-charm"] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("record")
    ap.add_argument("--max-events", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1, help="hadml seed")
    args = ap.parse_args()
    records = herwig_dump.completed_events(herwig_dump.read_hadronization(args.record))
    records = records[: args.max_events]
    hw, hm = herwig_counts(records), hadml_counts(run_hadml(records, "herwig73", args.seed))
    print(f"{len(records)} events; charm hadrons made in fission (charm / anti-charm):")
    print(f"  Herwig {hw['charm']} / {hw['anti-charm']}")
    print(f"  hadml  {hm['charm']} / {hm['anti-charm']}")


if __name__ == "__main__":
    main()
