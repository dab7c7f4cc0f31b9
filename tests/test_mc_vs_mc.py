"""scripts/herwig/mc_vs_mc.py: two runs against each other per analysis, from YODA files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _scripts import load_script

from hadml.analysis import yoda


def _load():
    return load_script("scripts/herwig/mc_vs_mc.py")


def _scatter(path: str, y: list[float], err: list[float]) -> yoda.Scatter2D:
    n = len(y)
    x = np.arange(n, dtype=float) + 0.5
    half = np.full(n, 0.5)
    e = np.asarray(err, dtype=float)
    return yoda.Scatter2D(path, x, half, half, np.asarray(y, dtype=float), e, e)


def test_chi2_per_analysis_and_cli(tmp_path: Path, capsys):
    m = _load()
    a = {"/HADML/A1/d01": _scatter("/HADML/A1/d01", [1.0, 2.0, 3.0], [0.3, 0.4, 0.0]),
         "/HADML/A2/d02": _scatter("/HADML/A2/d02", [5.0, 5.0], [1.0, 1.0])}
    b = {"/HADML/A1/d01": _scatter("/HADML/A1/d01", [1.5, 2.0, 9.0], [0.4, 0.3, 0.0]),
         "/HADML/A2/d02": _scatter("/HADML/A2/d02", [7.0, 3.0], [1.0, 1.0])}
    res = m.compare(a, b)
    # A1: 0.5^2 / 0.25 + 0 (the third bin has no error: not counted); A2: 4/2 + 4/2
    assert res["A1"] == (1.0, 2)
    assert res["A2"] == (4.0, 2)
    assert res["all"] == (5.0, 4)
    fa, fb = tmp_path / "a.yoda", tmp_path / "b.yoda"
    yoda.write(fa, a)
    yoda.write(fb, b)
    assert m.main([str(fa), str(fb)]) == 0
    out = capsys.readouterr().out
    assert "| A2 | 2 | 2.00 |" in out and "| all | 4 | 1.25 |" in out
    assert m.main([str(fa), str(tmp_path / "missing.yoda")]) == 2
