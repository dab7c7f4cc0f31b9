"""The C++ event loop (hadml._core.EventLoop): one block's outputs agree with each other,
whichever of them are asked for, and with the Python definitions they replace."""

from __future__ import annotations

import numpy as np
import pyhepmc
import pytest

from hadml import _core
from hadml.config import GeneratorConfig
from hadml.event import STATUS_FINAL, baryon_number3
from hadml.generator import Generator
from hadml.io import cluster_table
from hadml.io.hepmc import hepmc3_text


@pytest.fixture(scope="module")
def gen() -> Generator:
    return Generator(GeneratorConfig(seed=12))


def test_block_outputs_do_not_depend_on_what_is_kept(gen):
    # 150 events: the records pass through the 64-event scratch record when not kept.
    full = gen.run_block(3, 150, 300, keep_events=True, keep_clusters=True, keep_hepmc=True)
    lean = gen.run_block(3, 150, 300, keep_events=False, keep_clusters=False, keep_hepmc=True)
    assert lean.events == [] and lean.clusters is None
    assert [e.number for e in full.events] == list(range(300, 450))
    np.testing.assert_array_equal(full.n_charged, lean.n_charged)
    assert full.hepmc == lean.hepmc
    # The block's text is HepMC3's C++ writer applied to the block's events.
    assert full.hepmc == hepmc3_text(full.events)
    assert full.hepmc.count(b"\nE ") + full.hepmc.startswith(b"E ") == 150


def test_record_and_counts_follow_the_python_definitions(gen):
    block = gen.run_block(5, 40, 0, keep_clusters=True)
    charges = gen._charges
    for ev, n_charged in zip(block.events, block.n_charged, strict=True):
        fin = ev.status == STATUS_FINAL
        assert n_charged == np.count_nonzero(charges(ev.pid[fin]) != 0) > 0
        assert charges(ev.pid[fin]).sum() == 0
        assert baryon_number3(ev.pid[fin]).sum() == 0
        # Parents lie above their children (a HEPEVT record in history order).
        rows = np.flatnonzero(ev.parents[:, 0] >= 0)
        assert np.all(ev.parents[rows, 1] < rows)
        assert np.all(ev.parents[rows, 0] <= ev.parents[rows, 1])
        # Beam -> final state conserves 4-momentum to the checked tolerance.
        dev = np.abs(ev.p[fin].sum(axis=0) - ev.p[:2].sum(axis=0)).sum()
        assert dev < 1e-6 * gen.config.ecm
    t = block.clusters
    assert t.schema.equals(cluster_table.SCHEMA, check_metadata=False)
    assert set(t.column("event").to_numpy()) == set(range(40))
    # Column mass is the cluster's invariant mass, as the Python table builder defines it.
    p = np.stack([t.column(k).to_numpy() for k in ("px", "py", "pz", "e")], axis=1)
    mass = np.sqrt(np.clip(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(axis=1), 0, None))
    np.testing.assert_array_equal(t.column("mass").to_numpy(), mass)


def test_hepmc_text_reads_back_and_rejects_a_bad_record(gen, tmp_path):
    ev = gen.run_block(0, 1, 7).events[0]
    path = tmp_path / "one.hepmc"
    path.write_bytes(_core.hepmc3_header() + hepmc3_text([ev]) + _core.hepmc3_footer())
    with pyhepmc.open(str(path)) as f:
        (read,) = list(f)
    assert read.event_number == 7 and len(read.particles) == len(ev)
    np.testing.assert_array_equal([p.status for p in read.particles], ev.status)
    bad = ev.parents.copy()
    bad[5] = (5, 5)  # its own parent
    with pytest.raises(RuntimeError, match="row 5 has parents 5..5 not above it"):
        _core.hepmc3_events([7], [0, len(ev)], ev.pid, ev.status, ev.p, ev.m, bad)
