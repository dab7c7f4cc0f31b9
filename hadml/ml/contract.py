"""The ONNX model contract (docs/model-contract.md, format versions 1 and 2) in Python.

The constants are what the training export writes and what the C++ shim
(cpp_plugin/onnx/src/OnnxClusterDecayer.cpp) checks: keep names stable. The condition feature
names and definitions are not repeated here: ``KNOWN_FEATURES`` is the shim's own list and
``compute_features`` calls the shim's definitions, both from ``hadml._core``.
``reference_decay`` recomputes the rest (scaling, model frame, two-body decay) with numpy
and the onnxruntime Python API only, so a test can hold it equal to the shim.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

FORMAT_VERSION = 1
#: Format 2: the model also chooses the species of the two hadrons (species head).
FORMAT_VERSION_SPECIES = 2
INPUT_CONDITION = "condition"
INPUT_NOISE = "noise"
OUTPUT_ANGLES = "angles"
FRAME = "cluster_rest_z_constituent1"
OUTPUT_CONVENTION = "cos_theta,phi"
NOISE_DISTRIBUTIONS = ("normal", "uniform")

KEY_FORMAT_VERSION = "hadml.format_version"
KEY_FEATURES = "hadml.condition_features"
KEY_NOISE_DIM = "hadml.noise_dim"
KEY_NOISE_DISTRIBUTION = "hadml.noise_distribution"
KEY_FRAME = "hadml.frame"
KEY_OUTPUT = "hadml.output"
KEY_SCALING = "hadml.input_scaling"
KEY_PROVENANCE = "hadml.provenance"
METADATA_KEYS = (
    KEY_FORMAT_VERSION, KEY_FEATURES, KEY_NOISE_DIM, KEY_NOISE_DISTRIBUTION, KEY_FRAME,
    KEY_OUTPUT, KEY_SCALING, KEY_PROVENANCE,
)

# Format 2 (species head): extra graph input/output and metadata keys.
INPUT_SPECIES = "species_condition"
OUTPUT_SPECIES = "species_logits"
KEY_SPECIES = "hadml.species"
KEY_SPECIES_FEATURES = "hadml.species_features"
KEY_SPECIES_SCALING = "hadml.species_scaling"
KEY_SPECIES_CHOICE = "hadml.species_choice"
#: P(pair) proportional to exp(l1[h1] + l2[h2]) p*(M; m1, m2) over the open allowed pairs.
SPECIES_CHOICE = "softmax_logits_pstar"
METADATA_KEYS_V2 = METADATA_KEYS + (
    KEY_SPECIES, KEY_SPECIES_FEATURES, KEY_SPECIES_SCALING, KEY_SPECIES_CHOICE,
)
#: Condition features that depend on the species (the species head may not read them).
SPECIES_DEPENDENT_FEATURES = ("hadron1_mass", "hadron2_mass", "pstar")



def _shim_features() -> tuple[str, ...]:
    """The condition feature names the C++ shim knows: defined once, in
    cpp_plugin/onnx/src/OnnxClusterDecayer.cpp (``hadml::knownConditionFeatures``)."""
    from hadml import _core

    names = getattr(_core, "KNOWN_CONDITION_FEATURES", None)
    if names is None:
        raise ImportError(
            "hadml._core was built without the ONNX cluster decayer (HADML_WITH_ONNX=OFF), "
            "which defines the model's condition feature names: rebuild with ONNX Runtime")
    return tuple(names)


KNOWN_FEATURES: tuple[str, ...] = _shim_features()


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p[:, 3] ** 2 - np.sum(p[:, :3] ** 2, axis=1), 0.0))


def _pstar(m: np.ndarray, m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """p*(M; m1, m2) = sqrt[(M^2-(m1+m2)^2)(M^2-(m1-m2)^2)]/(2M) (PDG kinematics, 49.17)."""
    lam = (m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)
    return np.where(m > m1 + m2, np.sqrt(np.maximum(lam, 0.0)) / (2 * m), 0.0)


def compute_features(requests: Mapping[str, np.ndarray], names: list[str]) -> np.ndarray:
    """Unscaled condition features (n, C) of a request dict (keys as decay_arrays), as the
    float32 the shim feeds its model. The definitions are the shim's own
    (``_core.condition_features``): there is one of each."""
    from hadml import _core

    unknown = [n for n in names if n not in KNOWN_FEATURES]
    if unknown:
        raise ValueError(f"unknown condition features {unknown}; known: {KNOWN_FEATURES}")
    return _core.condition_features(dict(requests), list(names)).astype(np.float32)


def _metadata(session) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map)


def reference_angles(model_path: str, condition_unscaled: np.ndarray,
                     noise: np.ndarray) -> np.ndarray:
    """Scale the condition as the shim does and run the model with onnxruntime (Python)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    sc = json.loads(_metadata(sess)[KEY_SCALING])
    off = np.asarray(sc["offset"], dtype=np.float64)
    scale = np.asarray(sc["scale"], dtype=np.float64)
    cond = ((condition_unscaled.astype(np.float32) - off) / scale).astype(np.float32)
    return sess.run([OUTPUT_ANGLES], {INPUT_CONDITION: cond,
                                      INPUT_NOISE: noise.astype(np.float32)})[0]


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """General Lorentz boost of 4-vectors p (px,py,pz,E) by velocity beta (rows)."""
    b2 = np.sum(beta**2, axis=1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[:, :3], axis=1)
    g2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    vec = p[:, :3] + (g2 * bp + gamma * p[:, 3])[:, None] * beta
    return np.concatenate([vec, (gamma * (p[:, 3] + bp))[:, None]], axis=1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def reference_decay(model_path: str, requests: Mapping[str, np.ndarray],
                    noise: np.ndarray) -> dict[str, np.ndarray]:
    """Hadron momenta (p1, p2: (n, 4)) for the given requests and noise, in pure Python.

    Model frame (docs/model-contract.md): cluster rest frame, z along constituent 1,
    x in the plane of z and lab z (lab x when |z_z| > 0.99), y = z cross x.
    """
    import onnxruntime as ort

    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    names = json.loads(_metadata(sess)[KEY_FEATURES])
    ang = reference_angles(model_path, compute_features(requests, names), noise).astype(np.float64)
    cos_t, phi = np.clip(ang[:, 0], -1.0, 1.0), ang[:, 1]
    p = np.asarray(requests["p"], dtype=np.float64)
    c1 = np.asarray(requests["c1_p"], dtype=np.float64)
    m1 = np.asarray(requests["m1"], dtype=np.float64)
    m2 = np.asarray(requests["m2"], dtype=np.float64)
    beta = p[:, :3] / p[:, 3:4]
    z = _unit(_boost(c1, -beta)[:, :3])
    ref = np.where((np.abs(z[:, 2]) > 0.99)[:, None], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    x = _unit(ref - z * np.sum(ref * z, axis=1, keepdims=True))
    y = np.cross(z, x)
    sin_t = np.sqrt(np.maximum(0.0, 1.0 - cos_t**2))
    d = (sin_t * np.cos(phi))[:, None] * x + (sin_t * np.sin(phi))[:, None] * y + cos_t[:, None] * z
    m = _mass(p)
    ps = _pstar(m, m1, m2)
    e1 = (m**2 + m1**2 - m2**2) / (2 * m)
    p1 = _boost(np.concatenate([d * ps[:, None], e1[:, None]], axis=1), beta)
    p2 = _boost(np.concatenate([-d * ps[:, None], (m - e1)[:, None]], axis=1), beta)
    return {"p1": p1, "p2": p2}


def species_probabilities(logits: np.ndarray, species: list[int], cluster_mass: float,
                          channels: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The format-2 species choice for one cluster, in numpy (docs/model-contract.md):
    ``logits`` (2 S,) of the species head, ``channels`` = HadronSpectrum.pair_channels of
    the cluster's constituents. Returns (id1, id2, probability) of the allowed open pairs:
    both hadrons in ``species`` and M > m1 + m2, weight exp(l1 + l2) p*(M; m1, m2)."""
    col = {int(h): k for k, h in enumerate(species)}
    n_species = len(species)
    id1, id2, m1, m2 = channels
    keep = [(a, b, x, y) for a, b, x, y in zip(id1, id2, m1, m2, strict=True)
            if abs(int(a)) in col and abs(int(b)) in col and cluster_mass > x + y]
    if not keep:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty
    a, b, x, y = (np.asarray(v) for v in zip(*keep, strict=True))
    score = np.array([logits[col[abs(int(i))]] + logits[n_species + col[abs(int(j))]]
                      for i, j in zip(a, b, strict=True)], dtype=np.float64)
    m = np.full(len(a), cluster_mass)
    w = np.exp(score - score.max()) * _pstar(m, x.astype(np.float64), y.astype(np.float64))
    return a.astype(np.int64), b.astype(np.int64), w / w.sum()
