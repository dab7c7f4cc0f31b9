"""Full events with the ML cluster decayer (the shipped default model): conservation,
reproducibility by seed, the CLI switch end to end, and clear errors for bad models."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

import hadml
from hadml.cli import main
from hadml.event import STATUS_FINAL, baryon_number3
from hadml.ml import contract
from hadml.models import default_model_path


def test_default_model_is_a_trained_contract_model():
    path = default_model_path()
    # A few hundred kB at most: it ships inside the wheel.
    assert path.stat().st_size < 1_000_000
    meta = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    assert meta[contract.KEY_FORMAT_VERSION] == str(contract.FORMAT_VERSION)
    assert meta[contract.KEY_FRAME] == contract.FRAME
    provenance = json.loads(meta[contract.KEY_PROVENANCE])
    # Trained by the documented recipe (docs/training.md), not a placeholder.
    # the maximum-likelihood mixture model since issue 12 (docs/training.md)
    assert provenance["config"]["model"] in ("cluster", "cluster_mle")
    assert provenance["config"]["max_epochs"] >= 10
    assert provenance["data_sha256"]


def test_ml_events_conserve_and_reproduce():
    a = hadml.generate(25, seed=21, hadronization="ml")
    b = hadml.generate(25, seed=21, hadronization="ml")
    c = hadml.generate(25, seed=21)  # classic, same perturbative stage
    assert a.summary.cluster_decays.startswith("ML (")
    for ea, eb in zip(a.events, b.events, strict=True):
        assert np.array_equal(ea.pid, eb.pid)
        assert np.array_equal(ea.p, eb.p)
        fin = ea.status == STATUS_FINAL
        np.testing.assert_allclose(ea.p[fin].sum(axis=0), [0, 0, 0, 91.188], atol=1e-9 * 91.188)
        assert baryon_number3(ea.pid[fin]).sum() == 0
    # The ML decays change the hadrons, not the partons.
    assert any(not np.array_equal(x.p, y.p) for x, y in zip(a.events, c.events, strict=True))
    # A trained model rarely needs the classic fallback.
    assert a.summary.ml_fallbacks <= 0.01 * sum(len(e) for e in a.events)


def test_cli_ml_switch_end_to_end(tmp_path, capsys):
    out = tmp_path / "ml.hepmc"
    rc = main(["generate", "-n", "15", "--seed", "4", "--hadronization", "ml", "--out",
               str(out), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "cluster decays        : ML (" in text and "ML outputs replaced" in text
    assert out.stat().st_size > 1000


def test_cli_ml_switch_refuses_bad_models(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(default_model_path().read_bytes()[:5000])  # truncated
    assert main(["generate", "-n", "2", "--hadronization", "ml", "--model", str(bad),
                 "--no-progress"]) != 0
    err = capsys.readouterr().err
    assert "bad.onnx" in err and "error:" in err
    assert main(["generate", "-n", "2", "--hadronization", "ml", "--model",
                 str(tmp_path / "missing.onnx"), "--no-progress"]) != 0
    assert "missing.onnx" in capsys.readouterr().err


def test_cuda_request_without_cuda_is_a_clear_error(capsys):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    assert main(["generate", "-n", "2", "--hadronization", "ml", "--device", "cuda",
                 "--no-progress"]) != 0
    assert "CUDA" in capsys.readouterr().err
