#!/usr/bin/env python
"""Events per second, side by side in one run, every configuration writing its events to
a HepMC3 file (docs/performance.md):

- C++ Pythia peer: Pythia 8 string hadronization and decays, HepMC3 written by Pythia's
  HepMC3 interface (bench/pythia_peer.cpp, built from the same Pythia 8 and HepMC3 as
  hadml._core: ``cmake --build build/dev --target hadml_pythia_peer``);
- Python Pythia peer: the same with pythia8mc, the record read in Python and written by
  pyhepmc (what a plain Python script does);
- hadml classic and ML cluster decays (hadml.generator: the C++ event loop, HepMC3 text
  from HepMC3's C++ writer, written by hadml.io.hepmc.HepMCWriter).

All use hadml's shower cut-off (the peers get TimeShower:pTmin of hadml's tune) and exclude
initialisation; repeats are interleaved and the best rate of each is kept.

    python bench/bench_generate.py -n 2000
    python bench/bench_generate.py --memory 100000      # RSS over a long CLI run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from hadml.analysis.pythia_peer import string_settings
from hadml.config import GeneratorConfig
from hadml.generator import Generator
from hadml.io.hepmc import HepMCWriter
from hadml.pythia_stage import make_pythia, xml_dir

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "build" / "dev" / "cpp_plugin" / "pythia" / "hadml_pythia_peer"


def peer_settings(ecm: float) -> list[str]:
    cut = GeneratorConfig(ecm=ecm).effective_shower_pt_min()
    return string_settings(seed=1, ecm=ecm, extra=[f"TimeShower:pTmin = {cut!r}"])


def cpp_peer(n: int, ecm: float, out: Path) -> float:
    if not PEER.exists():
        subprocess.run(["cmake", "--build", str(ROOT / "build" / "dev"), "--target",
                        "hadml_pythia_peer"], check=True, stdout=subprocess.DEVNULL)
    settings = out.with_suffix(".cmnd")
    settings.write_text("\n".join(peer_settings(ecm)) + "\n")
    pythia = make_pythia(peer_settings(ecm))  # for the path of its xmldoc
    line = subprocess.run([str(PEER), xml_dir(pythia), str(settings), str(n), str(out)],
                          check=True, capture_output=True, text=True).stdout.split()
    return int(line[1]) / float(line[3])


def python_peer(n: int, ecm: float, out: Path) -> float:
    import pyhepmc

    pythia = make_pythia(peer_settings(ecm))
    for _ in range(50):
        pythia.next()
    start = time.perf_counter()
    with pyhepmc.open(str(out), "w") as f:
        made = 0
        while made < n:
            if not pythia.next():
                continue
            ev = pythia.event
            rows = [(p.id(), p.status(), p.px(), p.py(), p.pz(), p.e(), p.m(), p.mother1(),
                     p.mother2()) for p in (ev[i] for i in range(1, ev.size()))]
            a = np.array(rows)
            gen = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
            parents = a[:, 7:9].astype(np.int32)
            parents[:, 1] = np.maximum(parents[:, 0], parents[:, 1])
            gen.from_hepevt(event_number=made, px=a[:, 2].copy(), py=a[:, 3].copy(),
                            pz=a[:, 4].copy(), en=a[:, 5].copy(), m=a[:, 6].copy(),
                            pid=a[:, 0].astype(np.int32), status=a[:, 1].astype(np.int32),
                            parents=parents, fortran=True)
            f.write(gen)
            made += 1
    return n / (time.perf_counter() - start)


def hadml_rate(n: int, config: GeneratorConfig, out: Path) -> float:
    gen = Generator(config)
    gen.run_block(10_000, 50, 0, keep_events=False, keep_hepmc=True)  # warm-up
    start = time.perf_counter()
    with HepMCWriter(out) as writer:
        done, block = 0, 0
        while done < n:
            k = min(config.block_size, n - done)
            result = gen.run_block(block, k, done, keep_events=False, keep_hepmc=True)
            writer.write_text(result.hepmc, k)
            done += k
            block += 1
    return n / (time.perf_counter() - start)


def rss_over_run(args: list[str]) -> list[tuple[float, float]]:
    """(seconds, RSS in MiB) of a `hadml generate` process, sampled every 0.5 s."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "hadml", "generate", "--no-progress", *args],
                            env=env, stdout=subprocess.DEVNULL)
    samples: list[tuple[float, float]] = []
    start = time.perf_counter()

    def sample() -> None:
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                break
            kb = next(int(line.split()[1]) for line in status.splitlines()
                      if line.startswith("VmRSS:"))
            samples.append((time.perf_counter() - start, kb / 1024))
            time.sleep(0.5)

    thread = threading.Thread(target=sample)
    thread.start()
    proc.wait()
    thread.join()
    if proc.returncode:
        raise RuntimeError(f"hadml generate {' '.join(args)} failed ({proc.returncode})")
    return samples


