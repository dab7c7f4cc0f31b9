#!/usr/bin/env python
"""One tuning probe: generate N events with a tune and overrides, and print chi2/ndf of the
files behind issue 10's goals (ALEPH 1996 shapes d01-d08, ALEPH 2004, OPAL 2004, ALEPH 2001
and DELPHI 2011 x_B, PDG multiplicities) and MC/data of OPAL 2004's first narrow-broadening
bin (B_N < 0.01, the 2-jet "pencil" bin; docs/tuning.md), and MC/data of ALEPH 1996's
<n_ch> and its dispersion D.

    python scripts/probe_shapes.py OUT.json N SEED [NAME=VALUE ...]    # e.g. FissionPtSigma=0.3
    python scripts/probe_shapes.py OUT.json 10000 5 FissionMassSampler=2

NAME=VALUE are config overrides (tune=lep by default). OUT.json gets the summary, the
chi2 and ndf of every histogram and MC/data per bin. Reference data from $HADML_REFDIR.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

import hadml
from hadml.analysis.compare import compare_events
from hadml.config import load_config
from hadml.io.atomic import write_json_atomically

ANALYSES = ["ALEPH_1996_S3486095", "ALEPH_2004_S5765862", "OPAL_2004_S6132243",
            "ALEPH_2001_S4656318", "PDG_HADRON_MULTIPLICITIES", "DELPHI_2011_I890503"]
PENCIL = "OPAL_2004_S6132243/d13-x01-y01"
NCH_MEAN = "ALEPH_1996_S3486095/d19-x01-y01"  # <n_ch>
NCH_DISPERSION = "ALEPH_1996_S3486095/d19-x01-y02"  # D = sqrt(<n^2> - <n>^2) of n_ch


def _number(text: str) -> int | float:
    """An integer where the text is one (decay_seed, switches), else a float."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def main(argv: list[str]) -> None:
    # A usage error is a message with the usage, not a traceback.
    try:
        out, n, seed = argv[0], int(argv[1]), int(argv[2])
    except (IndexError, ValueError):
        sys.exit(f"usage error in {argv}\n{__doc__}")
    overrides: dict[str, object] = {"tune": "lep", "seed": seed}
    for item in argv[3:]:
        key, value = item.split("=", 1)
        overrides[key] = value if key == "tune" else _number(value)
    config = load_config(overrides=overrides)
    start = time.time()
    events = (e.final_state() for e in hadml.iter_events(n, seed=config.seed, config=config))
    res = compare_events({"mc": events}, refs=ANALYSES, refdir=os.environ.get("HADML_REFDIR"),
                         plots=False)
    per = {h.id: (h.chi2["mc"], h.ndf["mc"]) for h in res.histos if "mc" in h.chi2}

    def chi2_ndf(pick: Callable[[str], bool]) -> float:
        c = sum(v[0] for k, v in per.items() if pick(k))
        d = sum(v[1] for k, v in per.items() if pick(k))
        return round(c / d, 3)

    pencil = next(h for h in res.histos if h.id == PENCIL)

    def ratio0(hid: str) -> float:
        h = next(h for h in res.histos if h.id == hid)
        return round(float(h.mc["mc"].y[0] / h.ref.y[0]), 4)

    summary = {
        "ALEPH1996_shapes_d01_d08": chi2_ndf(lambda k: "ALEPH_1996" in k and any(
            f"/d0{i}-" in k for i in range(1, 9))),
        "ALEPH2004": chi2_ndf(lambda k: "ALEPH_2004" in k),
        "OPAL2004": chi2_ndf(lambda k: "OPAL_2004" in k),
        "ALEPH2001_xB": chi2_ndf(lambda k: "ALEPH_2001" in k),
        "DELPHI2011_xB": chi2_ndf(lambda k: "DELPHI_2011" in k),
        "PDG": chi2_ndf(lambda k: "PDG_HADRON" in k),
        "pencil_mc_over_data": round(float(pencil.mc["mc"].y[0] / pencil.ref.y[0]), 3),
        "nch_mean_mc_over_data": ratio0(NCH_MEAN),
        "nch_dispersion_mc_over_data": ratio0(NCH_DISPERSION),
        "nch_dispersion_chi2": round(per[NCH_DISPERSION][0], 2),
        "seconds": round(time.time() - start), "events": n, "overrides": overrides,
    }
    write_json_atomically(out, {
        "summary": summary, "per_histogram": per,
        "mc_over_data": {h.id: [round(float(m / r), 4) if r else None
                                for m, r in zip(h.mc["mc"].y, h.ref.y, strict=True)]
                         for h in res.histos if "mc" in h.mc}})
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
