"""What `tune run --weights` saves (docs/tuning.md, last section): one small plan run twice,
every point directly (`tune run`) and with anchor weights (`tune run --weights`), in one
process on one core; then both are fitted and their optima compared.

    nice -n 10 python bench/bench_tune_weights.py --out /tmp/tune_weights -n 2000
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from hadml.analysis import tune
from hadml.analysis import tune_weights as tw
from hadml.analysis.surrogate import Parameter, ParameterBox
from hadml.io.atomic import write_json_atomically

#: A box inside the validated steps around the shipped tune's strangeness and diquark
#: weights (hadml/tunes/lep.yaml: PwtSquark 0.374, PwtDIquark 0.407).
BOX = (Parameter("PwtSquark", 0.334, 0.414), Parameter("PwtDIquark", 0.367, 0.447))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("-n", "--events", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    out = Path(args.out)
    analyses = tune.default_analyses(None)
    plan = tune.make_plan(ParameterBox(BOX), {}, "lep", args.events, order=2,
                          seed=args.seed, analyses=analyses)
    result: dict = {"plan": plan["id"], "points": len(plan["points"]),
                    "events": args.events, "analyses": analyses}
    for mode in ("direct", "weights"):
        d = out / mode
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        tune.write_json_atomic(d / "plan.json", plan)
        wall, cpu = time.perf_counter(), time.process_time()
        if mode == "direct":
            runs = tune.run_points(d, None, jobs=1, log=lambda _m: None)
        else:
            summary = tw.run_weighted(d, None, jobs=1, log=lambda _m: None)
            runs = summary["counts"].get("anchor", 0) + summary["counts"].get("direct", 0)
            result["summary"] = summary["counts"]
            print(tw.format_summary(summary, len(plan["points"])))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        fit = tune.fit(d, None, n_replicas=20).report
        result[mode] = {"generator_runs": runs, "wall_s": wall, "cpu_s": cpu,
                        "optimum": {n: (p["value"], p["total"])
                                    for n, p in fit["parameters"].items()},
                        "objective": fit["minimum"]["objective"]}
        print(f"{mode}: {runs} generator runs, {wall:.0f} s wall, {cpu:.0f} s CPU; optimum "
              + ", ".join(f"{n} {v:.4f} +- {e:.4f}" for n, (v, e) in
                          result[mode]["optimum"].items())
              + f"; F = {result[mode]['objective']:.3f}", flush=True)
    write_json_atomically(out / "result.json", result)


if __name__ == "__main__":
    main()
