"""Hostile and malformed ONNX model files (issue 11, item 5): each one gives a clear Python
exception naming the file and the problem, and none crashes the process.

The files are crafted with the `onnx` package (tests/onnx_models.py). Those that crashed or
could crash a process (deep or huge JSON, truncated or random bytes) are loaded in a child
process, and the test asserts that the child was not killed by a signal.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

_core = pytest.importorskip("hadml._core")
pytest.importorskip("onnx")
if not getattr(_core, "HAS_ONNX", False):
    pytest.skip("hadml built without ONNX Runtime", allow_module_level=True)

from onnx_models import FEATURES, make_model, make_requests  # noqa: E402

from hadml.ml import contract as C  # noqa: E402

Onnx = _core.OnnxClusterDecayer
REPO = Path(__file__).resolve().parent.parent
N_FEATURES = len(FEATURES)


def _scaling(offset: object = None, scale: object = None) -> dict[str, str]:
    """Metadata override of hadml.input_scaling (raw JSON text, so NaN etc. can be written)."""
    off = json.dumps([1.0] * N_FEATURES) if offset is None else offset
    sc = json.dumps([2.0] * N_FEATURES) if scale is None else scale
    return {C.KEY_SCALING: f'{{"offset": {off}, "scale": {sc}}}'}


def _nested(depth: int, leaf: str = "0") -> str:
    return "[" * depth + leaf + "]" * depth


def _model(**kwargs) -> Callable[[Path], Path]:
    return lambda path: make_model(path, **kwargs)


def _raw(data: Callable[[Path], bytes]) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        path.write_bytes(data(path))
        return path
    return build


def _truncated(path: Path) -> bytes:
    good = make_model(path.with_name("good.onnx")).read_bytes()
    return good[: len(good) * 2 // 3]


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]
    error: type[Exception]
    message: str  # a regular expression the error message must contain
    subprocess: bool = False  # load in a child process (crashed the old shim, or could)


CASES = [
    # --- graph: names, dtypes, shapes, operators
    Case("extra_input", _model(extra_input=True), ValueError,
         r"graph inputs must be exactly 'condition' and 'noise', found 'condition', 'noise', "
         r"'temperature'"),
    Case("output_name", _model(output_name="angle"), ValueError,
         r"graph has no output 'angles' \(outputs: 'angle'\)"),
    Case("output_dtype", _model(output_dtype="double"), ValueError,
         r"'angles' has dtype float64, expected float32"),
    Case("output_width", _model(output_width=3), ValueError,
         r"'angles' has shape \[N, 3\], expected \[N, 2\]"),
    Case("fixed_batch", _model(batch_dim=1), ValueError,
         r"'condition' has shape \[1, 5\] with a fixed batch dimension"),
    Case("unknown_op", _model(unknown_op=True, check=False), RuntimeError,
         r"ONNX Runtime cannot load it .*Frobnicate"),
    # --- metadata keys and types
    Case("missing_provenance", _model(drop_keys=(C.KEY_PROVENANCE,)), ValueError,
         r"missing metadata key 'hadml.provenance'"),
    Case("missing_frame", _model(drop_keys=(C.KEY_FRAME,)), ValueError,
         r"missing metadata key 'hadml.frame'"),
    Case("features_numbers", _model(metadata={C.KEY_FEATURES: "[1, 2, 3, 4, 5]"}), ValueError,
         r"hadml.condition_features must hold strings, found 1"),
    Case("features_object", _model(metadata={C.KEY_FEATURES: '{"cluster_mass": 1}'}),
         ValueError, r"hadml.condition_features must be a non-empty JSON list"),
    Case("features_empty", _model(metadata={C.KEY_FEATURES: "[]"}), ValueError,
         r"hadml.condition_features must be a non-empty JSON list"),
    Case("features_twice",
         _model(features=["cluster_mass", "pstar", "cluster_mass"]), ValueError,
         r"condition feature 'cluster_mass' is listed twice"),
    Case("scaling_strings", _model(metadata=_scaling(offset='["a", "b", "c", "d", "e"]')),
         ValueError, r"hadml.input_scaling.offset\[0\] \(cluster_mass\) is not a number: \"a\""),
    Case("scaling_list", _model(metadata={C.KEY_SCALING: "[1, 2]"}), ValueError,
         r"hadml.input_scaling must be a JSON object with 'offset' and 'scale' lists"),
    Case("format_version_float", _model(metadata={C.KEY_FORMAT_VERSION: "1.0"}), ValueError,
         r"unsupported hadml.format_version '1.0'"),
    # --- input scaling values
    Case("scale_nan", _model(metadata=_scaling(scale=json.dumps([2.0, math.nan, 2, 2, 2]))),
         ValueError, r"metadata 'hadml.input_scaling': malformed JSON .*NaN and Infinity are not "
         r"JSON numbers"),
    Case("offset_inf", _model(metadata=_scaling(offset=json.dumps([math.inf, 0, 0, 0, 0]))),
         ValueError, r"malformed JSON .*NaN and Infinity are not JSON numbers"),
    Case("offset_overflow", _model(metadata=_scaling(offset="[1e400, 0, 0, 0, 0]")), ValueError,
         r"metadata 'hadml.input_scaling': malformed JSON .*number overflow"),
    Case("scale_1e-300", _model(scale=[2.0, 2.0, 1e-300, 2.0, 2.0]), ValueError,
         r"hadml.input_scaling.scale\[2\] \(hadron2_mass\) is 1e-300; a scale must lie in "
         r"\[1e-06, 1e\+06\]"),
    Case("scale_negative", _model(scale=[2.0, -2.0, 2.0, 2.0, 2.0]), ValueError,
         r"scale\[1\] \(hadron1_mass\) is -2; a scale must lie in"),
    Case("scale_zero", _model(scale=[0.0] * N_FEATURES), ValueError,
         r"scale\[0\] \(cluster_mass\) is 0; a scale must lie in"),
    Case("offset_huge", _model(offset=[0.0, 0.0, 0.0, 0.0, -1e30]), ValueError,
         r"offset\[4\] \(pstar\) is -1e\+30; \|offset\| must be at most 1e\+06"),
    # --- noise
    Case("noise_dim_zero", _model(noise_dim=0), ValueError,
         r"hadml.noise_dim must be an integer from 1 to 1024 \(a generator needs noise\), "
         r"got '0'"),
    Case("noise_dim_huge", _model(metadata={C.KEY_NOISE_DIM: "1000000000"}), ValueError,
         r"hadml.noise_dim must be an integer from 1 to 1024 .*got '1000000000'"),
    Case("noise_dim_overflow", _model(metadata={C.KEY_NOISE_DIM: "9" * 30}), ValueError,
         r"hadml.noise_dim must be an integer from 1 to 1024 .*got '9{30}'"),
    Case("noise_dim_fraction", _model(metadata={C.KEY_NOISE_DIM: "2.5"}), ValueError,
         r"hadml.noise_dim must be an integer .*got '2.5'"),
    # --- files that are not models
    Case("empty_file", _raw(lambda p: b""), RuntimeError, r"ONNX Runtime cannot load it"),
    # --- crafted to exhaust the parser or memory: in a child process
    Case("deep_provenance", _model(metadata={C.KEY_PROVENANCE: _nested(30000)}), ValueError,
         r"metadata 'hadml.provenance': JSON nested deeper than 64 levels", subprocess=True),
    Case("deep_scaling",
         _model(metadata={C.KEY_SCALING: '{"offset": ' * 30000 + "0" + "}" * 30000}),
         ValueError, r"metadata 'hadml.input_scaling': JSON nested deeper than 64 levels",
         subprocess=True),
    Case("deep_features", _model(metadata={C.KEY_FEATURES: _nested(100000, '"pstar"')}),
         ValueError, r"metadata 'hadml.condition_features': JSON nested deeper than 64 levels",
         subprocess=True),
    Case("huge_provenance",
         _model(metadata={C.KEY_PROVENANCE: json.dumps({"x": "y" * (2 << 20)})}), ValueError,
         r"metadata 'hadml.provenance' holds 2097161 bytes, more than the limit of 1048576",
         subprocess=True),
    Case("huge_frame", _model(metadata={C.KEY_FRAME: "z" * (3 << 20)}), ValueError,
         r"metadata 'hadml.frame' holds 3145728 bytes, more than the limit", subprocess=True),
    Case("truncated", _raw(_truncated), RuntimeError, r"ONNX Runtime cannot load it",
         subprocess=True),
    Case("random_bytes",
         _raw(lambda p: np.random.default_rng(11).integers(0, 256, 20000, np.uint8).tobytes()),
         RuntimeError, r"ONNX Runtime cannot load it", subprocess=True),
]
CASE_BY_NAME = {c.name: c for c in CASES}

# Loads each model named on the command line; one JSON line per model. "start" lines come
# first and are flushed, so a crash names the model that caused it.
_CHILD = r"""
import json, sys
import hadml
from hadml import _core
for path in sys.argv[1:]:
    print(json.dumps({"start": path}), flush=True)
    try:
        _core.OnnxClusterDecayer(path)
        result = {"path": path, "error": None, "message": ""}
    except Exception as e:  # noqa: BLE001
        result = {"path": path, "error": type(e).__name__, "message": str(e)}
    print(json.dumps(result), flush=True)
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad_models")


