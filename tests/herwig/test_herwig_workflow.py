"""The chain of handlers that scripts/herwig/train_in_herwig.sh puts into Herwig for its ML run
(docs/herwig-workflow.md): a dump-only handler before the ML re-decayer and one after it, so
that the same run gives Herwig's decays and the model's decays of the very same clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from herwig_lep import LEP_NO_ISR, SHIPPED_MODEL, HerwigInstall, run

from hadml.data.features import target_angles
from hadml.io import herwig_dump

N_EVENTS = 200


def chain_input(model: Path) -> str:
    return LEP_NO_ISR + f"""\
cd /Herwig/EventHandlers
create Herwig::MLClusterRedecayer DumpBefore HwMLCluster.so
set DumpBefore:Dump before.dat
insert EventHandler:PostHadronizationHandlers 0 DumpBefore
create Herwig::MLClusterRedecayer MLRedecayer HwMLCluster.so
set MLRedecayer:ModelFile {model}
set MLRedecayer:Policy Error
insert EventHandler:PostHadronizationHandlers 1 MLRedecayer
create Herwig::MLClusterRedecayer DumpAfter HwMLCluster.so
set DumpAfter:Dump after.dat
insert EventHandler:PostHadronizationHandlers 2 DumpAfter
cd /Herwig/Generators
saverun chain EventGenerator
"""


def test_dumps_before_and_after_the_ml_redecay(herwig_install: HerwigInstall, plugin_dir: Path,
                                               tmp_path: Path) -> None:
    (tmp_path / "chain.in").write_text(chain_input(SHIPPED_MODEL))
    env = herwig_install.env()
    run([str(herwig_install.herwig), "read", "-L", str(plugin_dir), "chain.in"], tmp_path, env,
        tmp_path / "read.log")
    run([str(herwig_install.herwig), "run", "-L", str(plugin_dir), "chain.run", "-N",
         str(N_EVENTS), "-s", "77", "-q"], tmp_path, env, tmp_path / "run.log")
    log = (tmp_path / "chain-S77.log").read_text()
    assert "non-conservation" not in log
    lines = [ln for ln in log.splitlines() if ln.startswith("MLClusterRedecayer:")]
    assert len(lines) == 3  # before, model, after: one end-of-run line each

    texts = [(tmp_path / f).read_text() for f in ("before.dat", "after.dat")]
    assert texts[0].count("\n") == texts[1].count("\n") == N_EVENTS
    before = herwig_dump.to_cluster_table(herwig_dump.read(tmp_path / "before.dat"))
    after = herwig_dump.to_cluster_table(herwig_dump.read(tmp_path / "after.dat"))
    n = before.num_rows
    assert n == after.num_rows and 4 * N_EVENTS < n < 10 * N_EVENTS
    assert f"re-decayed {n}: {n} by the model, 0 by the classic fallback" in log
    # The re-decay keeps clusters, constituents, flags and species; only hadron momenta move.
    for col in ("event", "c1_id", "c2_id", "c1_pert", "c2_pert", "h1_id", "h2_id"):
        assert before.column(col).equals(after.column(col)), col
    for col in ("e", "px", "py", "pz", "c1_px", "c1_e", "c2_pz"):
        assert np.array_equal(before.column(col).to_numpy(), after.column(col).to_numpy()), col
    p4 = ("px", "py", "pz", "e")
    cl = np.stack([after.column(c).to_numpy() for c in p4], 1)
    had = sum(np.stack([after.column(f"{h}_{c}").to_numpy() for c in p4], 1)
              for h in ("h1", "h2"))
    assert np.max(np.abs(had - cl) / cl[:, 3:]) < 1e-8
    assert np.any(before.column("c1_pert").to_numpy(zero_copy_only=False))
    # new directions for (nearly) every cluster
    moved = np.abs(target_angles(after)[:, 0] - target_angles(before)[:, 0]) > 1e-6
    assert moved.mean() > 0.99
