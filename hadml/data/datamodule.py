"""Lightning DataModules over the cluster table (Parquet, Herwig dumps or fresh generation).

The split into train / validation / test is by event, so clusters of one event never sit
on both sides. The input scaling is fitted on the training split and exposed as
``datamodule.scaling``; the LightningModules save it in their checkpoints.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, WeightedRandomSampler

from hadml.data.features import (
    DEFAULT_FEATURES,
    Scaling,
    condition_features,
    four_vectors,
    heaviest_quark,
    target_angles,
)
from hadml.io import cluster_table


@dataclass
class DataConfig:
    """Where the clusters come from and how they are batched.

    source: ``generate`` (run hadml.generate), ``parquet`` (cluster table file) or
    ``herwig`` (a Herwig text dump, formats (a)/(b), see hadml.io.herwig_dump).
    """

    source: str = "parquet"
    path: str | None = None
    n_events: int = 2000
    seed: int = 1
    hadronization: str = "classic"
    unknown_constituents: str = "drop"
    features: list[str] = field(default_factory=lambda: list(DEFAULT_FEATURES))
    val_fraction: float = 0.2
    test_fraction: float = 0.1
    split_seed: int = 0
    batch_size: int = 256
    events_per_batch: int = 16  # event-level GAN
    batches_per_epoch: int = 50  # event-level GAN
    #: Event-level GAN only: a cluster table whose events supply the TARGET hadrons (e.g.
    #: made with other settings, or data-like); None: the other half of the training events.
    #: Its clusters are never decayed by the generator, so its generator settings may differ.
    target_path: str | None = None
    max_val_clusters: int = 20000
    #: Cluster-level GAN: draw training clusters with weight n_class^-flavour_balance, the
    #: classes being light, charm and bottom clusters (heaviest constituent quark). 0: plain
    #: shuffling; 0.5: class shares go as sqrt(n_class), so the 5% charm and 5% bottom
    #: clusters each get about 16% of the batches. The conditional distribution learned is
    #: unchanged (real and generated decays share the same conditions), only its accuracy
    #: in rare classes improves.
    flavour_balance: float = 0.0


def _table_sha256(table: pa.Table) -> str:
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_table(cfg: DataConfig) -> tuple[pa.Table, str]:
    """The cluster table for ``cfg`` and the sha256 of the data it came from."""
    if cfg.source == "parquet":
        if not cfg.path:
            raise ValueError("data.source=parquet needs data.path (a cluster table file)")
        return cluster_table.read(cfg.path), _file_sha256(Path(cfg.path))
    if cfg.source == "herwig":
        from hadml.io import herwig_dump

        if not cfg.path:
            raise ValueError("data.source=herwig needs data.path (a Herwig dump file)")
        table = herwig_dump.to_cluster_table(
            herwig_dump.read(cfg.path), unknown_constituents=cfg.unknown_constituents
        )
        return table, _file_sha256(Path(cfg.path))
    if cfg.source == "generate":
        import hadml

        result = hadml.generate(
            cfg.n_events,
            seed=cfg.seed,
            hadronization=cfg.hadronization,
            collect_clusters=True,
            keep_events=False,
        )
        table = result.cluster_table
        return table, _table_sha256(table)
    raise ValueError(f"unknown data.source {cfg.source!r}: use generate, parquet or herwig")


def split_by_event(
    events: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Row masks for train / val / test, assigning whole events at random (seeded)."""
    unique = np.unique(events)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(unique)
    n_val = int(round(val_fraction * len(unique)))
    n_test = int(round(test_fraction * len(unique)))
    parts = {
        "val": perm[:n_val],
        "test": perm[n_val : n_val + n_test],
        "train": perm[n_val + n_test :],
    }
    return {k: np.isin(events, v) for k, v in parts.items()}


@dataclass
class Split:
    """Arrays of one split; ``condition`` is scaled, four-vectors are float64 (px,py,pz,e)."""

    condition: torch.Tensor
    angles: torch.Tensor
    cluster: torch.Tensor
    c1: torch.Tensor
    h1: torch.Tensor
    h2: torch.Tensor
    m1: torch.Tensor
    m2: torch.Tensor
    event: np.ndarray
    flavour: np.ndarray  # heaviest quark of the cluster's two constituents (1..5)

    def __len__(self) -> int:
        return len(self.event)

    def flavour_class(self) -> np.ndarray:
        """0 light, 1 charm, 2 bottom: the class of the per-class metrics and sampling."""
        return np.clip(self.flavour, 3, 5).astype(np.int64) - 3

    def subset(self, rows: np.ndarray) -> Split:
        t = torch.from_numpy(rows)
        return Split(
            self.condition[t], self.angles[t], self.cluster[t], self.c1[t], self.h1[t],
            self.h2[t], self.m1[t], self.m2[t], self.event[rows], self.flavour[rows],
        )


