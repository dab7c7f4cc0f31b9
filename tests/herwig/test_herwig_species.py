"""A format-2 (species) model inside a real Herwig 7.3 LEP run: Herwig::MLClusterRedecayer
re-chooses the species of each eligible cluster's two hadrons (docs/herwig.md, "Format-2
models"). Skipped without a Herwig installation (conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from herwig_lep import LEP_NO_ISR, N_EVENTS, SEED, HerwigInstall, LepRuns, run
from test_herwig_lep_runs import end_of_run, hepmc_events

REPO = Path(__file__).resolve().parents[2]
SPECIES_MODEL = REPO / "hadml" / "models" / "species_cluster_decay.onnx"
SPECIES_LINE = re.compile(
    r"species re-chosen for (?P<chosen>\d+) clusters \(format-2 model; (?P<classic>\d+) of "
    r"them by hadml's classic selector[^)]*\), another pair than Herwig's for "
    r"(?P<changed>\d+), (?P<refused>\d+) refused")


def species_input(model: Path, n_events: int) -> str:
    """LEP without ISR, two saved runs: plain (no adapter) and species (the format-2 model
    re-decays every eligible cluster, Policy Error); HepMC3 of every event."""
    return f"""\
{LEP_NO_ISR}set EventGenerator:NumberOfEvents {n_events}
read snippets/HepMC.in
set /Herwig/Analysis/HepMC:Format GenEventHepMC3
set /Herwig/Analysis/HepMC:PrintEvent {n_events}
saverun plain EventGenerator
cd /Herwig/EventHandlers
create Herwig::MLClusterRedecayer MLSpecies HwMLCluster.so
set MLSpecies:ModelFile {model}
set MLSpecies:Policy Error
insert EventHandler:PostHadronizationHandlers 0 MLSpecies
cd /Herwig/Generators
saverun species EventGenerator
"""


class SpeciesRuns(LepRuns):
    def read(self) -> None:
        (self.root / "LEP-species.in").write_text(species_input(SPECIES_MODEL, N_EVENTS))
        run([str(self.inst.herwig), "read", "-L", str(self.plugin), "LEP-species.in"],
            self.root, self.inst.env(), self.root / "read.log")


@pytest.fixture(scope="module")
def species_runs(herwig_install: HerwigInstall, plugin_dir: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> SpeciesRuns:
    runs = SpeciesRuns(herwig_install, plugin_dir, tmp_path_factory.mktemp("species"))
    runs.read()
    return runs


def species_counts(run_log: Path) -> dict[str, int]:
    m = SPECIES_LINE.search(run_log.read_text())
    assert m is not None, f"no format-2 species line in {run_log}"
    return {k: int(v) for k, v in m.groupdict().items()}


def all_ids(path: Path) -> list[np.ndarray]:
    """|PDG id| of every particle of each event (decayed hadrons included)."""
    import pyhepmc

    with pyhepmc.open(str(path)) as f:
        return [np.abs(np.array([p.pid for p in ev.particles])) for ev in f]


def test_species_run_conserves_and_changes_species(species_runs: SpeciesRuns) -> None:
    ml = species_runs.get("species")
    log, out = ml.log.read_text(), ml.out.read_text()
    for text in (log, out):  # ThePEG's per-step charge and momentum checks
        assert "non-conservation" not in text
        assert "ConsistencyException" not in text
    assert "is a format-2 model: it re-chooses the species" in log
    end = end_of_run(ml)
    assert end["events"] == N_EVENTS
    assert end["total"] == end["model"] == end["eligible"] and end["fallback"] == 0
    counts = species_counts(ml.log)
    # Policy Error: every eligible cluster got the model's species, none refused.
    assert counts["chosen"] == end["eligible"] and counts["refused"] == 0
    assert counts["classic"] <= 0.01 * counts["chosen"]
    # The model draws its pair independently of Herwig's draw: with tens of open pairs per
    # light cluster the two agree rarely (87% differ at 300 and 5000 events, seed 4242 and
    # 777: docs/herwig.md); a model that kept Herwig's species would give 0.
    changed = counts["changed"] / counts["chosen"]
    assert 0.6 < changed < 0.98, changed
    events = hepmc_events(ml.hepmc)
    assert len(events) == N_EVENTS
    worst = max(float(np.abs(f.sum(axis=0) - b.sum(axis=0)).max()) for b, f in events)
    assert worst < 1e-6, f"largest momentum imbalance {worst} GeV"


def test_species_rerun_is_byte_identical(species_runs: SpeciesRuns) -> None:
    a = species_runs.get("species", SEED, "a").hepmc.read_bytes()
    b = species_runs.get("species", SEED, "b").hepmc.read_bytes()
    assert len(a) > 100_000
    assert a == b


def test_species_rates_stay_near_herwig(species_runs: SpeciesRuns) -> None:
    """The shipped model was trained on hadml's classic clusters, not Herwig's: rates move
    but stay near Herwig's (5000 events: pi+- +0.1%, K+- -1.1%, p +8.1%: docs/herwig.md).
    Here, at 300 events, charged pions within 8% and at least one hadron of each kind."""
    plain = all_ids(species_runs.get("plain").hepmc)
    ml = all_ids(species_runs.get("species").hepmc)
    assert len(plain) == len(ml) == N_EVENTS
    for pid, tol in ((211, 0.08), (321, 0.25)):
        a = np.mean([np.sum(ev == pid) for ev in plain])
        b = np.mean([np.sum(ev == pid) for ev in ml])
        assert abs(b / a - 1) < tol, (pid, a, b)
    for pid in (2212, 3122, 221, 223, 333):
        assert sum(np.sum(ev == pid) for ev in ml) > 0, pid


def test_species_model_with_invalid_logits_is_refused(herwig_install: HerwigInstall,
                                                      plugin_dir: Path, tmp_path: Path) -> None:
    """A format-2 file whose species head outputs NaN: Policy Error stops the run with a
    message naming the model and the cause, not a silent choice."""
    import subprocess

    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(SPECIES_MODEL))
    for init in model.graph.initializer:
        if init.name == "species_head/net.6.bias":
            init.CopyFrom(numpy_helper.from_array(
                np.full(numpy_helper.to_array(init).shape, np.nan, np.float32), init.name))
    bad = tmp_path / "nan_species.onnx"
    onnx.save(model, str(bad))
    (tmp_path / "LEP-nan.in").write_text(species_input(bad, 20))
    run([str(herwig_install.herwig), "read", "-L", str(plugin_dir), "LEP-nan.in"], tmp_path,
        herwig_install.env(), tmp_path / "read.log")
    res = subprocess.run([str(herwig_install.herwig), "run", "-L", str(plugin_dir),
                          "species.run", "-N", "20", "-s", str(SEED), "-q"], cwd=tmp_path,
                         env=herwig_install.env(), capture_output=True, text=True,
                         timeout=600, check=False)
    text = res.stdout + res.stderr + "".join(p.read_text() for p in tmp_path.glob("species-*.log"))
    assert res.returncode != 0
    assert "cannot choose the species of this event's clusters" in text, text[-2000:]
    assert "invalid species logits" in text and str(bad) in text
    # Policy Fallback: hadml's classic selector chooses those clusters' species (counted),
    # the model's angle head still decays them; the run completes.
    (tmp_path / "LEP-nan.in").write_text(
        species_input(bad, 20).replace("MLSpecies:Policy Error", "MLSpecies:Policy Fallback"))
    run([str(herwig_install.herwig), "read", "-L", str(plugin_dir), "LEP-nan.in"], tmp_path,
        herwig_install.env(), tmp_path / "read.log")
    fallback = tmp_path / "fallback"
    fallback.mkdir()
    (fallback / "species.run").write_bytes((tmp_path / "species.run").read_bytes())
    run([str(herwig_install.herwig), "run", "-L", str(plugin_dir), "species.run", "-N", "20",
         "-s", str(SEED), "-q"], fallback, herwig_install.env(), fallback / "run.log")
    counts = species_counts(fallback / f"species-S{SEED}.log")
    assert counts["chosen"] > 20 and counts["classic"] == counts["chosen"]
    assert counts["refused"] == 0
