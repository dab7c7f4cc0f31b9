"""The Herwig parity harness (scripts/herwig/parity.py): Herwig's and hadml's cluster
records brought to one representation (checked on hand-made records), and the harness on
records that hadml itself wrote as Herwig's adapter writes them: calibrated (no difference
found when the 'Herwig' side is hadml with the same parameters) and sensitive (a changed
ClMaxLight is found). The real comparison is in docs/parity.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _scripts import load_script

from hadml.io import herwig_dump

N_EVENTS = 600


def _harness():
    return load_script("scripts/herwig/parity.py")


def _as_herwig_record(res: dict) -> list:
    """hadml's clusters of one event written as Herwig's record shows them: a hadron made
    inside fission is a child of the fissioned cluster (ClusterFissioner::cut), and the
    reshuffling partner of a light cluster that stays a cluster gets a redefined copy as its
    only child (LightClusterDecayer::reshuffling), which carries the momentum after the
    exchange and the decay."""
    fate, parent = np.asarray(res["cluster_fate"]), np.asarray(res["cluster_parent"])
    exchange = np.asarray(res["cluster_exchange"])
    kids = np.asarray(res["cluster_children"]).reshape(-1, 2)
    hid = np.asarray(res["hadron_id"])

    def mass(p):
        p = np.asarray(p)
        return np.sqrt(np.maximum(p[:, 3] ** 2 - np.sum(p[:, :3] ** 2, axis=1), 0.0))

    m_initial, m_final = mass(res["cluster_p_initial"]), mass(res["cluster_p"])
    in_fission = (fate == 2) & (exchange < 0) & (parent >= 0)
    index = np.cumsum(~in_fission) - 1  # entry of each hadml cluster in the record
    clusters, copies = [], []
    for k in np.flatnonzero(~in_fission):
        if fate[k] == 1:
            children = [int(hid[kids[c, 0]]) if in_fission[c] else 81 for c in kids[k]]
        elif fate[k] == 2:
            children = [int(hid[kids[k, 0]])]
        else:
            children = [int(hid[kids[k, 0]]), int(hid[kids[k, 1]])]
        par = int(index[parent[k]]) if parent[k] >= 0 else -1
        if exchange[k] >= 0 and fate[k] != 2:  # a partner that stayed a cluster
            copies.append((len(clusters), float(m_final[k]), children))
            children = [81]
        clusters.append([float(m_initial[k]), par, children])
    for original, m, children in copies:
        clusters.append([m, original, children])
    return clusters


def _hadml_records(path: Path, seed: int, overrides: dict) -> list:
    """hadml's partons and cluster stage written as the Herwig adapter writes its record."""
    import hadml.generator as gen
    from hadml.config import load_config

    g = gen.Generator(load_config(None, {"tune": "herwig73", "seed": seed, **overrides}))
    g.partons.reseed(seed)
    g.hadronizer.seed(1000 + seed, 2000 + seed)
    events = [g.partons.next() for _ in range(N_EVENTS)]
    results = g.hadronizer.hadronize(
        [(pe.id, pe.col, pe.acol, pe.p, np.zeros((0, 2), np.int32)) for pe in events])
    lines = []
    for number, (pe, res) in enumerate(zip(events, results, strict=True)):
        if res["error"] is not None:
            continue
        mass = np.sqrt(np.maximum(pe.p[:, 3] ** 2 - np.sum(pe.p[:, :3] ** 2, axis=1), 0.0))
        partons = [[int(i), *map(float, q), float(m), int(c), int(a)]
                   for i, q, m, c, a in zip(pe.id, pe.p, mass, pe.col, pe.acol, strict=True)]
        lines.append(json.dumps({"event": number + 1, "partons": partons,
                                 "clusters": _as_herwig_record(res)}))
    path.write_text("\n".join(lines) + "\n")
    return list(herwig_dump.read_hadronization(path))


# A Herwig record by hand: [mass, parent, [children]] per cluster.
HERWIG_CLUSTERS = [
    [5.0, -1, [81]],          # 0: baryonic three-component cluster, redefined as 1
    [5.0, 0, [81, 2212]],     # 1: its two-component copy fissions: C -> C' + p
    [2.0, 1, [211, -211]],    # 2: the fission child decays
    [0.3, -1, [111]],         # 3: light cluster -> one hadron
    [1.5, -1, [81]],          # 4: its reshuffling partner, redefined as 5
    [1.45, 4, [321, -321]],   # 5: the partner's copy decays
    [3.0, -1, [81, 81]],      # 6: fission into two clusters
    [1.0, 6, [211, -211]],    # 7
    [0.9, 6, [211, -211]],    # 8
    [1.0, -1, [221, 111]],    # 9: two hadrons (a decay, or a fission C -> H H)
]


