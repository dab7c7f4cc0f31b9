#!/usr/bin/env python
"""Events per second: hadml generation (classic and, if available, ML cluster decays)
against Pythia 8's own string hadronization, measured side by side in one run.

Both sides deliver the same product: a complete e+e- -> hadrons event at sqrt(s) with
hadron decays, read out into numpy arrays (hadml: the full history; Pythia: the final
state). "Pythia next() only" is also shown (no readout), the lower bound of its cost.

    python bench/bench_generate.py -n 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hadml.analysis.pythia_peer import string_settings
from hadml.config import GeneratorConfig
from hadml.generator import Generator
from hadml.pythia_stage import make_pythia


def pythia_string(n: int, ecm: float, readout: bool) -> float:
    pythia = make_pythia(string_settings(seed=1, ecm=ecm))
    for _ in range(50):
        pythia.next()
    start = time.perf_counter()
    for _ in range(n):
        pythia.next()
        if readout:
            ev = pythia.event
            ids, mom = [], []
            for i in range(ev.size()):
                p = ev[i]
                if p.isFinal():
                    ids.append(p.id())
                    mom.append((p.px(), p.py(), p.pz(), p.e()))
            np.asarray(ids), np.asarray(mom)
    return n / (time.perf_counter() - start)


def hadml_rate(n: int, config: GeneratorConfig) -> float:
    gen = Generator(config)
    gen.run_block(10_000, 50, 0)  # warm-up
    start = time.perf_counter()
    done = 0
    block = 0
    while done < n:
        k = min(config.block_size, n - done)
        gen.run_block(block, k, done)
        done += k
        block += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--events", type=int, default=2000)
    ap.add_argument("--ecm", type=float, default=91.188)
    ap.add_argument("--model", default=None, help="ONNX model for the ML row")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats (best kept)")
    args = ap.parse_args()

    from hadml import _core

    # Interleaved repeats, best of each: the ratios do not depend on which ran first.
    configs = {"classic": GeneratorConfig(ecm=args.ecm)}
    if getattr(_core, "HAS_ONNX", False):
        configs["ml"] = GeneratorConfig(ecm=args.ecm, hadronization="ml", model=args.model)
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, fn in (("read", lambda: pythia_string(args.events, args.ecm, True)),
                         ("bare", lambda: pythia_string(args.events, args.ecm, False)),
                         *((k, lambda c=c: hadml_rate(args.events, c))
                           for k, c in configs.items())):
            best[name] = max(best.get(name, 0.0), fn())
    p_read, classic = best["read"], best["classic"]
    rows = [("Pythia 8 string hadronization + readout", p_read),
            ("Pythia 8 string hadronization, next() only", best["bare"]),
            ("hadml classic cluster hadronization", classic)]
    if "ml" in best:
        rows.append(("hadml ML cluster decays (ONNX, CPU)", best["ml"]))
    print(f"\n{args.events} events at sqrt(s) = {args.ecm} GeV, one process\n")
    print(f"{'configuration':48s} {'events/s':>10s} {'ms/event':>9s} {'vs Pythia+readout':>18s}")
    for name, rate in rows:
        print(f"{name:48s} {rate:10.0f} {1e3 / rate:9.3f} {rate / p_read:18.2f}")
    if len(rows) > 3:
        print(f"\nML / classic hadml rate: {rows[3][1] / classic:.2f}")


if __name__ == "__main__":
    main()
