#!/usr/bin/env python
"""Per flavour class: cluster-decay models against the true (classic) decays of one split.

For the clusters of one split of a cluster table (the recipe's split by event: ``val`` to
choose between models, ``test`` to report the chosen one), each model decays every
cluster with R noise seeds, and per class (light without / with a perturbative
constituent, charm, bottom) the script prints

* chi2/ndf of cos theta (20 bins equiprobable in the true decays; about 1 for a perfect
  model, as the two samples are independent given the clusters), mean over the R seeds;
* the forward peak: mean 1 - cos theta and the fraction with 1 - cos theta < 0.05,
  generated (mean over seeds) and true;
* x_E = 2 E / sqrt(s) of the hadron carrying the heavy quark (charm, bottom clusters) and
  of the D*+- made in charm clusters (what ALEPH 1999 D* x_E sees first): chi2/ndf on 20
  (D*: 10) equiprobable bins and the mean, generated and true;
* for checkpoints of the maximum-likelihood model: the mean -ln p(cos theta) of the true
  decays per class (the proper score the recipe trains on) minus that of the classic
  decayer's own density (``kl``: an estimate of the Kullback-Leibler divergence of the model
  from the classic decays, 0 for a perfect model, with its standard error ``kl_err``). It
  resolves differences that the binned chi2 of 80k clusters (sd 0.3 in chi2/ndf) cannot.

    python training/heavy_flavour.py --data clusters.parquet --split val \\
        shipped=hadml/models/default_cluster_decay.onnx new=runs/.../best-epoch=012.ckpt

Models: ONNX files (contract v1, format 1) or Lightning checkpoints (hadml.train), each
optionally ``label=path``. The split is the ``cluster_mle`` recipe's (``--recipe``).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pyarrow as pa
import torch

from hadml.data.datamodule import load_table, split_by_event
from hadml.data.features import (
    Scaling,
    condition_features,
    four_vectors,
    heaviest_quark,
    target_angles,
)
from hadml.kinematics import decay_in_model_frame
from hadml.train.config import load_train_config
from hadml.train.metrics import chi2_ndf, equiprobable_edges

ECM = 91.1876
NOISE_SEED0 = 1000
CLASSES = ("light non-pert", "light pert", "charm", "bottom")
DSTAR = 413


class Model:
    """Sampling (and for maximum-likelihood checkpoints, the density) of one model."""

    def __init__(self, path: str):
        self.path = path
        self.module = None
        self.session = None
        if path.endswith(".onnx"):
            import onnxruntime as ort

            from hadml.ml import contract
            from hadml.train.export import read_metadata

            meta = read_metadata(path)
            self.features = list(json.loads(meta[contract.KEY_FEATURES]))
            self.noise_dim = int(meta[contract.KEY_NOISE_DIM])
            self.noise_distribution = meta[contract.KEY_NOISE_DISTRIBUTION]
            self.scaling = Scaling.from_dict(json.loads(meta[contract.KEY_SCALING]))
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        else:
            from hadml.train.modules import load_module

            self.module = load_module(path).eval()
            hp = self.module.hparams
            self.features = list(hp["features"])
            self.noise_dim = int(hp["config"]["noise_dim"])
            self.noise_distribution = hp["config"]["noise_distribution"]
            self.scaling = Scaling.from_dict(hp["scaling"])

    def _condition(self, raw: np.ndarray) -> np.ndarray:
        return self.scaling.apply(raw).astype(np.float32)

    def sample(self, raw: np.ndarray, seed: int) -> np.ndarray:
        cond = self._condition(raw)
        gen = np.random.default_rng(seed)
        shape = (len(cond), self.noise_dim)
        noise = (gen.uniform(size=shape) if self.noise_distribution == "uniform"
                 else gen.standard_normal(shape)).astype(np.float32)
        if self.session is not None:
            (out,) = self.session.run(None, {"condition": cond, "noise": noise})
            return np.asarray(out, dtype=np.float64)
        with torch.no_grad():
            out = self.module.sampling_generator(torch.from_numpy(cond), torch.from_numpy(noise))
        return out.double().numpy()

    def nll(self, raw: np.ndarray, cos_theta: np.ndarray) -> np.ndarray | None:
        gen = None if self.module is None else self.module.sampling_generator
        if gen is None or not hasattr(gen, "log_prob"):
            return None
        with torch.no_grad():
            lp = gen.log_prob(torch.from_numpy(self._condition(raw)),
                              torch.as_tensor(cos_theta, dtype=torch.float32))
        return -lp.double().numpy()


def classic_log_density(table: pa.Table, params: dict[str, float]) -> np.ndarray:
    """ln p(cos theta) of hadron 1 under the classic decayer, as
    ClassicClusterDecayer.cpp (``directionRule``, ``classicDirectionDensity``; Herwig's
    ClusterDecayer): a constituent qualifies when perturbative with ClDir = 1 for its
    flavour (charm/bottom before light, a fair coin between equals); 1 - cos theta about it
    is exponential of mean ClSmr truncated to [0, 2]; none qualifies: isotropic. The
    constituents are back to back in the cluster frame, so both axes are the model's z
    (hadron 1 opposite to constituent 2 is along constituent 1)."""
    u = np.clip(1.0 - target_angles(table)[:, 0], 0.0, 2.0)
    prio, smear = [], []
    for k in ("c1", "c2"):
        f = heaviest_quark(table.column(f"{k}_id").to_numpy())
        pert = table.column(f"{k}_pert").to_numpy(False)
        cls = np.where(f == 5, "Bottom", np.where(f == 4, "Charm", "Light"))
        direction = np.array([params[f"ClDir{c}"] for c in cls])
        smear.append(np.array([params[f"ClSmr{c}"] for c in cls]))
        prio.append(np.where(~pert | (direction == 0), 0, np.where(f >= 4, 2, 1)))

    def expo(s: np.ndarray) -> np.ndarray:  # density in cos theta (= in u)
        return np.exp(-u / s) / (s * -np.expm1(-2.0 / s))

    dens = np.where(prio[0] > prio[1], expo(smear[0]), expo(smear[1]))
    dens = np.where((prio[0] == prio[1]) & (prio[0] > 0),
                    0.5 * (expo(smear[0]) + expo(smear[1])), dens)
    dens = np.where((prio[0] == 0) & (prio[1] == 0), 0.5, dens)
    return np.log(dens)


def split_table(data: str, recipe: str, split: str) -> tuple[pa.Table, list[str]]:
    cfg = load_train_config(recipe, [f"data.path={data}"])
    dcfg = cfg.data
    table, _ = load_table(dcfg)
    masks = split_by_event(table.column("event").to_numpy(), dcfg.val_fraction,
                           dcfg.test_fraction, dcfg.split_seed)
    return table.filter(pa.array(masks[split])), list(dcfg.features)


def class_masks(table: pa.Table) -> dict[str, np.ndarray]:
    q1 = heaviest_quark(table.column("c1_id").to_numpy())
    q2 = heaviest_quark(table.column("c2_id").to_numpy())
    q = np.maximum(q1, q2)
    pert = table.column("c1_pert").to_numpy(False) | table.column("c2_pert").to_numpy(False)
    light = q <= 3
    return {"light non-pert": light & ~pert, "light pert": light & pert,
            "charm": q == 4, "bottom": q == 5}


def evaluate(model: Model, table: pa.Table, seeds: int,
             classic_ln_p: np.ndarray) -> dict[str, dict[str, float]]:
    raw = condition_features(table, model.features)
    true = target_angles(table)
    u_true = 1.0 - true[:, 0]
    cluster = torch.from_numpy(four_vectors(table, ""))
    c1 = torch.from_numpy(four_vectors(table, "c1"))
    h1, h2 = four_vectors(table, "h1"), four_vectors(table, "h2")

    def mass(p: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.sqrt(np.clip(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(1), 0, None)))

    m1, m2 = mass(h1), mass(h2)
    # The hadron that carries the heavy quark: hadron 1 carries constituent 1's flavour.
    q1 = heaviest_quark(table.column("c1_id").to_numpy())
    q2 = heaviest_quark(table.column("c2_id").to_numpy())
    heavy_is_1 = q1 >= q2
    id1, id2 = table.column("h1_id").to_numpy(), table.column("h2_id").to_numpy()
    x_true = 2.0 * np.where(heavy_is_1, h1[:, 3], h2[:, 3]) / ECM
    dstar_true_1, dstar_true_2 = np.abs(id1) == DSTAR, np.abs(id2) == DSTAR
    masks = class_masks(table)
    acc: dict[str, dict[str, list[float]]] = {c: {} for c in CLASSES}

    def add(cls: str, key: str, value: float) -> None:
        acc[cls].setdefault(key, []).append(value)

    for r in range(seeds):
        gen = model.sample(raw, NOISE_SEED0 + r)
        p1, p2 = decay_in_model_frame(cluster, c1, m1, m2, torch.from_numpy(gen[:, 0]),
                                      torch.from_numpy(gen[:, 1]))
        e1, e2 = p1[:, 3].numpy(), p2[:, 3].numpy()
        x_gen = 2.0 * np.where(heavy_is_1, e1, e2) / ECM
        u_gen = 1.0 - gen[:, 0]
        for cls in CLASSES:
            sel = masks[cls]
            if np.count_nonzero(sel) < 200:
                continue
            t = true[sel, 0]
            add(cls, "chi2_cos", chi2_ndf(gen[sel, 0], t, equiprobable_edges(t, 20)))
            add(cls, "mean_u", float(u_gen[sel].mean()))
            add(cls, "frac_u<0.05", float((u_gen[sel] < 0.05).mean()))
            if cls in ("charm", "bottom"):
                xt = x_true[sel]
                add(cls, "chi2_xE", chi2_ndf(x_gen[sel], xt, equiprobable_edges(xt, 20)))
                add(cls, "mean_xE", float(x_gen[sel].mean()))
            if cls == "charm":
                ds_t = np.concatenate([2 * h1[sel & dstar_true_1, 3] / ECM,
                                       2 * h2[sel & dstar_true_2, 3] / ECM])
                ds_g = np.concatenate([2 * e1[sel & dstar_true_1] / ECM,
                                       2 * e2[sel & dstar_true_2] / ECM])
                if len(ds_t) >= 100:
                    add(cls, "chi2_xE_D*", chi2_ndf(ds_g, ds_t, equiprobable_edges(ds_t, 10)))
                    add(cls, "mean_xE_D*", float(ds_g.mean()))
    out: dict[str, dict[str, float]] = {}
    nll = model.nll(raw, true[:, 0])
    for cls in CLASSES:
        sel = masks[cls]
        row = {k: float(np.mean(v)) for k, v in acc[cls].items()}
        row["n"] = int(np.count_nonzero(sel))
        row["true_mean_u"] = float(u_true[sel].mean())
        row["true_frac_u<0.05"] = float((u_true[sel] < 0.05).mean())
        if cls in ("charm", "bottom"):
            row["true_mean_xE"] = float(x_true[sel].mean())
        if cls == "charm":
            ds_t = np.concatenate([2 * h1[sel & dstar_true_1, 3] / ECM,
                                   2 * h2[sel & dstar_true_2, 3] / ECM])
            row["n_D*"] = len(ds_t)
            row["true_mean_xE_D*"] = float(ds_t.mean()) if len(ds_t) else float("nan")
        if nll is not None:
            d = nll[sel] + classic_ln_p[sel]
            row["nll"] = float(nll[sel].mean())
            row["kl"] = float(d.mean())
            row["kl_err"] = float(d.std(ddof=1) / np.sqrt(len(d)))
        out[cls] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="[label=]model.onnx or checkpoint")
    ap.add_argument("--data", required=True, help="cluster table (parquet)")
    ap.add_argument("--split", choices=("val", "test"), default="val")
    ap.add_argument("--recipe", default="cluster_mle", help="recipe whose split is used")
    ap.add_argument("--seeds", type=int, default=5, help="noise seeds per model")
    ap.add_argument("--config", default=None,
                    help="run configuration whose ClDir/ClSmr made the table (default: shipped)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    table, _ = split_table(args.data, args.recipe, args.split)
    print(f"{args.split} split: {table.num_rows} two-hadron cluster decays, "
          f"{args.seeds} noise seeds per model", file=sys.stderr)
    from hadml.config import load_config

    classic_ln_p = classic_log_density(table, load_config(args.config).cluster_params())
    results = {}
    for item in args.models:
        label, sep, path = item.partition("=")
        if not sep:
            label, path = item, item
        results[label] = evaluate(Model(path), table, args.seeds, classic_ln_p)
    keys = sorted({k for res in results.values() for row in res.values() for k in row})
    for cls in CLASSES:
        print(f"\n{cls}")
        print("| quantity | " + " | ".join(results) + " |")
        print("|---|" + "---|" * len(results))
        for k in keys:
            vals = [res[cls].get(k) for res in results.values()]
            if all(v is None for v in vals):
                continue
            print(f"| {k} | " + " | ".join("-" if v is None else f"{v:.4g}" for v in vals) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"split": args.split, "data": args.data, "seeds": args.seeds,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
