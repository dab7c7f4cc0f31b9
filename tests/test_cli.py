from __future__ import annotations

import subprocess
import sys

import pyhepmc
import pytest

from hadml.cli import main
from hadml.io import cluster_table


def test_generate_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "ev.hepmc"
    clusters = tmp_path / "cl.parquet"
    rc = main(["generate", "-n", "20", "--seed", "3", "--out", str(out), "--clusters",
               str(clusters), "--no-progress", "--set", "ClSmrLight=0.5"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "events generated      : 20" in text
    assert "mean charged mult." in text
    with pyhepmc.open(str(out)) as f:
        assert sum(1 for _ in f) == 20
    table = cluster_table.read(clusters)
    assert table.num_rows > 100
    assert cluster_table.info(table)["config"]["cluster"] == {"ClSmrLight": 0.5}


def test_cli_errors_are_clear(capsys):
    assert main(["generate", "-n", "1", "--set", "NoSuchParam=1", "--no-progress"]) == 2
    assert "unknown option 'NoSuchParam'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "-n", "1", "--hadronization", "strings"])


def test_list_params(capsys):
    assert main(["generate", "-n", "1", "--list-params"]) == 0
    assert "ClMaxLight" in capsys.readouterr().out


def test_console_script_help():
    r = subprocess.run([sys.executable, "-m", "hadml", "generate", "--help"],
                       capture_output=True, text=True, check=True)
    assert "--hadronization" in r.stdout and "--jobs" in r.stdout
