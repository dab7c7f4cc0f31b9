"""``hadml reweight train`` / ``apply`` as a user meets them: a real train + apply on small
HepMC3 files of hadml generate (seconds), and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")

import hadml  # noqa: E402
from hadml.cli import main  # noqa: E402

N_EVENTS = 120


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("samples")
    nominal, varied = d / "nominal.hepmc", d / "pt14.hepmc"
    hadml.generate(N_EVENTS, seed=3, hepmc=nominal, keep_events=False, shower_pt_min=1.0)
    hadml.generate(N_EVENTS, seed=4, hepmc=varied, keep_events=False, shower_pt_min=1.4)
    return nominal, varied


@pytest.fixture(scope="module")
def trained(samples, tmp_path_factory) -> Path:
    nominal, varied = samples
    runs = tmp_path_factory.mktemp("runs")
    assert main(["reweight", "train", "--config", "smoke",
                 "--nominal", f"{nominal}:shower_pt_min=1.0",
                 "--varied", f"{varied}:shower_pt_min=1.4",
                 "--set", f"out_dir={runs}", "max_epochs=2", "species_inputs=true"]) == 0
    (ckpt,) = runs.glob("dctr_smoke/version_0/checkpoints/best-*.ckpt")
    return ckpt


def test_checkpoint_keeps_the_species_inputs(trained):
    """The species counts of HepMC3 events (final and decayed hadrons) reach the network,
    and a loaded checkpoint knows it takes them."""
    from hadml.reweight.features import N_EVENT_FEATURES
    from hadml.reweight.model import load_classifier

    module = load_classifier(str(trained))
    assert module.species_inputs
    assert module.net.n_context == 1 + N_EVENT_FEATURES
    # Standardised with the training events: pi+- are counted (mean well above 1).
    assert float(module.event_mean[0]) > 5


def test_train_then_apply(samples, trained, tmp_path, capsys):
    import pyhepmc

    from hadml.reweight.weights import read_weights

    nominal, _ = samples
    out = capsys.readouterr().out
    weights, copy = tmp_path / "w.parquet", tmp_path / "weighted.hepmc"
    assert main(["reweight", "apply", str(trained), "--sample", str(nominal),
                 "--target", "pt14:shower_pt_min=1.4", "--target", "pt12:shower_pt_min=1.2",
                 "-o", str(weights), "--hepmc-out", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "pt14: raw mean" in out and "Kish ESS" in out
    cols = read_weights(weights)
    np.testing.assert_array_equal(cols["event_number"], np.arange(N_EVENTS))
    for name in ("pt14", "pt12"):
        assert cols[name].mean() == pytest.approx(1.0)
        assert np.all(cols[name] > 0)
    with pyhepmc.open(copy) as f, pyhepmc.open(nominal) as g:
        n = 0
        for ev, orig in zip(f, g, strict=True):
            assert ev.weight_names == ["nominal", "pt14", "pt12"]
            assert ev.weights == pytest.approx([1.0, cols["pt14"][n], cols["pt12"][n]])
            assert ev.event_number == orig.event_number
            assert len(ev.particles) == len(orig.particles)
            n += 1
    assert n == N_EVENTS
    # The NPZ weight file holds the same numbers.
    npz = tmp_path / "w.npz"
    assert main(["reweight", "apply", str(trained), "--sample", str(nominal),
                 "--target", "pt14:shower_pt_min=1.4", "-o", str(npz)]) == 0
    np.testing.assert_allclose(read_weights(npz)["pt14"], cols["pt14"], rtol=1e-6)
    # Two checkpoints: an ensemble, the mean of the members' log weights. The second member
    # is the same network with its logit halved, so log w = 0.75 log w_trained + const.
    import torch

    state = torch.load(trained, map_location="cpu", weights_only=False)
    state["state_dict"]["logit_scale"] = torch.tensor(0.5)
    half = tmp_path / "half.ckpt"
    torch.save(state, half)
    ens = tmp_path / "ens.npz"
    assert main(["reweight", "apply", str(trained), str(half), "--sample", str(nominal),
                 "--target", "pt14:shower_pt_min=1.4", "-o", str(ens)]) == 0
    expected = cols["pt14"] ** 0.75
    np.testing.assert_allclose(read_weights(ens)["pt14"], expected / expected.mean(),
                               rtol=1e-5)


def test_list_configs(capsys):
    assert main(["reweight", "train", "--list-configs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dctr ") and "\nsmoke " in out


def _error(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_train_rejects_bad_input(samples, tmp_path, capsys):
    nominal, varied = samples
    nom, var = f"{nominal}:shower_pt_min=1.0", f"{varied}:shower_pt_min=1.4"
    base = ["reweight", "train", "--config", "smoke", "--set", f"out_dir={tmp_path}"]
    assert "sample not found" in _error(
        base + ["--nominal", f"{tmp_path}/none.hepmc:shower_pt_min=1.0", "--varied", var], capsys)
    assert "every sample must give the same ones" in _error(
        base + ["--nominal", nom, "--varied", f"{varied}:ClMaxLight=3.0"], capsys)
    assert "no varied sample" in _error(base + ["--nominal", nom], capsys)
    assert "PATH:key=value" in _error(base + ["--nominal", str(nominal), "--varied", var],
                                      capsys)
    assert "unknown reweighting options ['max_epoch']" in _error(
        base + ["--nominal", nom, "--varied", var, "max_epoch=3"], capsys)
    assert "nothing to learn" in _error(
        base + ["--nominal", nom, "--varied", f"{varied}:shower_pt_min=1.0"], capsys)
    assert "neither a file nor a shipped recipe" in _error(
        ["reweight", "train", "--config", "nope", "--nominal", nom, "--varied", var], capsys)
    text = tmp_path / "notes.txt"
    text.write_text("not events\n")
    assert "a sample is a HepMC3 file" in _error(
        base + ["--nominal", f"{text}:shower_pt_min=1.0", "--varied", var], capsys)
    bad = tmp_path / "bad.hepmc"
    bad.write_text("HepMC::Version 3.02.05\nHepMC::Asciiv3-START_EVENT_LISTING\nE 0 x\n")
    assert "bad.hepmc" in _error(base + ["--nominal", f"{bad}:shower_pt_min=1.0",
                                         "--varied", var], capsys)


def test_apply_rejects_bad_input_and_keeps_existing_output(samples, trained, tmp_path,
                                                           capsys):
    nominal, _ = samples
    out = tmp_path / "w.parquet"
    out.write_bytes(b"keep me")
    base = ["reweight", "apply", str(trained), "--sample", str(nominal), "-o", str(out)]
    assert "takes parameters ['shower_pt_min']" in _error(
        base + ["--target", "x:ClMaxLight=3.0"], capsys)
    assert "the name before ':'" in _error(base + ["--target", "a b:shower_pt_min=1.4"], capsys)
    assert "no target" in _error(base, capsys)
    assert "suffix" in _error(["reweight", "apply", str(trained), "--sample", str(nominal),
                               "--target", "t:shower_pt_min=1.4", "-o", "w.csv"], capsys)
    assert "checkpoint not found" in _error(
        ["reweight", "apply", str(tmp_path / "none.ckpt"), "--sample", str(nominal),
         "--target", "t:shower_pt_min=1.4", "-o", str(out)], capsys)
    assert "is the input sample" in _error(
        ["reweight", "apply", str(trained), "--sample", str(nominal),
         "--target", "t:shower_pt_min=1.4", "--hepmc-out", str(nominal)], capsys)
    assert out.read_bytes() == b"keep me"


def test_missing_extra_gives_the_install_commands(tmp_path):
    from test_train_cli import _run_without_extra

    r = _run_without_extra(["reweight", "train", "--config", "dctr"], tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("hadml reweight: needs torch and Lightning")
    assert "pip install 'hadml[train]'" in r.stderr and "Traceback" not in r.stderr
