"""A few real GAN training steps on small synthetic samples, checkpoints and ONNX export.

The synthetic cluster table is made with the C++ decay (``_core.model_frame_decay``): hadron 1
is emitted at cos theta drawn from a distribution peaked towards constituent 1 (as Herwig's
ClDir option does), phi uniform.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyhepmc
import pytest
import torch

import hadml
from hadml import _core
from hadml.data.datamodule import split_by_event
from hadml.data.features import Scaling, condition_features
from hadml.io import cluster_table
from hadml.train import ClusterGAN, TrainConfig, export_generator, load_module, read_metadata
from hadml.train import train as run_train

FEATURES = ["cluster_mass", "hadron1_mass", "hadron2_mass", "c1_flavour", "pstar"]
MASSES = {211: 0.13957, 321: 0.493677}


def _on_shell(p3: np.ndarray, m: float) -> np.ndarray:
    return np.array([*p3, math.sqrt(m * m + float(p3 @ p3))])


def synthetic_table(n_events: int, per_event: int, seed: int, aligned: bool = False) -> pa.Table:
    """``aligned``: clusters nearly at rest with constituent 1 along +z, so that hadron 1's
    lab polar angle shows cos theta to an event-level discriminator."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {name: [] for name, _ in cluster_table.COLUMNS}
    for ev in range(n_events):
        for k in range(per_event):
            if aligned:
                c1 = _on_shell(np.array([*(0.05 * rng.normal(size=2)), rng.uniform(0.5, 2)]),
                               0.325)
                c2 = _on_shell(np.array([*(0.05 * rng.normal(size=2)), -rng.uniform(0.5, 2)]),
                               0.325)
            else:
                c1 = _on_shell(rng.normal(size=3) * rng.uniform(0.3, 6), 0.325)
                c2 = _on_shell(rng.normal(size=3) * rng.uniform(0.3, 6), 0.325)
            cl = c1 + c2
            M = math.sqrt(cl[3] ** 2 - float(cl[:3] @ cl[:3]))
            ids = (211, 321) if rng.uniform() < 0.3 and M > 0.7 else (211, 211)
            m1, m2 = MASSES[ids[0]], MASSES[ids[1]]
            if M <= m1 + m2:
                continue
            cos_t = 2.0 * rng.uniform() ** 0.25 - 1.0  # peaked at +1, mean 0.6
            phi = rng.uniform(-math.pi, math.pi)
            h1, h2 = _core.model_frame_decay(list(cl), list(c1), m1, m2, cos_t, phi)
            vals = {"event": ev, "cluster": k, "c1_id": 2, "c2_id": -1, "c1_pert": False,
                    "c2_pert": False, "h1_id": ids[0], "h2_id": -ids[1], "mass": M}
            for tag, p in (("c1", c1), ("c2", c2), ("", cl), ("h1", h1), ("h2", h2)):
                for j, name in enumerate(("px", "py", "pz", "e")):
                    vals[f"{tag}_{name}" if tag else name] = p[j]
            for name in rows:
                rows[name].append(vals[name])
    arrays = [pa.array(rows[n], type=t) for n, t in cluster_table.COLUMNS]
    return pa.Table.from_arrays(arrays, schema=cluster_table.SCHEMA)


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return synthetic_table(400, 6, seed=2024)


def _config(tmp: Path, **kw) -> TrainConfig:
    d = {
        "model": "cluster", "name": "t", "seed": 7, "out_dir": str(tmp), "noise_dim": 4,
        "gen_hidden": 64, "gen_layers": 2, "disc_hidden": 64, "disc_layers": 2,
        "lr_g": 1e-3, "lr_d": 1e-3, "max_epochs": 5,
        "data": {"source": "parquet", "features": FEATURES, "batch_size": 128,
                 "val_fraction": 0.25, "test_fraction": 0.0},
    }
    data = kw.pop("data", {})
    d.update(kw)
    d["data"].update(data)
    return TrainConfig.from_dict(d)


