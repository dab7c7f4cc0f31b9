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


def test_seed_from_set_or_config_file_is_honoured(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("seed: 5\n")
    runs = {
        "--seed": ["--seed", "5"],
        "--set": ["--set", "seed=5"],
        "--config": ["--config", str(cfg)],
        "default": [],
    }
    files = {}
    for name, extra in runs.items():
        files[name] = tmp_path / f"{name.strip('-')}.hepmc"
        assert main(["generate", "-n", "4", "--out", str(files[name]), "--no-progress",
                     *extra]) == 0
    capsys.readouterr()
    reference = files["--seed"].read_bytes()
    assert files["--set"].read_bytes() == reference
    assert files["--config"].read_bytes() == reference
    assert files["default"].read_bytes() != reference  # seed 1


def test_summary_says_where_the_files_are_and_exit_codes(tmp_path, capsys):
    out = tmp_path / "ev.hepmc.gz"
    assert main(["generate", "-n", "3", "--out", str(out), "--no-progress"]) == 0
    assert f"events written to     : {out}" in capsys.readouterr().out
    # A failed run is 1, bad input 2, and neither writes the summary.
    assert main(["generate", "-n", "3", "--out", str(tmp_path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert "is a directory" in captured.err and "events written" not in captured.out
