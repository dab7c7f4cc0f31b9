"""ALEPH 2004 / OPAL 2004 event shapes, ALEPH 2001 / DELPHI 2011 b fragmentation and
ALEPH 1999 D* x_E: hand-built events with known answers, the decay chain in hadml's
HepMC3 output, and an end-to-end comparison on generated events."""

from __future__ import annotations

import numpy as np
import pytest
from _refdata import require_refdir

from hadml.analysis import analyses as A
from hadml.analysis import yoda
from hadml.analysis.compare import compare_events, compare_files
from hadml.analysis.events import read_hepmc
from hadml.analysis.observables import b_hadron_selection, event_shapes
from hadml.analysis.pythia_peer import pythia_string_events

NEW = (A.ALEPH_SHAPES, A.OPAL_SHAPES, A.ALEPH_BFRAG, A.DELPHI_BFRAG, A.ALEPH_DSTAR)
E_BEAM = 45.6
N_EVENTS = 300


def _refs(name: str) -> dict:
    return yoda.read(require_refdir() / f"{name}.yoda")


def _pions(n_pairs: int, e: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """n_pairs back-to-back pi+ pi- pairs (massless approximation) along x, y, z, ..."""
    dirs = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 0]])
    p3 = []
    for k in range(n_pairs):
        d = dirs[k % len(dirs)] / np.linalg.norm(dirs[k % len(dirs)])
        p3 += [e * d, -e * d]
    p3 = np.array(p3)
    p4 = np.column_stack([p3, np.linalg.norm(p3, axis=1)])
    pid = np.tile([211, -211], n_pairs)
    return pid, p4


def _bin_of(ref, x: float) -> int:
    lo, hi = ref.edges
    (k,) = np.flatnonzero((lo <= x) & (x < hi))
    return int(k)


def test_jet_fractions_by_hand():
    # Event resolutions (y12, y23, y34, y45, y56); y01 = 1.
    res = np.array([[0.9, 0.1, 0.01, 0.001, 1e-4],
                    [0.5, 0.2, 0.02, 0.002, 2e-4]])
    ycut = np.array([0.95, 0.7, 0.15, 0.05, 0.015, 5e-3, 1e-3 / 2, 1e-5])
    expect = {  # number of events with n jets at each y_cut
        1: [2, 1, 0, 0, 0, 0, 0, 0],
        2: [0, 1, 1, 0, 0, 0, 0, 0],
        3: [0, 0, 1, 2, 1, 0, 0, 0],
        4: [0, 0, 0, 0, 1, 2, 0, 0],
        5: [0, 0, 0, 0, 0, 0, 2, 0],
        6: [0, 0, 0, 0, 0, 0, 0, 2],
    }
    total = np.zeros(len(ycut))
    for n, want in expect.items():
        got = A.jet_fractions(res, n, ycut)
        np.testing.assert_array_equal(got, want)
        total += got
    # Below y_cut = 1 every event has exactly one jet multiplicity.
    np.testing.assert_array_equal(total, [2] * len(ycut))


def test_aleph2004_jet_rates_at_the_points_of_the_data():
    # The data's own -ln y12 distribution (d149) gives the fraction of events with
    # y12 < y_cut; it reproduces the 1-jet rate d187 at y_cut = exp(point), i.e. at the
    # bin centre (Rivet's lower-edge choice is off by a whole bin).
    refs = _refs(A.ALEPH_SHAPES)
    d149 = refs["/REF/ALEPH_2004_S5765862/d149-x01-y01"]
    d187 = refs["/REF/ALEPH_2004_S5765862/d187-x01-y01"]
    lo, hi = d149.edges
    below = 1.0 - np.cumsum(d149.y * (hi - lo))  # fraction with -ln y12 > hi
    for x, r1 in zip(d187.x, d187.y, strict=True):
        k = int(np.argmin(np.abs(hi - (-x))))
        assert hi[k] == pytest.approx(-x)
        assert below[k] == pytest.approx(r1, rel=0.05, abs=2e-3)