@pytest.fixture(scope="module")
def trained(table, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    cfg = _config(tmp)
    torch.manual_seed(cfg.seed)
    return cfg, run_train(cfg, table=table)


def _val(result):
    s = result.datamodule.splits["val"]
    return (s.condition, s.angles, s.cluster, s.c1, s.h1, s.m1, s.m2,
            torch.from_numpy(s.flavour_class()))


@pytest.mark.parametrize("loss", ["bce", "wgan-gp"])
def test_training_lowers_wasserstein(table, tmp_path, loss):
    # WGAN-GP with the usual critic settings (Gulrajani et al.: betas (0, 0.9), n_critic > 1).
    extra = {} if loss == "bce" else {"n_critic": 3, "beta1": 0.0, "beta2": 0.9,
                                      "lr_g": 5e-4, "lr_d": 5e-4}
    cfg = _config(tmp_path, loss=loss, max_epochs=6, **extra)
    result = run_train(cfg, table=table)
    dm = result.datamodule
    torch.manual_seed(cfg.seed)
    untrained = ClusterGAN(cfg.to_dict(), dm.scaling.to_dict(), FEATURES)
    before = untrained.evaluate(*_val(result))
    # The checkpoint kept on the best validation metric is the model one exports.
    after = load_module(result.best_checkpoint).evaluate(*_val(result))
    # The untrained tanh output sits near cos theta = 0 while the target has mean 0.6;
    # a few epochs must close most of that gap (seeds 1-6 at these settings: ratio
    # 0.24-0.31 for bce; wgan-gp is less stable, 0.27-0.52 on 5 of 6 seeds).
    assert after["w_cos_theta"] < 0.5 * before["w_cos_theta"], (before, after)
    assert after["w_angles"] < before["w_angles"], (before, after)
    best = min(h["w_angles"] for h in result.module.val_history)
    assert after["w_angles"] == pytest.approx(best, rel=1e-6)
    assert len(result.module.val_history) == cfg.max_epochs
    metrics = Path(result.log_dir) / "metrics.csv"
    assert "val/w_cos_theta" in metrics.read_text().splitlines()[0]
    # CSV and TensorBoard logs share one run directory.
    assert list(Path(result.log_dir).glob("events.out.tfevents.*"))
    assert result.best_checkpoint and Path(result.best_checkpoint).exists()


def test_scaling_saved_and_resume(trained, table):
    cfg, result = trained
    masks = split_by_event(table.column("event").to_numpy(), 0.25, 0.0, cfg.data.split_seed)
    x = condition_features(table.filter(pa.array(masks["train"])), FEATURES)
    expected = Scaling.fit(x)
    np.testing.assert_allclose(expected.offset, x.mean(0), rtol=1e-12)
    module = load_module(result.last_checkpoint)
    assert list(module.hparams["features"]) == FEATURES
    np.testing.assert_allclose(module.hparams["scaling"]["offset"], expected.offset, rtol=1e-12)
    np.testing.assert_allclose(module.hparams["scaling"]["scale"], expected.scale, rtol=1e-12)
    for a, b in zip(module.generator.parameters(), result.module.generator.parameters(),
                    strict=True):
        torch.testing.assert_close(a, b.cpu())
    # Resume for two more epochs from the last checkpoint.
    steps = result.trainer.global_step
    cfg2 = _config(Path(cfg.out_dir), max_epochs=cfg.max_epochs + 2)
    resumed = run_train(cfg2, resume=result.last_checkpoint, table=table)
    assert resumed.trainer.current_epoch == cfg.max_epochs + 2
    # Two optimizers step per batch, so global_step counts both; it continues from `steps`.
    per_epoch = steps // cfg.max_epochs
    assert resumed.trainer.global_step == steps + 2 * per_epoch
    assert len(resumed.module.val_history) == 2


def test_export_round_trip(trained, tmp_path):
    cfg, result = trained
    path = export_generator(result.best_checkpoint, tmp_path / "model.onnx")
    assert not list(tmp_path.glob("*.data")), "one self-contained file"
    meta = read_metadata(path)
    module = load_module(result.best_checkpoint)
    import json

    assert meta["hadml.format_version"] == "1"
    assert json.loads(meta["hadml.condition_features"]) == FEATURES
    assert meta["hadml.noise_dim"] == "4" and meta["hadml.noise_distribution"] == "normal"
    assert meta["hadml.frame"] == "cluster_rest_z_constituent1"
    assert meta["hadml.output"] == "cos_theta,phi"
    assert json.loads(meta["hadml.input_scaling"]) == dict(module.hparams["scaling"])
    prov = json.loads(meta["hadml.provenance"])
    assert prov["data_sha256"] == result.datamodule.data_sha256
    assert len(prov["data_sha256"]) == 64 and prov["config"]["seed"] == cfg.seed
    assert {"code_version", "created"} <= set(prov)

    # Same raw features + metadata scaling + same noise: onnxruntime == torch.
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    s = result.datamodule.splits["val"]
    scaling = json.loads(meta["hadml.input_scaling"])
    rng = np.random.default_rng(5)
    for n in (1, 7, len(s)):
        raw = condition_features(result.datamodule._table, FEATURES)[:n]
        cond = ((raw - scaling["offset"]) / np.asarray(scaling["scale"])).astype(np.float32)
        noise = rng.normal(size=(n, 4)).astype(np.float32)
        (out,) = sess.run(["angles"], {"condition": cond, "noise": noise})
        with torch.no_grad():
            ref = module.generator(torch.from_numpy(cond), torch.from_numpy(noise)).numpy()
        assert out.shape == (n, 2)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)
        assert np.all(np.abs(out[:, 0]) <= 1) and np.all(np.abs(out[:, 1]) <= math.pi)


