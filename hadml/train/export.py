"""Export a trained generator to ONE self-describing ONNX file (docs/model-contract.md v1).

The graph maps ``condition`` float32 [N, C] (already scaled) and ``noise`` float32 [N, Z]
to ``angles`` float32 [N, 2] = (cos theta, phi) of hadron 1 in the model frame; N is
dynamic. Everything the C++ shim needs to feed the model is written as metadata_props,
including the input scaling fitted on the training data. After writing, the file is run
with onnxruntime on a batch and compared with torch.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

import hadml
from hadml.ml import contract
from hadml.ml.contract import INPUT_CONDITION, INPUT_NOISE, OUTPUT_ANGLES

VERIFY_TOLERANCE = 1e-5


class ExportError(RuntimeError):
    """The exported file does not reproduce the torch generator or misses metadata."""


def code_version() -> str:
    """hadml version plus the git commit of the source tree when there is one."""
    version = hadml.__version__
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        version += f"+g{rev}" + (".dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def _torch_export(gen: torch.nn.Module, path: Path, n_cond: int, n_noise: int) -> str:
    cond = torch.zeros(8, n_cond)
    noise = torch.zeros(8, n_noise)
    try:
        batch = torch.export.Dim("batch")
        torch.onnx.export(
            gen, (cond, noise), str(path), dynamo=True, external_data=False,
            input_names=[INPUT_CONDITION, INPUT_NOISE], output_names=[OUTPUT_ANGLES],
            dynamic_shapes={"condition": {0: batch}, "noise": {0: batch}}, verbose=False,
        )
        return "dynamo"
    except Exception as err:  # noqa: BLE001 - any exporter failure falls back to TorchScript
        warnings.warn(f"dynamo ONNX export failed ({err}); using the TorchScript exporter",
                      stacklevel=2)
        torch.onnx.export(
            gen, (cond, noise), str(path), dynamo=False,
            input_names=[INPUT_CONDITION, INPUT_NOISE], output_names=[OUTPUT_ANGLES],
            dynamic_axes={INPUT_CONDITION: {0: "N"}, INPUT_NOISE: {0: "N"},
                          OUTPUT_ANGLES: {0: "N"}},
            opset_version=17,
        )
        return "torchscript"


def export_generator(module_or_ckpt: Any, path: str | Path, *, verify_batch: int = 512,
                     seed: int = 0) -> Path:
    """Write the generator of a ClusterGAN/EventGAN (object or checkpoint path) to ``path``.

    Returns the path. Raises :class:`ExportError` when onnxruntime does not reproduce the
    torch output to 1e-5 on a random batch.
    """
    from hadml.train.modules import load_module

    module = load_module(str(module_or_ckpt)) if isinstance(module_or_ckpt, (str, Path)) \
        else module_or_ckpt
    hp = module.hparams
    cfg = dict(hp["config"])
    features = list(hp["features"])
    scaling = {"offset": list(hp["scaling"]["offset"]), "scale": list(hp["scaling"]["scale"])}
    if len(scaling["offset"]) != len(features) or len(scaling["scale"]) != len(features):
        raise ExportError("the checkpoint's input scaling does not match its feature list")
    gen = module.sampling_generator.cpu().eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter = _torch_export(gen, path, len(features), gen.noise_dim)

    model = onnx.load(str(path))
    meta = {
        contract.KEY_FORMAT_VERSION: str(contract.FORMAT_VERSION),
        contract.KEY_FEATURES: json.dumps(features),
        contract.KEY_NOISE_DIM: str(gen.noise_dim),
        contract.KEY_NOISE_DISTRIBUTION: cfg["noise_distribution"],
        contract.KEY_FRAME: contract.FRAME,
        contract.KEY_OUTPUT: contract.OUTPUT_CONVENTION,
        contract.KEY_SCALING: json.dumps(scaling),
        contract.KEY_PROVENANCE: json.dumps({
            "config": cfg,
            "data_sha256": hp.get("data_sha256"),
            "code_version": code_version(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "exporter": exporter,
        }, sort_keys=True, default=str),
    }
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = "hadml"
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path), save_as_external_data=False)
    verify(path, gen, verify_batch, seed)
    return path


def verify(path: str | Path, gen: torch.nn.Module, n: int = 512, seed: int = 0) -> float:
    """Run the file with onnxruntime and compare with the torch generator; returns max |diff|."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for batch in (n, 1):
        cond = rng.normal(size=(batch, gen.n_condition)).astype(np.float32)
        noise = rng.normal(size=(batch, gen.noise_dim)).astype(np.float32)
        (out,) = sess.run([OUTPUT_ANGLES], {INPUT_CONDITION: cond, INPUT_NOISE: noise})
        with torch.no_grad():
            ref = gen(torch.from_numpy(cond), torch.from_numpy(noise)).numpy()
        if out.shape != ref.shape:
            raise ExportError(f"{path}: onnxruntime output shape {out.shape}, torch {ref.shape}")
        worst = max(worst, float(np.max(np.abs(out - ref))))
    if not worst <= VERIFY_TOLERANCE:
        raise ExportError(f"{path}: onnxruntime differs from torch by {worst:.3g} "
                          f"(> {VERIFY_TOLERANCE})")
    return worst


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata_props of an ONNX file as a dict."""
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}
