#!/usr/bin/env python
"""Events/s of classic cluster decays, the shipped format-1 model and the shipped format-2
(species) model in one process: blocks of events run in turn (classic block k, format 1
block k, format 2 block k), same seed per block, so load changes of a shared machine hit
all three alike; only the generator's time (``Generator.run_block``) is counted.
With ``--repeats R`` the whole measurement runs R times (fresh generators, seeds
seed, seed + 1, ...) and the mean and standard deviation of the ratios are printed.

    python training/species_speed.py --seed 5000 --blocks 10 --per-block 2000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

NAMES = ("classic", "format 1", "format 2")


def measure(seed: int, blocks: int, per_block: int) -> dict[str, float]:
    """Events/s of each generator, blocks run in turn."""
    from hadml.config import GeneratorConfig
    from hadml.generator import Generator
    from hadml.models import resolve_model

    gens = {
        "classic": Generator(GeneratorConfig(seed=seed)),
        "format 1": Generator(GeneratorConfig(seed=seed, hadronization="ml",
                                              model=resolve_model("default"))),
        "format 2": Generator(GeneratorConfig(seed=seed, hadronization="ml",
                                              model=resolve_model("species"))),
    }
    seconds = dict.fromkeys(gens, 0.0)
    for k in range(blocks):
        for name, gen in gens.items():
            start = time.perf_counter()
            gen.run_block(k, per_block, k * per_block)
            seconds[name] += time.perf_counter() - start
    return {name: blocks * per_block / s for name, s in seconds.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=5000)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--per-block", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    ratios: dict[str, list[float]] = {"format 1 / classic": [], "format 2 / classic": [],
                                      "format 2 / format 1": []}
    for r in range(args.repeats):
        rate = measure(args.seed + r, args.blocks, args.per_block)
        ratios["format 1 / classic"].append(rate["format 1"] / rate["classic"])
        ratios["format 2 / classic"].append(rate["format 2"] / rate["classic"])
        ratios["format 2 / format 1"].append(rate["format 2"] / rate["format 1"])
        print(f"seed {args.seed + r}: " + ", ".join(f"{n} {rate[n]:.0f}" for n in NAMES)
              + " events/s; " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in ratios.items()),
              flush=True)
    if args.repeats > 1:
        for k, v in ratios.items():
            print(f"{k}: mean {statistics.mean(v):.3f}, standard deviation "
                  f"{statistics.stdev(v):.3f}, min {min(v):.3f}, max {max(v):.3f} "
                  f"({args.repeats} repeats)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