def test_event_gan_steps(table, tmp_path):
    cfg = _config(tmp_path, model="event", max_epochs=2,
                  data={"events_per_batch": 8, "batches_per_epoch": 6})
    torch.manual_seed(cfg.seed)
    result = run_train(cfg, table=table)
    module = result.module
    torch.manual_seed(cfg.seed)
    fresh = type(module)(cfg.to_dict(), result.datamodule.scaling.to_dict(), FEATURES)
    changed = [not torch.equal(a, b) for a, b in
               zip(fresh.generator.parameters(), module.generator.parameters(), strict=True)]
    assert all(changed), "generator gradients reach every layer through the kinematics"
    assert len(module.val_history) == 2
    assert all(math.isfinite(v) for v in module.val_history[-1].values())
    # Generator and target events are never the same events.
    pairs = result.datamodule.event_pairs
    assert not set(pairs.pool_gen) & set(pairs.pool_target)


def test_event_gan_target_from_another_table(table, tmp_path):
    """data.target_path: target hadrons come from a separate table (another setting)."""
    from hadml.io import cluster_table

    other = synthetic_table(60, 6, seed=9, aligned=True)
    path = tmp_path / "target.parquet"
    cluster_table.write(other, path)
    cfg = _config(tmp_path, model="event", max_epochs=1,
                  data={"events_per_batch": 8, "batches_per_epoch": 3,
                        "target_path": str(path)})
    result = run_train(cfg, table=table)
    dm = result.datamodule
    pairs = dm.event_pairs
    # The target table is split by event too: its training events feed the discriminator,
    # its validation events the metrics.
    masks = split_by_event(other.column("event").to_numpy(), 0.25, 0.0, cfg.data.split_seed)
    n_train = len(np.unique(other.column("event").to_numpy()[masks["train"]]))
    assert len(pairs.pool_target) == n_train < 60
    batch = pairs[0]
    # Target hadrons are rows of the other table's training events only.
    train_rows = other.filter(pa.array(masks["train"]))
    target_e = set(np.round(batch["target_hadrons"][:, 3].numpy(), 9))
    other_e = set(np.round(np.concatenate([train_rows.column("h1_e").to_numpy(),
                                           train_rows.column("h2_e").to_numpy()]), 9))
    assert target_e <= other_e
    # Validation measures the distance to the target's held-out decays.
    val = next(iter(dm.val_dataloader()))
    torch.testing.assert_close(val[1], dm.target_splits["val"].angles)
    torch.testing.assert_close(val[4], dm.target_splits["val"].h1)
    torch.testing.assert_close(val[0], dm.splits["val"].condition)
    assert result.module.val_history[-1] == pytest.approx(result.module.evaluate(*val))


