"""Generate e+e- -> hadrons events with hadml from Python, without writing files.

Run:  python examples/generate.py   (from any folder; it only prints)
"""

import numpy as np

import hadml
from hadml.config import GeneratorConfig

# A configuration: Herwig 7.3 cluster parameters by default; override any by its Herwig
# interface name. hadronization="ml" would use the shipped ONNX model instead.
config = GeneratorConfig(ecm=91.188, cluster={"ClSmrLight": 0.78})

# 500 events with seed 42; the same seed always gives the same events.
result = hadml.generate(500, seed=42, config=config, collect_clusters=True)
print(result.summary.text())

# Every event carries its full history (beams, partons, clusters, hadrons, decays) as
# numpy arrays; final_state() gives what a detector would see.
first = result.events[0]
fs = first.final_state()
print(f"event 0: {len(first)} entries, {len(fs['pid'])} final-state particles")
print("final-state 4-momentum sum:", np.round(fs["p"].sum(axis=0), 9))

# The cluster table (one row per two-body cluster decay) is the ML training input.
print(f"{result.cluster_table.num_rows} cluster decays; mean cluster mass "
      f"{np.mean(result.cluster_table.column('mass').to_numpy()):.2f} GeV")
