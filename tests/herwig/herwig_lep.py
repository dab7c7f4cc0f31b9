"""Helpers for the tests that run hadml's Herwig adapter inside a real Herwig 7
(fixtures in conftest.py).

These tests need an installed Herwig 7.3 (with ThePEG 2.3 and HepMC3). They find it through

- ``HADML_HERWIG_PREFIX``: the installation prefix (``$HADML_HERWIG_PREFIX/bin/Herwig``), or
- ``herwig-config`` on ``PATH`` (its ``--prefix``).

Without either, every test here is skipped with that reason (CI has no Herwig: its length is
unchanged). docs/herwig.md says how the local build was made (scripts/herwig/build_stack.sh).

The session builds ``HwMLCluster.so`` with CMake against the installation, then one
``Herwig read`` saves four LEP runs (91.2 GeV, e+e- -> q qbar): ``isr`` (Herwig's default QED
initial-state radiation, no adapter, HepMC2 output) and, without ISR, ``dump`` (the adapter
only dumps the clusters), ``ml`` (the shipped model re-decays them, Policy Error) and ``plain``
(no adapter). Every run checks every step for charge and energy-momentum conservation
(ThePEG's ``ConsistencyLevel PrintEveryStep``) and writes HepMC3 (isr: HepMC2).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "hadml" / "models" / "default_cluster_decay.onnx"
PREFIX_VAR = "HADML_HERWIG_PREFIX"
N_EVENTS = 300  # events per test run: a few seconds each
SEED = 4242


@dataclass(frozen=True)
class HerwigInstall:
    prefix: Path

    @property
    def herwig(self) -> Path:
        return self.prefix / "bin" / "Herwig"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env


def find_herwig() -> tuple[HerwigInstall | None, str]:
    """The Herwig installation to test, or None and why none was found."""
    prefix = os.environ.get(PREFIX_VAR)
    if prefix:
        inst = HerwigInstall(Path(prefix))
        if not inst.herwig.is_file():
            return None, f"{PREFIX_VAR}={prefix} has no bin/Herwig"
        return inst, ""
    config = shutil.which("herwig-config")
    if config is None:
        return None, (f"no Herwig installation: set {PREFIX_VAR} to its prefix or put "
                      "herwig-config on PATH (docs/herwig.md)")
    out = subprocess.run([config, "--prefix"], capture_output=True, text=True, check=False)
    inst = HerwigInstall(Path(out.stdout.strip()))
    if out.returncode != 0 or not inst.herwig.is_file():
        return None, f"{config} --prefix gave {out.stdout.strip()!r}, which has no bin/Herwig"
    return inst, ""


def run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path,
        timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run a command, keep its output in `log`, fail the test with the tail on error."""
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=timeout, check=False)
    log.write_text(f"$ {' '.join(map(str, cmd))}\n{res.stdout}\n--- stderr ---\n{res.stderr}")
    if res.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {res.returncode} (cwd {cwd}):\n"
                    f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def build_plugin(herwig_install: HerwigInstall, build: Path) -> Path:
    """Build HwMLCluster.so with CMake against the Herwig installation (docs/herwig.md) in
    `build`; return the directory that holds it."""
    build.mkdir(parents=True, exist_ok=True)
    env = herwig_install.env()
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", str(REPO), "-B", str(build), *generator, "-DCMAKE_BUILD_TYPE=Release",
         f"-DHERWIG_ROOT={herwig_install.prefix}", f"-DPython_EXECUTABLE={sys.executable}"],
        build, env, build / "configure.log")
    run(["cmake", "--build", str(build), "--target", "HwMLCluster", "-j",
         os.environ.get("HADML_HERWIG_JOBS", "1")], build, env, build / "build.log")
    libs = list(build.rglob("HwMLCluster.so"))
    assert len(libs) == 1, f"expected one HwMLCluster.so under {build}, found {libs}"
    return libs[0].parent


#: 91.2 GeV e+e- -> q qbar without QED initial-state radiation (as Herwig's own LEP validation,
#: Tests/Rivet/Templates/EE.in, and hadml's Pythia peer), every step checked: the start of the
#: input files of the tests that need no ISR run.
LEP_NO_ISR = """\
read snippets/EECollider.in
cd /Herwig/MatrixElements
insert SubProcess:MatrixElements 0 MEee2gZ2qq
set /Herwig/Particles/e-:PDF /Herwig/Partons/NoPDF
set /Herwig/Particles/e+:PDF /Herwig/Partons/NoPDF
cd /Herwig/Generators
set EventGenerator:EventHandler:LuminosityFunction:Energy 91.2
set EventGenerator:PrintEvent 0
set EventGenerator:EventHandler:ConsistencyLevel PrintEveryStep
"""


