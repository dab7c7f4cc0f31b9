"""Condition features, target angles and input scaling computed from a cluster table.

Feature names and definitions follow docs/model-contract.md. The scaling (offset, scale)
is derived from the training split only and travels with the checkpoint and the ONNX
file, never typed by hand (a mistake of the public reference code, DESIGN.md section 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from hadml import kinematics
from hadml.ml import contract

# Contract v1 feature names: hadml/ml/contract.py owns them (the C++ shim checks the same).
KNOWN_FEATURES = contract.KNOWN_FEATURES
DEFAULT_FEATURES = ("cluster_mass", "hadron1_mass", "hadron2_mass", "c1_flavour", "pstar")

_P4 = ("px", "py", "pz", "e")


def four_vectors(table: pa.Table, prefix: str) -> np.ndarray:
    """(N, 4) float64 array of (px, py, pz, e); prefix '' is the cluster, else 'c1', 'h2'..."""
    names = [f"{prefix}_{k}" if prefix else k for k in _P4]
    return np.stack([table.column(n).to_numpy().astype(np.float64) for n in names], axis=1)


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(1), 0.0, None))


def heaviest_quark(pid: np.ndarray) -> np.ndarray:
    """abs PDG id of the heaviest quark of a quark (1..5) or diquark (|id| = q1 q2 0 s), as
    the shim's c1_flavour / c2_flavour (for class labels: weights, closure classes)."""
    a = np.abs(np.asarray(pid, dtype=np.int64))
    return np.where(a < 10, a, np.maximum((a // 1000) % 10, (a // 100) % 10)).astype(np.float64)


def cluster_requests(table: pa.Table) -> dict[str, np.ndarray]:
    """The table's clusters as the decay requests the cluster stage hands a decayer (keys as
    ``_core.ClusterDecayer.decay_arrays``). The hadron masses are those of the hadron
    four-vectors: the cluster stage puts each hadron on its nominal mass shell, so they
    differ from the shim's nominal masses by float64 rounding only."""
    h1, h2 = four_vectors(table, "h1"), four_vectors(table, "h2")
    return {
        "p": four_vectors(table, ""),
        "c1_id": table.column("c1_id").to_numpy(), "c2_id": table.column("c2_id").to_numpy(),
        "c1_p": four_vectors(table, "c1"), "c2_p": four_vectors(table, "c2"),
        "c1_pert": table.column("c1_pert").to_numpy(False),
        "c2_pert": table.column("c2_pert").to_numpy(False),
        "id1": table.column("h1_id").to_numpy(), "id2": table.column("h2_id").to_numpy(),
        "m1": _mass(h1), "m2": _mass(h2),
    }


def condition_features(table: pa.Table, names: Sequence[str]) -> np.ndarray:
    """(N, C) float64 unscaled condition features in the order of ``names``.

    Computed by the C++ shim's own definitions (``hadml::conditionFeatures`` in
    cpp_plugin/onnx/src/OnnxClusterDecayer.cpp, through ``_core.condition_features``), so
    training and inference cannot disagree on what a feature means.
    """
    from hadml import _core

    unknown = [n for n in names if n not in KNOWN_FEATURES]
    if unknown:
        raise ValueError(f"unknown condition features {unknown}; known: {list(KNOWN_FEATURES)}")
    if not names:
        return np.zeros((table.num_rows, 0))
    return _core.condition_features(cluster_requests(table), list(names))


def target_angles(table: pa.Table) -> np.ndarray:
    """(N, 2) float64 (cos theta, phi) of hadron 1 in the model frame."""
    cl = torch.from_numpy(four_vectors(table, ""))
    c1 = torch.from_numpy(four_vectors(table, "c1"))
    h1 = torch.from_numpy(four_vectors(table, "h1"))
    cos_t, phi = kinematics.angles_from_decay(cl, c1, h1)
    return torch.stack([cos_t, phi], dim=1).numpy()


@dataclass
class Scaling:
    """Model input = (x - offset) / scale, per feature."""

    offset: list[float]
    scale: list[float]

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaling:
        """Mean and standard deviation of the training features (constant columns: scale 1)."""
        if x.shape[0] == 0:
            raise ValueError("cannot derive the input scaling from an empty training set")
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        return cls([float(v) for v in mean], [float(v) for v in std])

    def apply(self, x: np.ndarray) -> np.ndarray:
        return (x - np.asarray(self.offset)) / np.asarray(self.scale)

    def to_dict(self) -> dict[str, list[float]]:
        return {"offset": list(self.offset), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, d: dict) -> Scaling:
        return cls([float(v) for v in d["offset"]], [float(v) for v in d["scale"]])
