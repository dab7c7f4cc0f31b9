"""One definition of each condition feature: training computes what the ONNX shim feeds the
model (issue 12, item 3)."""

from __future__ import annotations

import numpy as np
import pytest

from hadml import _core
from hadml.config import load_config
from hadml.data.features import condition_features
from hadml.generator import Generator
from hadml.io import cluster_table
from hadml.ml import contract
from hadml.models import default_model_path

pytestmark = pytest.mark.skipif(not getattr(_core, "HAS_ONNX", False),
                                reason="built without ONNX Runtime")


def _shim_requests(events: list[dict]) -> dict[str, np.ndarray]:
    """The decay requests as ClusterHadronizer::prepare builds them from the cluster stage's
    own output: constituents, the cluster momentum at its decay, and the masses the stage
    chose for the two hadrons (drawn from their widths), not the table's columns."""
    parts: dict[str, list] = {k: [] for k in ("p", "c1_id", "c2_id", "c1_p", "c2_p", "c1_pert",
                                              "c2_pert", "id1", "id2", "m1", "m2")}
    for ev in events:
        decayed = np.flatnonzero(ev["cluster_fate"] == 3)
        children = ev["cluster_children"][decayed]
        parts["p"].append(ev["cluster_p"][decayed])
        for c in ("c1", "c2"):
            parts[f"{c}_id"].append(ev[f"cluster_{c}_id"][decayed])
            parts[f"{c}_p"].append(ev[f"cluster_{c}_p"][decayed])
            parts[f"{c}_pert"].append(ev[f"cluster_{c}_pert"][decayed])
        for k, h in (("1", children[:, 0]), ("2", children[:, 1])):
            ids = ev["hadron_id"][h]
            parts[f"id{k}"].append(ids)
            # Off-shell masses (OnShell = 0): the masses the stage drew, which the shim gets.
            parts[f"m{k}"].append(ev["hadron_mass"][h])
    return {k: np.concatenate(v) for k, v in parts.items()}


def test_training_features_equal_the_shims_on_real_clusters() -> None:
    gen = Generator(load_config(overrides={"seed": 11}))
    # The cluster stage's own output for 150 events, as Generator.run_block hands it on.
    gen.partons.reseed(11)
    gen.hadronizer.seed(11, 12)
    results = gen.hadronizer.hadronize([gen.partons.next().as_tuple() for _ in range(150)])
    events = [r for r in results if r["error"] is None]
    table = cluster_table.from_events(events, range(len(events)))
    requests = _shim_requests(events)
    assert table.num_rows == len(requests["p"]) > 1000
    np.testing.assert_array_equal(table.column("h2_id").to_numpy(), requests["id2"])
    shim = _core.OnnxClusterDecayer(str(default_model_path()))
    names = shim.features
    assert len(names) == 8  # the shipped model uses every known feature
    from_shim = shim.features_of(requests)  # float32, what the model receives
    from_training = condition_features(table, names)
    assert from_training.shape == from_shim.shape
    # Equal to float32 precision: the float32 rounding of the training value is the shim's
    # value or its neighbour (the hadron masses of the table carry float64 rounding).
    np.testing.assert_array_max_ulp(from_training.astype(np.float32), from_shim, maxulp=1)
    # The sample covers what the features distinguish: heavy flavours, both flag values.
    f1 = from_training[:, names.index("c1_flavour")]
    assert {1.0, 2.0, 3.0, 4.0, 5.0} <= set(f1.tolist())
    assert set(from_training[:, names.index("c1_perturbative")].tolist()) == {0.0, 1.0}


def _request(p, c1_id, c2_id, m1, m2, c1_pert=True, c2_pert=False) -> dict[str, np.ndarray]:
    p = np.array([p], dtype=np.float64)
    return {"p": p, "c1_id": np.array([c1_id], np.int32), "c2_id": np.array([c2_id], np.int32),
            "c1_p": p / 2, "c2_p": p / 2, "c1_pert": np.array([c1_pert]),
            "c2_pert": np.array([c2_pert]), "id1": np.array([211], np.int32),
            "id2": np.array([-211], np.int32), "m1": np.array([m1]), "m2": np.array([m2])}


@pytest.mark.parametrize(("p", "c1_id", "c2_id", "m1", "m2", "expected"), [
    # Cluster of mass 2 at rest, equal masses: p* = sqrt(M^2/4 - m^2) = sqrt(0.75).
    ((0, 0, 0, 2.0), 2, -1, 0.5, 0.5,
     [2.0, 0.5, 0.5, 1.0, 0.0, 2.0, 1.0, 0.8660254037844386, 0.0, 0.0]),
    # Moving (M = 2): p* = sqrt((4 - 2.25)(4 - 0.25)) / 4; the diquark 5203 counts as b
    # and sets c2_diquark.
    ((0, 0, 1.5, 2.5), 4, -5203, 0.5, 1.0,
     [2.0, 0.5, 1.0, 1.0, 0.0, 4.0, 5.0, 0.6404344228724749, 0.0, 1.0]),
    # Below threshold (M < m1 + m2): p* = 0 rather than nan.
    ((0, 0, 0, 1.0), 3, -3, 0.6, 0.6, [1.0, 0.6, 0.6, 1.0, 0.0, 3.0, 3.0, 0.0, 0.0, 0.0]),
])
def test_feature_definitions(p, c1_id, c2_id, m1, m2, expected) -> None:
    names = ["cluster_mass", "hadron1_mass", "hadron2_mass", "c1_perturbative",
             "c2_perturbative", "c1_flavour", "c2_flavour", "pstar", "c1_diquark", "c2_diquark"]
    assert set(names) == set(contract.KNOWN_FEATURES)
    got = _core.condition_features(_request(p, c1_id, c2_id, m1, m2), names)
    np.testing.assert_allclose(got[0], expected, rtol=1e-12, atol=1e-15)


def test_unknown_feature_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown condition feature 'mass2'"):
        _core.condition_features(_request((0, 0, 0, 2.0), 1, -1, 0.1, 0.1), ["mass2"])