def lep_input(model: Path, n_events: int) -> str:
    """One input file, four saved runs: isr, dump, ml, plain (see the module docstring)."""
    return f"""\
read snippets/EECollider.in
cd /Herwig/MatrixElements
insert SubProcess:MatrixElements 0 MEee2gZ2qq
cd /Herwig/Generators
set EventGenerator:EventHandler:LuminosityFunction:Energy 91.2
set EventGenerator:NumberOfEvents {n_events}
set EventGenerator:PrintEvent 0
set EventGenerator:EventHandler:ConsistencyLevel PrintEveryStep
read snippets/HepMC.in
# Herwig's default QED initial-state radiation, HepMC2 ASCII: in HepMC3 ASCII its events
# declare a vertex they do not list, and HepMC3's reader rejects them (scripts/herwig/
# lep_input.sh)
set /Herwig/Analysis/HepMC:Format GenEvent
set /Herwig/Analysis/HepMC:PrintEvent {n_events}
saverun isr EventGenerator
set /Herwig/Analysis/HepMC:Format GenEventHepMC3
# the other runs: no QED initial-state radiation, as in Herwig's own LEP validation
# (Tests/Rivet/Templates/EE.in) and hadml's Pythia peer
set /Herwig/Particles/e-:PDF /Herwig/Partons/NoPDF
set /Herwig/Particles/e+:PDF /Herwig/Partons/NoPDF
cd /Herwig/EventHandlers
create Herwig::MLClusterRedecayer ClusterDumper HwMLCluster.so
set ClusterDumper:Dump clusters.dat
set ClusterDumper:HadronizationDump hadronization.jsonl
insert EventHandler:PostHadronizationHandlers 0 ClusterDumper
cd /Herwig/Generators
saverun dump EventGenerator
cd /Herwig/EventHandlers
erase EventHandler:PostHadronizationHandlers 0
create Herwig::MLClusterRedecayer MLRedecayer HwMLCluster.so
set MLRedecayer:ModelFile {model}
set MLRedecayer:Policy Error
insert EventHandler:PostHadronizationHandlers 0 MLRedecayer
cd /Herwig/Generators
saverun ml EventGenerator
cd /Herwig/EventHandlers
erase EventHandler:PostHadronizationHandlers 0
cd /Herwig/Generators
saverun plain EventGenerator
"""


@dataclass(frozen=True)
class LepRun:
    """One `Herwig run` in its own directory: its HepMC, log and (dump mode) dump file.
    `Herwig run -s SEED` appends `-S<SEED>` to the run's file names (Herwig's API)."""
    dir: Path
    name: str
    seed: int

    @property
    def stem(self) -> str:
        return f"{self.name}-S{self.seed}"

    @property
    def hepmc(self) -> Path:
        return self.dir / f"{self.stem}.hepmc"

    @property
    def log(self) -> Path:
        return self.dir / f"{self.stem}.log"

    @property
    def out(self) -> Path:
        return self.dir / f"{self.stem}.out"

    @property
    def dump(self) -> Path:
        return self.dir / "clusters.dat"

    @property
    def hadronization(self) -> Path:
        return self.dir / "hadronization.jsonl"


class LepRuns:
    def __init__(self, inst: HerwigInstall, plugin: Path, root: Path) -> None:
        self.inst, self.plugin, self.root = inst, plugin, root
        self._done: dict[tuple[str, int, str], LepRun] = {}

    def read(self) -> None:
        (self.root / "LEP-hadml.in").write_text(lep_input(SHIPPED_MODEL, N_EVENTS))
        run([str(self.inst.herwig), "read", "-L", str(self.plugin), "LEP-hadml.in"], self.root,
            self.inst.env(), self.root / "read.log")

    def get(self, name: str, seed: int = SEED, copy: str = "a") -> LepRun:
        key = (name, seed, copy)
        if key not in self._done:
            d = self.root / f"{name}-{seed}-{copy}"
            d.mkdir()
            shutil.copy(self.root / f"{name}.run", d)
            run([str(self.inst.herwig), "run", "-L", str(self.plugin), f"{name}.run", "-N",
                 str(N_EVENTS), "-s", str(seed), "-q"], d, self.inst.env(), d / "run.log")
            self._done[key] = LepRun(d, name, seed)
        return self._done[key]
