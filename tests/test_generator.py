"""Full-event generation: conservation, reproducibility, parallel runs, failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hadml
from hadml.event import CLUSTER_PID, STATUS_FINAL, baryon_number3
from hadml.generator import ConservationError, Generator, block_plan, derive_seed


def _charge3(pid: np.ndarray) -> int:
    import pythia8mc

    pdt = pythia8mc.Pythia("", False).particleData
    return sum(int(pdt.chargeType(int(i))) for i in pid)


def test_200_events_conserve_momentum_charge_baryon(small_run):
    assert len(small_run.events) == 200
    sqrt_s = small_run.config.ecm
    for ev in small_run.events:
        fin = ev.status == STATUS_FINAL
        total = ev.p[fin].sum(axis=0)
        np.testing.assert_allclose(total, [0, 0, 0, sqrt_s], atol=1e-9 * sqrt_s)
        assert baryon_number3(ev.pid[fin]).sum() == 0
    # Charge with an independent particle-data lookup, on a subset (Pythia calls are slow).
    for ev in small_run.events[:20]:
        assert _charge3(ev.pid[ev.final]) == 0


def test_history_is_consistent(small_run):
    for ev in small_run.events[:50]:
        par = ev.parents
        n = len(ev)
        # Parents come before children (HepMC writers need it).
        has = par[:, 0] >= 0
        assert np.all(par[has, 0] < np.arange(n)[has])
        assert np.all(par[has, 1] >= par[has, 0])
        # Every vertex (one parent range) conserves 4-momentum: parton -> cluster,
        # fission, light-cluster exchange {cluster, partner} -> {hadron, moved partner},
        # cluster decays and Pythia's hadron decays alike.
        ranges = {tuple(r) for r in par[has].tolist()}
        assert any(ev.pid[lo] == CLUSTER_PID for lo, _ in ranges)
        for lo, hi in ranges:
            kids = np.flatnonzero((par[:, 0] == lo) & (par[:, 1] == hi))
            scale = max(1.0, ev.p[lo:hi + 1, 3].sum())
            np.testing.assert_allclose(ev.p[kids].sum(axis=0), ev.p[lo:hi + 1].sum(axis=0),
                                       atol=1e-9 * scale * 10, err_msg=f"vertex {lo}-{hi}")
        # Final particles exist and none of them is a parton or cluster.
        fin = ev.final
        assert fin.sum() > 2
        assert not np.any(np.isin(np.abs(ev.pid[fin]), [1, 2, 3, 4, 5, 21, 81]))


def test_mean_charged_multiplicity_is_physical(small_run):
    # 200 events: DESIGN/issue accept 19-23 for 20k events; the statistical error on 200
    # events is ~0.45, so a loose 16-26 window only catches gross breakage here.
    # docs/validation.md holds the 20k-event measurement.
    assert 16.0 < small_run.summary.mean_charged < 26.0


def test_same_seed_same_events_other_seed_differs():
    a = hadml.generate(30, seed=11)
    b = hadml.generate(30, seed=11)
    c = hadml.generate(30, seed=12)
    for ea, eb in zip(a.events, b.events, strict=True):
        assert np.array_equal(ea.pid, eb.pid)
        assert np.array_equal(ea.p, eb.p)
    assert any(len(x) != len(y) or not np.array_equal(x.p, y.p)
               for x, y in zip(a.events, c.events, strict=True))


def test_event_depends_on_block_not_on_jobs(tmp_path):
    one = tmp_path / "one.hepmc"
    two = tmp_path / "two.hepmc"
    hadml.generate(40, seed=5, block_size=10, hepmc=one, keep_events=False)
    hadml.generate(40, seed=5, block_size=10, hepmc=two, keep_events=False, jobs=2)
    assert one.read_bytes() == two.read_bytes()


def test_block_plan_and_seeds():
    assert block_plan(25, 10) == [(0, 10, 0), (1, 10, 10), (2, 5, 20)]
    assert derive_seed(1, 0, "a") != derive_seed(1, 1, "a") != derive_seed(2, 0, "a")
    assert derive_seed(1, 0, "a") == derive_seed(1, 0, "a")


class _Stage:
    """The inputs of an event's conservation check: partons (one summed row), no photons,
    the beams."""

    def __init__(self, partons: np.ndarray, sqrt_s: float) -> None:
        self.p = partons.reshape(1, 4)
        self.other_p = np.zeros((0, 4))
        self.beams = np.array([[0.0, 0.0, 0.5 * sqrt_s, 0.5 * sqrt_s],
                               [0.0, 0.0, -0.5 * sqrt_s, 0.5 * sqrt_s]])


def test_conservation_violation_names_event_and_seed():
    gen = Generator(hadml.config.GeneratorConfig(seed=3))
    ev = gen.run_block(0, 1, 0).events[0]
    sqrt_s = gen.config.ecm
    exact = _Stage(ev.p[ev.final].sum(axis=0), sqrt_s)
    gen._check(ev, exact, 0, 0)  # the event as made passes
    # 1 keV lost by a hadron (1.1e-8 of sqrt(s)) is caught as a bug of hadml's stages.
    ev.p[np.flatnonzero(ev.final)[0], 3] += 1e-6
    with pytest.raises(ConservationError,
                       match=r"event 0 \(seed 3, block 0\).*cluster stage and hadron decays"):
        gen._check(ev, exact, 0, 0)
    # Pythia's stage may round by up to its own Check:epTolWarn (1e-6 of sqrt(s)), not more.
    ev.p[np.flatnonzero(ev.final)[0], 3] -= 1e-6
    rounded = _Stage(ev.p[ev.final].sum(axis=0), sqrt_s)
    rounded.beams[0, 2] += 0.9e-6 * sqrt_s
    gen._check(ev, rounded, 0, 0)
    rounded.beams[0, 2] += 0.2e-6 * sqrt_s
    with pytest.raises(ConservationError, match="Pythia's perturbative stage"):
        gen._check(ev, rounded, 0, 0)


def test_pythia_rounding_of_seed_21_event_6428_passes():
    # `hadml generate -n 10000 --seed 21` died here: Pythia's shower (a photon splitting
    # into e+e-) leaves 1.8e-7 GeV between its partons and the beams, 2e-9 of sqrt(s).
    # The shower settings of the tune it was found with (the partons depend on them only).
    gen = Generator(hadml.config.GeneratorConfig(seed=21, shower_pt_min=1.2,
                                                 shower_alpha_s=0.1365))
    block = gen.run_block(64, 100, 6400)
    assert len(block.n_charged) == 100
    seen = block.pythia_deviation[6428 - 6400]  # |dE|+|dp| of Pythia's stage (GeV)
    assert 1e-7 < seen < 1e-6  # far above double rounding of one boost ...
    assert seen / gen.config.ecm < 1e-8  # ... yet far below Pythia's warning (1e-6)
    assert np.median(block.pythia_deviation) < 1e-12 * gen.config.ecm  # the usual rounding


def test_cluster_table_from_run(small_run):
    t = small_run.cluster_table
    # One row per two-hadron cluster decay: as many as the event records show.
    n_decays = 0
    for ev in small_run.events:
        for c in np.flatnonzero(ev.pid == CLUSTER_PID):
            kids = np.flatnonzero((ev.parents[:, 0] == c) & (ev.parents[:, 1] == c))
            n_decays += len(kids) == 2 and not np.any(ev.pid[kids] == CLUSTER_PID)
    assert t.num_rows == n_decays
    assert t.num_rows > 200 * 5
    cols = t.to_pydict()
    p = np.array([cols[k] for k in ("px", "py", "pz", "e")]).T
    h = np.array([[a + b for a, b in zip(cols[f"h1_{k}"], cols[f"h2_{k}"], strict=True)]
                  for k in ("px", "py", "pz", "e")]).T
    np.testing.assert_allclose(h, p, atol=1e-9)
    c = np.array([[a + b for a, b in zip(cols[f"c1_{k}"], cols[f"c2_{k}"], strict=True)]
                  for k in ("px", "py", "pz", "e")]).T
    np.testing.assert_allclose(c, p, atol=1e-9)
    assert set(np.unique(cols["event"])) <= set(range(200))


def test_iter_events_streams_the_same_events():
    streamed = list(hadml.iter_events(12, seed=8, block_size=5))
    kept = hadml.generate(12, seed=8, block_size=5).events
    assert [e.number for e in streamed] == list(range(12))
    for a, b in zip(streamed, kept, strict=True):
        assert np.array_equal(a.p, b.p)
    fs = streamed[0].final_state()
    # Decayed hadrons are listed for identified multiplicities (pi0 decays in every event).
    assert 111 in fs["decayed_pid"] and len(fs["pid"]) == len(fs["p"])


# -- the seed rule -------------------------------------------------------------------------
def _same_events(a, b) -> bool:
    return all(np.array_equal(x.p, y.p) for x, y in zip(a.events, b.events, strict=True))


def test_every_seed_source_is_honoured_and_disagreement_is_an_error(tmp_path):
    from hadml.config import ConfigError, GeneratorConfig, load_config

    reference = hadml.generate(6, seed=5, block_size=3)
    f = tmp_path / "run.yaml"
    f.write_text("seed: 5\n")
    by_source = {
        "GeneratorConfig": hadml.generate(6, config=GeneratorConfig(seed=5), block_size=3),
        "config file": hadml.generate(6, config=load_config(f), block_size=3),
        "--set": hadml.generate(6, config=load_config(overrides={"seed": "5"}), block_size=3),
        "agreeing twice": hadml.generate(6, seed=5, config=load_config(f), block_size=3),
    }
    for source, result in by_source.items():
        assert result.config.seed == 5, source
        assert _same_events(result, reference), source
    assert not _same_events(hadml.generate(6, block_size=3), reference)  # default: 1
    assert hadml.generate(1).config.seed == 1
    with pytest.raises(ConfigError, match="gives seed 6 but the configuration"):
        hadml.generate(6, seed=6, config=GeneratorConfig(seed=5))
    with pytest.raises(ConfigError, match="disagrees with the seed 5"):
        load_config(f, {"seed": "6"})
    with pytest.raises(ConfigError, match="seed must be an integer"):
        hadml.generate(1, seed=-1)
    with pytest.raises(ConfigError, match="seed must be an integer"):
        hadml.generate(1, seed=True)


# -- outputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix, magic", [(".gz", b"\x1f\x8b"), (".bz2", b"BZh"),
                                           (".xz", b"\xfd7zXZ")])
def test_compressed_hepmc_is_written_compressed_and_reproducibly(tmp_path, suffix, magic):
    import pyhepmc

    plain, packed = tmp_path / "a.hepmc", tmp_path / f"b.hepmc{suffix}"
    for path in (plain, packed):
        hadml.generate(5, seed=2, hepmc=path, keep_events=False)
    first = packed.read_bytes()
    assert first[:len(magic)] == magic
    assert len(first) < 0.5 * plain.stat().st_size
    hadml.generate(5, seed=2, hepmc=packed, keep_events=False)
    assert packed.read_bytes() == first  # no time stamp or temporary name inside
    with pyhepmc.open(str(packed)) as f:
        numbers = [e.event_number for e in f]
    assert numbers == [0, 1, 2, 3, 4]


def test_a_successful_run_replaces_the_old_file_atomically(tmp_path):
    out = tmp_path / "ev.hepmc"
    out.write_text("old")
    link = tmp_path / "link.hepmc"
    link.symlink_to(out)
    hadml.generate(3, seed=1, hepmc=link, keep_events=False)
    assert link.is_symlink() and out.read_bytes().startswith(b"HepMC::Version")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev.hepmc", "link.hepmc"]


def test_cluster_table_is_streamed_in_row_groups(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from hadml.io import cluster_table

    kept = hadml.generate(40, seed=6, block_size=10, collect_clusters=True)
    # Row groups of >= 50 rows instead of 65536: the 40 events come out in several groups,
    # equal to the table collected in memory.
    original = cluster_table.ClusterTableWriter.__init__
    monkeypatch.setattr(cluster_table.ClusterTableWriter, "__init__",
                        lambda self, path, row_group_rows=0: original(self, path, 50))
    path = tmp_path / "cl.parquet"
    hadml.generate(40, seed=6, block_size=10, clusters=path, keep_events=False)
    meta = pq.read_metadata(str(path))
    assert meta.num_row_groups >= 3
    assert all(meta.row_group(k).num_rows >= 50 for k in range(meta.num_row_groups - 1))
    back = cluster_table.read(path)
    assert back.num_rows == kept.cluster_table.num_rows > 3 * 50  # several row groups
    assert back.select(["event", "cluster", "e"]).equals(
        kept.cluster_table.select(["event", "cluster", "e"]))
    assert cluster_table.info(back)["n_events"] == 40


# -- the sqrt(s) range -----------------------------------------------------------------------
def test_the_bottom_of_the_sqrt_s_range_runs_and_below_is_refused():
    from hadml.config import ECM_MIN, ConfigError

    result = hadml.generate(5, seed=1, ecm=ECM_MIN)
    for ev in result.events:
        np.testing.assert_allclose(ev.p[ev.final].sum(axis=0), [0, 0, 0, ECM_MIN], atol=1e-9)
    with pytest.raises(ConfigError, match="sqrt.s. must lie in"):
        hadml.generate(5, seed=1, ecm=10.0)


# -- the ML fallback is visible and bounded -------------------------------------------------
def _nan_model(tmp_path, cut: float):
    """A contract model whose outputs are NaN for clusters lighter than ``cut`` GeV."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from onnx_models import make_model

    return make_model(tmp_path / "nan.onnx", nan_below_offset=True,
                      offset=[cut] + [0.0] * 4, scale=[1.0] * 5)


