#!/usr/bin/env python
"""Profile of a surrogate tune in one parameter: at fixed values of NAME, minimise the
objective F over the other box parameters (iminuit, box limits) and print F and the
chi2/ndf of ALEPH 1996 d01-d08, ALEPH 2004, OPAL 2004 (validation) and ALEPH 2001 x_B
predicted by the surrogate for a run of TARGET events (docs/tuning.md, tune 5).

    python scripts/surrogate_profile.py TUNE_DIR NAME TARGET VALUE [VALUE ...]
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable

import numpy as np
from iminuit import Minuit

from hadml.analysis import tune as T
from hadml.analysis.surrogate import PolynomialSurrogate


def main(argv: list[str]) -> None:
    # A usage error is a message with the usage, not a traceback.
    try:
        directory, name, target = argv[0], argv[1], int(argv[2])
        values = [float(v) for v in argv[3:]]
    except (IndexError, ValueError):
        sys.exit(f"usage error in {argv}\n{__doc__}")
    refdir = os.environ.get("HADML_REFDIR")
    plan = T.load_plan(directory)
    box = T.box_of(plan)
    table = T.load_points(directory, plan)
    held = T.held_back_indices(plan)
    is_fit = np.array([i not in held for i in table.indices])
    fit_names = [a for a in plan["analyses"] if a not in plan["validation"]]
    objective = T.build_objective(table, fit_names, refdir)
    validation = T.build_objective(table, plan["validation"], refdir, use_groups=False)
    cols = np.concatenate([objective.columns, validation.columns])
    n_obj = len(objective.columns)
    pred = PolynomialSurrogate.fit(box, plan["order"], table.values[is_fit],
                                   table.y[is_fit][:, cols])
    err = PolynomialSurrogate.fit(box, plan["order"], table.values[is_fit],
                                  table.err[is_fit][:, cols])
    scale = math.sqrt(plan["n_events"] / target)  # MC errors of a TARGET-event run

    def f_of(v: np.ndarray) -> float:
        return objective.chi2.objective(pred(v)[:n_obj], scale * np.abs(err(v))[:n_obj])

    def chi2_ndf(v: np.ndarray, obj: T.Objective, offset: int,
                 pick: Callable[[str], bool]) -> float:
        cols = slice(offset, offset + len(obj.columns))
        return T.histograms_chi2_ndf(obj, pred(v)[cols], scale * np.abs(err(v))[cols], pick)

    k = box.names.index(name)
    others = [i for i in range(box.dim) if i != k]

    def at_fixed(value: float) -> Callable[[np.ndarray], float]:
        def f_others(x: np.ndarray) -> float:
            v = np.empty(box.dim)
            v[k], v[others] = value, x
            return f_of(v)
        return f_others

    for value in values:
        m = Minuit(at_fixed(value), (box.low[others] + box.high[others]) / 2)
        m.errordef = 0.5 / objective.chi2.n_bins
        m.limits = list(zip(box.low[others], box.high[others], strict=True))
        m.migrad()
        v = np.empty(box.dim)
        v[k], v[others] = value, np.array(m.values)
        a96 = chi2_ndf(v, objective, 0, lambda h: "ALEPH_1996" in h and any(
            f"/d0{i}-" in h for i in range(1, 9)))
        a04 = chi2_ndf(v, objective, 0, lambda h: "ALEPH_2004" in h)
        xb = chi2_ndf(v, objective, 0, lambda h: "ALEPH_2001" in h)
        opal = chi2_ndf(v, validation, n_obj, lambda h: "OPAL_2004" in h)
        at = ", ".join(f"{n} {x:.4g}" for n, x in zip(box.names, v, strict=True))
        print(f"{name} {value:g}: F {m.fval:.3f} ({at}); ALEPH 1996 d01-d08 {a96:.2f}, "
              f"ALEPH 2004 {a04:.2f}, OPAL 2004 {opal:.2f}, ALEPH 2001 x_B {xb:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
