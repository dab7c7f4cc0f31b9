"""Export a trained generator to ONE self-describing ONNX file (docs/model-contract.md v1;
export_species_model writes format 2: a species head next to a format-1 angle graph).

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



def _save_with_metadata(model, meta: dict[str, str], path: str | Path) -> None:
    """Replace the model's metadata by ``meta`` (the contract's keys), check the graph and
    save it as one self-contained file (no external data)."""
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = "hadml"
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path), save_as_external_data=False)


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
    _save_with_metadata(model, meta, path)
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


def _export_species_head(head: torch.nn.Module, path: Path, opset: int) -> None:
    """The species head alone: ``species_condition`` [M, Cs] -> ``species_logits`` [M, 2S]
    (TorchScript exporter: its opset can match the angle graph's)."""
    x = torch.zeros(8, head.n_features)
    torch.onnx.export(
        head, (x,), str(path), dynamo=False, input_names=[contract.INPUT_SPECIES],
        output_names=[contract.OUTPUT_SPECIES],
        dynamic_axes={contract.INPUT_SPECIES: {0: "species_batch"},
                      contract.OUTPUT_SPECIES: {0: "species_batch"}},
        opset_version=opset,
    )


def export_species_model(species_checkpoint: str | Path, angles_from: str | Path | None,
                         path: str | Path, *, verify_batch: int = 512, seed: int = 0) -> Path:
    """Write a format-2 file (docs/model-contract.md): the species head of
    ``species_checkpoint`` (hadml.train.species) next to the angle graph of the format-1
    file ``angles_from`` (None: the shipped model), in one graph with independent batch
    dimensions. Verified with onnxruntime: logits equal torch's, angles equal the format-1
    file's, to 1e-5."""
    import tempfile

    import onnxruntime as ort

    from hadml.models import default_model_path
    from hadml.train.species import load_head

    head, saved = load_head(species_checkpoint)
    angles_path = Path(angles_from) if angles_from else default_model_path()
    angles = onnx.load(str(angles_path))
    ameta = {p.key: p.value for p in angles.metadata_props}
    if ameta.get(contract.KEY_FORMAT_VERSION) != str(contract.FORMAT_VERSION):
        raise ExportError(f"{angles_path}: the angle generator must come from a format-"
                          f"{contract.FORMAT_VERSION} file")
    opset = next(o.version for o in angles.opset_import if o.domain in ("", "ai.onnx"))
    with tempfile.TemporaryDirectory() as tmp:
        spath = Path(tmp) / "species.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _export_species_head(head, spath, opset)
        species_model = onnx.load(str(spath))
    species_model.ir_version = angles.ir_version
    merged = onnx.compose.merge_models(
        angles, species_model, io_map=[], prefix2="species_head/",
        outputs=[contract.OUTPUT_ANGLES, "species_head/" + contract.OUTPUT_SPECIES])
    # The prefix renames the head's graph input and output too; give them their names back.
    rename = {"species_head/" + contract.INPUT_SPECIES: contract.INPUT_SPECIES,
              "species_head/" + contract.OUTPUT_SPECIES: contract.OUTPUT_SPECIES}
    for v in list(merged.graph.input) + list(merged.graph.output):
        v.name = rename.get(v.name, v.name)
    for node in merged.graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    meta = dict(ameta)
    meta.update({
        contract.KEY_FORMAT_VERSION: str(contract.FORMAT_VERSION_SPECIES),
        contract.KEY_SPECIES: json.dumps([int(h) for h in saved["species"]]),
        contract.KEY_SPECIES_FEATURES: json.dumps(list(saved["features"])),
        contract.KEY_SPECIES_SCALING: json.dumps(saved["scaling"]),
        contract.KEY_SPECIES_CHOICE: contract.SPECIES_CHOICE,
        contract.KEY_PROVENANCE: json.dumps({
            "angles": {"file": angles_path.name,
                       "provenance": json.loads(ameta[contract.KEY_PROVENANCE])},
            "species": {"config": saved["config"], "data_sha256": saved["data_sha256"],
                        "val_nll": saved["val_nll"],
                        **({"calibration": saved["calibration"]}
                           if saved.get("calibration") else {})},
            "code_version": code_version(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__,
        }, sort_keys=True, default=str),
    })
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_with_metadata(merged, meta, path)

    # Verify: both heads, each with the other head at zero rows (as the shim runs them).
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = ort.InferenceSession(str(angles_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    n_cond = len(json.loads(meta[contract.KEY_FEATURES]))
    n_noise = int(meta[contract.KEY_NOISE_DIM])
    x = rng.normal(size=(verify_batch, head.n_features)).astype(np.float32)
    cond = rng.normal(size=(verify_batch, n_cond)).astype(np.float32)
    noise = rng.normal(size=(verify_batch, n_noise)).astype(np.float32)
    empty = {contract.INPUT_CONDITION: np.zeros((0, n_cond), np.float32),
             contract.INPUT_NOISE: np.zeros((0, n_noise), np.float32)}
    (logits,) = sess.run([contract.OUTPUT_SPECIES], {**empty, contract.INPUT_SPECIES: x})
    with torch.no_grad():
        want = head(torch.from_numpy(x)).numpy()
    (ang,) = sess.run([contract.OUTPUT_ANGLES], {
        INPUT_CONDITION: cond, INPUT_NOISE: noise,
        contract.INPUT_SPECIES: np.zeros((0, head.n_features), np.float32)})
    (ang_ref,) = ref.run([OUTPUT_ANGLES], {INPUT_CONDITION: cond, INPUT_NOISE: noise})
    worst = max(float(np.max(np.abs(logits - want))), float(np.max(np.abs(ang - ang_ref))))
    if not worst <= VERIFY_TOLERANCE:
        raise ExportError(f"{path}: onnxruntime differs from torch / the angle file by "
                          f"{worst:.3g} (> {VERIFY_TOLERANCE})")
    return path
