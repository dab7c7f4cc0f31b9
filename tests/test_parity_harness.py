"""The Herwig parity harness (scripts/herwig/parity.py) on records that hadml itself wrote
in the adapter's HadronizationDump format: calibrated (no difference found when the
'Herwig' side is hadml with the same parameters) and sensitive (a changed ClMaxLight is
found). The real comparison needs Herwig records (docs/herwig.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hadml.io import herwig_dump

REPO = Path(__file__).resolve().parents[1]
N_EVENTS = 600


def _harness():
    spec = importlib.util.spec_from_file_location("parity", REPO / "scripts/herwig/parity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


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
    for pe, res in zip(events, results, strict=True):
        if res["error"] is not None:
            continue
        mass = np.sqrt(np.maximum(pe.p[:, 3] ** 2 - np.sum(pe.p[:, :3] ** 2, axis=1), 0.0))
        partons = [[int(i), *map(float, q), float(m), int(c), int(a)]
                   for i, q, m, c, a in zip(pe.id, pe.p, mass, pe.col, pe.acol, strict=True)]
        cp = np.asarray(res["cluster_p_initial"])
        cm = np.sqrt(np.maximum(cp[:, 3] ** 2 - np.sum(cp[:, :3] ** 2, axis=1), 0.0))
        kids = np.asarray(res["cluster_children"]).reshape(-1, 2)
        hid = np.asarray(res["hadron_id"])
        clusters = []
        for k, fate in enumerate(res["cluster_fate"]):
            children = ([81, 81] if fate == 1 else [int(hid[kids[k, 0]])] if fate == 2
                        else [int(hid[kids[k, 0]]), int(hid[kids[k, 1]])])
            clusters.append([float(cm[k]), int(res["cluster_parent"][k]), children])
        lines.append(json.dumps({"partons": partons, "clusters": clusters}))
    path.write_text("\n".join(lines) + "\n")
    return list(herwig_dump.read_hadronization(path))


@pytest.fixture(scope="module")
def harness():
    return _harness()


def test_same_parameters_are_not_told_apart(harness, tmp_path: Path) -> None:
    records = _hadml_records(tmp_path / "same.jsonl", seed=5, overrides={})
    assert len(records) > 0.95 * N_EVENTS
    summary = harness.compare(records, "herwig73", seed=11, nulls=3)
    assert set(summary["observables"]) == {
        "clusters", "primary_clusters", "fissions", "single_hadron", "mass_all",
        "mass_primary", "species"}
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
