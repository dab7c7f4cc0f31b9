#!/usr/bin/env python
"""Events/s of classic cluster decays, the shipped format-1 model and the shipped format-2
(species) model in one process: blocks of events run in turn (classic block k, format 1
block k, format 2 block k), same seed per block, so load changes of a shared machine hit
all three alike; only the generator's time (``Generator.run_block``) is counted.

    python training/species_speed.py --seed 5000 --blocks 10 --per-block 2000
"""

from __future__ import annotations

import argparse
import time


def main() -> int:
    from hadml.config import GeneratorConfig
    from hadml.generator import Generator
    from hadml.models import resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=5000)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--per-block", type=int, default=2000)
    args = ap.parse_args()
    gens = {
        "classic": Generator(GeneratorConfig(seed=args.seed)),
        "format 1": Generator(GeneratorConfig(seed=args.seed, hadronization="ml",
                                              model=resolve_model("default"))),
        "format 2": Generator(GeneratorConfig(seed=args.seed, hadronization="ml",
                                              model=resolve_model("species"))),
    }
    seconds = dict.fromkeys(gens, 0.0)
    for k in range(args.blocks):
        for name, gen in gens.items():
            start = time.perf_counter()
            gen.run_block(k, args.per_block, k * args.per_block)
            seconds[name] += time.perf_counter() - start
    rate = {name: args.blocks * args.per_block / s for name, s in seconds.items()}
    print(", ".join(f"{name} {r:.0f}" for name, r in rate.items()) + " events/s")
    print(f"format 1 / classic {rate['format 1'] / rate['classic']:.2f}, format 2 / classic "
          f"{rate['format 2'] / rate['classic']:.2f}, format 2 / format 1 "
          f"{rate['format 2'] / rate['format 1']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