@pytest.fixture(scope="module")
def child_results(model_dir: Path) -> dict[str, dict]:
    """Load every subprocess case in ONE child process (keeps the suite fast)."""
    paths = [c.build(model_dir / f"{c.name}.onnx") for c in CASES if c.subprocess]
    proc = subprocess.run([sys.executable, "-c", _CHILD, *map(str, paths)], cwd=model_dir,
                          capture_output=True, text=True, timeout=300,
                          env=_child_env())
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    started = [ln["start"] for ln in lines if "start" in ln]
    assert proc.returncode == 0, (
        f"child process ended with {proc.returncode} (a negative code is a signal) while "
        f"loading {started[-1] if started else '?'}; stderr: {proc.stderr[-2000:]}")
    return {Path(ln["path"]).stem: ln for ln in lines if "path" in ln}


def _child_env() -> dict[str, str]:
    """The child imports the hadml this test process imported (an installed package in CI,
    the checkout with an in-place build in development), not the bare source tree."""
    import hadml

    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(hadml.__file__).resolve().parents[1])
    return env


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_bad_model_gives_a_clear_error(name: str, model_dir: Path, request) -> None:
    case = CASE_BY_NAME[name]
    if case.subprocess:
        res = request.getfixturevalue("child_results")[name]
        error, message = res["error"], res["message"]
        path = model_dir / f"{name}.onnx"
    else:
        path = case.build(model_dir / f"{name}.onnx")
        with pytest.raises(Exception) as info:
            Onnx(str(path))
        error, message = type(info.value).__name__, str(info.value)
    assert error == case.error.__name__, message
    assert re.search(case.message, message), message
    assert f"ONNX cluster-decay model '{path}'" in message
    assert len(message) < 600, "the message quotes at most a short piece of the bad value"