def test_a_model_with_invalid_outputs_fails_the_run_naming_it(tmp_path):
    from hadml.generator import MLFallbackError, RunStopped

    pytest.importorskip("onnx")
    model = _nan_model(tmp_path, 1e6)  # every output NaN
    out = tmp_path / "ev.hepmc"
    out.write_text("old")
    with pytest.raises(RunStopped) as info:
        hadml.generate(20, seed=3, hadronization="ml", model=str(model), hepmc=out,
                       keep_events=False)
    cause = info.value.__cause__
    assert isinstance(cause, MLFallbackError)
    assert "nan.onnx" in str(cause) and "ml_max_fallback_fraction = 0.001" in str(cause)
    assert "(100%)" in str(cause)
    assert out.read_text() == "old"


def test_the_fallback_fraction_is_reported_and_configurable(tmp_path):
    pytest.importorskip("onnx")
    model = _nan_model(tmp_path, 2.0)  # NaN for clusters below 2 GeV: a part of them
    result = hadml.generate(20, seed=3, hadronization="ml", model=str(model),
                            ml_max_fallback_fraction=1.0)
    s = result.summary
    assert 0 < s.ml_fallbacks < s.ml_decays
    # Every two-hadron cluster decay was asked of the model once.
    n_decays = sum(int(np.sum(ev.pid == CLUSTER_PID)) for ev in result.events)
    assert s.ml_decays <= n_decays
    assert f"ML outputs replaced   : {s.ml_fallbacks} of {s.ml_decays} cluster decays" \
        in s.text()


def test_pythia_initialisation_failure_gives_pythia_s_reason():
    import dataclasses

    from hadml.config import GeneratorConfig
    from hadml.pythia_stage import make_pythia, perturbative_settings

    # 10 GeV is below the supported range (the config refuses it); Pythia itself says why.
    below = dataclasses.replace(GeneratorConfig(), ecm=10.0)
    with pytest.raises(RuntimeError, match="vanishing cross sections"):
        make_pythia(perturbative_settings(below))
    with pytest.raises(ValueError, match="Pythia rejected the setting 'TimeShower:noSuch = 1'"):
        make_pythia(["TimeShower:noSuch = 1"])