def test_aleph2004_hand_events():
    # Event 1: back-to-back pairs along x, y, z and (1,1,0)/sqrt2: its shapes are
    # computed independently by event_shapes; event 2: a pure two-particle event (T = 1).
    pid1, p1 = _pions(4)
    pid2 = np.array([211, -211])
    p2 = np.array([[0, 0, E_BEAM, E_BEAM], [0, 0, -E_BEAM, E_BEAM]])
    ana = A.Aleph2004()
    ana.fill({"pid": pid1, "p": p1})
    ana.fill({"pid": pid2, "p": p2})
    assert ana.n_events == 2
    booked = ana.finalize(_refs(A.ALEPH_SHAPES))
    assert sorted(booked) == sorted(h.name for h in A.Aleph2004.histos)
    s1 = event_shapes(p1, n_durham=5)
    thrust = booked["d54-x01-y01"][1]
    k = _bin_of(thrust, s1.thrust)
    width = thrust.xerr_minus[k] + thrust.xerr_plus[k]
    # T = 1 of event 2 is the upper end of the last bin: overflow, yet counted in N.
    assert thrust.y[k] == pytest.approx(1 / (2 * width))
    assert np.sum(thrust.y * (thrust.xerr_minus + thrust.xerr_plus)) == pytest.approx(0.5)
    # 2-jet rate at the largest y_cut: event 2 (y12 = 1, y23 = 0) is a 2-jet event.
    r2 = booked["d195-x01-y01"][1]
    assert r2.y[-1] == pytest.approx(0.5 + 0.5 * (s1.durham[1] < np.exp(r2.x[-1])
                                                  < s1.durham[0]))


def test_opal2004_moments_veto_and_masses():
    pid, p4 = _pions(4)
    neutral = {"pid": np.array([22, 22, 111]), "p": p4[:3]}  # < 2 charged: vetoed
    # A neutrino changes the event shapes (all particles) but not y23 (visible only).
    nu = np.array([[0.0, 3.0, 4.0, 5.0]])
    with_nu = {"pid": np.append(pid, 12), "p": np.vstack([p4, nu])}
    ana = A.Opal2004()
    for ev in ({"pid": pid, "p": p4}, with_nu, neutral):
        ana.fill(ev)
    assert ana.n_events == 2
    shapes = [event_shapes(p4), event_shapes(with_nu["p"])]
    arrays = ana.arrays()
    np.testing.assert_allclose(arrays["omt"], [1 - s.thrust for s in shapes], rtol=1e-12)
    np.testing.assert_allclose(arrays["mh"], [np.sqrt(s.heavy_mass2) for s in shapes],
                               rtol=1e-12)
    np.testing.assert_allclose(arrays["y23"], [shapes[0].y23] * 2, rtol=1e-12)
    booked = ana.finalize(_refs(A.OPAL_SHAPES))
    assert len(booked) == 26
    mom = booked["d15-x01-y01"][1]
    omt = np.array([1 - s.thrust for s in shapes])
    np.testing.assert_allclose(mom.y, [np.mean(omt**n) for n in range(1, 6)], rtol=1e-12)
    np.testing.assert_allclose(mom.yerr_plus, [np.std(omt**n, ddof=1) / np.sqrt(2)
                                               for n in range(1, 6)], rtol=1e-12)


def _b_event(energies_weak: list[float], with_chain: bool) -> dict:
    """Six charged pions plus decayed b hadrons: B*0 -> B0 (if with_chain) and B-."""
    pid, p4 = _pions(3)
    d_pid, d_p, mother = [], [], []
    for k, e in enumerate(energies_weak):
        pz = np.sqrt(e**2 - 5.28**2)
        if with_chain and k == 0:
            d_pid.append(513)
            d_p.append([0, 0, pz, e + 0.046])
            mother.append(-1)
            d_pid.append(511)
            mother.append(len(d_pid) - 2)
        else:
            d_pid.append(-521)
            mother.append(-1)
        d_p.append([0, 0, pz * (-1) ** k, e])
    return {"pid": pid, "p": p4, "decayed_pid": np.array(d_pid),
            "decayed_p": np.array(d_p, dtype=float), "decayed_mother": np.array(mother)}


