"""Decays per second of the ONNX cluster-decay shim, by batch size.

One run prints, side by side: one call per cluster (batch 1), per-event batching
(64 clusters per call, about one e+e- event at 91 GeV) and large batches (4096).
Uses the shipped default model unless --model names another or --synthetic asks for an
untrained MLP built like the tests' models.

    python bench/bench_onnx.py [--model m.onnx | --synthetic --hidden 128] [--clusters 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


@dataclass
class BenchConfig:
    model: str | None
    hidden: int
    clusters: int
    threads: int
    repeats: int


def _slice(req: dict[str, np.ndarray], a: int, b: int) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v[a:b]) for k, v in req.items()}


def run(cfg: BenchConfig) -> list[tuple[int, float, float]]:
    from onnx_models import make_model, make_requests

    from hadml import _core

    with tempfile.TemporaryDirectory() as tmp:
        path = cfg.model or str(make_model(Path(tmp) / "bench.onnx", hidden=cfg.hidden))
        dec = _core.OnnxClusterDecayer(path, threads=cfg.threads)
        req = make_requests(cfg.clusters, seed=3)
        rows = []
        for batch in (1, 64, 4096):
            n = cfg.clusters if batch > 1 else min(cfg.clusters, 5000)
            chunks = [_slice(req, a, min(a + batch, n)) for a in range(0, n, batch)]
            dec.decay_arrays(chunks[0], 1)  # warm-up
            best = np.inf
            for _ in range(cfg.repeats):
                t0 = time.perf_counter()
                for i, c in enumerate(chunks):
                    dec.decay_arrays(c, i)
                best = min(best, time.perf_counter() - t0)
            rows.append((batch, n / best, best / n * 1e6))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--synthetic", action="store_true",
                    help="benchmark an untrained MLP of --hidden units instead")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--clusters", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.model is None and not a.synthetic:
        from hadml.models import default_model_path

        a.model = str(default_model_path())
    cfg = BenchConfig(a.model, a.hidden, a.clusters, a.threads, a.repeats)
    rows = run(cfg)
    print(f"ONNX shim, {'model ' + cfg.model if cfg.model else f'MLP hidden {cfg.hidden}'}, "
          f"intra-op threads {cfg.threads} (times include the Python binding)")
    print(f"{'batch':>6} {'decays/s':>12} {'us/decay':>10}  note")
    notes = {1: "one call per cluster", 64: "per-event batching", 4096: "many events per call"}
    for batch, rate, us in rows:
        print(f"{batch:>6} {rate:>12.0f} {us:>10.2f}  {notes[batch]}")
    print(f"per-event batching (64) vs per cluster (1): {rows[1][1] / rows[0][1]:.1f}x faster")


if __name__ == "__main__":
    main()
