"""scripts/herwig/herwig_closure.py (the calibrated closure of a model inside Herwig, from the
adapter's dumps) on dump files written here in the adapter's format with known decay angles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _scripts import load_script

from hadml.data.features import condition_features
from hadml.io import herwig_dump


@pytest.fixture(scope="module")
def hc():
    return load_script("scripts/herwig/herwig_closure.py")


# (c1, c2, h1, h2, cluster mass, constituent mass): light, charm, bottom clusters; hadron 1
# carries constituent 1's flavour (pi+ = u dbar, D0 = c ubar, B- = b ubar).
KINDS = {
    "light": (2, -1, 211, 111, 1.2, 0.33),
    "charm": (4, -2, 421, 111, 4.0, 1.6),
    "bottom": (5, -2, -521, 111, 11.0, 5.0),
}
MASS = {211: 0.13957, 111: 0.13498, 421: 1.86484, -521: 5.27934}


def _entry(pid: int, p: np.ndarray, pert: int | None = None) -> str:
    e, px, py, pz = p[3], p[0], p[1], p[2]
    flag = "" if pert is None else f",{pert}"
    return f"{pid},{e:.10g},{px:.10g},{py:.10g},{pz:.10g}{flag};"


def _cluster(kind: str, cos_theta: float, phi: float, pert: int, boost_z: float) -> str:
    """A cluster moving along z (velocity boost_z), constituent 1 along +x in its rest frame,
    hadron 1 at (cos theta, phi) about constituent 1."""
    c1, c2, h1, h2, m, mc = KINDS[kind]
    g = 1.0 / np.sqrt(1.0 - boost_z ** 2)

    def lab(p3: np.ndarray, mass: float) -> np.ndarray:
        e = np.sqrt(mass ** 2 + p3 @ p3)
        return np.array([p3[0], p3[1], g * (p3[2] + boost_z * e), g * (e + boost_z * p3[2])])

    pc = np.sqrt((m / 2) ** 2 - mc ** 2)
    m1, m2 = MASS[h1], MASS[h2]
    ps = np.sqrt((m ** 2 - (m1 + m2) ** 2) * (m ** 2 - (m1 - m2) ** 2)) / (2 * m)
    s = np.sqrt(1.0 - cos_theta ** 2)
    # model frame: z along constituent 1 (+x here); x, y any right-handed pair
    d = np.array([cos_theta, s * np.cos(phi), s * np.sin(phi)])
    return (_entry(c1, lab(np.array([pc, 0, 0]), mc), pert)
            + _entry(c2, lab(np.array([-pc, 0, 0]), mc), 0)
            + _entry(81, lab(np.zeros(3), m))
            + _entry(h1, lab(ps * d, m1)) + _entry(h2, lab(-ps * d, m2)))


def write_dump(path: Path, n_events: int, seed: int, bottom_width: float) -> Path:
    """Each event: 4 light clusters (isotropic, 1 perturbative), 1 charm (1 - cos theta
    exponential of width 0.16), 1 bottom (width ``bottom_width``), phi flat."""
    rng = np.random.default_rng(seed)

    def forward(width: float) -> float:
        while True:
            u = rng.exponential(width)
            if u <= 2.0:
                return 1.0 - u

    lines = []
    for _ in range(n_events):
        cl = [("light", rng.uniform(-1, 1), int(k == 0)) for k in range(4)]
        cl += [("charm", forward(0.16), 1), ("bottom", forward(bottom_width), 1)]
        lines.append("|".join(_cluster(kind, ct, rng.uniform(-np.pi, np.pi), pert,
                                       rng.uniform(-0.9, 0.9)) for kind, ct, pert in cl))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_dump_angles_recovers_the_written_angles(hc, tmp_path: Path):
    path = tmp_path / "one.dat"
    path.write_text(_cluster("charm", 0.8, 1.0, 1, 0.6) + "|"
                    + _cluster("light", -0.3, -2.0, 0, -0.4) + "\n")
    s = hc.dump_angles(path)
    assert np.allclose(s["cos_theta"], [0.8, -0.3], atol=1e-8)
    assert s["flavour"].tolist() == [1, 0]
    assert s["pert"].tolist() == [True, False]
    assert s["event"].tolist() == [0, 0]
    # The perturbative flag is the model input c1_perturbative (the adapter writes it on the
    # constituents; a dump that dropped it would train on False everywhere).
    table = herwig_dump.to_cluster_table(herwig_dump.read(path))
    x = condition_features(table, ["c1_perturbative", "c2_perturbative"])
    assert x.tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_closure_passes_for_the_same_physics_and_fails_for_other_bottom_decays(
        hc, tmp_path: Path):
    a = hc.dump_angles(write_dump(tmp_path / "a.dat", 1500, 1, 0.08))
    b = hc.dump_angles(write_dump(tmp_path / "b.dat", 1500, 2, 0.08))
    same = hc.dump_angles(write_dump(tmp_path / "same.dat", 1500, 3, 0.08))
    wider = hc.dump_angles(write_dump(tmp_path / "wider.dat", 1500, 3, 0.12))
    assert len(hc.block_rows(a, 5)) == 5
    assert [int(r.sum()) for r in hc.block_rows(a, 5)] == [1800] * 5  # 300 events x 6

    def p_values(ml: dict) -> dict[tuple[str, str], float]:
        return {(r["observable"], r["class"]): r.get("p_combined")
                for r in hc.closure(a, b, ml, 5)}

    ok = p_values(same)
    for key in [("cos_theta", c) for c in ("all", "light", "charm", "bottom",
                                          "light pert", "light non-pert")]:
        assert ok[key] > 0.01, key
    assert ok[("phi", "bottom")] > 0.01
    # no charm or bottom cluster without a perturbative constituent: no row statistics
    assert ok[("cos_theta", "charm non-pert")] is None
    whole = {r["class"]: r["whole_ml"] for r in hc.closure(a, b, same, 5)
             if r["observable"] == "cos_theta" and "whole_ml" in r}
    assert whole["bottom"]["p_scaled"] > 0.01 and 0.5 < whole["bottom"]["c"] < 1.6
    whole_bad = {r["class"]: r["whole_ml"] for r in hc.closure(a, b, wider, 5)
                 if r["observable"] == "cos_theta" and "whole_ml" in r}
    assert whole_bad["bottom"]["p_scaled"] < 1e-6 and whole_bad["light"]["p_scaled"] > 0.01
    bad = p_values(wider)
    assert bad[("cos_theta", "bottom")] < 1e-6
    assert bad[("cos_theta", "bottom pert")] < 1e-6
    assert bad[("cos_theta", "light")] > 0.01 and bad[("cos_theta", "charm")] > 0.01
    assert bad[("phi", "bottom")] > 0.01  # phi is flat in both


def test_paired_means_and_cli(hc, tmp_path: Path, capsys):
    before = write_dump(tmp_path / "before.dat", 200, 5, 0.08)
    a = write_dump(tmp_path / "a.dat", 200, 6, 0.08)
    b = write_dump(tmp_path / "b.dat", 200, 7, 0.08)
    out = tmp_path / "closure.json"
    assert hc.main(["--classic-a", str(a), "--classic-b", str(b), "--ml", str(before),
                    "--paired", str(before), "--blocks", "2", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["blocks"] == 2
    paired = {p["class"]: p for p in result["paired"]}
    assert paired["all"]["n"] == 1200 and paired["all"]["diff"] == 0.0
    other = write_dump(tmp_path / "other.dat", 199, 5, 0.08)
    assert hc.main(["--classic-a", str(a), "--classic-b", str(b), "--ml", str(before),
                    "--paired", str(other)]) == 2
    assert "do not hold the same clusters" in capsys.readouterr().err
    assert hc.main(["--classic-a", str(tmp_path / "missing.dat"), "--classic-b", str(b),
                    "--ml", str(before)]) == 2