def test_b_fragmentation_hand_events():
    energies = [0.71 * E_BEAM, 0.46 * E_BEAM, 0.86 * E_BEAM, 0.56 * E_BEAM]
    events = [_b_event(energies[:2], with_chain=True), _b_event(energies[2:], with_chain=False)]
    x_weak = np.array(energies) / E_BEAM
    x_prim = np.array([energies[0] + 0.046, *energies[1:]]) / E_BEAM
    aleph, delphi = A.Aleph2001(), A.Delphi2011()
    for ev in events:
        aleph.fill(ev, ecm=2 * E_BEAM)
        delphi.fill(ev, ecm=2 * E_BEAM)
    ab = aleph.finalize(_refs(A.ALEPH_BFRAG))
    np.testing.assert_allclose(ab["d07-x01-y01"][1].y, [x_weak.mean()], rtol=1e-12)
    np.testing.assert_allclose(ab["d07-x01-y02"][1].y, [x_prim.mean()], rtol=1e-12)
    for histo, xs in ((ab["d01-x01-y01"][1], x_weak), (ab["d01-x01-y02"][1], x_prim),
                      (delphi.finalize(_refs(A.DELPHI_BFRAG))["d01-x01-y01"][1], x_weak)):
        width = histo.xerr_minus + histo.xerr_plus
        # Unit area over the 4 entries, one entry per hadron.
        assert np.sum(histo.y * width) == pytest.approx(1.0)
        for x in xs:
            k = _bin_of(histo, x)
            assert histo.y[k] * width[k] * 4 == pytest.approx(np.sum(
                [_bin_of(histo, v) == k for v in xs]))


def test_dstar_hand_events():
    pid, p4 = _pions(3)
    dstar = {"pid": pid, "p": p4, "decayed_pid": np.array([413, -413, 421]),
             "decayed_p": np.array([[0, 0, 22.7, 22.8], [0, 0, -11.3, 11.4], [0, 0, 1, 2.]])}
    few = {"pid": pid[:4], "p": p4[:4], "decayed_pid": np.array([413]),
           "decayed_p": np.array([[0, 0, 22.7, 22.8]])}  # 4 charged: vetoed, still counted
    ana = A.Aleph1999Dstar()
    ana.fill(dstar, ecm=2 * E_BEAM)
    ana.fill(few, ecm=2 * E_BEAM)
    assert ana.n_events == 2
    h = ana.finalize(_refs(A.ALEPH_DSTAR))["d01-x01-y01"][1]
    width = 0.05
    per_entry = 1000 * 0.677 * 0.0395 / (2 * width)
    expect = np.zeros(len(h))
    expect[_bin_of(h, 0.5)] = per_entry  # x_E = 22.8 / 45.6
    expect[_bin_of(h, 0.25)] = per_entry  # 11.4 / 45.6
    np.testing.assert_allclose(h.y, expect, rtol=1e-12)


def test_heavy_flavour_analyses_need_the_decay_record():
    pid, p4 = _pions(3)
    with pytest.raises(ValueError, match="decay chain.*decayed_p"):
        A.Aleph2001().fill({"pid": pid, "p": p4, "decayed_pid": np.array([511])})
    with pytest.raises(ValueError, match="decayed_pid"):
        A.Aleph1999Dstar().fill({"pid": pid, "p": p4})


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    import hadml

    path = tmp_path_factory.mktemp("gen") / "classic.hepmc"
    run = hadml.generate(N_EVENTS, seed=2024, hepmc=path)
    return run, path