def test_at_least_fifteen_hostile_files() -> None:
    assert len(CASES) >= 15
    assert sum(c.subprocess for c in CASES) >= 5


def test_json_depth_limit_is_64_levels(tmp_path: Path) -> None:
    ok = make_model(tmp_path / "d64.onnx", metadata={C.KEY_PROVENANCE: _nested(64)})
    assert json.loads(Onnx(str(ok)).provenance) == json.loads(_nested(64))
    bad = make_model(tmp_path / "d65.onnx", metadata={C.KEY_PROVENANCE: _nested(65)})
    with pytest.raises(ValueError, match="nested deeper than 64 levels"):
        Onnx(str(bad))


def test_metadata_size_limit_is_one_mebibyte(tmp_path: Path) -> None:
    pad = (1 << 20) - len(json.dumps({"x": ""}))
    ok = make_model(tmp_path / "1mib.onnx",
                    metadata={C.KEY_PROVENANCE: json.dumps({"x": "y" * pad})})
    assert len(Onnx(str(ok)).provenance) == 1 << 20
    bad = make_model(tmp_path / "1mib+1.onnx",
                     metadata={C.KEY_PROVENANCE: json.dumps({"x": "y" * (pad + 1)})})
    with pytest.raises(ValueError, match="holds 1048577 bytes, more than the limit of 1048576"):
        Onnx(str(bad))


def test_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="cannot open the file \\(not a regular file\\)"):
        Onnx(str(tmp_path))
    with pytest.raises(RuntimeError, match="cannot open the file \\(no such file\\)"):
        Onnx(str(tmp_path / "absent.onnx"))


def test_threads_are_bounded(tmp_path: Path) -> None:
    path = make_model(tmp_path / "m.onnx")
    for threads in (-1, 257, 10**6):
        with pytest.raises(ValueError, match=f"threads must be from 0 to 256 .*got {threads}"):
            Onnx(str(path), threads=threads)