def test_herwig_record_in_the_common_representation(harness, tmp_path: Path) -> None:
    path = tmp_path / "hand.jsonl"
    path.write_text(json.dumps({"event": 1, "partons": [], "clusters": HERWIG_CLUSTERS}) + "\n")
    s = harness.herwig_sample(list(herwig_dump.read_hadronization(path)))
    # copies 1 and 5 are not new clusters: 0 2 3 4 6 7 8 9 remain, 0 3 4 6 9 primary
    assert (s.clusters, s.primary_clusters) == ([8], [5])
    # 0 (through its copy) and 6 fissioned; the proton was made inside fission; 3 is single
    assert (s.fissions, s.fission_hadrons, s.single_hadron) == ([2], [1], [1])
    assert s.mass_all == [5.0, 2.0, 0.3, 1.5, 3.0, 1.0, 0.9, 1.0]
    assert s.mass_primary == [5.0, 0.3, 1.5, 3.0, 1.0]
    assert dict(s.species) == {2212: 1, 211: 6, 111: 2, 321: 2, 221: 1}


def test_hadml_result_in_the_common_representation(harness) -> None:
    def p(m):  # a cluster at rest with mass m
        return [0.0, 0.0, 0.0, m]

    res = {  # 0 -> (hadron 1, cluster 2); 3 light with partner 4; 5 -> two hadrons 6, 7
        "cluster_fate": [1, 2, 3, 2, 3, 1, 2, 2],
        "cluster_parent": [-1, 0, 0, -1, -1, -1, 5, 5],
        "cluster_exchange": [-1, -1, -1, 4, 3, -1, -1, -1],
        "cluster_p_initial": [p(5.0), p(0.94), p(2.0), p(0.3), p(1.5), p(1.0), p(0.5), p(0.14)],
        "hadron_id": [2212, 211, -211, 111, 321, -321, 221, 111],
    }
    s = harness.hadml_sample([res])
    assert (s.clusters, s.primary_clusters) == ([5], [4])
    assert (s.fissions, s.fission_hadrons, s.single_hadron) == ([1], [1], [1])
    assert s.mass_all == pytest.approx([5.0, 2.0, 0.3, 1.5, 1.0])
    assert s.mass_primary == pytest.approx([5.0, 0.3, 1.5, 1.0])


def test_null_from_herwig_runs_drops_events_with_other_partons(harness, tmp_path: Path) -> None:
    def line(event, pz, mass):
        partons = [[1, 0, 0, pz, pz + 1, 0.325, 1, 0], [-1, 0, 0, -pz, pz + 1, 0.325, 0, 1]]
        return json.dumps({"event": event, "partons": partons,
                           "clusters": [[mass, -1, [211, -211]]]})

    runs = []
    for k, pz in enumerate((40.0, 40.0, 40.0)):
        path = tmp_path / f"run{k}.jsonl"
        # event 2 was regenerated in run 1 (second line counts) with other partons
        lines = [line(1, pz, 1.0 + k), line(2, pz, 2.0)] + (
            [line(2, pz + 1, 2.5)] if k == 1 else []) + [line(3, pz, 3.0)]
        path.write_text("\n".join(lines) + "\n")
        runs.append(list(herwig_dump.read_hadronization(path)))
    kept = harness.common_partons(runs)
    assert [[r.event for r in run] for run in kept] == [[1, 3]] * 3
    assert [float(kept[1][0].cluster_mass[0]), float(kept[2][1].cluster_mass[0])] == [2.0, 3.0]


@pytest.fixture(scope="module")
def harness():
    return _harness()


def test_same_parameters_are_not_told_apart(harness, tmp_path: Path) -> None:
    records = _hadml_records(tmp_path / "same.jsonl", seed=5, overrides={})
    assert len(records) > 0.95 * N_EVENTS
    summary = harness.compare(records, "herwig73", seed=11, nulls=3)
    assert set(summary["observables"]) == {
        "clusters", "primary_clusters", "fissions", "fission_hadrons", "single_hadron",
        "mass_all", "mass_primary", "species"}
    means = summary["means"]
    # identical partons: the primary clusters per event agree closely
    assert abs(means["herwig"]["primary_clusters"] - means["hadml"]["primary_clusters"]) < 0.1
    for name, obs in summary["observables"].items():
        assert obs["ndf"] >= 2, name
        # shared partons correlate the samples: the null scale is below 1 for the counts
        assert 0.1 < obs["null_scale"] < 2.0, (name, obs["null_scale"])
        assert obs["p_null"] > 0.01, (name, obs)


def test_a_changed_cluster_parameter_is_found(harness, tmp_path: Path) -> None:
    # Herwig 7.3's ClMaxLight is 3.53 GeV: smaller means more fission, more clusters
    records = _hadml_records(tmp_path / "shift.jsonl", seed=5, overrides={"ClMaxLight": 2.0})
    summary = harness.compare(records, "herwig73", seed=11, nulls=3)
    means = summary["means"]
    assert means["herwig"]["fissions"] > 1.3 * means["hadml"]["fissions"]
    assert summary["observables"]["fissions"]["p_null"] < 1e-3
    assert summary["observables"]["clusters"]["p_null"] < 1e-3


def test_paired_mean_test_by_hand(harness) -> None:
    # d = (1, 0, 1, 1): mean 0.75, sd 0.5, z = 0.75 / (0.5 / 2) = 3, two-sided p = 0.0027
    diff, z, p = harness.paired_mean_test([1, 2, 3, 4], [2, 2, 4, 5])
    assert diff == pytest.approx(0.75)
    assert z == pytest.approx(3.0)
    assert p == pytest.approx(0.0026998, rel=1e-4)
    assert harness.paired_mean_test([1, 2], [1, 2]) == (0.0, 0.0, 1.0)