def _make_split(table: pa.Table, features: list[str], scaling: Scaling | None) -> Split:
    x = condition_features(table, features)
    h1 = four_vectors(table, "h1")
    h2 = four_vectors(table, "h2")

    def m(p: np.ndarray) -> np.ndarray:
        return np.sqrt(np.clip(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(1), 0.0, None))

    cond = scaling.apply(x) if scaling is not None else x
    return Split(
        condition=torch.as_tensor(cond, dtype=torch.float32),
        angles=torch.as_tensor(target_angles(table), dtype=torch.float32),
        cluster=torch.from_numpy(four_vectors(table, "")),
        c1=torch.from_numpy(four_vectors(table, "c1")),
        h1=torch.from_numpy(h1),
        h2=torch.from_numpy(h2),
        m1=torch.from_numpy(m(h1)),
        m2=torch.from_numpy(m(h2)),
        event=table.column("event").to_numpy(),
        flavour=np.maximum(heaviest_quark(table.column("c1_id").to_numpy()),
                           heaviest_quark(table.column("c2_id").to_numpy())),
    )


class ClusterDataModule(L.LightningDataModule):
    """Batches of (scaled condition, target angles) for the cluster-level cGAN.

    Validation yields one batch holding the whole validation split (capped at
    ``max_val_clusters``) with the four-vectors needed for lab-frame metrics.
    """

    def __init__(self, cfg: DataConfig, table: pa.Table | None = None,
                 data_sha256: str | None = None, scaling: Scaling | None = None) -> None:
        """``scaling``: use this input scaling (from a checkpoint being resumed) instead of
        fitting one on the training split."""
        super().__init__()
        self.cfg = cfg
        self._table = table
        self.data_sha256 = data_sha256
        self.scaling: Scaling | None = scaling
        self.splits: dict[str, Split] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if self._table is None:
            self._table, self.data_sha256 = load_table(self.cfg)
        elif self.data_sha256 is None:
            self.data_sha256 = _table_sha256(self._table)
        table = self._table
        if table.num_rows == 0:
            raise ValueError("the cluster table has no two-hadron cluster decays to train on")
        masks = split_by_event(
            table.column("event").to_numpy(), self.cfg.val_fraction, self.cfg.test_fraction,
            self.cfg.split_seed,
        )
        if self.scaling is None:
            train_table = table.filter(pa.array(masks["train"]))
            self.scaling = Scaling.fit(condition_features(train_table, self.cfg.features))
        elif len(self.scaling.offset) != len(self.cfg.features):
            raise ValueError("the given input scaling does not match data.features")
        for name, mask in masks.items():
            self.splits[name] = _make_split(
                table.filter(pa.array(mask)), self.cfg.features, self.scaling
            )

    @property
    def n_features(self) -> int:
        return len(self.cfg.features)

    def train_dataloader(self) -> DataLoader:
        s = self.splits["train"]
        gen = torch.Generator().manual_seed(self.cfg.split_seed)
        ds = TensorDataset(s.condition, s.angles)
        drop = len(s) > self.cfg.batch_size
        if self.cfg.flavour_balance > 0.0:
            sampler = WeightedRandomSampler(self.sampling_weights(), num_samples=len(s),
                                            replacement=True, generator=gen)
            return DataLoader(ds, batch_size=self.cfg.batch_size, sampler=sampler,
                              drop_last=drop)
        return DataLoader(ds, batch_size=self.cfg.batch_size, shuffle=True, drop_last=drop,
                          generator=gen)

    def sampling_weights(self) -> torch.Tensor:
        """Per training cluster: n_class^-flavour_balance (light / charm / bottom classes)."""
        cls = self.splits["train"].flavour_class()
        counts = np.bincount(cls, minlength=3).astype(np.float64)
        w = np.where(counts > 0, counts, 1.0) ** -self.cfg.flavour_balance
        return torch.as_tensor(w[cls], dtype=torch.float64)

    def _eval_loader(self, name: str) -> DataLoader:
        s = self.splits[name]
        if len(s) > self.cfg.max_val_clusters:
            s = s.subset(np.arange(self.cfg.max_val_clusters))
        ds = TensorDataset(s.condition, s.angles, s.cluster, s.c1, s.h1, s.m1, s.m2,
                           torch.from_numpy(s.flavour_class()))
        return DataLoader(ds, batch_size=max(len(s), 1), shuffle=False)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")


