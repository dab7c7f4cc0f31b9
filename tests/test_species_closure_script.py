"""training/species_closure.py's split of an inclusive rate by primary ancestor
(docs/species.md, "Event-level fit of species"): every hadron of the record is traced to
the hadron a cluster made."""

from __future__ import annotations

import numpy as np
import pytest
from _scripts import load_script

import hadml
from hadml.event import CLUSTER_PID


@pytest.fixture(scope="module")
def closure_script():
    return load_script("training/species_closure.py")


def _walk_up(ev, i: int) -> int:
    """Reference: follow first parents until the parent is a cluster."""
    while True:
        parent = int(ev.parents[i, 0])
        if parent < 0:
            return 0
        if ev.pid[parent] == CLUSTER_PID:
            return 0 if ev.pid[i] == CLUSTER_PID else abs(int(ev.pid[i]))
        i = parent


def test_primary_ancestors_match_a_walk_up_the_record(closure_script) -> None:
    events = hadml.generate(20, seed=11).events
    n_decay_products = 0
    for ev in events:
        anc = closure_script.primary_ancestors(ev)
        ref = np.array([_walk_up(ev, i) for i in range(len(ev.pid))])
        np.testing.assert_array_equal(anc, ref)
        # A primary hadron is its own ancestor; every final-state hadron has one.
        parent = ev.parents[:, 0]
        primary = ((parent >= 0) & (ev.pid[np.maximum(parent, 0)] == CLUSTER_PID)
                   & (ev.pid != CLUSTER_PID))
        np.testing.assert_array_equal(anc[primary], np.abs(ev.pid[primary]))
        assert primary.sum() == len(ev.primary_hadrons()["pid"]) > 0
        final_hadrons = ev.final & (np.abs(ev.pid) > 100)
        assert (anc[final_hadrons] > 0).all()
        n_decay_products += int((final_hadrons & (ref != np.abs(ev.pid))).sum())
    assert n_decay_products > 100  # the walk is exercised beyond the primaries


def test_count_by_primary_sums_to_the_inclusive_count(closure_script) -> None:
    events = hadml.generate(30, seed=12).events
    totals: dict[int, float] = {}
    closure_script._count_by_primary(events, (221,), totals)
    inclusive = sum(int((np.abs(ev.pid) == 221).sum()) for ev in events)
    assert sum(totals.values()) == inclusive and inclusive > 10
    assert totals.get(221, 0) > 0 and len(totals) > 1  # primary eta and feed-down
