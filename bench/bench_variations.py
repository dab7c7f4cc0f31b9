#!/usr/bin/env python
"""Cost of exact variation weights: generation with 10 variations against the same
generation without, in one run (issue 14 goal: at most +20%).

Two generators with the same configuration and seed (so the same events: recording weights
draws no random number) run the same blocks, interleaved block by block so that load on the
machine hits both alike. Both CPU time of the process and wall time are reported; the
ratio of CPU times is the figure of merit on a shared machine.

    PYTHONPATH=. python bench/bench_variations.py -n 2000
"""

from __future__ import annotations

import argparse
import time

from hadml.config import load_config
from hadml.generator import Generator
from hadml.variations import Variation

#: Ten variations touching every kind of random choice (species ones are the costliest:
#: each sums its own channel weights once per cluster decay).
TEN = [
    Variation("ClSmrLight_up", {"ClSmrLight": 0.93}),
    Variation("ClPowLight_up", {"ClPowLight": 3.3}),
    Variation("PSplitLight_up", {"PSplitLight": 0.844}),
    Variation("PwtSquark_up", {"PwtSquark": 0.414}),
    Variation("PwtDIquark_up", {"PwtDIquark": 0.435}),
    Variation("ClMaxLight_up", {"ClMaxLight": 3.389}),
    Variation("SngWt_up", {"SngWt": 0.95}),
    Variation("SplitPwtSquark_up", {"SplitPwtSquark": 0.9}),
    Variation("FissionPwtSquark_up", {"FissionPwtSquark": 0.25}),
    Variation("Reconnection_down", {"ReconnectionProbability": 0.9}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--events", type=int, default=2000)
    ap.add_argument("--block", type=int, default=100)
    args = ap.parse_args()
    cfg = load_config(overrides={"seed": 3, "block_size": args.block})
    plain, weighted = Generator(cfg), Generator(cfg, TEN)
    plain.run_block(10_000, 20, 0)  # warm-up
    weighted.run_block(10_000, 20, 0)
    cpu = {"plain": 0.0, "weighted": 0.0}
    wall = {"plain": 0.0, "weighted": 0.0}
    stage = {"plain": 0.0, "weighted": 0.0}
    n_blocks = max(args.events // args.block, 1)
    for b in range(n_blocks):
        order = (("plain", plain), ("weighted", weighted))
        for name, gen in order if b % 2 == 0 else order[::-1]:
            c0, w0 = time.process_time(), time.perf_counter()
            res = gen.run_block(b, args.block, b * args.block)
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
            stage[name] += res.seconds
    n = n_blocks * args.block
    print(f"\n{n} events, LEP tune at 91.188 GeV, {len(TEN)} variations\n")
    print(f"{'':22s} {'CPU ms/event':>13s} {'wall ms/event':>14s}")
    for name in cpu:
        print(f"{name:22s} {1e3 * cpu[name] / n:13.3f} {1e3 * wall[name] / n:14.3f}")
    print(f"\nratio with / without weights: CPU {cpu['weighted'] / cpu['plain']:.3f}, "
          f"wall {wall['weighted'] / wall['plain']:.3f}")


if __name__ == "__main__":
    main()