class _EventPairs(Dataset):
    """Each item is a whole batch: generator clusters from events of pool A and target hadrons
    from *other* events of pool B, so generator and target are never paired."""

    def __init__(self, split: Split, events_per_batch: int, n_batches: int, seed: int,
                 target: Split | None = None):
        self.split = split
        self.target = target if target is not None else split
        self.k = events_per_batch
        self.n = n_batches
        self.seed = seed
        self.epoch = 0
        order = np.argsort(split.event, kind="stable")
        self.order = order
        ev_sorted = split.event[order]
        self.uniq, self.starts, self.counts = np.unique(
            ev_sorted, return_index=True, return_counts=True
        )
        rng = np.random.default_rng(seed)
        if target is None:
            pool = rng.permutation(len(self.uniq))
            half = len(pool) // 2
            if half == 0:
                raise ValueError("the event-level GAN needs at least two training events")
            self.pool_gen, self.pool_target = pool[:half], pool[half:]
            self.t_order, self.t_starts, self.t_counts = self.order, self.starts, self.counts
        else:
            # Generator clusters from all events of the split, target hadrons from all
            # events of the separate target table.
            self.pool_gen = np.arange(len(self.uniq))
            self.t_order = np.argsort(target.event, kind="stable")
            _, self.t_starts, self.t_counts = np.unique(
                target.event[self.t_order], return_index=True, return_counts=True
            )
            self.pool_target = np.arange(len(self.t_starts))
            if len(self.pool_gen) == 0 or len(self.pool_target) == 0:
                raise ValueError("the event-level GAN needs generator and target events")

    def __len__(self) -> int:
        return self.n

    @staticmethod
    def _rows(events: np.ndarray, order: np.ndarray, starts: np.ndarray,
              counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = [order[starts[e] : starts[e] + counts[e]] for e in events]
        idx = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)])
        return np.concatenate(rows), idx

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        k = min(self.k, len(self.pool_gen), len(self.pool_target))
        ge = rng.choice(self.pool_gen, size=k, replace=False)
        te = rng.choice(self.pool_target, size=k, replace=False)
        s, t = self.split, self.target
        g_rows, g_idx = self._rows(ge, self.order, self.starts, self.counts)
        t_rows, t_idx = self._rows(te, self.t_order, self.t_starts, self.t_counts)
        tg = torch.from_numpy(t_rows)
        gg = torch.from_numpy(g_rows)
        return {
            "condition": s.condition[gg],
            "cluster": s.cluster[gg],
            "c1": s.c1[gg],
            "m1": s.m1[gg],
            "m2": s.m2[gg],
            "gen_event": torch.from_numpy(g_idx),
            "target_hadrons": torch.cat([t.h1[tg], t.h2[tg]]),
            "target_event": torch.from_numpy(np.concatenate([t_idx, t_idx])),
            "target_role": torch.cat([torch.ones(len(t_rows)), torch.zeros(len(t_rows))]),
            "n_events": torch.tensor(k),
        }


class EventDataModule(ClusterDataModule):
    """Event batches for the event-level GAN.

    Without ``target_path`` the target hadrons are the other half of the training events
    and validation is as in :class:`ClusterDataModule`. With it (a fit to another setting),
    the target table is split by event like the training table: its training events supply
    the target hadrons, and validation compares the generator's decays of the validation
    clusters with the decays (angles, hadron 1) of the target's validation events, so the
    monitored metrics measure the distance to the target, not to the nominal sample.
    """

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        self.target_splits: dict[str, Split] = {}
        if self.cfg.target_path:
            table = cluster_table.read(self.cfg.target_path)
            if table.num_rows == 0:
                raise ValueError(f"{self.cfg.target_path}: no two-hadron cluster decays")
            masks = split_by_event(table.column("event").to_numpy(), self.cfg.val_fraction,
                                   self.cfg.test_fraction, self.cfg.split_seed)
            for name, mask in masks.items():
                self.target_splits[name] = _make_split(table.filter(pa.array(mask)),
                                                       self.cfg.features, self.scaling)

    def train_dataloader(self) -> DataLoader:
        target = self.target_splits.get("train")
        ds = _EventPairs(self.splits["train"], self.cfg.events_per_batch,
                         self.cfg.batches_per_epoch, self.cfg.split_seed, target)
        self.event_pairs = ds
        return DataLoader(ds, batch_size=None, shuffle=False)

    def _eval_loader(self, name: str) -> DataLoader:
        if not self.target_splits:
            return super()._eval_loader(name)
        cap = np.arange(self.cfg.max_val_clusters)
        s, t = self.splits[name], self.target_splits[name]
        s = s.subset(cap[: len(s)]) if len(s) > self.cfg.max_val_clusters else s
        t = t.subset(cap[: len(t)]) if len(t) > self.cfg.max_val_clusters else t
        # One batch; the target's angles and hadrons need not match the clusters in number.
        batch = (s.condition, t.angles, s.cluster, s.c1, t.h1, s.m1, s.m2)
        return DataLoader([batch], batch_size=None, shuffle=False)