def memory(n: int, tmp: Path) -> None:
    print(f"\nRSS of `hadml generate -n {n}` (MiB) at 10%, 50%, 90% of the run time, max")
    for label, extra in (("--out", []), ("--out --clusters", ["--clusters",
                                                              str(tmp / "c.parquet")])):
        samples = rss_over_run(["-n", str(n), "--out", str(tmp / "m.hepmc"), *extra])
        t = np.array([s[0] for s in samples])
        rss = np.array([s[1] for s in samples])
        at = [float(np.interp(f * t[-1], t, rss)) for f in (0.1, 0.5, 0.9)]
        print(f"  {label:18s} {at[0]:8.1f} {at[1]:8.1f} {at[2]:8.1f} {rss.max():8.1f}"
              f"   ({t[-1]:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--events", type=int, default=2000)
    ap.add_argument("--ecm", type=float, default=91.188)
    ap.add_argument("--model", default=None, help="ONNX model for the ML row")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats (best kept)")
    ap.add_argument("--memory", type=int, default=0, metavar="N",
                    help="instead: RSS over a `hadml generate -n N` run, without and with "
                         "--clusters")
    args = ap.parse_args()

    from hadml import _core

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.memory:
            memory(args.memory, tmp)
            return
        configs = {"classic": GeneratorConfig(ecm=args.ecm)}
        if getattr(_core, "HAS_ONNX", False):
            configs["ml"] = GeneratorConfig(ecm=args.ecm, hadronization="ml", model=args.model)
        runs = [("cpp", lambda: cpp_peer(args.events, args.ecm, tmp / "cpp.hepmc")),
                ("python", lambda: python_peer(args.events, args.ecm, tmp / "py.hepmc")),
                *((k, lambda k=k, c=c: hadml_rate(args.events, c, tmp / f"{k}.hepmc"))
                  for k, c in configs.items())]
        best: dict[str, float] = {}
        for _ in range(args.repeats):
            for name, fn in runs:
                best[name] = max(best.get(name, 0.0), fn())
    labels = {"cpp": "C++ Pythia 8 peer (string), HepMC3",
              "python": "Python Pythia 8 peer (string), pyhepmc",
              "classic": "hadml classic, HepMC3",
              "ml": "hadml ML cluster decays (ONNX, CPU), HepMC3"}
    ref = best["cpp"]
    print(f"\n{args.events} events at sqrt(s) = {args.ecm} GeV, one process, best of "
          f"{args.repeats}\n")
    print(f"{'configuration':46s} {'events/s':>9s} {'ms/event':>9s} {'vs C++ peer':>12s}")
    for name, rate in best.items():
        print(f"{labels[name]:46s} {rate:9.0f} {1e3 / rate:9.3f} {rate / ref:12.2f}")
    if "ml" in best:
        print(f"\nML / classic: {best['ml'] / best['classic']:.2f}")


if __name__ == "__main__":
    main()
