"""training/lep_criterion.py: the LEP 5% criterion next to the spread of classic decay
redraws (issue 12, goal 2)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from _scripts import load_script

REPO = Path(__file__).resolve().parents[1]


def _module():
    return load_script("training/lep_criterion.py")


def test_ratios_and_null_spread_by_hand() -> None:
    lep = _module()
    # classic chi2 40 and redraws 60, 50: mean 50, sd 10 -> sqrt(2) * 0.2
    assert lep.null_sd([40.0, 60.0, 50.0]) == pytest.approx(math.sqrt(2.0) * 0.2)
    assert math.isnan(lep.null_sd([40.0]))
    redraws = ["classic decay_seed 2", "classic decay_seed 3"]
    samples = {"classic": {"A": [40.0, 18], "B": [1000.0, 100]},
               "ML": {"A": [55.0, 18], "B": [1010.0, 100]},
               redraws[0]: {"A": [60.0, 18], "B": [1001.0, 100]},
               redraws[1]: {"A": [50.0, 18], "B": [999.0, 100]}}
    a, b = lep.rows_from(samples, ["A", "B"], redraws)
    assert a["ml_over_classic"] == pytest.approx(55 / 40)
    assert a["redraw_over_classic"] == pytest.approx([1.5, 1.25])
    assert a["ml_over_classic_mean"] == pytest.approx(55 / 50)
    assert a["ml_z"] == pytest.approx(5.0 / (10.0 * math.sqrt(4.0 / 3.0)))
    assert a["chi2_ndf"]["ML"] == pytest.approx(55 / 18)
    assert not a["resolved"]  # spread 28% of a ratio: a 5% difference is invisible
    # B: sd 1 of 1000 -> 0.14% spread, a 5% tolerance is resolved
    assert b["null_sd"] == pytest.approx(math.sqrt(2.0) * 1.0 / 1000.0)
    assert b["resolved"] and b["ml_over_classic"] == pytest.approx(1.01)


def test_script_runs_end_to_end_and_resumes(tmp_path, monkeypatch, capsys) -> None:
    lep = _module()
    out = tmp_path / "lep.json"
    refdir = REPO.parent / "shared" / "refdata"
    args = ["lep_criterion.py", "-n", "60", "--seed", "3", "--redraws", "2",
            "--analyses", "DELPHI_2011_I890503,ALEPH_1999_S4193598", "--json", str(out)]
    if refdir.is_dir():
        args += ["--refdir", str(refdir)]
    monkeypatch.setattr(sys, "argv", args)
    lep.main()
    data = json.loads(out.read_text())
    assert set(data["samples"]) == {"classic", "ML", "classic decay_seed 4",
                                    "classic decay_seed 5"}
    (delphi, dstar) = data["rows"]
    assert delphi["analysis"] == "DELPHI_2011_I890503" and delphi["ndf"] == 10
    assert dstar["ndf"] == 18 and len(dstar["redraw_over_classic"]) == 2
    for row in data["rows"]:
        assert all(v > 0 for v in row["chi2_ndf"].values())
        assert row["ml_over_classic"] == pytest.approx(
            row["chi2_ndf"]["ML"] / row["chi2_ndf"]["classic"])
    # Resuming with the same settings runs nothing and prints the same table.
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", args + ["--resume"])
    lep.main()
    captured = capsys.readouterr()
    assert "| DELPHI_2011_I890503 | 10 |" in captured.out and captured.err == ""
    assert json.loads(out.read_text())["samples"] == data["samples"]


def test_ml_z_is_a_prediction_interval() -> None:
    lep = _module()
    # classic 4, 5, 6: mean 5, sd 1, one more run has sd sqrt(1 + 1/3) about the mean
    assert lep.ml_z(7.0, [4.0, 5.0, 6.0]) == pytest.approx(2.0 / math.sqrt(4.0 / 3.0))
    assert lep.ml_z(5.0, [4.0, 5.0, 6.0]) == 0.0
    assert math.isnan(lep.ml_z(5.0, [4.0]))