def test_hepmc_output_keeps_the_b_decay_chain(generated):
    run, path = generated
    from_file = list(read_hepmc(path))
    n_weak = n_primary = n_dstar = 0
    for ev, back in zip(run.events, from_file, strict=True):
        mem = ev.final_state()
        for key in ("decayed_pid", "decayed_mother"):
            np.testing.assert_array_equal(back[key], mem[key])
        np.testing.assert_allclose(back["decayed_p"], mem["decayed_p"], rtol=1e-12, atol=1e-12)
        weak, primary = b_hadron_selection(mem["decayed_pid"], mem["decayed_mother"])
        # Every weakly decaying b hadron leads back, through b hadrons, to a primary one.
        for k in np.flatnonzero(weak):
            while mem["decayed_mother"][k] >= 0:
                k = mem["decayed_mother"][k]
                assert primary[k] or np.abs(mem["decayed_pid"][k]) // 100 % 10 == 5 or \
                    np.abs(mem["decayed_pid"][k]) // 1000 % 10 == 5
            assert primary[k]
        n_weak += np.count_nonzero(weak)
        n_primary += np.count_nonzero(primary)
        n_dstar += np.count_nonzero(np.abs(mem["decayed_pid"]) == 413)
    # b hadrons come in chains with one primary and one weakly decaying member; about
    # 22% of Z -> q qbar events are b bbar: ~130 chains in 300 events.
    assert n_weak == n_primary
    assert 80 <= n_weak <= 190
    assert n_dstar > 20


def test_end_to_end_new_files(generated):
    run, path = generated
    res = compare_files([path], ["hadml"], list(NEW), refdir=require_refdir(), plots=False)
    assert res.n_events["hadml"] == N_EVENTS
    expected = {A.ALEPH_SHAPES: len(A.Aleph2004.histos), A.OPAL_SHAPES: 26,
                A.ALEPH_BFRAG: 4, A.DELPHI_BFRAG: 2, A.ALEPH_DSTAR: 1}
    for name, count in expected.items():
        histos = [h for h in res.histos if h.analysis == name]
        assert len(histos) == count, name
        for h in histos:
            assert np.isfinite(h.chi2["hadml"]), h.id
            assert h.ndf["hadml"] == len(h.ref), h.id
    # The definitions against the data, on the peer that describes these files (Pythia 8's
    # string model; hadml's own agreement is what tuning is for): with 300 events the MC
    # errors dominate and the right definitions give chi2/ndf 0.7-1.9 (seeds 2024, 5, 6);
    # a wrong one (per event instead of per hadron, y_cut at the bin edge, M_H^2 for M_H)
    # gives 3 to 100s.
    peer = compare_events({"pythia": pythia_string_events(N_EVENTS, seed=2024)},
                          [a for a in NEW if a != A.ALEPH_DSTAR], refdir=require_refdir(),
                          plots=False)
    shapes_and_b = [n for n in NEW if n != A.ALEPH_DSTAR]
    assert {h.analysis for h in peer.histos} == set(shapes_and_b)
    for name in shapes_and_b:
        c, n = peer.total("pythia", name)
        assert c / n < 2.5, (name, c / n)
    # ~50 D*+- in 300 events fill 18 bins: too few entries per bin for a chi2 test (the
    # sqrt(count) errors of low fluctuations inflate it; 0.8 and 4.2 on two seeds, 1.25
    # at 10k events). The rate is checked instead: the data integrate to 4.98; the
    # normalisation errors this catches are factors of 37 (branching fractions), 1000
    # or 2 (D*+ only), while the sample varies by ~25% (the number of c cbar events
    # fluctuates too).
    (dstar,) = [h for h in res.histos if h.analysis == A.ALEPH_DSTAR]
    width = dstar.ref.xerr_minus + dstar.ref.xerr_plus
    ratio = np.sum(dstar.mc["hadml"].y * width) / np.sum(dstar.ref.y * width)
    assert 0.5 < ratio < 1.6
    # The in-memory path (Event.final_state) gives the same histograms.
    mem = compare_events({"hadml": [ev.final_state() for ev in run.events[:40]]}, list(NEW),
                         refdir=require_refdir(), plots=False)
    fil = compare_files([path], ["hadml"], list(NEW), refdir=require_refdir(), plots=False,
                        max_events=40)
    for a, b in zip(mem.histos, fil.histos, strict=True):
        np.testing.assert_allclose(a.mc["hadml"].y, b.mc["hadml"].y, rtol=1e-9, atol=1e-12)
