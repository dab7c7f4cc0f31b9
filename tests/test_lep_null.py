"""scripts/herwig/lep_null.py: the Herwig LEP criterion with several classic runs as its null
(training/lep_criterion.py's statistics on compare_lep.py's summary.json)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from _scripts import load_script

REPO = Path(__file__).resolve().parents[1]


def _load():
    return load_script("scripts/herwig/lep_null.py")


def _sample(a1: float, overall: float) -> dict:
    return {"events": 20000, "chi2_ndf": overall, "analyses": {"A1": a1}}


def _files(tmp_path: Path) -> list[str]:
    first = {"Herwig classic A": _sample(4.0, 2.0), "Herwig classic B": _sample(6.0, 2.0),
             "Herwig+ML": _sample(5.5, 2.2)}
    second = {"Herwig classic S1": _sample(5.0, 2.0), "Herwig+ML S2": _sample(5.0, 1.9)}
    paths = []
    for i, d in enumerate((first, second)):
        p = tmp_path / f"s{i}.json"
        p.write_text(json.dumps(d))
        paths.append(str(p))
    return paths


def test_rows_by_hand(tmp_path: Path) -> None:
    m = _load()
    classic, mls, rows = m.criterion(m.load(_files(tmp_path)))
    assert classic == ["Herwig classic A", "Herwig classic B", "Herwig classic S1"]
    assert mls == ["Herwig+ML", "Herwig+ML S2"]
    a1 = rows["Herwig+ML"][0]
    assert a1["analysis"] == "A1"
    # classic 4, 6, 5: mean 5, sd 1 -> null sd sqrt(2) * 1 / 5; ML 5.5: z 0.5 / sqrt(4 / 3)
    assert a1["null_sd"] == pytest.approx(math.sqrt(2.0) / 5.0)
    assert a1["ml_over_classic_mean"] == pytest.approx(1.1)
    assert a1["ml_z"] == pytest.approx(0.5 / math.sqrt(4.0 / 3.0))
    assert a1["resolved"] is False
    assert rows["Herwig+ML S2"][0]["ml_z"] == pytest.approx(0.0)
    overall = rows["Herwig+ML"][1]
    # three identical classic overall values: no spread, z undefined, 5% resolved
    assert overall["analysis"] == m.OVERALL
    assert overall["null_sd"] == 0.0 and overall["resolved"] is True
    assert math.isnan(overall["ml_z"])
    assert overall["ml_over_classic_mean"] == pytest.approx(1.1)


def test_cli_table_and_errors(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    out = subprocess.run([sys.executable, str(REPO / "scripts/herwig/lep_null.py"), *paths,
                          "--json", str(tmp_path / "rows.json")],
                         capture_output=True, text=True, check=True).stdout
    assert "3 classic runs, 2 Herwig+ML runs, 20000 events each" in out
    assert ("| A1 | 5.000 | 1.000 | 0.283 | 5.500 | 1.100 | +0.4 | 5.000 | 1.000 | +0.0 | no |"
            in out)
    assert json.loads((tmp_path / "rows.json").read_text())["classic"][0] == "Herwig classic A"
    # one classic run is no null; a label in two files is ambiguous
    res = subprocess.run([sys.executable, str(REPO / "scripts/herwig/lep_null.py"), paths[1]],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "need two or more" in res.stderr
    res = subprocess.run([sys.executable, str(REPO / "scripts/herwig/lep_null.py"), paths[0],
                          paths[0]], capture_output=True, text=True)
    assert res.returncode != 0 and "also in an earlier file" in res.stderr
    # a broken input is a message, not a traceback, and the rows written before survive
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    before = (tmp_path / "rows.json").read_bytes()
    res = subprocess.run([sys.executable, str(REPO / "scripts/herwig/lep_null.py"), *paths,
                          str(broken), "--json", str(tmp_path / "rows.json")],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "broken.json: not a readable summary.json" in res.stderr
    assert (tmp_path / "rows.json").read_bytes() == before