def test_event_gan_learns_visible_angles(tmp_path):
    """The event-level GAN only sees lab hadrons of whole events; where those reveal
    cos theta (aligned sample) it must learn it through the differentiable decay. (On the
    isotropic sample above cos theta is nearly invisible in the lab and it does not.)"""
    table = synthetic_table(400, 6, seed=1, aligned=True)
    cfg = _config(tmp_path, model="event", max_epochs=8,
                  data={"events_per_batch": 16, "batches_per_epoch": 30})
    result = run_train(cfg, table=table)
    torch.manual_seed(cfg.seed)
    fresh = type(result.module)(cfg.to_dict(), result.datamodule.scaling.to_dict(), FEATURES)
    before = fresh.evaluate(*_val(result))
    after = load_module(result.best_checkpoint).evaluate(*_val(result))
    assert after["w_cos_theta"] < 0.5 * before["w_cos_theta"], (before, after)
    assert after["w_h1_costheta_lab"] < 0.5 * before["w_h1_costheta_lab"], (before, after)


def test_event_gan_init_from_cluster_keeps_scaling(trained, tmp_path):
    """An event-level GAN started from a cluster-level generator on other data keeps the
    generator's input scaling (its inputs must mean what they meant in training)."""
    _, source = trained
    other = synthetic_table(100, 6, seed=99)
    cfg = _config(tmp_path, model="event", max_epochs=1, init_from=source.best_checkpoint,
                  data={"events_per_batch": 8, "batches_per_epoch": 2})
    result = run_train(cfg, table=other)
    src = load_module(source.best_checkpoint).hparams["scaling"]
    assert result.module.hparams["scaling"] == dict(src)
    assert result.datamodule.scaling.to_dict() == dict(src)
    masks = split_by_event(other.column("event").to_numpy(), 0.25, 0.0, cfg.data.split_seed)
    refit = Scaling.fit(condition_features(other.filter(pa.array(masks["train"])), FEATURES))
    assert not np.allclose(refit.offset, src["offset"], rtol=1e-6)


def _cli_env() -> dict[str, str]:
    """The environment of a CLI subprocess: the hadml under test importable from any folder."""
    return {**os.environ, "PYTHONPATH": str(Path(hadml.__file__).resolve().parents[1])}


def _as_python(command: str) -> list[str]:
    """A printed ``hadml ...`` command as this interpreter runs it."""
    argv = shlex.split(command)
    assert argv[0] == "hadml", command
    return [sys.executable, "-m", "hadml", *argv[1:]]


