"""Exact parameter-variation weights of the cluster stage (hadml.variations, issue 14).

The central check is calibrated: for each variation, the weighted nominal mean of several
event observables equals the mean of a direct run at the varied point within their
combined statistical error (|z| < 4 per observable; with correct weights z is standard
normal), and the same test on unweighted nominal events fails (the test has power)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hadml import _core
from hadml.config import ConfigError
from hadml.hadrons import hadron_table
from hadml.variations import (
    Variation,
    kish_ess,
    load_variations,
    parse_variations,
    weight_names,
)

N_EVENTS = 8_000
Z_MAX = 4.0


@pytest.fixture(scope="module")
def table() -> dict:
    return hadron_table()


def parton_event() -> tuple[np.ndarray, ...]:
    """u g g ubar on one colour line at 30 GeV: several clusters, some fission, two
    perturbative constituents (the direction smearing applies)."""
    p = np.array([[0, 0, 10, 10], [4, 3, 0, 5], [-4, -3, 0, 5], [0, 0, -10, 10]], float)
    ids = np.array([2, 21, 21, -2], np.int32)
    col = np.array([1, 2, 3, 0], np.int32)
    acol = np.array([0, 1, 2, 3], np.int32)
    return ids, col, acol, p


def hadronize(table: dict, params: dict, n: int, seed: int,
              variations: list | None = None) -> list[dict]:
    hz = _core.ClusterHadronizer(params, table, None, seed, seed + 1)
    if variations:
        hz.set_variations(variations)
    out = hz.hadronize([parton_event()] * n)
    assert all(r["error"] is None for r in out)
    return out


def has_quark(pid: np.ndarray, q: int) -> np.ndarray:
    a = np.abs(pid)
    return ((a // 10) % 10 == q) | ((a // 100) % 10 == q) | ((a // 1000) % 10 == q)


def boost_to_rest(p: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """p (n, 4) in the rest frame of frame (n, 4)."""
    m = np.sqrt(frame[:, 3] ** 2 - (frame[:, :3] ** 2).sum(1))
    b = frame[:, :3] / frame[:, 3:4]
    g = frame[:, 3] / m
    bp = (b * p[:, :3]).sum(1)
    b2 = (b * b).sum(1)
    coef = np.where(b2 > 0, (g - 1) * bp / np.where(b2 > 0, b2, 1), 0.0) - g * p[:, 3]
    return p[:, :3] + coef[:, None] * b


def observables(res: dict) -> np.ndarray:
    """Per event: hadrons, strange hadrons, baryons, fissions, and the mean cosine between
    hadron 1 and a perturbative constituent 1 in the cluster rest frame."""
    hid = res["hadron_id"]
    fate = res["cluster_fate"]
    decayed = np.flatnonzero((fate == 3) & res["cluster_c1_pert"])
    cos = 0.0
    if decayed.size:
        h1 = res["cluster_children"][decayed, 0]
        frame = res["cluster_p"][decayed]
        a = boost_to_rest(res["hadron_p"][h1], frame)
        b = boost_to_rest(res["cluster_c1_p"][decayed], frame)
        cos = float(np.mean((a * b).sum(1) / np.linalg.norm(a, axis=1)
                            / np.linalg.norm(b, axis=1)))
    return np.array([len(hid), has_quark(hid, 3).sum(), (np.abs(hid) > 1000).sum(),
                     (fate == 1).sum(), cos], float)


def z_scores(x_nom: np.ndarray, w: np.ndarray, x_dir: np.ndarray) -> np.ndarray:
    mean_w = (w[:, None] * x_nom).sum(0) / w.sum()
    var_w = (w[:, None] ** 2 * (x_nom - mean_w) ** 2).sum(0) / w.sum() ** 2
    mean_d = x_dir.mean(0)
    var_d = x_dir.var(0, ddof=1) / len(x_dir)
    return (mean_w - mean_d) / np.sqrt(var_w + var_d)


# Steps large enough that the unweighted nominal sample differs from the direct run
# (except the last two: these observables of this event barely see SngWt/DecWt, and the
# single colour line gives baryonic reconnection no partner, so its weights are 1).
VARIATIONS = [
    ("ClSmrLight_down", {"ClSmrLight": 0.3}),
    ("ClPowLight_up", {"ClPowLight": 2.6}),
    ("ClMaxLight_down", {"ClMaxLight": 3.2}),
    ("ClMaxLight_up", {"ClMaxLight": 3.8}),
    ("PSplitLight_down", {"PSplitLight": 0.6}),
    ("PwtSquark_up", {"PwtSquark": 0.6}),
    ("PwtDIquark_up", {"PwtDIquark": 0.6}),
    ("SplitPwtSquark_down", {"SplitPwtSquark": 0.3}),
    ("FissionPwtSquark_up", {"FissionPwtSquark": 0.8}),
    ("ClDirLight_off", {"ClDirLight": 0}),  # smeared -> isotropic: density ratio
    ("SngDec", {"SngWt": 0.6, "DecWt": 0.7}),
    ("Reconnection_down", {"ReconnectionProbability": 0.5}),
]
WITH_POWER = len(VARIATIONS) - 2


@pytest.fixture(scope="module")
def nominal_run(table: dict) -> tuple[np.ndarray, np.ndarray]:
    out = hadronize(table, {}, N_EVENTS, seed=11, variations=VARIATIONS)
    x = np.array([observables(r) for r in out])
    w = np.array([r["weights"] for r in out])
    return x, w


@pytest.mark.parametrize("k", range(len(VARIATIONS)), ids=[v[0] for v in VARIATIONS])
def test_weighted_nominal_matches_direct_run(table: dict, nominal_run, k: int) -> None:
    x_nom, w = nominal_run
    name, overrides = VARIATIONS[k]
    direct = hadronize(table, overrides, N_EVENTS, seed=1000 + k)
    x_dir = np.array([observables(r) for r in direct])
    z = z_scores(x_nom, w[:, k], x_dir)
    z_unweighted = z_scores(x_nom, np.ones(len(x_nom)), x_dir)
    assert np.all(np.abs(z) < Z_MAX), (name, z)
    # The observables see the variation: without weights the comparison fails.
    if k < WITH_POWER:
        assert np.max(np.abs(z_unweighted)) > Z_MAX, (name, z_unweighted)
    # Weights are finite and positive; with a fair step the sample stays useful.
    assert np.all(np.isfinite(w[:, k])) and np.all(w[:, k] >= 0)
    assert kish_ess(w[:, k]) > 0.3 * N_EVENTS


def test_variations_do_not_change_the_events(table: dict) -> None:
    """Recording weights draws no random number: the same hadrons, bit for bit."""
    a = hadronize(table, {}, 50, seed=5)
    b = hadronize(table, {}, 50, seed=5, variations=VARIATIONS)
    for ra, rb in zip(a, b, strict=True):
        assert np.array_equal(ra["hadron_id"], rb["hadron_id"])
        assert np.array_equal(ra["hadron_p"], rb["hadron_p"])
        assert "weights" not in ra and len(rb["weights"]) == len(VARIATIONS)


def test_identity_variation_has_unit_weights(table: dict) -> None:
    out = hadronize(table, {}, 200, seed=3, variations=[("same", {"ClSmrLight": 0.78}),
                                                           ("tiny", {"PwtSquark": 0.374094})])
    w = np.array([r["weights"] for r in out])
    np.testing.assert_array_equal(w, 1.0)


def test_psplit_weight_is_one_with_the_phase_space_sampler(table: dict) -> None:
    """PSplit enters only the power-law child masses: with FissionMassSampler 2 the fission
    masses do not depend on it, so a PSplitLight variation weighs every event exactly 1,
    while with the power law (same seed) the weights differ from 1."""
    var = [("ps", {"PSplitLight": 0.6})]
    ps = hadronize(table, {"FissionMassSampler": 2}, 200, seed=3, variations=var)
    assert sum((r["cluster_fate"] == 1).sum() for r in ps) > 100  # fissions happened
    np.testing.assert_array_equal(np.array([r["weights"] for r in ps]), 1.0)
    power = hadronize(table, {}, 200, seed=3, variations=var)
    assert np.mean([r["weights"][0] != 1.0 for r in power]) > 0.5


def smeared_density(cos: float, smear: float) -> float:
    """Density per solid angle of cos = 1 + S ln r redrawn until >= -1 (an independent
    form of ClassicClusterDecayer's smearing: truncated exponential in 1 - cos)."""
    t = 1.0 - cos
    return math.exp(-t / smear) / (smear * (1.0 - math.exp(-2.0 / smear))) / (2 * math.pi)


def test_direction_weight_of_one_cluster_by_hand(table: dict) -> None:
    """A single u ubar cluster of 1.6 GeV (below fission, above the pi pi threshold), both
    constituents perturbative: the ClSmrLight weight is the coin-averaged density ratio of
    hadron 1's direction around constituent 1 and opposite constituent 2."""
    m_u = 0.325
    e = 0.8
    pz = math.sqrt(e * e - m_u * m_u)
    ev = (np.array([2, -2], np.int32), np.array([1, 0], np.int32),
          np.array([0, 1], np.int32), np.array([[0, 0, pz, e], [0, 0, -pz, e]]))
    params = {"ClMaxLight": 3.5, "ClPowLight": 2.0}
    hz = _core.ClusterHadronizer(params, table, None, 4, 5)
    hz.set_variations([("s", {"ClSmrLight": 0.4})])
    out = hz.hadronize([ev] * 40)
    checked = 0
    for r in out:
        fate = r["cluster_fate"]
        if not (len(fate) == 1 and fate[0] == 3):
            continue  # fissioned or became a single hadron: other weights enter
        h1 = r["hadron_p"][r["cluster_children"][0, 0]]
        cos = h1[2] / np.linalg.norm(h1[:3])  # constituent 1 along +z, cluster at rest
        nominal = 0.5 * (smeared_density(cos, 0.78) + smeared_density(cos, 0.78))
        varied = 0.5 * (smeared_density(cos, 0.4) + smeared_density(cos, 0.4))
        assert r["weights"][0] == pytest.approx(varied / nominal, rel=1e-9)
        checked += 1
    assert checked >= 10


def test_unsupported_and_flagged_variations(table: dict) -> None:
    hz = _core.ClusterHadronizer({}, table, None, 1, 2)
    with pytest.raises(ValueError, match="GluonMass.*cannot be reweighted"):
        hz.set_variations([("g", {"GluonMass": 1.0})])
    # the fission k_T width moves kinematics (a delta function at its herwig73 value 0)
    with pytest.raises(ValueError, match="FissionPtSigma.*cannot be reweighted"):
        hz.set_variations([("k", {"FissionPtSigma": 0.3})])
    # the child-mass sampler switches the algorithm (refused like the other switches)
    with pytest.raises(ValueError, match="FissionMassSampler.*cannot be reweighted"):
        hz.set_variations([("s", {"FissionMassSampler": 2})])
    with pytest.raises(ValueError, match="unknown cluster parameter 'NoSuch'"):
        hz.set_variations([("x", {"NoSuch": 1.0})])
    with pytest.raises(ValueError, match="used twice"):
        hz.set_variations([("a", {"PwtSquark": 0.4}), ("a", {"PwtSquark": 0.5})])
    with pytest.raises(ValueError, match="opens or closes hadron channels"):
        hz.set_variations([("zero", {"PwtSquark": 0.0})])
    hz.set_variations([("smr_off", {"ClSmrLight": 0.0005}), ("ok", {"ClMaxLight": 3.0})])
    info = hz.variation_info()
    assert "ClSmr <= 0.001" in info[0]["hard_boundaries"][0]
    assert info[1]["hard_boundaries"] == [] and info[1]["groups"] == ["fission threshold"]
    static = _core.ClusterHadronizer({"DynamicThreshold": 0}, table, None, 1, 2)
    static.set_variations([("clmax", {"ClMaxLight": 3.0})])
    assert "hard boundary" in static.variation_info()[0]["hard_boundaries"][0]


def test_parse_variations_file(tmp_path) -> None:
    f = tmp_path / "v.yaml"
    f.write_text("variations:\n  - name: up\n    ClSmrLight: 0.9\n  - {name: dn, PwtSquark: 0.3}\n")
    v = load_variations(f)
    assert v == [Variation("up", {"ClSmrLight": 0.9}), Variation("dn", {"PwtSquark": 0.3})]
    assert weight_names(v) == ["nominal", "up", "dn"]
    for bad, msg in [([], "non-empty list"), ([{"ClSmrLight": 1}], "'name'"),
                     ([{"name": "a b", "x": 1}], "'name'"),
                     ([{"name": "nominal", "PwtSquark": 1}], "reserved"),
                     ([{"name": "a"}], "no parameter"),
                     ([{"name": "a", "PwtSquark": "x"}], "finite number"),
                     ([{"name": "a", "PwtSquark": 1}, {"name": "a", "PwtSquark": 2}],
                      "used twice")]:
        with pytest.raises(ConfigError, match=msg):
            parse_variations(bad, "test")
    with pytest.raises(ConfigError, match="cannot read"):
        load_variations(tmp_path / "missing.yaml")


def test_kish_ess() -> None:
    assert kish_ess(np.ones(10)) == pytest.approx(10)
    assert kish_ess(np.array([1.0, 0, 0, 0])) == pytest.approx(1)
    assert kish_ess(np.array([2.0, 1.0])) == pytest.approx(9 / 5)


# -- outputs, hadml compare ------------------------------------------------------------------

@pytest.fixture(scope="module")
def weighted_files(tmp_path_factory) -> tuple:
    """60 LEP-tune events with two variations, written to HepMC3 and Parquet."""
    import hadml

    d = tmp_path_factory.mktemp("variations")
    v = [Variation("ClSmrLight_up", {"ClSmrLight": 0.93}),
         Variation("PwtSquark_up", {"PwtSquark": 0.414})]
    res = hadml.generate(60, seed=4, hepmc=d / "w.hepmc", clusters=d / "w.parquet",
                         variations=v)
    return res, d


def test_generate_writes_named_weights(weighted_files) -> None:
    import pyhepmc

    from hadml.io import cluster_table

    res, d = weighted_files
    assert res.weights.shape == (60, 2) and res.weight_names == ["ClSmrLight_up",
                                                                 "PwtSquark_up"]
    with pyhepmc.open(d / "w.hepmc") as f:
        events = list(f)
    assert events[0].run_info.weight_names == ["nominal", "ClSmrLight_up", "PwtSquark_up"]
    got = np.array([e.weights for e in events])
    np.testing.assert_allclose(got[:, 0], 1.0)
    np.testing.assert_allclose(got[:, 1:], res.weights, rtol=1e-12)
    table = cluster_table.read(d / "w.parquet")
    cols = cluster_table.weight_columns(table)
    assert list(cols) == ["ClSmrLight_up", "PwtSquark_up"]
    ev = table.column("event").to_numpy()
    np.testing.assert_allclose(cols["PwtSquark_up"], res.weights[ev, 1], rtol=1e-12)
    # The summary reports the effective sample size per variation.
    text = res.summary.text()
    assert "Kish ESS" in text and "PwtSquark_up" in text


def test_same_events_with_and_without_variations(weighted_files) -> None:
    import hadml

    res, _ = weighted_files
    plain = hadml.generate(60, seed=4)
    for a, b in zip(plain.events, res.events, strict=True):
        assert np.array_equal(a.pid, b.pid) and np.array_equal(a.p, b.p)


def test_weighted_histograms_reproduce_the_analyses(weighted_files) -> None:
    """Unit weights: hadml.analysis.weighted books every histogram exactly as the
    analyses do (values and, apart from per-event correlations, errors)."""
    from hadml.analysis.analyses import ANALYSES
    from hadml.analysis.compare import analyse, load_refs
    from hadml.analysis.events import read_hepmc
    from hadml.analysis.weighted import EntryTracker, book_weighted

    _, d = weighted_files
    refs = load_refs(list(ANALYSES), None)
    tracker = EntryTracker()
    booked, n, analyses = analyse(read_hepmc(d / "w.hepmc"), refs, tracker=tracker)
    assert n == 60 and tracker.names[1:] == ["ClSmrLight_up", "PwtSquark_up"]
    unit = book_weighted(analyses, tracker, refs, 0)
    checked = 0
    for aname, items in booked.items():
        for name, (_, mc) in items.items():
            np.testing.assert_allclose(unit[f"{aname}/{name}"][2].y, mc.y, rtol=1e-9,
                                       atol=1e-12)
            checked += 1
    assert checked > 90


def test_two_histogram_chi2_by_hand() -> None:
    from hadml.analysis.weighted import WeightedHisto, chi2_two_histograms

    a = WeightedHisto(np.array([1.0, 2.0]), np.diag([0.04, 0.09]), np.array([50, 50]))
    b = WeightedHisto(np.array([1.2, 1.7]), np.diag([0.01, 0.0]), np.array([50, 50]))
    r = chi2_two_histograms(a, b)
    assert r.ndf == 2 and r.chi2 == pytest.approx(0.2**2 / 0.05 + 0.3**2 / 0.09)
    assert r.p == pytest.approx(math.exp(-r.chi2 / 2))  # chi2 with 2 dof
    few = WeightedHisto(b.y, b.cov, np.array([50, 3]))
    assert chi2_two_histograms(a, few).ndf == 1  # a bin under MIN_ENTRIES is left out


def test_compare_draws_variation_bands(weighted_files, tmp_path) -> None:
    from hadml.analysis.compare import compare_files

    _, d = weighted_files
    res = compare_files([d / "w.hepmc"], ["w"], ["PDG_HADRON_MULTIPLICITIES"],
                        outdir=tmp_path / "rep", plots=False)
    banded = [h for h in res.histos if "w" in h.band]
    assert banded and all(h.band_label["w"] == "weighted variations" for h in banded)
    assert all(len(h.member_chi2["w"]) == 2 for h in banded)
    lo, hi = banded[0].band["w"]
    assert np.all(lo <= hi)
    assert any("Kish ESS" in note for note in res.notes)


def test_cli_variations(tmp_path, capsys) -> None:
    from hadml.cli import main

    good = tmp_path / "v.yaml"
    good.write_text("- {name: smr, ClSmrLight: 0.9}\n")
    out = tmp_path / "ev.hepmc"
    assert main(["generate", "-n", "5", "--seed", "2", "--variations", str(good), "--out",
                 str(out), "--no-progress"]) == 0
    assert "smr" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: g, GluonMass: 1.0}\n")
    assert main(["generate", "-n", "5", "--variations", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "GluonMass" in err and "cannot be reweighted" in err and "Traceback" not in err


def test_block_weights_from_the_event_loop(tmp_path) -> None:
    """The C++ event loop's weights: per event in the block result, repeated on each
    cluster row, and in the HepMC3 text of the block (nominal 1 first); a writer's single
    events get the same text as the block."""
    import pyhepmc

    from hadml.config import load_config
    from hadml.generator import Generator
    from hadml.io.hepmc import HepMCWriter

    v = [Variation("pw", {"PwtSquark": 0.45}), Variation("cr", {"ReconnectionProbability":
                                                                 0.5})]
    gen = Generator(load_config(overrides={"seed": 3}), v)
    block = gen.run_block(0, 20, 0, keep_events=True, keep_clusters=True, keep_hepmc=True)
    assert block.weights.shape == (20, 2) and np.all(block.weights > 0)
    assert not np.allclose(block.weights, 1.0)
    ev = block.clusters.column("event").to_numpy()
    np.testing.assert_array_equal(block.clusters.column("weight_cr").to_numpy(),
                                  block.weights[ev, 1])
    path = tmp_path / "b.hepmc"
    with HepMCWriter(path, weight_names=weight_names(v)) as w:
        w.write_text(block.hepmc, 20)
    single = tmp_path / "s.hepmc"
    with HepMCWriter(single, weight_names=weight_names(v)) as w:
        for k, event in enumerate(block.events):
            w.write(event, block.weights[k])
    assert path.read_bytes() == single.read_bytes()
    with pyhepmc.open(path) as f:
        events = list(f)
    assert len(events) == 20
    assert events[0].run_info.weight_names == ["nominal", "pw", "cr"]
    np.testing.assert_allclose(np.array([e.weights for e in events]),
                               np.column_stack([np.ones(20), block.weights]), rtol=1e-12)
    # Without kept events the text goes out in groups of 64 events: the same bytes.
    streamed = gen.run_block(0, 70, 0, keep_events=False, keep_hepmc=True)
    kept = gen.run_block(0, 70, 0, keep_events=True, keep_hepmc=True)
    assert streamed.hepmc == kept.hepmc and streamed.hepmc.count(b"\nW ") == 70
    np.testing.assert_array_equal(streamed.weights, kept.weights)


def test_tuner_weight_problems() -> None:
    """When a tuning point may use an anchor run's weights instead of a run of its own."""
    from hadml.variations import VariationReport, tuner_weight_problems

    anchor = {"ClSmrLight": 0.78, "PwtSquark": 0.374, "ClMaxLight": 3.239}

    def report(ess: float, hard: list[str] | None = None) -> VariationReport:
        return VariationReport("p", ["decay direction"], hard or [], 1000, 1000.0, ess)

    assert tuner_weight_problems(report(990), {"ClSmrLight": 0.93}, anchor) == []
    assert tuner_weight_problems(report(500), {"ClSmrLight": 0.63, "PwtSquark": 0.334},
                                 anchor) == []
    (low,) = tuner_weight_problems(report(499), {"ClSmrLight": 0.93}, anchor)
    assert "Kish ESS 499 is below 50%" in low
    (far,) = tuner_weight_problems(report(900), {"ClMaxLight": 3.5}, anchor)
    assert "step 0.261" in far and "validated 0.15" in far
    (unvalidated,) = tuner_weight_problems(report(900), {"SngWt": 0.9}, anchor)
    assert unvalidated.startswith("SngWt: no validated step")
    hard = tuner_weight_problems(report(900, ["static threshold: hard boundary"]),
                                 {"ClMaxLight": 3.3}, anchor)
    assert hard == ["hard boundary: static threshold: hard boundary"]


def test_bin_matrix_by_search_equals_the_per_bin_count() -> None:
    """The one-search bin matrix of hadml.analysis.weighted: shared edges (equal within
    1e-9), a gap between bins, values on edges and outside, against a count by hand."""
    from hadml.analysis.weighted import _bin_matrix

    lo = np.array([0.0, 1.0, 2.5, 3.0])
    hi = np.array([1.0 - 1e-12, 2.0, 3.0, 4.0])  # [2, 2.5) is a gap
    values = np.array([-0.5, 0.0, 0.999, 1.0, 1.5, 2.0, 2.2, 2.5, 2.99, 3.0, 3.99, 4.0, 7.0])
    event = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2, 2, 0])
    C = _bin_matrix(values, event, 4, lo, hi)
    expected = np.zeros((4, 4))
    for v, e in zip(values, event, strict=True):
        for i in range(4):
            top = lo[i + 1] if i < 3 and abs(hi[i] - lo[i + 1]) < 1e-9 else hi[i]
            if lo[i] <= v < top:
                expected[e, i] += 1
    np.testing.assert_array_equal(C, expected)
    assert C.sum() == 8  # -0.5, 2.0, 2.2 (gap), 4.0 and 7.0 fall in no bin
