"""chi2 and the end-to-end comparison (API, HepMC files, CLI) on real Pythia events."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _refdata import require_refdir

from hadml.analysis import yoda
from hadml.analysis.analyses import ALEPH, ANALYSES, PDG, book
from hadml.analysis.compare import (
    SHIPPED_REFDIR,
    RefDataError,
    chi2,
    compare_events,
    compare_files,
    resolve_refdir,
)

N_EVENTS = 300


def test_chi2_known_values():
    ref = yoda.Scatter2D("/REF/T/d01-x01-y01", np.array([0.5, 1.5, 2.5]), np.full(3, 0.5),
                         np.full(3, 0.5), np.array([10.0, 5.0, 1.0]),
                         np.array([1.0, 1.0, 0.5]), np.array([2.0, 1.0, 0.5]))
    mc = yoda.Scatter2D("/HADML/T/d01-x01-y01", ref.x, ref.xerr_minus, ref.xerr_plus,
                        np.array([12.0, 4.0, 1.0]), np.array([1.0, 0.0, 0.0]),
                        np.array([1.0, 0.0, 0.0]))
    c, ndf, pulls = chi2(mc, ref)
    # bin 1: mc above data -> data error yerr+ = 2: 4/(4+1); bin 2: 1/1; bin 3: 0.
    assert c == pytest.approx(4 / 5 + 1.0, abs=1e-14)
    assert ndf == 3
    np.testing.assert_allclose(pulls, [2 / np.sqrt(5), -1.0, 0.0])
    # Bins where data and MC errors both vanish are not counted.
    ref.yerr_minus[2] = ref.yerr_plus[2] = 0.0
    assert chi2(mc, ref)[1] == 2


def test_book_normalisations():
    ref = yoda.Scatter2D("/REF/T/d", np.array([0.5, 2.0]), np.array([0.5, 1.0]),
                         np.array([0.5, 1.0]), np.zeros(2), np.zeros(2), np.zeros(2))
    values = np.array([0.1, 0.2, 1.5, 2.9, 7.0])  # 7.0 is overflow
    dens = book(ref, values, n_events=5, norm="density", path="/X")
    np.testing.assert_allclose(dens.y, [2 / (5 * 1.0), 2 / (5 * 2.0)])
    frac = book(ref, values, n_events=5, norm="fraction", path="/X")
    np.testing.assert_allclose(frac.y, [0.4, 0.4])
    mean = book(ref, values, n_events=5, norm="mean", path="/X")
    assert mean.y[0] == pytest.approx(values.mean())
    assert mean.yerr_plus[0] == pytest.approx(values.std(ddof=1) / np.sqrt(5))


@pytest.fixture(scope="module")
def pythia_events():
    from hadml.analysis.pythia_peer import pythia_string_events

    return list(pythia_string_events(N_EVENTS, seed=4242))


@pytest.fixture(scope="module")
def report(pythia_events, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    res = compare_events({"pythia8": pythia_events}, refs=[ALEPH, PDG],
                         refdir=require_refdir(), outdir=out)
    return res, out


def _histo(res, hid):
    return next(h for h in res.histos if h.id == hid)


def test_end_to_end_report_files(report):
    res, out = report
    md = (out / "report.md").read_text()
    assert "ALEPH_1996_S3486095/d03-x01-y01" in md and "pythia8" in md
    data = json.loads((out / "report.json").read_text())
    ids = {h["id"] for h in data["histograms"]}
    for d in [f"d{k:02d}" for k in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 18, 19)]:
        assert f"{ALEPH}/{d}-x01-y01" in ids
    assert f"{PDG}/d01-x01-y03" in ids
    entry = next(h for h in data["histograms"] if h["id"] == f"{ALEPH}/d03-x01-y01")
    assert entry["results"]["pythia8"]["ndf"] == 21
    assert (out / "plots" / f"{ALEPH}_d03-x01-y01.png").stat().st_size > 1000
    mc = yoda.read(out / "pythia8.yoda")
    assert f"/HADML/{ALEPH}/d01-x01-y01" in mc
    assert data["inputs"]["pythia8"]["events"] == N_EVENTS


def test_end_to_end_physics(report):
    res, _ = report
    # <n_ch>: Pythia 8.317 default gives 20.51 (refdata README, 20k events); the MC error
    # of 300 events is ~0.37, allow 4 sigma.
    nch = _histo(res, f"{ALEPH}/d19-x01-y01").mc["pythia8"]
    assert nch.y[0] == pytest.approx(20.51, abs=4 * nch.yerr_plus[0])
    # Unit-area event shapes: the booked range holds (almost) every event.
    for d in ("d01", "d03", "d07"):
        h = _histo(res, f"{ALEPH}/{d}-x01-y01").mc["pythia8"]
        lo, hi = h.edges
        assert 0.97 <= np.sum(h.y * (hi - lo)) <= 1.0 + 1e-12
    # Charged-particle x_p spectrum integrates to the mean multiplicity minus the few
    # particles below x_p = 0.004 (p < 0.18 GeV).
    xp = _histo(res, f"{ALEPH}/d09-x01-y01").mc["pythia8"]
    lo, hi = xp.edges
    assert 0.9 * nch.y[0] <= np.sum(xp.y * (hi - lo)) <= nch.y[0]
    # P(n_ch) sums to 1 (only odd-n_ch-free events exist: charge conservation).
    pn = _histo(res, f"{ALEPH}/d18-x01-y01").mc["pythia8"]
    assert np.sum(pn.y) == pytest.approx(1.0, abs=0.01)
    # Event shapes of the Pythia default are close to ALEPH: with only 300 events the MC
    # error dominates, so chi2/ndf ~ 1; the README's 20k-event value is 2.3 per bin.
    c = sum(_histo(res, f"{ALEPH}/d0{k}-x01-y01").chi2["pythia8"] for k in range(1, 9))
    n = sum(_histo(res, f"{ALEPH}/d0{k}-x01-y01").ndf["pythia8"] for k in range(1, 9))
    assert c / n < 2.5
    # Identified hadrons need the decayed-hadron record: pi0 is counted.
    pi0 = _histo(res, f"{PDG}/d02-x01-y03").mc["pythia8"]
    assert pi0.y[0] == pytest.approx(9.42, rel=0.1)


def _write_hepmc(path, events) -> None:
    """Events {'pid', 'p', 'decayed_pid'} as a HepMC3 file (decayed hadrons: status 2)."""
    import pyhepmc

    with pyhepmc.open(path, "w") as f:
        for k, ev in enumerate(events):
            dec = ev["decayed_pid"]
            pid = np.concatenate([ev["pid"], dec]).astype(np.int32)
            p = np.concatenate([ev["p"], np.zeros((len(dec), 4))])
            status = np.concatenate([np.ones(len(ev["pid"])), np.full(len(dec), 2)])
            gen = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
            gen.from_hepevt(event_number=k, px=p[:, 0].copy(), py=p[:, 1].copy(),
                            pz=p[:, 2].copy(), en=p[:, 3].copy(), m=np.zeros(len(pid)),
                            pid=pid, status=status.astype(np.int32))
            f.write(gen)


def test_hepmc_file_and_cli_match_in_memory(pythia_events, report, tmp_path):
    path = tmp_path / "ev.hepmc"
    _write_hepmc(path, pythia_events[:100])
    refdir = require_refdir()
    mem = compare_events({"a": pythia_events[:100]}, [ALEPH, PDG], refdir=refdir, plots=False)
    fil = compare_files([path], ["a"], [ALEPH, PDG], refdir=refdir, plots=False)
    for hm, hf in zip(mem.histos, fil.histos, strict=True):
        assert hm.id == hf.id
        assert hf.chi2["a"] == pytest.approx(hm.chi2["a"], rel=1e-9, abs=1e-12)

    from hadml.analysis.cli import main

    out = tmp_path / "rep"
    rc = main(["compare", str(path), str(path), "--label", "x", "--label", "y", "--ref", ALEPH,
               "--refdir", str(refdir), "-o", str(out), "--max-events", "50", "--no-plots"])
    assert rc == 0
    data = json.loads((out / "report.json").read_text())
    assert data["inputs"]["x"]["events"] == 50 and data["inputs"]["y"]["events"] == 50
    assert data["inputs"]["x"]["chi2"] == data["inputs"]["y"]["chi2"]


def test_refdir_precedence(tmp_path, monkeypatch):
    """--refdir, else $HADML_REFDIR, else the shipped data; the shipped data are found
    without any setting."""
    ev = [{"pid": np.array([211, -211]), "p": np.array([[0, 0, 1, 1.01], [0, 0, -1, 1.01]])}]
    monkeypatch.delenv("HADML_REFDIR", raising=False)
    assert resolve_refdir(None) == SHIPPED_REFDIR
    shipped = compare_events({"a": ev}, [ALEPH])
    assert len(shipped.histos) == 20
    # $HADML_REFDIR wins over the shipped data (here: a directory without the file) ...
    monkeypatch.setenv("HADML_REFDIR", str(tmp_path))
    with pytest.raises(RefDataError, match=str(tmp_path / f"{ALEPH}.yoda")):
        compare_events({"a": ev}, [ALEPH])
    # ... and refdir wins over $HADML_REFDIR.
    again = compare_events({"a": ev}, [ALEPH], refdir=SHIPPED_REFDIR)
    assert again.total("a") == shipped.total("a")
    with pytest.raises(RefDataError, match="not implemented"):
        compare_events({"a": ev}, ["NOPE"], refdir=SHIPPED_REFDIR)
    with pytest.raises(FileNotFoundError, match="missing.hepmc"):
        compare_files([tmp_path / "missing.hepmc"], None, [ALEPH])


# The optional extras of pyproject.toml ([analysis], [train], [test]): a base install has
# none of them.
_EXTRAS = ("matplotlib", "fastjet", "torch", "lightning", "onnx", "onnxscript", "tensorboard")
_BLOCKER = f'''
"""sitecustomize for the base-install test: the optional extras cannot be imported."""
import sys

BLOCKED = {set(_EXTRAS)!r}


class BlockExtras:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (base install)", name=name)
        return None


sys.meta_path.insert(0, BlockExtras())
'''


def test_base_install_runs_compare(pythia_events, tmp_path):
    """`hadml compare` with only the base dependencies (no matplotlib, no fastjet), in a
    real subprocess whose imports of the extras fail: plots are off with a one-line note
    saying how to enable them, and every histogram, the Durham-y23 one included (numpy
    clustering instead of fastjet), has the chi2 of a full install."""
    import os
    import subprocess
    import sys

    path = tmp_path / "ev.hepmc"
    _write_hepmc(path, pythia_events[:60])
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_BLOCKER)
    from pathlib import Path

    import hadml

    package_root = Path(hadml.__file__).resolve().parents[1]  # the hadml under test
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(package_root)]))
    env.pop("HADML_REFDIR", None)
    probe = subprocess.run([sys.executable, "-c", "import matplotlib"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode == 1 and "base install" in probe.stderr
    out = tmp_path / "rep"
    proc = subprocess.run([sys.executable, "-m", "hadml", "compare", str(path), "-o", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "note:" in line]
    assert notes == ["hadml compare: note: plots off: matplotlib is not installed "
                     "(pip install 'hadml[analysis]' to enable plots)"]
    assert "ev: chi2/ndf = " in proc.stdout and "(60 events)" in proc.stdout
    assert "FastJet" not in proc.stdout  # fastjet prints its banner when it clusters
    assert not (out / "plots").exists()
    base = json.loads((out / "report.json").read_text())
    assert base["skipped_analyses"] == {}
    # The default is every implemented analysis (ALEPH 1996 alone books 20, PDG 34).
    full = compare_files([path], None, list(ANALYSES), plots=False)
    assert len(base["histograms"]) == len(full.histos) > 20 + 34
    assert {h.analysis for h in full.histos} == set(ANALYSES)
    for entry, h in zip(base["histograms"], full.histos, strict=True):
        assert entry["id"] == h.id
        assert entry["results"]["ev"]["chi2"] == pytest.approx(h.chi2["ev"], rel=1e-9,
                                                               abs=1e-12)
