#!/usr/bin/env python
"""Cluster-chain statistics of the fission step: per event the fissions, the final
clusters (those that decay or become a hadron) and their mean mass, the primary clusters
and the heaviest primary cluster (docs/tuning.md, "Fission child-mass sampling").

    python scripts/fission_stats.py N SEED LABEL[,NAME=VALUE...] ...
    python scripts/fission_stats.py 3000 5 power phasespace,FissionMassSampler=2

Each LABEL runs the shipped tune (tune=lep) with its overrides.
"""

from __future__ import annotations

import sys

import numpy as np

import hadml
from hadml.config import load_config
from hadml.event import CLUSTER_PID


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def chain_stats(n: int, seed: int, overrides: dict[str, object]) -> dict[str, float]:
    config = load_config(overrides={"tune": "lep", "seed": seed, **overrides})
    fissions, finals, primaries, heaviest, masses = [], [], [], [], []
    for event in hadml.iter_events(n, seed=config.seed, config=config):
        clusters = np.flatnonzero(event.pid == CLUSTER_PID)
        parent = event.parents[clusters, 0]
        from_cluster = (parent >= 0) & (event.pid[np.maximum(parent, 0)] == CLUSTER_PID)
        split = np.unique(parent[from_cluster])  # clusters that fissioned
        final = np.setdiff1d(clusters, split)
        fissions.append(split.size)
        finals.append(final.size)
        masses.extend(event.m[final])
        primary = clusters[~from_cluster]
        primaries.append(primary.size)
        heaviest.append(event.m[primary].max())
    return {"fissions": float(np.mean(fissions)), "final_clusters": float(np.mean(finals)),
            "final_cluster_mass": float(np.mean(masses)),
            "primary_clusters": float(np.mean(primaries)),
            "heaviest_primary": float(np.mean(heaviest))}


def main(argv: list[str]) -> None:
    # A usage error is a message with the usage, not a traceback.
    try:
        n, seed = int(argv[0]), int(argv[1])
    except (IndexError, ValueError):
        sys.exit(f"usage error in {argv}\n{__doc__}")
    for spec in argv[2:]:
        label, *items = spec.split(",")
        overrides = {k: _number(v) for k, v in (item.split("=", 1) for item in items)}
        stats = chain_stats(n, seed, overrides)
        print(label, " ".join(f"{k} {v:.3f}" for k, v in stats.items()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
