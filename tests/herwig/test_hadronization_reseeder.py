"""Herwig::HadronizationReseeder (cpp_plugin/herwig): the calibrated null of the parity
harness (docs/parity.md). Runs with one run seed and different HadronizationSeed share every
event's partons and hadronize them independently; the same HadronizationSeed reproduces the
run. Skipped without a Herwig installation (conftest.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from herwig_lep import LEP_NO_ISR, HerwigInstall, run

from hadml.io import herwig_dump

N_EVENTS = 150
RUN_SEED = 31

INPUT = LEP_NO_ISR + """\
cd /Herwig/EventHandlers
create Herwig::MLClusterRedecayer Recorder HwMLCluster.so
set Recorder:HadronizationDump hadronization.jsonl
insert EventHandler:PostHadronizationHandlers 0 Recorder
create Herwig::HadronizationReseeder Reseeder HwMLCluster.so
insert EventHandler:PreHadronizationHandlers 0 Reseeder
insert EventHandler:PostDecayHandlers 0 Reseeder
set Reseeder:HadronizationSeed 1
cd /Herwig/Generators
saverun had1 EventGenerator
set /Herwig/EventHandlers/Reseeder:HadronizationSeed 2
saverun had2 EventGenerator
"""

END_LINE = re.compile(r"HadronizationReseeder: HadronizationSeed (\d+), (\d+) hadronizations "
                      r"reseeded, (\d+) main-stream resumes after decays, (\d+) events not "
                      r"resumed")


@pytest.fixture(scope="module")
def records(herwig_install: HerwigInstall, plugin_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reseeder")
    (root / "reseeder.in").write_text(INPUT)
    env = herwig_install.env()
    run([str(herwig_install.herwig), "read", "-L", str(plugin_dir), "reseeder.in"], root, env,
        root / "read.log")
    out = {}
    for name, copy in (("had1", "a"), ("had1", "b"), ("had2", "a")):
        d = root / f"{name}-{copy}"
        d.mkdir()
        shutil.copy(root / f"{name}.run", d)
        run([str(herwig_install.herwig), "run", "-L", str(plugin_dir), f"{name}.run", "-N",
             str(N_EVENTS), "-s", str(RUN_SEED), "-q"], d, env, d / "run.log")
        log = (d / f"{name}-S{RUN_SEED}.log").read_text()
        m = END_LINE.search(log)
        assert m is not None, f"no HadronizationReseeder line in {d}"
        # every event reseeded before hadronization and resumed after its decays
        assert [int(x) for x in m.groups()] == [int(name[-1]), N_EVENTS, N_EVENTS, 0]
        out[f"{name}-{copy}"] = d / "hadronization.jsonl"
    return out


def test_same_hadronization_seed_reproduces_the_record(records: dict[str, Path]) -> None:
    assert records["had1-a"].read_bytes() == records["had1-b"].read_bytes()


def test_other_hadronization_seed_same_partons_other_clusters(records: dict[str, Path]) -> None:
    a = list(herwig_dump.read_hadronization(records["had1-a"]))
    b = list(herwig_dump.read_hadronization(records["had2-a"]))
    assert len(a) == len(b) == N_EVENTS
    same_partons = sum(
        x.parton_id.tolist() == y.parton_id.tolist() and x.parton_p.tolist() == y.parton_p.tolist()
        and x.parton_col.tolist() == y.parton_col.tolist() for x, y in zip(a, b, strict=True))
    assert same_partons == N_EVENTS
    same_clusters = sum(x.cluster_children == y.cluster_children
                        and x.cluster_mass.tolist() == y.cluster_mass.tolist()
                        for x, y in zip(a, b, strict=True))
    # independent hadronization: (almost) no event hadronizes identically
    assert same_clusters <= 2
