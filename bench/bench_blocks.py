#!/usr/bin/env python
"""Events per second of `Generator.run_block` (blocks of 100), events kept in memory and
events written to a HepMC3 file, for whichever hadml is first on the path: run it with
PYTHONPATH pointing at two checkouts to compare releases (docs/performance.md). Works
with the Python event loop of hadml 0.1 (no `keep_hepmc`) and with the C++ one.

    PYTHONPATH=. python bench/bench_blocks.py 2000 /tmp/out.hepmc
"""

from __future__ import annotations

import inspect
import sys
import time

from hadml.config import GeneratorConfig
from hadml.generator import Generator
from hadml.io.hepmc import HepMCWriter


def main() -> None:
    n, out = int(sys.argv[1]), sys.argv[2]
    gen = Generator(GeneratorConfig(seed=3))
    cxx_loop = "keep_hepmc" in inspect.signature(gen.run_block).parameters
    gen.run_block(999, 50, 0)  # warm-up
    best: dict[bool, float] = {}
    for _ in range(2):
        for hepmc in (False, True):
            start = time.perf_counter()
            writer = HepMCWriter(out) if hepmc else None
            for b in range(n // 100):
                if cxx_loop:
                    r = gen.run_block(b, 100, 100 * b, keep_events=not hepmc, keep_hepmc=hepmc)
                    if writer:
                        writer.write_text(r.hepmc, 100)
                else:
                    r = gen.run_block(b, 100, 100 * b)
                    for event in r.events if writer else []:
                        writer.write(event)
            if writer:
                writer.close()
            best[hepmc] = max(best.get(hepmc, 0.0), n / (time.perf_counter() - start))
    print(f"{'C++' if cxx_loop else 'Python'} event loop: events in memory {best[False]:.0f} "
          f"ev/s ({1e3 / best[False]:.3f} ms); with a HepMC3 file {best[True]:.0f} ev/s "
          f"({1e3 / best[True]:.3f} ms)")


if __name__ == "__main__":
    main()
