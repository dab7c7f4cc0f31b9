"""Readers of HADML's Herwig 7 text dumps on the real files in shared/herwig-dumps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hadml.data.features import target_angles
from hadml.io import cluster_table, herwig_dump


@pytest.fixture(scope="module")
def dumps(shared: Path) -> Path:
    return shared / "herwig-dumps"


def _conservation(ev_list) -> float:
    """Largest |cluster - h1 - h2| per component, relative to the cluster energy."""
    worst = 0.0
    for ev in ev_list:
        for cl in ev.clusters:
            d = cl.cluster.p - cl.hadrons[0].p - cl.hadrons[1].p
            worst = max(worst, float(np.max(np.abs(d))) / cl.cluster.p[3])
    return worst


# The files print 6 significant digits: each of cluster, h1, h2 is off by at most half a unit
# in the 6th digit, <= 5e-6 of the cluster energy; three such roundings add up to 1.5e-5.
PRECISION = 1.5e-5


def test_format_a_counts_conservation_and_placeholders(dumps: Path):
    path = dumps / "ClusterTo2Pi0_new.dat"
    text = path.read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    n_clusters = len(re.findall(r"(?:^|;)81,", text, flags=re.M))
    n_placeholder = len(re.findall(r"(?:^|\|)88,[^;]*;88,", text, flags=re.M))
    events = list(herwig_dump.read(path))
    assert herwig_dump.detect_format(path) == "a"
    assert len(events) == len(lines) == 1000
    clusters = [c for e in events for c in e.clusters]
    assert len(clusters) == n_clusters > 0
    unknown = [c for c in clusters if c.constituents is None]
    assert len(unknown) == n_placeholder > 0
    assert all(h.pid in (111, 211, -211) for c in clusters for h in c.hadrons)
    assert _conservation(events) < PRECISION

    table = herwig_dump.to_cluster_table(events)  # placeholders dropped
    assert table.num_rows == n_clusters - n_placeholder
    assert table.schema.equals(cluster_table.SCHEMA, check_metadata=False)
    ids = table.column("c1_id").to_numpy()
    assert np.all((ids >= 1) & (ids <= 6) | (ids < -1000)), "constituent 1 is the triplet"

    full = herwig_dump.to_cluster_table(events, unknown_constituents="cluster_direction")
    assert full.num_rows == n_clusters
    rows = full.filter(np.asarray(full.column("c1_id").to_numpy() == 0))
    assert rows.num_rows == n_placeholder
    # Pseudo-constituent along the cluster flight direction: the frame is the helicity
    # frame, and the angles are finite and bounded.
    p = np.stack([rows.column(k).to_numpy() for k in ("px", "py", "pz")], 1)
    c = np.stack([rows.column(f"c1_{k}").to_numpy() for k in ("px", "py", "pz")], 1)
    cross = np.cross(p, c)
    assert np.max(np.abs(cross)) < 1e-9 * np.max(np.abs(p))
    ang = target_angles(rows)
    assert np.all(np.isfinite(ang)) and np.all(np.abs(ang[:, 0]) <= 1)


def test_format_b_trees(dumps: Path):
    path = dumps / "AllClusters_paper4.dat"
    text = path.read_text()
    assert herwig_dump.detect_format(path) == "b"
    events = list(herwig_dump.read(path))
    assert len(events) == len([ln for ln in text.splitlines() if ln.strip()]) == 10
    # Independent count: cluster entries (pid 81) whose two children are not clusters.
    pids = {}
    children = {}
    for ev_no, line in enumerate(ln for ln in text.splitlines() if ln.strip()):
        for m in re.finditer(r"\((\d+)\),(-?\d+),\[([\d ]*)\]", line):
            pids[ev_no, int(m[1])] = int(m[2])
            children[ev_no, int(m[1])] = [int(x) for x in m[3].split()]
    decays = [k for k, pid in pids.items() if pid == 81 and len(children[k]) == 2
              and all(pids[k[0], c] != 81 for c in children[k])]
    assert sum(len(e.clusters) for e in events) == len(decays) > 0
    assert _conservation(events) < PRECISION
    with_consts = [c for e in events for c in e.clusters if c.constituents is not None]
    assert 0 < len(with_consts) < len(decays)  # fission products have no constituents
    for c in with_consts:
        # Constituents sum to the cluster (Herwig builds clusters that way).
        s = c.constituents[0].p + c.constituents[1].p
        assert np.max(np.abs(s - c.cluster.p)) < PRECISION * c.cluster.p[3]
    table = herwig_dump.to_cluster_table(events)
    assert table.num_rows == len(with_consts)
    # Hadron 1 carries constituent 1's flavour (flavour conservation in the decay).
    for r in table.to_pylist():
        q1 = herwig_dump.quark_content(r["c1_id"])
        assert any(q in herwig_dump.quark_content(r["h1_id"]) for q in q1), r


def test_corrupt_line_reports_line_number(tmp_path: Path, dumps: Path):
    lines = (dumps / "ClusterTo2Pi0_new.dat").read_text().splitlines()[:3]
    lines[1] = lines[1].replace("81,", "81,abc,", 1)
    bad = tmp_path / "bad.dat"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(herwig_dump.HerwigDumpError, match=r"bad\.dat:2:"):
        list(herwig_dump.read(bad))
    tree = (dumps / "AllClusters_paper4.dat").read_text().splitlines()
    tree = [ln for ln in tree if ln.strip()][:2]
    tree[1] = tree[1].replace("[", "{", 1)
    bad_b = tmp_path / "bad_b.dat"
    bad_b.write_text("\n".join(tree) + "\n")
    with pytest.raises(herwig_dump.HerwigDumpError, match=r"bad_b\.dat:2: .*\(index\)"):
        list(herwig_dump.read(bad_b))
    with pytest.raises(herwig_dump.HerwigDumpError, match="does not exist"):
        list(herwig_dump.read(tmp_path / "missing.dat"))


def test_datamodule_from_dump_splits_by_event(dumps: Path):
    import hashlib

    from hadml.data import ClusterDataModule, DataConfig, condition_features

    path = dumps / "ClusterTo2Pi0_new.dat"
    cfg = DataConfig(source="herwig", path=str(path), val_fraction=0.2, test_fraction=0.1,
                     features=["cluster_mass", "hadron1_mass", "hadron2_mass", "pstar"])
    dm = ClusterDataModule(cfg)
    dm.setup("fit")
    assert dm.data_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    ev = {k: set(s.event.tolist()) for k, s in dm.splits.items()}
    assert not (ev["train"] & ev["val"]) and not (ev["train"] & ev["test"])
    assert not (ev["val"] & ev["test"])
    n_events = len(ev["train"] | ev["val"] | ev["test"])
    assert len(ev["val"]) == round(0.2 * n_events) and len(ev["test"]) == round(0.1 * n_events)
    assert sum(len(s) for s in dm.splits.values()) == 1932
    # Scaling from the training split only: its scaled features have mean 0, std 1.
    train = dm.splits["train"].condition.double().numpy()
    assert np.abs(train.mean(0)).max() < 1e-5 and np.abs(train.std(0) - 1).max() < 1e-5
    table = herwig_dump.to_cluster_table(herwig_dump.read(path))
    raw = condition_features(table, cfg.features)
    assert not np.allclose(dm.scaling.offset, raw.mean(0), rtol=1e-9)  # not the full sample


# Two clusters as cpp_plugin/herwig/MLClusterRedecayer writes them: constituents with a
# sixth field, the perturbative flag. The second cluster lists its antitriplet first, so the
# reader swaps the constituents and each flag must move with its constituent.
ADAPTER_LINE = (
    "2,3.1,0.1,0.2,1.4,1;-1,2.9,-0.1,-0.2,-1.3,0;81,6.0,0,0,0.1;"
    "211,3.2,0.5,0.1,0.2;111,2.8,-0.5,-0.1,-0.1;|"
    "-2,2.0,0.3,0,1.0,1;3,2.5,-0.3,0,-1.0,0;81,4.5,0,0,0;"
    "-321,2.4,0.2,0.1,0.3;111,2.1,-0.2,-0.1,-0.3;\n"
)


def test_adapter_dump_keeps_perturbative_flags(tmp_path: Path):
    path = tmp_path / "herwig_adapter.dat"
    path.write_text(ADAPTER_LINE * 2)
    assert herwig_dump.detect_format(path) == "a"
    events = list(herwig_dump.read(path))
    assert [len(e.clusters) for e in events] == [2, 2]
    q = events[0].clusters[1].constituents
    assert (q[0].pid, q[0].perturbative, q[1].pid, q[1].perturbative) == (-2, True, 3, False)
    table = herwig_dump.to_cluster_table(events)
    assert table.column("c1_id").to_pylist() == [2, 3, 2, 3]
    assert table.column("c1_pert").to_pylist() == [True, False, True, False]
    assert table.column("c2_pert").to_pylist() == [False, True, False, True]
    assert table.column("h1_id").to_pylist() == [211, -321, 211, -321]
    # The old five-field files still read, with flags unknown (written False).
    old = tmp_path / "old.dat"
    old.write_text(re.sub(r",([01]);", ";", ADAPTER_LINE.split("81,")[0]) + "81,"
                   + ADAPTER_LINE.split("81,", 1)[1])
    q_old = next(herwig_dump.read(old)).clusters[0].constituents
    assert q_old[0].perturbative is None and q_old[1].perturbative is None
    assert herwig_dump.to_cluster_table(herwig_dump.read(old)).column("c1_pert")[0].as_py() \
        is False


def test_adapter_dump_bad_flag(tmp_path: Path):
    bad = tmp_path / "bad_flag.dat"
    bad.write_text(ADAPTER_LINE.replace(",1.4,1;", ",1.4,2;"))
    with pytest.raises(herwig_dump.HerwigDumpError,
                       match=r"bad_flag\.dat:1: .*perturbative flag must be 0 or 1"):
        list(herwig_dump.read(bad))
    six_on_hadron = tmp_path / "six.dat"
    six_on_hadron.write_text(ADAPTER_LINE.replace("211,3.2,0.5,0.1,0.2;", "211,3.2,0.5,0.1,0.2,1;"))
    with pytest.raises(herwig_dump.HerwigDumpError, match=r"has 6 fields, expected 5"):
        list(herwig_dump.read(six_on_hadron))
