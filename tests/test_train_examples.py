"""examples/train.py as a user runs it: from another folder, with a tiny epoch count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hadml
from hadml.train import read_metadata

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_train_example_runs_from_any_folder(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(hadml.__file__).resolve().parents[1])}
    r = subprocess.run(
        [sys.executable, str(EXAMPLES / "train.py"), "--epochs", "1", "--events", "60",
         "--generate", "5", "--outdir", "out"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "out"
    assert f"outputs written to {out} (model.onnx, runs/)" in r.stdout
    assert "training finished after 1 epoch; run folder " in r.stdout
    assert "events generated      : 5" in r.stdout
    assert read_metadata(out / "model.onnx")["hadml.noise_dim"] == "4"  # the smoke recipe's
    assert (out / "runs/smoke/version_0/checkpoints/last.ckpt").is_file()
    assert (out / "runs/smoke/version_0/validation.png").is_file()
