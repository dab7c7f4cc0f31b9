#!/usr/bin/env python
"""Species head: maximum likelihood against an adversarial categorical head with a
Gumbel-softmax relaxation, on the same clusters, the same network and the same number of
steps (issue 13, item 2: "measure, don't assume").

* ``likelihood``: cross-entropy of the observed pair over the allowed open pairs
  (hadml.train.species.nll), the recipe of ``hadml train --config species``.
* ``gumbel``: a conditional GAN on the categorical choice. The head draws a pair per
  cluster by Gumbel-max (the contract's rule); the straight-through Gumbel-softmax
  (hadml.train.species_event.gumbel_choice) passes gradients; a discriminator MLP sees the
  scaled species features and the one-hots of hadron 1 and 2 of real and drawn pairs
  (non-saturating BCE, R1 on real).

Both heads are then scored on the validation clusters (the events training never saw):
validation NLL, the expected count of each species against the observed (closure), and
the cos theta distribution of hadron 1 when the angle generator (``--angles``, a
cluster-level checkpoint) decays the clusters with each head's species and masses
(two-sample chi2/ndf against the true decays, 20 bins equiprobable in them).

    python training/species_gumbel.py clusters.parquet --angles cluster_gan.ckpt --epochs 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F


def main() -> int:
    from hadml import kinematics
    from hadml.data.datamodule import split_by_event
    from hadml.data.features import (
        Scaling,
        cluster_requests,
        condition_features,
        four_vectors,
        target_angles,
    )
    from hadml.io import cluster_table
    from hadml.train.metrics import chi2_ndf, equiprobable_edges
    from hadml.train.models import mlp
    from hadml.train.modules import load_module
    from hadml.train.species import (
        SPECIES_FEATURES,
        SpeciesHead,
        _spectrum,
        expected_counts,
        nll,
        pair_log_weights,
        prepare,
    )
    from hadml.train.species_event import gumbel_choice, species_onehot

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table")
    ap.add_argument("--angles", required=True, help="cluster-level Lightning checkpoint")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--lr-gan", type=float, default=3e-4)
    ap.add_argument("--tau", type=float, default=1.0)
    ap.add_argument("--val-clusters", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", default=None)
    ap.add_argument("--baseline-only", action="store_true",
                    help="only the cos theta chi2/ndf of the angle generator with the true "
                         "species and masses (what a perfect head would give)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    table = cluster_table.read(args.table)
    masks = split_by_event(table.column("event").to_numpy(), 0.1, 0.0, 0)
    h = np.abs(np.concatenate([table.column("h1_id").to_numpy(),
                               table.column("h2_id").to_numpy()]))
    species = sorted(int(v) for v in np.unique(h))
    features = list(SPECIES_FEATURES)
    scaling = Scaling.fit(condition_features(table.filter(pa.array(masks["train"])),
                                             features)).to_dict()
    spectrum = _spectrum()
    data, channels, _, _ = prepare(table, features, species, scaling, spectrum)
    rows_train = torch.as_tensor(np.flatnonzero(masks["train"]))
    rows_val = torch.as_tensor(np.flatnonzero(masks["val"]))[: args.val_clusters]
    s = len(species)
    steps_per_epoch = len(rows_train) // args.batch

    def run(kind: str) -> tuple[SpeciesHead, float]:
        torch.manual_seed(args.seed)
        gen = torch.Generator().manual_seed(args.seed)
        head = SpeciesHead(len(features), s, 128, 3)
        steps = args.epochs * steps_per_epoch
        start = time.perf_counter()
        if kind == "likelihood":
            opt = torch.optim.Adam(head.parameters(), lr=args.lr)
        else:
            disc = mlp(len(features) + 2 * s, 1, 128, 3)
            opt = torch.optim.Adam(head.parameters(), lr=args.lr_gan, betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(disc.parameters(), lr=args.lr_gan, betas=(0.5, 0.999))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        for epoch in range(args.epochs):
            perm = rows_train[torch.randperm(len(rows_train), generator=gen)]
            for b in range(steps_per_epoch):
                r = perm[b * args.batch:(b + 1) * args.batch]
                if kind == "likelihood":
                    loss = nll(head, data, r, channels)
                else:
                    x, key = data.x[r], data.key[r]
                    c1, c2 = channels.col1[key], channels.col2[key]
                    t = data.target[r][:, None]
                    real = torch.cat([x, F.one_hot(torch.gather(c1, 1, t)[:, 0], s).float(),
                                      F.one_hot(torch.gather(c2, 1, t)[:, 0], s).float()], 1)
                    lw = pair_log_weights(head(x), data.mass[r], key, channels)
                    _, y = gumbel_choice(lw, args.tau, gen)
                    fake = torch.cat([x, species_onehot(c1, y, s).float(),
                                      species_onehot(c2, y, s).float()], 1)
                    real_in = real.requires_grad_(True)
                    d_real = disc(real_in)
                    (g,) = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
                    d_loss = (F.softplus(-d_real).mean() + F.softplus(disc(fake.detach())).mean()
                              + 0.5 * (g**2).sum(1).mean())
                    opt_d.zero_grad()
                    d_loss.backward()
                    opt_d.step()
                    loss = F.softplus(-disc(fake)).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            with torch.no_grad():
                v = float(nll(head, data, rows_val, channels))
            print(f"{kind} epoch {epoch}: val nll {v:.4f} ({time.perf_counter() - start:.0f} s)",
                  flush=True)
        return head.eval(), time.perf_counter() - start

    # The angle generator and the validation clusters' decay requests.
    module = load_module(args.angles)
    angles = module.sampling_generator.eval()
    a_features = list(module.hparams["features"])
    a_scaling = Scaling.from_dict(module.hparams["scaling"])
    val_rows = rows_val.numpy()
    val_table = table.take(pa.array(val_rows))
    req = cluster_requests(val_table)
    true_cos = target_angles(val_table)[:, 0]
    edges = equiprobable_edges(true_cos, 20)
    cluster = torch.from_numpy(four_vectors(val_table, ""))
    c1p = torch.from_numpy(four_vectors(val_table, "c1"))
    sub = type(data)(data.x[rows_val], data.mass[rows_val], data.key[rows_val],
                     data.target[rows_val], data.event[val_rows])
    out = {}
    with torch.no_grad():
        cond = a_scaling.apply(condition_features(val_table, a_features))
        noise = torch.randn(len(val_rows), module.cfg["noise_dim"],
                            generator=torch.Generator().manual_seed(8))
        ang = angles(torch.as_tensor(cond, dtype=torch.float32), noise).double()
        base = chi2_ndf(ang[:, 0].numpy(), true_cos, edges)
    print(f"true species and masses: cos theta chi2/ndf {base:.2f}", flush=True)
    out["true_species"] = {"chi2_cos_theta": base}
    for kind in () if args.baseline_only else ("likelihood", "gumbel"):
        head, seconds = run(kind)
        with torch.no_grad():
            v = float(nll(head, data, rows_val, channels))
            e, o = expected_counts(head, sub, channels, species)
            lw = pair_log_weights(head(sub.x), sub.mass, sub.key, channels)
            idx, _ = gumbel_choice(lw, 1.0, torch.Generator().manual_seed(7))
            ar = torch.arange(len(idx))
            id1 = np.asarray(species)[channels.col1[sub.key][ar, idx].numpy()]
            id2 = np.asarray(species)[channels.col2[sub.key][ar, idx].numpy()]
            m = np.array([spectrum.decay_masses(float(M), int(a), int(b), 1 + i)
                          for i, (M, a, b) in enumerate(zip(sub.mass.numpy(), id1, id2,
                                                            strict=True))])
            r2 = dict(req, m1=m[:, 0], m2=m[:, 1])
            from hadml import _core

            cond = a_scaling.apply(_core.condition_features(r2, a_features))
            noise = torch.randn(len(idx), module.cfg["noise_dim"],
                                generator=torch.Generator().manual_seed(8))
            ang = angles(torch.as_tensor(cond, dtype=torch.float32), noise).double()
            p1, _ = kinematics.decay_in_model_frame(cluster, c1p, torch.from_numpy(m[:, 0]),
                                                    torch.from_numpy(m[:, 1]), ang[:, 0],
                                                    ang[:, 1])
            cos = kinematics.angles_from_decay(cluster, c1p, p1)[0].numpy()
        top = np.argsort(-o)[:20]
        dev = {species[k]: float(e[k] / o[k] - 1) for k in top}
        stat = {species[k]: float(1 / np.sqrt(o[k])) for k in top}
        out[kind] = {"val_nll": v, "seconds": seconds, "dev_top20": dev, "stat_top20": stat,
                     "chi2_cos_theta": chi2_ndf(cos, true_cos, edges)}
        worst = max(dev, key=lambda k: abs(dev[k]))
        print(f"{kind}: val nll {v:.4f}, {seconds:.0f} s; top-20 species expected/observed - 1: "
              f"largest {100 * dev[worst]:+.1f}% (|id| {worst}), mean |.| "
              f"{100 * np.mean(np.abs(list(dev.values()))):.2f}%; cos theta chi2/ndf with "
              f"its species {out[kind]['chi2_cos_theta']:.2f}", flush=True)
        for k in top[:10]:
            print(f"  {species[k]:8d} {o[k]:7.0f} {100 * dev[species[k]]:+6.2f}% "
                  f"(stat {100 * stat[species[k]]:.1f}%)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