def test_cli_train_then_printed_export_and_generate(table, tmp_path):
    """As a user: a shipped recipe by name from an empty folder, then the two commands the
    summary prints."""
    data = tmp_path / "clusters.parquet"
    cluster_table.write(table, data)
    run = tmp_path / "work"
    run.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "hadml", "train", "--config", "smoke", "data.source=parquet",
         f"data.path={data}", "max_epochs=2", "--accelerator", "cpu"],
        cwd=run, env=_cli_env(), capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    assert "training finished after 2 epochs; run folder runs/smoke/version_0" in out
    assert list((run / "runs").rglob("events.out.tfevents*")), "TensorBoard logs"
    assert (run / "runs/smoke/version_0/metrics.csv").is_file()
    assert (run / "runs/smoke/version_0/validation.png").is_file()
    best = re.search(r"best checkpoint : (\S+) \(epoch (\d)\)", out)
    assert best and (run / best[1]).is_file() and best[2] in "01"
    assert re.search(r"best val/w_angles = \d", out)
    # The selected checkpoint is reported on the held-out test split (smoke: 10%).
    assert "held-out test (best checkpoint): " in out
    test_metrics = json.loads((run / "runs/smoke/version_0/test_metrics.json").read_text())
    assert 0.0 < test_metrics["w_cos_theta"] < 2.0
    assert np.isfinite(test_metrics["chi2_angles"])
    commands = out.split("\nnext:\n")[1].strip().splitlines()
    assert len(commands) == 2
    export, generate = (c.strip() for c in commands)
    assert export == f"hadml export {best[1]} -o runs/smoke/version_0/smoke.onnx"
    assert generate == ("hadml generate -n 10000 --hadronization ml --model "
                        "runs/smoke/version_0/smoke.onnx --out events.hepmc")
    r = subprocess.run(_as_python(export), cwd=run, env=_cli_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "cluster_mass" in r.stdout
    assert read_metadata(run / "runs/smoke/version_0/smoke.onnx")["hadml.format_version"] == "1"
    # The printed generate command, with 5 events instead of 10000 to keep the test short.
    argv = _as_python(generate)
    argv[argv.index("-n") + 1] = "5"
    r = subprocess.run([*argv, "--no-progress"], cwd=run, env=_cli_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    with pyhepmc.open(str(run / "events.hepmc")) as f:
        assert sum(1 for _ in f) == 5


def test_summary_of_a_run(trained, monkeypatch):
    """The summary's best epoch and value are the minimum of the monitored metric in the
    run's CSV log; the plot is a PNG beside the logs; without matplotlib it says so."""
    cfg, result = trained
    s = result.summary
    with (Path(result.log_dir) / "metrics.csv").open() as f:
        rows = [row for row in csv.DictReader(f) if row["val/w_angles"]]
    assert [int(row["epoch"]) for row in rows] == list(range(cfg.max_epochs))
    values = [float(row["val/w_angles"]) for row in rows]
    best = int(np.argmin(values))
    assert s.monitor == "val/w_angles"
    assert s.best_epoch == best and s.best_value == pytest.approx(values[best], rel=1e-6)
    assert s.best_metrics["w_angles"] == pytest.approx(values[best], rel=1e-6)
    assert s.best_metrics["w_cos_theta"] == pytest.approx(float(rows[best]["val/w_cos_theta"]))
    assert f"epoch={best:03d}" in str(s.best_checkpoint)
    assert s.best_checkpoint == Path(result.best_checkpoint)
    assert s.last_checkpoint == Path(result.last_checkpoint)
    assert s.epochs_run == cfg.max_epochs
    assert s.plot == Path(result.log_dir) / "validation.png"
    png = s.plot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert s.model == Path(result.log_dir) / "t.onnx" and not s.exported
    text = s.text()
    assert f"best val/w_angles = {values[best]:.4g} (the monitor)" in text
    assert s.export_command() == f"hadml export {s.best_checkpoint} -o {s.model}"
    assert s.generate_command() == ("hadml generate -n 10000 --hadronization ml "
                                    f"--model {s.model} --out events.hepmc")
    assert s.export_command() in text and s.generate_command() in text
    # Without matplotlib: no plot, and the summary says why.
    from hadml.train.summary import summarize

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    bare = summarize(result.log_dir, s.monitor, s.epochs_run, s.best_checkpoint, s.best_epoch,
                     s.best_value)
    assert bare.plot is None and "plot           : none (matplotlib is not installed" \
        in bare.text()
    assert bare.best_metrics == s.best_metrics


def test_summary_after_export(table, tmp_path):
    cfg = _config(tmp_path, max_epochs=2, export=str(tmp_path / "m.onnx"))
    s = run_train(cfg, table=table).summary
    assert s.exported and s.model == tmp_path / "m.onnx" and s.model.is_file()
    assert "hadml export" not in s.text()
    assert f"exported model : {s.model}" in s.text()
    assert s.generate_command() in s.text()


def test_uniform_azimuth_generator_is_exact():
    """azimuth='uniform': phi = pi erf(z/sqrt 2) of the last noise component alone, so it is
    exactly uniform and independent of the condition and of cos theta."""
    from hadml.train.models import Generator

    torch.manual_seed(3)
    gen = Generator(5, 4, hidden=32, layers=2, azimuth="uniform")
    n = 200_000
    cond = torch.randn(n, 5)
    noise = torch.randn(n, 4)
    with torch.no_grad():
        out = gen(cond, noise)
        moved = noise.clone()
        moved[:, :-1] = torch.randn(n, 3)
        other = gen(torch.randn(n, 5), moved)
    torch.testing.assert_close(out[:, 1], math.pi * torch.erf(noise[:, -1] / math.sqrt(2.0)))
    torch.testing.assert_close(other[:, 1], out[:, 1])  # condition and other noise: no effect
    counts, _ = np.histogram(out[:, 1].numpy(), np.linspace(-math.pi, math.pi, 41))
    expected = n / 40
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 39 + 5 * math.sqrt(2 * 39), chi2  # flat within statistics (39 dof)
    uni = Generator(5, 4, hidden=32, layers=2, azimuth="uniform", noise_distribution="uniform")
    u = torch.rand(10, 4)
    with torch.no_grad():
        torch.testing.assert_close(uni(cond[:10], u)[:, 1], math.pi * (2 * u[:, -1] - 1))
    with pytest.raises(ValueError, match="noise_dim >= 2"):
        Generator(5, 1, azimuth="uniform")
    with pytest.raises(ValueError, match="azimuth"):
        TrainConfig.from_dict({"azimuth": "isotropic"})


def test_ema_generator_is_validated_exported_and_resumed(table, tmp_path):
    cfg = _config(tmp_path, azimuth="uniform", ema_decay=0.9, max_epochs=2,
                  monitor="val/chi2_angles")
    result = run_train(cfg, table=table)
    module = result.module
    assert module.generator_ema is not None and module.sampling_generator is module.generator_ema
    steps = int(module.ema_updates)
    assert steps == result.trainer.global_step // 2  # one generator step per batch
    # The average lags the trained weights; it is what validation saw.
    assert any(not torch.equal(a, b) for a, b in zip(module.generator.parameters(),
                                                   module.generator_ema.parameters(),
                                                   strict=True))
    hist = module.val_history[-1]
    assert hist["chi2_angles"] == max(hist["chi2_cos_theta"], hist["chi2_phi"])
    assert module.evaluate(*_val(result)) == pytest.approx(hist)
    path = export_generator(module, tmp_path / "ema.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    cond = np.random.default_rng(1).normal(size=(64, len(FEATURES))).astype(np.float32)
    noise = np.random.default_rng(2).normal(size=(64, 4)).astype(np.float32)
    (out,) = sess.run(["angles"], {"condition": cond, "noise": noise})
    with torch.no_grad():
        ref = module.generator_ema.cpu()(torch.from_numpy(cond), torch.from_numpy(noise))
    np.testing.assert_allclose(out, ref.numpy(), rtol=0, atol=1e-5)
    # The warm-up counter travels with the checkpoint.
    resumed = load_module(result.last_checkpoint)
    assert int(resumed.ema_updates) == steps
    for a, b in zip(resumed.generator_ema.parameters(), module.generator_ema.parameters(),
                    strict=True):
        torch.testing.assert_close(a, b.cpu())


def test_binned_chi2_metric():
    from hadml.train.metrics import chi2_ndf, chi2_two_samples

    edges = np.array([0.0, 1.0, 2.0])
    # a: 3 + 1 entries (N1 4), b: 1 + 1 (N2 2): sum (N2 a_i - N1 b_i)^2 / ((a_i + b_i) N1 N2)
    # = (6 - 4)^2 / 32 + (2 - 4)^2 / 16; ndf = 2 bins - 1 (shapes only).
    c2, ndf = chi2_two_samples(np.array([0.5, 0.5, 0.5, 1.5]), np.array([0.5, 1.5]), edges)
    assert ndf == 1
    assert c2 == pytest.approx(4 / 32 + 4 / 16)
    x = np.random.default_rng(0).uniform(size=50_000)
    assert chi2_ndf(x, x, np.linspace(0, 1, 11)) == 0.0
    y = np.random.default_rng(1).uniform(size=50_000)
    assert chi2_ndf(x, y, np.linspace(0, 1, 11)) < 3.0  # same distribution: ~1
    assert chi2_ndf(x, y**1.2, np.linspace(0, 1, 11)) > 50.0  # different: large


def test_fold_map():
    from hadml.train.models import fold

    a = torch.tensor([-3.0, -2.0, -1.5, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0],
                     requires_grad=True)
    c = fold(a)
    torch.testing.assert_close(c.detach(), torch.tensor(
        [1.0, 0.0, -0.5, -1.0, 0.0, 0.5, 1.0, 0.5, 0.0, -1.0, 1.0]))
    c[[2, 5, 7]].sum().backward()  # slopes -1, +1, -1 away from the kinks
    torch.testing.assert_close(a.grad[[2, 5, 7]], torch.tensor([-1.0, 1.0, -1.0]))


def test_fold_generator_exports_and_runs_in_the_shim(table, tmp_path):
    cfg = _config(tmp_path, max_epochs=1, cos_theta_map="fold", azimuth="uniform")
    result = run_train(cfg, table=table)
    path = export_generator(result.module, tmp_path / "model.onnx")
    meta = read_metadata(path)
    assert meta["hadml.noise_dim"] == str(cfg.noise_dim)
    # The C++ shim loads it and gives the angles torch gives (unscaled inputs: it applies
    # the metadata scaling itself).
    decayer = _core.OnnxClusterDecayer(str(path))
    assert decayer.noise_dim == cfg.noise_dim
    s = result.datamodule.splits["val"]
    scale = np.asarray(decayer.scale)
    raw = (s.condition.numpy() * scale + np.asarray(decayer.offset)).astype(np.float32)
    noise = np.random.default_rng(3).normal(size=(len(raw), cfg.noise_dim)).astype(np.float32)
    ang = decayer.infer_angles(raw, noise)
    with torch.no_grad():
        ref = result.module.sampling_generator.cpu()(
            torch.from_numpy(((raw - np.asarray(decayer.offset)) / scale).astype(np.float32)),
            torch.from_numpy(noise)).numpy()
    np.testing.assert_allclose(ang, ref, rtol=0, atol=1e-5)
    assert np.all(np.abs(ang[:, 0]) <= 1.0)


def test_init_from_another_generator_is_refused(trained, tmp_path):
    """Weights of a tanh generator loaded into a fold generator would silently mean
    something else: init_from checks the generator options first."""
    _, source = trained
    cfg = _config(tmp_path, model="event", max_epochs=1, init_from=source.best_checkpoint,
                  cos_theta_map="fold", data={"events_per_batch": 8, "batches_per_epoch": 2})
    with pytest.raises(ValueError, match="cos_theta_map: 'tanh' there, 'fold' here"):
        run_train(cfg, table=synthetic_table(50, 6, seed=5))


def test_flavour_balanced_sampling(table):
    """data.flavour_balance: cluster weights n_class^-alpha over light / charm / bottom."""
    from hadml.data.datamodule import ClusterDataModule, DataConfig

    ids = table.column("c1_id").to_numpy().copy()
    ids[::10] = 4  # 10% charm
    ids[1::20] = -5  # 5% bottom (an anti-b)
    t = table.set_column(table.schema.get_field_index("c1_id"), "c1_id", pa.array(ids))
    cfg = DataConfig(source="parquet", features=FEATURES, batch_size=64, val_fraction=0.25,
                     test_fraction=0.0, flavour_balance=0.5)
    dm = ClusterDataModule(cfg, table=t)
    dm.setup()
    s = dm.splits["train"]
    w = dm.sampling_weights().numpy()
    counts = {f: int((s.flavour == f).sum()) for f in (2, 4, 5)}
    assert counts[4] > 0 and counts[5] > 0
    for f, n in counts.items():
        np.testing.assert_allclose(w[s.flavour == f], n**-0.5)
    # Expected class shares ~ sqrt(n): the drawn batches follow them.
    shares = {f: n**0.5 / sum(m**0.5 for m in counts.values()) for f, n in counts.items()}
    drawn = torch.cat([c for c, _ in dm.train_dataloader()])
    n_drawn = len(drawn)
    assert n_drawn >= len(s) - 64
    idx = FEATURES.index("c1_flavour")
    raw = drawn[:, idx].numpy() * dm.scaling.scale[idx] + dm.scaling.offset[idx]
    for f, share in shares.items():
        assert abs(np.mean(np.round(raw) == f) - share) < 0.05, (f, share)
