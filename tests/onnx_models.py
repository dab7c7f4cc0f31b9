"""Small ONNX cluster-decay models built with onnx.helper, for tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hadml.ml import contract as C

FEATURES = ["cluster_mass", "hadron1_mass", "hadron2_mass", "c1_perturbative", "pstar"]


def make_model(path: Path, *, features: list[str] | None = None, noise_dim: int = 2,
               hidden: int = 16, seed: int = 0, nan_below_offset: bool = False,
               input_name: str = C.INPUT_CONDITION, cond_rank: int = 2,
               cond_dtype: str = "float", metadata: dict[str, str] | None = None,
               drop_keys: tuple[str, ...] = (), graph_noise_dim: int | None = None,
               offset: list[float] | None = None, scale: list[float] | None = None,
               output_name: str = C.OUTPUT_ANGLES, output_dtype: str = "float",
               output_width: int = 2, declared_output_width: int | None = None,
               batch_dim: str | int = "N", angle_shift: tuple[float, float] | None = None,
               extra_input: bool = False, unknown_op: bool = False,
               check: bool = True) -> Path:
    """MLP: angles = [1, pi] * tanh(W2 tanh(W1 [condition, noise] + b1)).

    nan_below_offset adds 0 * sqrt(condition[:, 0]), NaN where the scaled first feature < 0.
    The other options break the contract on purpose (tests/test_bad_models.py):
    output_width computes that many outputs while the graph declares
    declared_output_width; angle_shift adds a constant to (cos_theta, phi); extra_input adds
    an unused third input; unknown_op routes the output through an operator of a domain no
    ONNX Runtime has; batch_dim fixes the batch dimension; check=False skips onnx.checker.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    feats = list(FEATURES if features is None else features)
    c, z = len(feats), noise_dim
    gz = z if graph_noise_dim is None else graph_noise_dim
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 1.0 / np.sqrt(c + gz), (c + gz, hidden)).astype(np.float32)
    b1 = rng.normal(0, 0.1, hidden).astype(np.float32)
    w2 = rng.normal(0, 1.0 / np.sqrt(hidden), (hidden, output_width)).astype(np.float32)
    out_decl = output_width if declared_output_width is None else declared_output_width
    dt = TensorProto.FLOAT if cond_dtype == "float" else TensorProto.DOUBLE
    cond_shape = [batch_dim, c] if cond_rank == 2 else [batch_dim, c, 1]
    inits = [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "W2"),
             numpy_helper.from_array(np.array([1.0, np.pi] + [1.0] * (output_width - 2),
                                              np.float32), "range"),
             numpy_helper.from_array(np.array([0.0], np.float32), "zero")]
    nodes = []
    cond_in = input_name
    if cond_dtype != "float":
        nodes.append(helper.make_node("Cast", [input_name], ["cond_f"], to=TensorProto.FLOAT))
        cond_in = "cond_f"
    if cond_rank != 2:
        inits.append(numpy_helper.from_array(np.array([0, c], np.int64), "shape2"))
        nodes.append(helper.make_node("Reshape", [cond_in, "shape2"], ["cond_2d"]))
        cond_in = "cond_2d"
    nodes += [
        helper.make_node("Concat", [cond_in, C.INPUT_NOISE], ["x"], axis=1),
        helper.make_node("MatMul", ["x", "W1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["h"]),
        helper.make_node("MatMul", ["h", "W2"], ["o0"]),
        helper.make_node("Tanh", ["o0"], ["o"]),
    ]
    nodes.append(helper.make_node("Mul", ["o", "range"], ["a0"]))
    last = "a0"
    if nan_below_offset:
        inits += [numpy_helper.from_array(np.array([0], np.int64), "s0"),
                  numpy_helper.from_array(np.array([1], np.int64), "s1"),
                  numpy_helper.from_array(np.array([1], np.int64), "ax")]
        nodes += [helper.make_node("Slice", [cond_in, "s0", "s1", "ax"], ["c0"]),
                  helper.make_node("Sqrt", ["c0"], ["sq"]),
                  helper.make_node("Mul", ["sq", "zero"], ["nanmask"]),
                  helper.make_node("Add", [last, "nanmask"], ["a1"])]
        last = "a1"
    if angle_shift is not None:
        inits.append(numpy_helper.from_array(np.array(angle_shift, np.float32), "shift"))
        nodes.append(helper.make_node("Add", [last, "shift"], ["a2"]))
        last = "a2"
    opsets = [helper.make_opsetid("", 17)]
    if unknown_op:
        nodes.append(helper.make_node("Frobnicate", [last], ["a3"], domain="org.hadml.bogus"))
        opsets.append(helper.make_opsetid("org.hadml.bogus", 1))
        last = "a3"
    out_type = TensorProto.FLOAT
    if output_dtype != "float":
        out_type = TensorProto.DOUBLE
        nodes.append(helper.make_node("Cast", [last], ["a4"], to=out_type))
        last = "a4"
    nodes.append(helper.make_node("Identity", [last], [output_name]))
    inputs = [helper.make_tensor_value_info(input_name, dt, cond_shape),
              helper.make_tensor_value_info(C.INPUT_NOISE, TensorProto.FLOAT, [batch_dim, gz])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("temperature", TensorProto.FLOAT, [1]))
    graph = helper.make_graph(
        nodes, "hadml_test_decayer", inputs,
        [helper.make_tensor_value_info(output_name, out_type, [batch_dim, out_decl])],
        inits)
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    meta = {
        C.KEY_FORMAT_VERSION: str(C.FORMAT_VERSION),
        C.KEY_FEATURES: json.dumps(feats),
        C.KEY_NOISE_DIM: str(z),
        C.KEY_NOISE_DISTRIBUTION: "normal",
        C.KEY_FRAME: C.FRAME,
        C.KEY_OUTPUT: C.OUTPUT_CONVENTION,
        C.KEY_SCALING: json.dumps({"offset": offset if offset is not None else [1.0] * c,
                                   "scale": scale if scale is not None else [2.0] * c}),
        C.KEY_PROVENANCE: json.dumps({"config": "test", "data_sha256": "none",
                                      "code_version": "test"}),
    }
    meta.update(metadata or {})
    for k in drop_keys:
        meta.pop(k)
    onnx.helper.set_model_props(model, meta)
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_requests(n: int, seed: int = 1, m_range: tuple[float, float] = (1.2, 4.0)
                  ) -> dict[str, np.ndarray]:
    """Random q qbar clusters (constituent mass 0.325) decaying to pi+ (0.1396) K- (0.4937)."""
    rng = np.random.default_rng(seed)
    mq = 0.325
    m = rng.uniform(*m_range, n)
    # constituents back to back in the rest frame, random direction
    pc = np.sqrt((m / 2) ** 2 - mq**2)
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    c1_rest = np.concatenate([u * pc[:, None], (m / 2)[:, None]], axis=1)
    c2_rest = np.concatenate([-u * pc[:, None], (m / 2)[:, None]], axis=1)
    pvec = rng.normal(0, 5.0, (n, 3))
    e = np.sqrt(m**2 + np.sum(pvec**2, axis=1))
    beta = pvec / e[:, None]
    from hadml.ml.contract import _boost
    c1 = _boost(c1_rest, beta)
    c2 = _boost(c2_rest, beta)
    return {
        "c1_id": np.full(n, 2, np.int32), "c2_id": np.full(n, -3, np.int32),
        "c1_p": c1, "c2_p": c2,
        "c1_pert": rng.random(n) < 0.5, "c2_pert": np.zeros(n, bool),
        "p": c1 + c2,
        "id1": np.full(n, 211, np.int32), "id2": np.full(n, -321, np.int32),
        "m1": np.full(n, 0.13957), "m2": np.full(n, 0.49368),
    }
