"""The calibrated closure's ingredients: the decay random stream, the two-sample chi2 and
its p-values (issue 12, item 1)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _scripts import load_script

import hadml
from hadml.config import ConfigError, load_config
from hadml.train.metrics import (
    chi2_ndf,
    chi2_sf,
    chi2_two_samples,
    empirical_p,
    null_scale,
    scaled_chi2_p,
)


def _columns(table, names=("px", "pz", "c1_id", "c2_id", "c1_pert", "h1_id", "h2_id")):
    return {n: table.column(n).to_numpy() for n in names}


# --- random streams ------------------------------------------------------------------

def test_decay_seed_changes_decays_only() -> None:
    base = hadml.generate(30, seed=5, collect_clusters=True, decay_hadrons=True)
    other = hadml.generate(30, seed=5, decay_seed=99, collect_clusters=True)
    ml = hadml.generate(30, seed=5, decay_seed=99, hadronization="ml", collect_clusters=True)
    ref = _columns(base.cluster_table)
    assert len(ref["px"]) > 200
    for run in (other, ml):
        # Same partons, clusters and species (the "cluster" stream)...
        for name, values in _columns(run.cluster_table).items():
            np.testing.assert_array_equal(values, ref[name], err_msg=name)
    # ... independent decays: hadron 1's momentum differs in (almost) every cluster.
    h1 = base.cluster_table.column("h1_px").to_numpy()
    for run in (other, ml):
        changed = ~np.isclose(run.cluster_table.column("h1_px").to_numpy(), h1)
        assert changed.mean() > 0.95
    # The decay stream feeds the classic decayer and the ML noise alike: with the same
    # decay seed the two decayers still disagree (different models of the same clusters).
    assert not np.allclose(ml.cluster_table.column("h1_px").to_numpy(),
                           other.cluster_table.column("h1_px").to_numpy())


def test_decay_seed_default_is_the_seed_and_reproducible() -> None:
    a = hadml.generate(20, seed=8)
    b = hadml.generate(20, seed=8, decay_seed=8)
    c = hadml.generate(20, seed=8, decay_seed=3)
    for x, y in zip(a.events, b.events, strict=True):
        assert np.array_equal(x.pid, y.pid) and np.array_equal(x.p, y.p)
    # Pythia's hadron decays follow the decay seed too: the final states differ.
    assert any(len(x) != len(z) or not np.array_equal(x.p, z.p)
               for x, z in zip(a.events, c.events, strict=True))


@pytest.mark.parametrize("value", [-1, 2**63])
def test_bad_decay_seed_is_refused(value) -> None:
    with pytest.raises(ConfigError, match="decay_seed must be an integer in"):
        load_config(overrides={"decay_seed": value}).validate()


def test_decay_seed_option_parsing() -> None:
    assert load_config(overrides={"decay_seed": "12"}).decay_seed == 12
    assert load_config(overrides={"decay_seed": "default"}).decay_seed is None
    assert load_config().effective_decay_seed() == 1


# --- the statistic ---------------------------------------------------------------------

def _sample(counts: list[int]) -> np.ndarray:
    return np.concatenate([np.full(n, i + 0.5) for i, n in enumerate(counts)])


def test_chi2_by_hand() -> None:
    edges = np.arange(5.0)
    # N1 = 60, N2 = 80; bins 1-3: sum_i (N2 n1_i - N1 n2_i)^2 / ((n1_i + n2_i) N1 N2)
    # = 400^2/(30*4800) + 400^2/(40*4800) + 0 = 10/9 + 5/6 = 35/18; bin 4 is empty.
    c2, ndf = chi2_two_samples(_sample([10, 20, 30, 0]), _sample([20, 20, 40, 0]), edges)
    assert c2 == pytest.approx(35 / 18, rel=1e-12)
    assert ndf == 2
    assert chi2_ndf(_sample([10, 20, 30, 0]), _sample([20, 20, 40, 0]), edges) == pytest.approx(
        35 / 36, rel=1e-12)
    # Entries outside the edges count in neither N.
    c2_out, _ = chi2_two_samples(np.append(_sample([10, 20, 30, 0]), [-3.0, 9.0]),
                                 _sample([20, 20, 40, 0]), edges)
    assert c2_out == pytest.approx(35 / 18, rel=1e-12)
    assert np.isnan(chi2_two_samples(np.array([]), _sample([1, 1, 1, 1]), edges)[0])


def test_chi2_is_calibrated_for_independent_samples_of_unequal_size() -> None:
    rng = np.random.default_rng(1)
    edges = np.linspace(-3, 3, 21)  # 20 bins plus tails outside: ndf 19
    stats = [chi2_two_samples(rng.normal(size=2000), rng.normal(size=5000), edges)
             for _ in range(400)]
    c2 = np.array([s[0] for s in stats])
    assert {s[1] for s in stats} == {19}
    # Mean of 400 chi2_19 values: 19 +- 0.31.
    assert abs(c2.mean() - 19.0) < 1.2
    p = np.array([chi2_sf(v, 19) for v in c2])
    assert 0.02 < np.mean(p < 0.05) < 0.09
    assert 0.4 < np.median(p) < 0.6


def test_chi2_sf_known_quantiles() -> None:
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-9)
    assert chi2_sf(30.14352720564616, 19) == pytest.approx(0.05, rel=1e-9)
    assert chi2_sf(0.0, 5) == 1.0


def test_empirical_and_scaled_null_p_values() -> None:
    null = np.arange(1.0, 11.0)
    assert empirical_p(10.5, null) == pytest.approx(1 / 11)
    assert empirical_p(5.0, null) == pytest.approx(7 / 11)
    assert empirical_p(0.0, null) == 1.0
    rng = np.random.default_rng(2)
    # Correlated samples: the null is c chi2_19 with c < 1; the fit finds c.
    scaled = 0.5 * rng.chisquare(19, size=200)
    assert null_scale(scaled, 19) == pytest.approx(0.5, abs=0.05)
    p_same = scaled_chi2_p(0.5 * rng.chisquare(19, size=3), scaled, 19)
    assert p_same > 1e-3
    # A statistic at twice the null's scale in 3 seeds is far in the tail (chi2_57 at 114).
    p_bad = scaled_chi2_p(np.full(3, 19.0), scaled, 19)
    assert p_bad < 1e-5
    with pytest.raises(ValueError):
        null_scale(np.array([1.0]), 19)


# --- the closure script's binning and classes ------------------------------------------

def _closure_module():
    return load_script("training/closure.py")


def test_closure_classes_and_equiprobable_bins() -> None:
    closure = _closure_module()
    np.testing.assert_array_equal(
        closure.flavour_class(np.array([1, 4, 2, 5203, 3]), np.array([-2, -1, -4, -1, -2103])),
        [0, 1, 1, 2, 0])
    x = np.random.default_rng(3).exponential(size=10000)
    edges = closure.equiprobable_edges(x, 20, discrete=False)
    counts, _ = np.histogram(x, edges)
    assert len(counts) == 20 and counts.min() >= 499 and counts.max() <= 501
    n = np.random.default_rng(4).poisson(20, size=5000).astype(float)
    edges = closure.equiprobable_edges(n, 20, discrete=True)
    assert np.all(np.isin(edges[1:-1] % 1.0, [0.5]))
    assert np.histogram(n, edges)[0].sum() == 5000


def test_closure_script_runs_end_to_end(tmp_path, monkeypatch) -> None:
    """The script itself, on a tiny sample: two seeds (the smallest null), one ML seed; it
    writes a row per observable and class with finite statistics."""
    import json

    closure = _closure_module()
    out = tmp_path / "closure.json"
    monkeypatch.setattr(sys, "argv", ["closure.py", "-n", "30", "--seeds", "2", "--ml-seeds",
                                      "1", "--seed", "5", "--json", str(out)])
    closure.main()
    rows = json.loads(out.read_text())["rows"]
    observables = {r["observable"] for r in rows}
    assert {"n_ch", "cos_theta", "phi", "x_e_primary"} <= observables
    cos_all = [r for r in rows if r["observable"] == "cos_theta" and r["class"] == "all"]
    assert len(cos_all) == 1 and len(cos_all[0]["null"]) == 2 and len(cos_all[0]["ml"]) == 1
    assert np.all(np.isfinite(cos_all[0]["null"] + cos_all[0]["ml"]))
    assert 0.0 < cos_all[0]["p_combined"] <= 1.0


def test_closure_merge_pools_seeds_and_recomputes_p() -> None:
    """--merge: null seeds run once, ML seeds run per model, pooled into one table."""
    closure = _closure_module()

    def result(seeds, ml_seeds, null, ml):
        row = {"observable": "cos_theta", "class": "bottom", "ndf": [19] * len(null),
               "null": null, "ml": ml, "n_ref": 8000}
        return {"events": 20000, "bins": 20, "seeds": seeds, "ml_seeds": ml_seeds,
                "model": "m.onnx" if ml_seeds else None, "rows": [closure.with_p_values(row)],
                "seconds": {"classic": 10.0, "ml": 2.0 * len(ml_seeds)}}

    nulls = [15.0, 18.0, 22.0, 19.0, 25.0, 17.0, 20.0]
    a = result([404, 405, 406, 407, 408, 409, 410], [], nulls, [])
    b = result([401, 402, 403], [401, 402, 403], [16.0, 21.0, 18.0], [19.0, 40.0, 21.0])
    m = closure.merge_results([a, b])
    (row,) = m["rows"]
    assert m["seeds"] == [404, 405, 406, 407, 408, 409, 410, 401, 402, 403]
    assert m["ml_seeds"] == [401, 402, 403] and m["model"] == "m.onnx"
    assert len(row["null"]) == 10 and row["ml"] == [19.0, 40.0, 21.0]
    # 40 is above all 10 null values: rank p = 1/11; 5 null values are >= 19, 3 >= 21.
    assert row["p_rank"] == pytest.approx([6 / 11, 1 / 11, 4 / 11])
    # The combined p under c chi2_19, c = mean(null)/19, from the pooled null.
    c = np.mean(nulls + [16.0, 21.0, 18.0]) / 19
    assert row["p_combined"] == pytest.approx(chi2_sf(80.0 / c, 57), rel=1e-9)
    assert m["seconds"] == {"classic": 20.0, "ml": 6.0}
    with pytest.raises(ValueError, match="share seeds"):
        closure.merge_results([a, a])
    with pytest.raises(ValueError, match="differ in 'events'"):
        closure.merge_results([a, {**b, "events": 2000}])
