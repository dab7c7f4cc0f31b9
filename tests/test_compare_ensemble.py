"""Ensemble bands in the comparison with LEP data (issue 12, item 4)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _refdata import require_refdir

from hadml.analysis.analyses import ALEPH
from hadml.analysis.compare import compare_events, plot
from hadml.analysis.pythia_peer import pythia_string_events


@pytest.fixture(scope="module")
def samples():
    events = list(pythia_string_events(240, seed=77))
    # A central input and three "members": disjoint subsamples stand in for the members'
    # statistically different event sets.
    return events[:120], [events[120:160], events[160:200], events[200:240]]


def test_band_is_the_members_envelope(samples, tmp_path):
    central, members = samples
    refdir = require_refdir()
    res = compare_events({"ML": central}, refs=[ALEPH], refdir=refdir, outdir=tmp_path,
                         plots=False, members={"ML": members})
    # Each member compared on its own gives the same histograms and chi2 values.
    alone = [compare_events({"m": m}, refs=[ALEPH], refdir=refdir, plots=False)
             for m in members]
    n_checked = 0
    for h in res.histos:
        ys = np.stack([next(x for x in a.histos if x.id == h.id).mc["m"].y for a in alone])
        lo, hi = h.band["ML"]
        np.testing.assert_array_equal(lo, ys.min(axis=0))
        np.testing.assert_array_equal(hi, ys.max(axis=0))
        assert h.member_chi2["ML"] == pytest.approx(
            [next(x for x in a.histos if x.id == h.id).chi2["m"] for a in alone], rel=1e-12)
        n_checked += 1
    assert n_checked > 10
    totals = res.member_totals("ML")
    assert totals == pytest.approx([a.total("m")[0] for a in alone], rel=1e-12)
    # The report shows the range of the members' chi2/ndf next to the central value.
    c, n = res.total("ML")
    md = (tmp_path / "report.md").read_text()
    assert f"{c / n:.2f} [{min(totals) / n:.2f}-{max(totals) / n:.2f}]" in md
    data = json.loads((tmp_path / "report.json").read_text())
    first = data["histograms"][0]
    assert len(first["results"]["ML"]["member_chi2"]) == 3
    assert len(first["results"]["ML"]["band_min"]) == first["bins"]
    # The band is drawn (one plot, to keep the test fast).
    plot(res.histos[0], res.labels, tmp_path / "band.png")
    assert (tmp_path / "band.png").stat().st_size > 1000


def test_members_of_an_unknown_input_are_refused(samples):
    central, members = samples
    with pytest.raises(ValueError, match=r"ensemble members given for unknown inputs \['ml'\]"):
        compare_events({"ML": central}, refs=[ALEPH], refdir=require_refdir(), plots=False,
                       members={"ml": members})