def test_scale_limits_are_inclusive(tmp_path: Path) -> None:
    path = make_model(tmp_path / "edge.onnx", scale=[1e-6, 1e6, 1.0, 1.0, 1.0],
                      offset=[1e6, -1e6, 0.0, 0.0, 0.0])
    d = Onnx(str(path))
    assert d.scale[:2] == [1e-6, 1e6] and d.offset[:2] == [1e6, -1e6]


# --- models that load but whose outputs are invalid -------------------------------------

INVALID_OUTPUTS = {
    # sqrt of a negative scaled feature: every output NaN
    "all_nan": {"nan_below_offset": True, "offset": [100.0] + [0.0] * 4, "scale": [1.0] * 5},
    # cos theta in [2, 4]
    "cos_out_of_range": {"angle_shift": (3.0, 0.0)},
    # phi = pi tanh(.) + 4 in [4 - pi, 4 + pi]: mostly above pi
    "phi_out_of_range": {"angle_shift": (0.0, 4.0)},
}


@pytest.mark.parametrize("name", sorted(INVALID_OUTPUTS))
def test_invalid_outputs_error_policy(tmp_path: Path, name: str) -> None:
    path = make_model(tmp_path / f"{name}.onnx", **INVALID_OUTPUTS[name])
    d = Onnx(str(path))
    req = make_requests(30)
    ang = d.infer_angles(d.features_of(req), d.draw_noise(30, 3))
    invalid = ~(np.isfinite(ang).all(axis=1) & (np.abs(ang[:, 0]) <= 1 + 1e-4)
                & (np.abs(ang[:, 1]) <= np.pi + 1e-4))
    first = int(np.argmax(invalid))
    assert invalid.sum() >= 20  # nearly all rows are invalid by construction
    with pytest.raises(RuntimeError, match=f"'{re.escape(str(path))}': invalid output at "
                                           f"batch index {first} "):
        d.decay_arrays(req, 3)
    assert d.stats() == {"decayed": 0, "fallbacks": 0, "species_fallbacks": 0}


@pytest.mark.parametrize("name", sorted(INVALID_OUTPUTS))
def test_invalid_outputs_fallback_policy_counts(tmp_path: Path, name: str) -> None:
    path = make_model(tmp_path / f"{name}.onnx", **INVALID_OUTPUTS[name])
    d = Onnx(str(path), policy="fallback")
    req = make_requests(30)
    ang = d.infer_angles(d.features_of(req), d.draw_noise(30, 3))
    n_bad = int(np.sum(~(np.isfinite(ang).all(axis=1) & (np.abs(ang[:, 0]) <= 1 + 1e-4)
                         & (np.abs(ang[:, 1]) <= np.pi + 1e-4))))
    out = d.decay_arrays(req, 3)
    assert d.stats() == {"decayed": 30 - n_bad, "fallbacks": n_bad, "species_fallbacks": 0}
    out2 = d.decay_arrays(req, 4)
    assert d.stats()["decayed"] + d.stats()["fallbacks"] == 60
    np.testing.assert_allclose(out["p1"] + out["p2"], req["p"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(out2["p1"] + out2["p2"], req["p"], rtol=0, atol=1e-10)
    if name == "all_nan":
        assert d.stats() == {"decayed": 0, "fallbacks": 60, "species_fallbacks": 0}


# --- one list of feature names ----------------------------------------------------------

def test_feature_names_are_the_shims() -> None:
    assert C.KNOWN_FEATURES == tuple(_core.KNOWN_CONDITION_FEATURES)
    assert len(C.KNOWN_FEATURES) == 10 and len(set(C.KNOWN_FEATURES)) == 10
    # Python computes every name the shim knows, to the same values.
    req = make_requests(20)
    ours = C.compute_features(req, list(C.KNOWN_FEATURES))
    assert ours.shape == (20, 10)
    # The contract page documents exactly these names.
    doc = (REPO / "docs" / "model-contract.md").read_text()
    table = doc.split("## Condition features")[1].split("\n## ")[0]
    documented = set(re.findall(r"`([a-z0-9_]+)`", table)) - {"hadml.condition_features"}
    assert documented == set(C.KNOWN_FEATURES)


def test_model_with_every_known_feature(tmp_path: Path) -> None:
    names = list(C.KNOWN_FEATURES)
    path = make_model(tmp_path / "all.onnx", features=names)
    d = Onnx(str(path))
    assert d.features == names
    req = make_requests(40)
    np.testing.assert_allclose(d.features_of(req), C.compute_features(req, names),
                               rtol=1e-6, atol=1e-6)
