"""DCTR reweighting (hadml.reweight): the classifier recovers a known density ratio, the
weighted LEP analyses reproduce the unweighted ones, weight files and Kish ESS."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")

from hadml.reweight import histograms as H  # noqa: E402
from hadml.reweight.config import load_reweight_config  # noqa: E402
from hadml.reweight.run import compute_weights, train  # noqa: E402
from hadml.reweight.weights import kish_ess, read_weights, write_weights  # noqa: E402

# Toy events: K particles of |p| = 1 GeV in random directions whose masses are Gaussian,
# N(mu, SIGMA). The density ratio of a whole event between mu and MU0 is known exactly:
# log r = sum_i [(m_i - MU0)^2 - (m_i - mu)^2] / (2 SIGMA^2).
K = 2
MU0, SIGMA = 1.0, 0.2


def toy_events(n: int, mu: float, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = np.abs(rng.normal(mu, SIGMA, K))
        d = rng.normal(size=(K, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        p = np.column_stack([d, np.sqrt(1.0 + m * m)])
        out.append({"pid": np.full(K, 211), "p": p, "number": i})
    return out


def true_log_ratio(events, mu: float) -> np.ndarray:
    m = np.array([np.sqrt(np.maximum(e["p"][:, 3] ** 2 - 1.0, 0.0)) for e in events])
    return (((m - MU0) ** 2 - (m - mu) ** 2) / (2 * SIGMA ** 2)).sum(1)


N_TRAIN = 6000  # events per class
MU1 = 1.05


@pytest.fixture(scope="module")
def toy_classifier(tmp_path_factory):
    """Nominal mu = 1.0 against mu = 1.05 (seconds)."""
    cfg = load_reweight_config(
        "smoke", [f"out_dir={tmp_path_factory.mktemp('runs')}", "max_epochs=15", "lr=0.005",
                  "batch_size=256", "hidden=16", "latent=8"],
        nominal="nom:mu=1.0", varied=[f"hi:mu={MU1}"])
    return train(cfg, toy_events(N_TRAIN, MU0, 1), [toy_events(N_TRAIN, MU1, 2)])


def test_weights_recover_the_known_density_ratio(toy_classifier):
    test = toy_events(4000, MU0, 10)
    w = compute_weights(toy_classifier.module, test, {"t": {"mu": MU1}})["t"]
    truth = np.exp(true_log_ratio(test, MU1))
    # The weights are the density ratio: correlated with the truth and of mean 1.
    assert np.corrcoef(np.log(w), np.log(truth))[0, 1] > 0.95
    assert abs(w.mean() - 1.0) < 0.05
    # The weighted nominal sample has the mean mass the exact weights give it, within the
    # statistical error of the learned weights: that of the training samples (the
    # classifier matches the weighted nominal to the varied training events), 3 sigma.
    m = np.array([np.sqrt(e["p"][:, 3] ** 2 - 1.0).mean() for e in test])
    exact = np.sum(truth * m) / truth.sum()
    learned = np.sum(w * m) / w.sum()
    n_fit = N_TRAIN * 0.75  # training split of each class (smoke: val_fraction 0.25)
    err = m.std() * np.sqrt(2.0 / n_fit)
    assert abs(learned - exact) < 3 * err, (learned, exact, err)
    # ... and the exact weights give the target within the test sample's error; the
    # nominal mean is far from it (the check is not passed by weights of 1).
    assert abs(exact - MU1) < 3 * m.std() / np.sqrt(kish_ess(truth))
    assert abs(m.mean() - MU1) > 10 * err


def test_training_summary_reports_the_held_out_checks(toy_classifier):
    r = toy_classifier
    assert r.best_checkpoint is not None and r.epochs_run == 15
    (check,) = r.checks
    assert check.params == {"mu": MU1}
    assert abs(check.mean_weight - 1.0) < 0.05 and 0.7 < check.kish_fraction < 1.0
    text = r.text()
    assert "hadml reweight apply" in text and "Kish ESS" in text
    assert r.best_val_accuracy is not None and r.best_val_accuracy > 0.55


def test_unit_weights_reproduce_the_lep_analyses(small_run, refdir):
    from hadml.analysis.analyses import ANALYSES
    from hadml.analysis.compare import analyse, load_refs
    from hadml.reweight.samples import from_events

    events = list(from_events(small_run.events))
    names = list(ANALYSES)
    refs = load_refs(names, refdir)
    booked, _, _ = analyse(events, refs)
    filled = H.fill(events, names)
    mine = H.book_all(filled, refs)
    assert len(mine) == sum(len(v) for v in booked.values()) > 100
    for name, hists in booked.items():
        for hname, (_, mc) in hists.items():
            got = mine[f"{name}/{hname}"][1]
            np.testing.assert_allclose(got.y, mc.y, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(got.yerr_plus, mc.yerr_plus, rtol=1e-12, atol=1e-15)
    # Weight 2 on an event is the event twice (values; the errors then differ).
    w = np.ones(len(events))
    w[:20] = 2.0
    doubled = H.book_all(H.fill(events + events[:20], names), refs)
    weighted = H.book_all(filled, refs, w)
    for key, (_, h) in doubled.items():
        np.testing.assert_allclose(weighted[key][1].y, h.y, rtol=1e-10, atol=1e-14)


def test_two_sample_chi2_and_calibration():
    from hadml.analysis.analyses import HistoDef
    from hadml.analysis.yoda import Scatter2D

    x = np.arange(3.0)
    half = np.full(3, 0.5)

    def scatter(y, e):
        return Scatter2D("", x, half, half, np.array(y, float), np.array(e, float),
                         np.array(e, float))

    a, b = scatter([1, 2, 0], [0.1, 0.2, 0.1]), scatter([1.1, 2.0, 0], [0.1, 0.2, 0.1])
    c2, ndf = H.two_sample_chi2(a, b, "density")
    assert ndf == 2  # the bin empty in both is not counted
    assert c2 == pytest.approx(0.1 ** 2 / 0.02)
    c2, ndf = H.two_sample_chi2(a, b, "mean")
    assert ndf == 1 and c2 == pytest.approx(0.5)
    hd = HistoDef("d01-x01-y01", "x", "k", "density")
    comp = H.compare({"A/h": (hd, a)}, {"A/h": (hd, b)})
    assert H.calibrate(comp) == pytest.approx(0.25)
    p1, p2 = comp.pvalues(1.0)["A/h"], comp.pvalues(0.25)["A/h"]
    assert p1 == pytest.approx(np.exp(-0.5 / 2)) and p2 == pytest.approx(np.exp(-2.0 / 2))
    with pytest.raises(ValueError, match="identical"):
        H.calibrate(H.compare({"A/h": (hd, a)}, {"A/h": (hd, a)}))


def test_kish_and_weight_files(tmp_path):
    assert kish_ess(np.ones(10)) == pytest.approx(10.0)
    assert kish_ess(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert kish_ess(np.array([2.0, 1.0])) == pytest.approx(9.0 / 5.0)
    numbers = np.arange(5, 10)
    w = {"pt14": np.linspace(0.5, 1.5, 5)}
    for suffix in (".parquet", ".npz"):
        path = write_weights(tmp_path / f"w{suffix}", numbers, w)
        cols = read_weights(path)
        np.testing.assert_array_equal(cols["event_number"], numbers)
        np.testing.assert_array_equal(cols["pt14"], w["pt14"])
    with pytest.raises(ValueError, match="suffix"):
        write_weights(tmp_path / "w.csv", numbers, w)
    with pytest.raises(ValueError, match="one value per event"):
        write_weights(tmp_path / "w2.npz", numbers, {"a": np.ones(3)})
    assert not (tmp_path / "w2.npz").exists()


def test_nominal_events_get_the_varied_parameters_with_balanced_classes():
    """The parametrized training data (DCTR section 2): nominal events are given the
    parameters of varied events, in proportion to the varied samples' sizes, and the two
    classes weigh the same."""
    import torch

    from hadml.reweight.model import EventSet, TrainingData

    nominal = EventSet.from_events(toy_events(400, MU0, 1))
    data = TrainingData(nominal, [(EventSet.from_events(toy_events(300, 0.9, 2)), [0.9]),
                                  (EventSet.from_events(toy_events(100, 1.1, 3)), [1.1])],
                        val_fraction=0.25, seed=0)
    assert data.weight[data.is_nominal].sum() == pytest.approx(data.weight[~data.is_nominal].sum())
    draws = torch.cat([data.collate(data.split["train"], "train")["theta"][:, 0]
                       for _ in range(20)])
    labels = data.label[data.split["train"]].repeat(20)
    nominal_theta = draws[labels == 0]
    assert set(np.round(nominal_theta.double().numpy(), 4).tolist()) == {0.9, 1.1}
    share = float((nominal_theta < 1.0).float().mean())
    assert share == pytest.approx(0.75, abs=0.02)  # 300 of 400 varied events are at 0.9
    # The validation draw is fixed: two collations agree.
    v = data.split["val"]
    assert torch.equal(data.collate(v, "val")["theta"], data.collate(v, "val")["theta"])
    # Varied events keep their own parameters.
    batch = data.collate(data.split["train"], "train")
    varied_theta = batch["theta"][batch["label"] == 1, 0]
    assert set(np.round(varied_theta.double().numpy(), 4).tolist()) == {0.9, 1.1}


def test_species_counts_count_final_and_decayed_hadrons_as_the_pdg_analysis():
    from hadml.reweight.features import EVENT_SPECIES, species_counts

    ev = {"pid": np.array([211, -211, 321, 2212, 22, 130]),
          "decayed_pid": np.array([310, 3122, 333, 111, -323])}
    (row,) = species_counts([ev])
    count = dict(zip(EVENT_SPECIES, row.tolist(), strict=True))
    # pi+-: 2; K+-: 1; K0: K0L + K0S = 2; p: 1; Lambda: 1; phi: 1; pi0: 1; K*+-: 1.
    assert (count["d01"], count["d03"], count["d04"], count["d38"]) == (2, 1, 2, 1)
    assert (count["d39"], count["d20"], count["d02"], count["d18"]) == (1, 1, 1, 1)
    assert row.sum() == 10  # the photon is in no species
    with pytest.raises(ValueError, match="decayed hadrons"):
        species_counts([{"pid": np.array([211])}])


# Species toy: the final state of both samples is the same (two pions as above); only a
# decayed K0S, invisible in the final particles, comes with probability Q0 (nominal) or Q1.
Q0, Q1 = 0.3, 0.45


def species_toy(n: int, q: float, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed + 1000)
    events = toy_events(n, MU0, seed)
    for ev in events:
        k0s = rng.random() < q
        ev["decayed_pid"] = np.array([310] if k0s else [], dtype=np.int32)
        ev["decayed_p"] = np.zeros((int(k0s), 4))
        ev["decayed_mother"] = np.zeros(int(k0s), dtype=np.int32)
    return events


@pytest.mark.parametrize("species", [True, False])
def test_species_inputs_learn_a_rate_the_final_particles_do_not_show(tmp_path, species):
    """With species inputs the weights move the nominal K0S rate Q0 to Q1 (the exact
    weights are Q1/Q0 and (1 - Q1)/(1 - Q0)); without them the classifier cannot see the
    difference and the weighted rate stays at Q0."""
    n = 2000
    cfg = load_reweight_config(
        "smoke", [f"out_dir={tmp_path}", "max_epochs=5", "lr=0.01", "batch_size=256",
                  "hidden=16", "latent=8", f"species_inputs={str(species).lower()}"],
        nominal="nom:q=0.3", varied=["hi:q=0.45"])
    r = train(cfg, species_toy(n, Q0, 1), [species_toy(n, Q1, 2)])
    test = species_toy(4000, Q0, 10)
    w = compute_weights(r.module, test, {"t": {"q": Q1}})["t"]
    has = np.array([len(e["decayed_pid"]) for e in test], dtype=float)
    rate = float(np.sum(w * has) / w.sum())
    # Statistical error of the learned rate: the training samples' (0.75 n per class).
    err = np.sqrt(Q1 * (1 - Q1) * 2.0 / (0.75 * n))
    if species:
        assert abs(rate - Q1) < 3 * err, (rate, err)
        assert np.median(w[has == 1]) == pytest.approx(Q1 / Q0, rel=0.1)
        assert np.median(w[has == 0]) == pytest.approx((1 - Q1) / (1 - Q0), rel=0.1)
    else:
        assert abs(rate - has.mean()) < 0.02


def test_shape_features_give_the_charged_thrust_and_sphericity_axes():
    """Thrust-axis inputs (shape_inputs): a 3-jet-like event whose charged particles lie
    in the x-y plane; the numbers follow by hand, and thrust, sphericity and aplanarity
    agree with the analyses' exact event shapes on sampled events."""
    from hadml.analysis.observables import event_shapes
    from hadml.reweight.features import shape_features

    # Charged: +-(3, 0, 0) (pi+ pi-) and (0, 1, 0) (K+); neutral photon along z.
    p3 = np.array([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    mass = np.array([0.1396, 0.1396, 0.4937, 0.0])
    p = np.column_stack([p3, np.sqrt((p3 ** 2).sum(1) + mass ** 2)])
    ev = {"pid": np.array([211, -211, 321, 22]), "p": p}
    per_particle, (per_event,) = shape_features([ev])
    # Thrust axis n = (6, 1, 0) / sqrt(37) (the sum of all three with signs +, -, +):
    # T = sqrt(37) / 7; momentum tensor diag(18, 1, 0) / 19.
    np.testing.assert_allclose(per_event, [3, np.sqrt(37) / 7, 1.5 / 19, 0.0], atol=1e-6)
    pl = np.array([18, -18, 1, 0]) / np.sqrt(37)
    y = 0.5 * np.log((p[:, 3] + pl) / (p[:, 3] - pl))
    np.testing.assert_allclose(per_particle[:, 0], np.abs(y), atol=1e-5)
    # pT_in along the major axis (y), pT_out along the minor axis (z).
    np.testing.assert_allclose(per_particle[:, 1], [0, 0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(per_particle[:, 2], [0, 0, 0, 2], atol=1e-6)
    # Random multi-particle events: the iterated thrust never exceeds the exact one and
    # equals it in almost every event; sphericity and aplanarity are exact.
    rng = np.random.default_rng(5)
    events = []
    for _ in range(200):
        n = int(rng.integers(4, 30))
        q = rng.normal(size=(n, 3)) * rng.uniform(0.2, 3.0, size=(n, 1))
        q[: n // 2, 2] += 4.0
        q[n // 2:, 2] -= 4.0
        events.append({"pid": np.full(n, 211), "p": np.column_stack(
            [q, np.sqrt((q ** 2).sum(1) + 0.0195)])})
    _, shapes = shape_features(events)
    exact = [event_shapes(e["p"], use_fastjet=False) for e in events]
    t_exact = np.array([s.thrust for s in exact])
    assert np.all(shapes[:, 1] <= t_exact + 1e-6)
    assert np.mean(np.abs(shapes[:, 1] - t_exact) < 1e-5) >= 0.95
    np.testing.assert_allclose(shapes[:, 2], [s.sphericity for s in exact], atol=1e-5)
    np.testing.assert_allclose(shapes[:, 3], [s.aplanarity for s in exact], atol=1e-5)


def test_shape_inputs_train_and_old_checkpoints_build_without_them(tmp_path):
    """shape_inputs adds 3 particle and 4 event inputs; a checkpoint keeps them, and a
    config from before the option (no shape_inputs key) builds the 7-input network."""
    from hadml.reweight.features import N_PARTICLE_FEATURES
    from hadml.reweight.model import DCTRClassifier, EventSet, load_classifier

    cfg = load_reweight_config("smoke", [f"out_dir={tmp_path}", "max_epochs=1",
                                         "shape_inputs=true"],
                               nominal="a.hepmc:mu=1.0", varied=["b.hepmc:mu=1.05"])
    r = train(cfg, toy_events(300, MU0, 1), [toy_events(300, MU1, 2)])
    assert r.module.shape_inputs and not r.module.species_inputs
    assert r.module.feature_mean.shape == (N_PARTICLE_FEATURES + 3,)
    assert r.module.event_mean.shape == (4,)
    # The standardisation keeps the thrust's width (a few hundredths), not the counts' 0.5.
    assert float(r.module.event_std[1]) < 0.2
    test = toy_events(50, MU0, 3)
    again = load_classifier(r.best_checkpoint)
    assert again.shape_inputs
    np.testing.assert_allclose(compute_weights(again, test, {"t": {"mu": 1.05}})["t"],
                               compute_weights(r.module, test, {"t": {"mu": 1.05}})["t"],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="shape inputs"):
        r.module.log_weights(EventSet.from_events(test), {"mu": 1.05})
    old = {k: v for k, v in cfg.to_dict().items() if k != "shape_inputs"}
    legacy = DCTRClassifier(old, ["mu"], {"mu": 1.0}, [0.0] * N_PARTICLE_FEATURES,
                            [1.0] * N_PARTICLE_FEATURES, [1.0], [1.0])
    assert not legacy.shape_inputs and legacy.event_mean.shape == (0,)
    assert np.all(np.isfinite(legacy.log_weights(EventSet.from_events(test), {"mu": 1.05})))


def test_an_ensemble_averages_the_members_log_weights(tmp_path):
    """compute_weights with several classifiers gives exp(mean logit): the geometric
    mean of the members' weights, event by event."""
    members = []
    for seed in (1, 2):
        cfg = load_reweight_config("smoke", [f"out_dir={tmp_path}", "max_epochs=1",
                                             f"seed={seed}", f"name=m{seed}"],
                                   nominal="a.hepmc:mu=1.0", varied=["b.hepmc:mu=1.05"])
        members.append(train(cfg, toy_events(300, MU0, 1), [toy_events(300, MU1, 2)]).module)
    test = toy_events(40, MU0, 3)
    target = {"t": {"mu": 1.05}}
    one, two = (compute_weights(m, test, target)["t"] for m in members)
    assert np.max(np.abs(np.log(one / two))) > 1e-3  # the members differ
    both = compute_weights(members, test, target)["t"]
    np.testing.assert_allclose(both, np.sqrt(one * two), rtol=1e-6)
    with pytest.raises(ValueError, match="no classifier"):
        compute_weights([], test, target)


def test_fit_logit_scale_undoes_an_over_confident_logit():
    """Labels drawn with probability sigmoid(t): a logit 2 t is over-confident, and the
    fitted factor is 1/2 (to the statistical precision of 200k events)."""
    from hadml.reweight.model import fit_logit_scale

    rng = np.random.default_rng(3)
    t = rng.normal(0.0, 0.8, 200_000)
    y = (rng.uniform(size=t.size) < 1.0 / (1.0 + np.exp(-t))).astype(float)
    assert fit_logit_scale(2.0 * t, y, np.ones_like(t)) == pytest.approx(0.5, abs=0.01)
    assert fit_logit_scale(t, y, np.ones_like(t)) == pytest.approx(1.0, abs=0.02)


def test_calibrate_keeps_the_scale_in_the_checkpoint_and_old_ones_load(tmp_path):
    import torch

    from hadml.reweight.model import load_classifier

    cfg = load_reweight_config("smoke", [f"out_dir={tmp_path}", "max_epochs=2",
                                         "calibrate=true"],
                               nominal="a.hepmc:mu=1.0", varied=["b.hepmc:mu=1.05"])
    r = train(cfg, toy_events(400, MU0, 1), [toy_events(400, MU1, 2)])
    scale = float(r.module.logit_scale)
    assert scale != 1.0 and 0.05 < scale < 3.0 and r.logit_scale == scale
    test = toy_events(30, MU0, 3)
    target = {"t": {"mu": 1.05}}
    loaded = load_classifier(r.best_checkpoint)
    assert float(loaded.logit_scale) == pytest.approx(scale)
    w = compute_weights(loaded, test, target)["t"]
    # A checkpoint from before the calibration (no logit_scale) loads with factor 1.
    state = torch.load(r.best_checkpoint, map_location="cpu", weights_only=False)
    del state["state_dict"]["logit_scale"]
    old = tmp_path / "old.ckpt"
    torch.save(state, old)
    w_old = compute_weights(str(old), test, target)["t"]
    np.testing.assert_allclose(np.log(w), scale * np.log(w_old), rtol=1e-5, atol=1e-9)
