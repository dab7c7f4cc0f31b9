"""DCTR validation (docs/reweighting.md): train the classifier on the training samples of
bench/dctr_samples.py, weight the independent nominal test sample to the target, and
compare it with the direct target run on every shared LEP analysis, with the statistic
calibrated on a null comparison (two independent samples of the target setting).

    nice -n 10 python bench/dctr_validation.py --samples /tmp/dctr/s20k --out /tmp/dctr/val \
        --study ptmin
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np

from hadml.analysis.analyses import ANALYSES
from hadml.analysis.compare import load_refs
from hadml.reweight import histograms as H
from hadml.reweight.config import load_reweight_config
from hadml.reweight.run import compute_weights, train
from hadml.reweight.samples import load_npz
from hadml.reweight.weights import kish_ess, normalised

# A sample is "NAME" (all events of NAME.npz) or "NAME[a:b]" (events a..b-1 of it), or
# several of these joined by "+" (their events one after the other).
STUDIES = {
    # nominal training sample, varied training samples, target, the test nominal and test
    # target samples, and the null partner (an independent sample at the target setting:
    # the target's training sample, never used in a comparison with the weighted sample).
    "ptmin": {
        "param": "shower_pt_min",
        "nominal": ("ptmin_train_1.0", 1.0),
        "varied": [("ptmin_train_1.4", 1.4)],
        "target": 1.4,
        "test_nominal": "ptmin_test_1.0", "test_target": "ptmin_test_1.4",
        "null_partner": "ptmin_train_1.4",
    },
    # The same with three times the training events: seeds 11 + 14 (1.0) and 12 + 15
    # (1.4), 150k events per class; compared samples and null as "ptmin".
    "ptmin150k": {
        "param": "shower_pt_min",
        "nominal": ("ptmin_train_1.0+ptmin_train2_1.0", 1.0),
        "varied": [("ptmin_train_1.4+ptmin_train2_1.4", 1.4)],
        "target": 1.4,
        "test_nominal": "ptmin_test_1.0", "test_target": "ptmin_test_1.4",
        "null_partner": "ptmin_train_1.4",
    },
    "ml": {
        "param": "ml",
        "nominal": ("ml_train_classic", 0.0),
        "varied": [("ml_train_ml[0:10000]", 1.0)],
        "target": 1.0,
        "test_nominal": "ml_test_classic", "test_target": "ml_train_ml[10000:20000]",
        "null_partner": "ml_train_ml[0:10000]",
    },
    # 50k events per compared sample (docs/reweighting.md, "50k events per compared
    # sample"): train on --train-events of classic seed 31 and ML seed 32, compare classic
    # seed 41 (weighted) with ML seed 42; null partner ML seed 32 (all its events).
    "ml50k": {
        "param": "ml",
        "nominal": ("ml_train_classic", 0.0),
        "varied": [("ml_train_ml", 1.0)],
        "target": 1.0,
        "test_nominal": "ml_test_classic", "test_target": "ml_test_ml",
        "null_partner": "ml_train_ml",
    },
}
P_MIN = 0.01


def events(samples: Path, name: str, limit: int | None = None) -> list:
    """The events of sample ``name`` ('NAME', 'NAME[a:b]' or 'A+B'), at most ``limit``
    (of each part)."""
    if "+" in name:
        return [e for part in name.split("+") for e in events(samples, part, limit)]
    base, _, sl = name.partition("[")
    evs = load_npz(samples / f"{base}.npz")
    if sl:
        a, b = (int(x) for x in sl.rstrip("]").split(":"))
        evs = evs[a:b]
    return evs[:limit] if limit is not None else evs


def filled(samples: Path, out: Path, name: str, refs_names: list[str], limit: int | None):
    cache = out / f"fill_{name}_{limit}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    start = time.perf_counter()
    f = H.fill(events(samples, name, limit), refs_names)
    cache.write_bytes(pickle.dumps(f))
    print(f"  filled {name} in {time.perf_counter() - start:.0f} s", flush=True)
    return f


def summarise(comp: H.Comparison, scale: float) -> dict:
    p = comp.pvalues(scale)
    fails = sorted((k for k, v in p.items() if v < P_MIN), key=lambda k: p[k])
    return {"histograms": len(p), "failing": len(fails),
            "chi2_sum": sum(comp.chi2.values()), "ndf_sum": sum(comp.ndf.values()),
            "fails": [{"histogram": k, "chi2": comp.chi2[k], "ndf": comp.ndf[k], "p": p[k]}
                      for k in fails]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--study", choices=sorted(STUDIES), required=True)
    ap.add_argument("--set", action="append", default=[], help="reweight config overrides")
    ap.add_argument("--test-events", type=int, default=None,
                    help="at most this many events of each compared sample")
    ap.add_argument("--train-events", type=int, default=None,
                    help="at most this many events of each training sample")
    ap.add_argument("--combine", nargs="+", metavar="TAG", default=None,
                    help="train nothing: weight with the ensemble of the runs of these tags "
                    "(the mean of their log weights, weights_STUDY+TAG.npy in --out)")
    ap.add_argument("--tag", default="", help="suffix of the run name and report files "
                    "(e.g. _species for --set species_inputs=true)")
    args = ap.parse_args()
    s = STUDIES[args.study]
    samples, out = Path(args.samples), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    param = s["param"]
    nom_name, nom_value = s["nominal"]
    cfg = load_reweight_config(
        "dctr", [f"out_dir={out}/runs", f"name=dctr_{args.study}{args.tag}", "threads=1",
                 *args.set],
        nominal=f"{samples / nom_name.partition('+')[0]}.npz:{param}={nom_value}",
        varied=[f"{samples / n.partition('[')[0].partition('+')[0]}.npz:{param}={v}"
                for n, v in s["varied"]])
    lim_train = args.train_events
    if args.combine:
        # An ensemble: log w averaged over the members (each normalised to mean 1, which
        # shifts log w by a constant; the average is normalised again).
        logs = [np.log(np.load(out / f"weights_{args.study}{t}.npy")) for t in args.combine]
        raw = np.exp(np.mean(logs, axis=0))
        members = [json.loads((out / f"report_{args.study}{t}.json").read_text())
                   for t in args.combine]
        result = None
    else:
        result = train(cfg, events(samples, nom_name, lim_train),
                       [events(samples, n, lim_train) for n, _ in s["varied"]])
        print(result.text(), flush=True)
        test_nominal = events(samples, s["test_nominal"], args.test_events)
        raw = compute_weights(result.module, test_nominal,
                              {"target": {param: s["target"]}})["target"]
        del test_nominal
    w = normalised(raw)
    names = list(ANALYSES)
    refs = load_refs(names, None)
    lim = args.test_events
    f_nom = filled(samples, out, s["test_nominal"], names, lim)
    f_tgt = filled(samples, out, s["test_target"], names, lim)
    f_null = filled(samples, out, s["null_partner"], names, lim)
    b_weighted = H.book_all(f_nom, refs, w)
    b_nominal = H.book_all(f_nom, refs)
    b_target = H.book_all(f_tgt, refs)
    b_partner = H.book_all(f_null, refs)
    null = H.compare(b_partner, b_target)
    scale = H.calibrate(null)
    report = {
        "study": args.study, "tag": args.tag, "set": args.set, "param": param,
        "samples": s, "nominal": nom_value,
        "target": s["target"],
        "events": {"train": members[0]["events"]["train"] if result is None
                   else result.n_events, "test_nominal": len(w),
                   "test_target": next(iter(f_tgt.values())).n_events,
                   "null_partner": next(iter(f_null.values())).n_events},
        "combined": args.combine,
        "training_wall_s": sum(m["training_wall_s"] for m in members) if result is None
        else result.wall_seconds,
        "epochs": None if result is None else result.epochs_run,
        "best_epoch": None if result is None else result.best_epoch,
        "val_loss": None if result is None else result.best_val_loss,
        "val_accuracy": None if result is None else result.best_val_accuracy,
        "raw_mean_weight": float(raw.mean()), "kish_ess": kish_ess(w),
        "kish_fraction": kish_ess(w) / len(w), "max_weight": float(w.max()),
        "null_scale": scale,
        "null": summarise(null, scale),
        "weighted_vs_target": summarise(H.compare(b_weighted, b_target), scale),
        "species_inputs": cfg.species_inputs if result is None
        else bool(result.module.species_inputs),
        "shape_inputs": cfg.shape_inputs if result is None
        else bool(result.module.shape_inputs),
        "unweighted_vs_target": summarise(H.compare(b_nominal, b_target), scale),
        "weighted_vs_target_uncalibrated": summarise(H.compare(b_weighted, b_target), 1.0),
        "null_uncalibrated": summarise(null, 1.0),
    }
    # The covariance statistic of the exact-weight validation (hadml.analysis.weighted:
    # bin correlations within events included, calibrated without a scale; the null
    # checks that), for the same four samples.
    c_weighted, c_nominal = H.covariance_histograms(f_nom, refs, [w, None])
    (c_target,) = H.covariance_histograms(f_tgt, refs, [None])
    (c_partner,) = H.covariance_histograms(f_null, refs, [None])
    cov_null = H.compare_covariance(c_partner, c_target)
    report["covariance"] = {
        "null_scale": H.calibrate(cov_null),
        "null": summarise(cov_null, 1.0),
        "weighted_vs_target": summarise(H.compare_covariance(c_weighted, c_target), 1.0),
        "unweighted_vs_target": summarise(H.compare_covariance(c_nominal, c_target), 1.0),
        # Diagnostic: the weighted sample against the null partner (for "ptmin": the
        # target's training sample). Closer to it than to the independent target sample
        # means the weights carry the training samples' fluctuations.
        "weighted_vs_null_partner": summarise(H.compare_covariance(c_weighted, c_partner),
                                              1.0),
    }
    (out / f"report_{args.study}{args.tag}.json").write_text(json.dumps(report, indent=1))
    for key in ("null", "weighted_vs_target", "unweighted_vs_target"):
        r = report[key]
        rc = report["covariance"][key]
        print(f"{key}: {r['failing']} of {r['histograms']} histograms with p < {P_MIN} "
              f"(sum chi2 {r['chi2_sum']:.0f} / ndf {r['ndf_sum']}); covariance chi2: "
              f"{rc['failing']} of {rc['histograms']} (sum chi2 {rc['chi2_sum']:.0f} / ndf "
              f"{rc['ndf_sum']})")
    print(f"null scale c = {scale:.3f}; Kish ESS {report['kish_ess']:.0f} of {len(w)}; "
          f"raw mean weight {report['raw_mean_weight']:.3f}; training "
          f"{report['training_wall_s']:.0f} s")
    np.save(out / f"weights_{args.study}{args.tag}.npy", w)


if __name__ == "__main__":
    main()
