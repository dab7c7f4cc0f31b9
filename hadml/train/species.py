"""The species head of a format-2 model (docs/species.md, docs/model-contract.md).

The head maps the species-independent condition features of a cluster to two logit
vectors over a list of hadrons (|PDG id|): l1 scores hadron 1 (carrying constituent 1's
flavour), l2 hadron 2. The model's probability of a pair (h1, h2) is

    P(h1, h2 | cluster) = exp(l1[h1] + l2[h2]) p*(M; m1, m2) / sum over allowed open pairs,

the allowed pairs being HadronSpectrum.pair_channels of the constituents (flavour, charge
and baryon number conserved) with both hadrons in the list and M > m1 + m2 (nominal
masses). The p* factor is the phase space of Herwig's own selector, so the classic
selector is one member of this family: with l = log(spin, mixing and popping weights),
the model reproduces it exactly. Training maximises the likelihood of the classic
clusters' pairs (cross-entropy over the allowed pairs); no adversary is needed for a
categorical distribution whose every outcome is observed.

The angles of a format-2 file come from a format-1 generator (the cGAN of hadml.train,
conditioned on the masses of the chosen species): p(species, angles | cluster) =
p(species | cluster) p(angles | species, cluster), each factor trained on its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from hadml.ml.contract import SPECIES_DEPENDENT_FEATURES

SPECIES_FEATURES = ("cluster_mass", "c1_perturbative", "c2_perturbative", "c1_flavour",
                    "c2_flavour", "c1_diquark", "c2_diquark")


@dataclass
class SpeciesConfig:
    """Options of ``hadml train --config species`` (recipe hadml/train/recipes/species.yaml)."""

    model: str = "species"
    name: str = "species"
    seed: int = 42
    #: Cluster table of classic decays (hadml generate --clusters FILE).
    data_path: str = "clusters.parquet"
    features: list[str] = field(default_factory=lambda: list(SPECIES_FEATURES))
    hidden: int = 128
    layers: int = 3
    batch_size: int = 2048
    lr: float = 3e-3
    max_epochs: int = 10
    val_fraction: float = 0.1
    split_seed: int = 0
    #: The format-1 model whose angle generator goes into the exported format-2 file;
    #: None: the model shipped with hadml.
    angles_from: str | None = None
    export: str | None = None
    out_dir: str = "runs"
    threads: int = 1
    #: After training, calibrate one logit offset per species and side on the training
    #: split (calibrate_offsets): 0 = off, else the number of iterations.
    calibrate_iterations: int = 0

    def validate(self) -> None:
        if self.model != "species":
            raise ValueError(f"a species config has model: species, not {self.model!r}")
        bad = [f for f in self.features if f in SPECIES_DEPENDENT_FEATURES]
        if bad:
            raise ValueError(f"species features {bad} depend on the species being chosen")
        if self.hidden < 1 or self.layers < 1 or self.batch_size < 1 or self.max_epochs < 1:
            raise ValueError("hidden, layers, batch_size and max_epochs must be >= 1")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in (0, 1)")
        if self.calibrate_iterations < 0:
            raise ValueError("calibrate_iterations must be >= 0")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpeciesConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown species options {unknown}; known: {sorted(known)}")
        cfg = cls(**d)
        cfg.validate()
        return cfg


class SpeciesHead(nn.Module):
    """Scaled species features [B, Cs] -> logits [B, 2 S] (hadron 1, then hadron 2)."""

    def __init__(self, n_features: int, n_species: int, hidden: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        width = n_features
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        mods.append(nn.Linear(width, 2 * n_species))
        self.net = nn.Sequential(*mods)
        self.n_features, self.n_species = n_features, n_species

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


#: Classes of a cluster constituent for the flavour offsets: u or d quark, s, c, b, diquark.
N_FLAVOUR_CLASSES = 5


class ConstituentOffsetHead(nn.Module):
    """A species head plus a logit offset per side, class of that side's constituent
    (N_FLAVOUR_CLASSES, from the head's own c1/c2_flavour and c1/c2_diquark inputs) and
    species: the table [2, classes, species] of ``offset_table()``, which subclasses
    define."""

    def __init__(self, head: SpeciesHead, features: list[str],
                 scaling: dict[str, list[float]]) -> None:
        super().__init__()
        self.head = head
        self.n_species, self.n_features = head.n_species, head.n_features
        cols = [features.index(f) for f in ("c1_flavour", "c2_flavour", "c1_diquark",
                                              "c2_diquark")]
        self.register_buffer("cols", torch.tensor(cols))
        self.register_buffer("x_offset", torch.tensor([scaling["offset"][c] for c in cols]))
        self.register_buffer("x_scale", torch.tensor([scaling["scale"][c] for c in cols]))

    def offset_table(self) -> torch.Tensor:
        raise NotImplementedError

    def constituent_class(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 2] class of constituent 1 and 2: 0 u/d, 1 s, 2 c, 3 b, 4 diquark."""
        raw = torch.round(x[:, self.cols].float() * self.x_scale + self.x_offset)
        quark = torch.clamp(raw[:, :2] - 2.0, 0.0, 3.0)
        return torch.where(raw[:, 2:] > 0.5, torch.full_like(quark, 4.0), quark).long()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(x)
        cls = self.constituent_class(x)
        onehot = (cls[:, :, None] == torch.arange(N_FLAVOUR_CLASSES)).to(logits.dtype)
        table = self.offset_table().to(logits.dtype)
        s = self.n_species
        return torch.cat([logits[:, :s] + onehot[:, 0] @ table[0],
                          logits[:, s:] + onehot[:, 1] @ table[1]], dim=1)


class FlavourOffsetHead(ConstituentOffsetHead):
    """Every entry of the offset table free: one logit offset per side, constituent class
    and species. Given the constituent and the hadron, the popped flavour is fixed, so a
    Herwig flavour weight (PwtSquark, PwtDIquark) is such an offset; one offset per species
    and side is not, for hadrons that both kinds of constituent make (eta, eta': u/d and s
    clusters). Written as ``flavour_offsets`` [2, classes, species] in the checkpoint
    (load_head)."""

    def __init__(self, head: SpeciesHead, features: list[str], scaling: dict[str, list[float]],
                 offsets: torch.Tensor | None = None) -> None:
        super().__init__(head, features, scaling)
        self.offsets = nn.Parameter(offsets.clone() if offsets is not None else
                                    torch.zeros(2, N_FLAVOUR_CLASSES, head.n_species))

    def offset_table(self) -> torch.Tensor:
        return self.offsets


#: Popped-flavour classes of popped_class_table: quarks 0 u/d, 1 s, 2 c, 3 b; diquarks
#: with 0, 1, 2 strange quarks 4, 5, 6; POPPED_NONE where the constituent does not make it.
POPPED_NONE = 7


def _quark_class(digit: int) -> int:
    """0 u/d, 1 s, 2 c, 3 b for a PDG quark digit."""
    return {1: 0, 2: 0, 3: 1, 4: 2, 5: 3}[digit]


def popped_class_table(species: Sequence[int]) -> np.ndarray:
    """[4, S] the class of the flavour popped to make hadron |id| ``species[k]`` next to a
    quark constituent of class c (rows 0 u/d, 1 s, 2 c, 3 b): 0-3 the popped quark's
    class, 4 + (strange quarks in it) a popped diquark, POPPED_NONE where this
    constituent does not make the hadron.

    PDG digits (quarks n_q1 n_q2 n_q3; n_q1 = 0 for mesons): a meson takes the class of its
    other quark; a flavourless light meson (eta, omega, phi, f0, ...; u ubar, d dbar and
    s sbar mix) is made from u/d or s with the constituent's own class popped; a baryon
    containing the constituent's quark pops the other two (their strange count: the
    baryon's, less one if the constituent is the s)."""
    table = np.full((4, len(species)), POPPED_NONE, dtype=np.int64)
    for k, pid in enumerate(species):
        q1, q2, q3 = (abs(pid) // 1000) % 10, (abs(pid) // 100) % 10, (abs(pid) // 10) % 10
        if q1 == 0:  # meson
            ca, cb = _quark_class(q2), _quark_class(q3)
            if q2 == q3 and ca <= 1:  # light flavourless: u/d/s mixtures
                table[0, k], table[1, k] = 0, 1
            else:
                for c in {ca, cb}:
                    table[c, k] = cb if c == ca else ca
        else:  # baryon
            n_s = sum(q == 3 for q in (q1, q2, q3))
            for c in {_quark_class(q) for q in (q1, q2, q3)}:
                table[c, k] = 4 + n_s - (1 if c == 1 else 0)
    return table


class PoppedFlavourOffsetHead(ConstituentOffsetHead):
    """A species head plus one logit offset per popped flavour, the way Herwig's flavour
    weights enter the HadronSelector's pair weights (a popped s quark: PwtSquark; a popped
    diquark: PwtDIquark times the weights of its quarks): w_s per popped strange quark
    (also inside a diquark), w_dq per popped diquark, w_c and w_b; u/d is the reference
    (0). Four numbers instead of FlavourOffsetHead's 2 x 5 x S. The popped flavour is read
    from the triplet side's hadron and constituent (popped_class_table); clusters whose
    triplet constituent is an (anti)diquark get no offset. Saved as FlavourOffsetHead's
    ``flavour_offsets`` (its offset table), so load_head and the export need nothing new."""

    def __init__(self, head: SpeciesHead, features: list[str], scaling: dict[str, list[float]],
                 species: Sequence[int]) -> None:
        super().__init__(head, features, scaling)
        self.register_buffer("popped", torch.as_tensor(popped_class_table(species)))
        self.popped_offsets = nn.Parameter(torch.zeros(4))  # w_s, w_c, w_b, w_dq

    def per_class(self) -> torch.Tensor:
        """Offset of each popped class: u/d, s, c, b, diquark with 0/1/2 s, none."""
        w_s, w_c, w_b, w_dq = self.popped_offsets
        zero = torch.zeros((), dtype=self.popped_offsets.dtype)
        return torch.stack([zero, w_s, w_c, w_b, w_dq, w_dq + w_s, w_dq + 2 * w_s, zero])

    def offset_table(self) -> torch.Tensor:
        side1 = torch.cat([self.per_class()[self.popped],  # constituents u/d, s, c, b
                           torch.zeros(1, self.n_species, dtype=self.popped_offsets.dtype)])
        return torch.stack([side1, torch.zeros_like(side1)])


@dataclass
class ChannelTable:
    """Allowed pairs per flavour key, padded: column indices into the species list and
    nominal masses ([n_keys, K]; padding has col 0 and masses +inf, so never open)."""

    col1: torch.Tensor
    col2: torch.Tensor
    m1: torch.Tensor
    m2: torch.Tensor


def _spectrum():
    from hadml import _core
    from hadml.config import GeneratorConfig
    from hadml.hadrons import hadron_table

    return _core.HadronSpectrum(GeneratorConfig().cluster_params(), hadron_table())


def build_channels(c1: np.ndarray, c2: np.ndarray, species: list[int], spectrum=None,
                   ) -> tuple[np.ndarray, ChannelTable, list[dict[tuple[int, int], int]]]:
    """Key index per cluster, the padded channel table and, per key, (id1, id2) -> column."""
    from hadml import _core

    spectrum = spectrum if spectrum is not None else _spectrum()
    col = {h: k for k, h in enumerate(species)}
    pairs, inverse = np.unique(np.stack([c1, c2], axis=1), axis=0, return_inverse=True)
    keys = np.array([_core.HadronSpectrum.flavour_pair_key(int(a), int(b)) for a, b in pairs])
    ukeys, key_of_pair = np.unique(keys, return_inverse=True)
    rep = {int(k): tuple(int(v) for v in pairs[i]) for i, k in enumerate(keys)}
    lists, lookups = [], []
    for k in ukeys:
        a, b = rep[int(k)]
        i1, i2, m1, m2 = spectrum.pair_channels(a, b)
        keep = [j for j in range(len(i1)) if abs(int(i1[j])) in col and abs(int(i2[j])) in col]
        lists.append((i1[keep], i2[keep], m1[keep], m2[keep]))
        lookups.append({(int(i1[j]), int(i2[j])): n for n, j in enumerate(keep)})
    width = max(1, max(len(x[0]) for x in lists))
    shape = (len(lists), width)
    c1t, c2t = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    m1t, m2t = np.full(shape, np.inf), np.full(shape, np.inf)
    for k, (i1, i2, m1, m2) in enumerate(lists):
        n = len(i1)
        c1t[k, :n] = [col[abs(int(v))] for v in i1]
        c2t[k, :n] = [col[abs(int(v))] for v in i2]
        m1t[k, :n], m2t[k, :n] = m1, m2
    table = ChannelTable(torch.from_numpy(c1t), torch.from_numpy(c2t),
                         torch.from_numpy(m1t), torch.from_numpy(m2t))
    return key_of_pair[inverse.reshape(-1)], table, lookups


def pair_log_weights(logits: torch.Tensor, mass: torch.Tensor, key: torch.Tensor,
                     table: ChannelTable) -> torch.Tensor:
    """log[exp(l1 + l2) p*] of every channel of each cluster's key ([B, K]; -inf when the
    channel is closed or padding): the contract's choice rule before normalisation."""
    s = logits.shape[1] // 2
    c1, c2 = table.col1[key], table.col2[key]
    m1, m2 = table.m1[key], table.m2[key]
    score = torch.gather(logits[:, :s], 1, c1) + torch.gather(logits[:, s:], 1, c2)
    big = mass[:, None]
    is_open = big > m1 + m2  # in float64, as the shim decides
    lam = ((big**2 - (m1 + m2) ** 2) * (big**2 - (m1 - m2) ** 2)).to(score.dtype)
    log_pstar = 0.5 * torch.log(torch.clamp(lam, min=1e-30)) - torch.log(2 * big.to(score.dtype))
    out = score + log_pstar
    return torch.where(is_open, out, torch.full_like(out, -torch.inf))


@dataclass
class SpeciesData:
    x: torch.Tensor       # scaled features [n, Cs]
    mass: torch.Tensor    # cluster mass [n] (float64)
    key: torch.Tensor     # key index [n]
    target: torch.Tensor  # observed channel index [n]
    event: np.ndarray

    def __len__(self) -> int:
        return len(self.event)


def prepare(table: pa.Table, features: list[str], species: list[int] | None = None,
            scaling: dict[str, list[float]] | None = None, spectrum=None,
            ) -> tuple[SpeciesData, ChannelTable, list[int], dict[str, list[float]]]:
    """Arrays of a cluster table; species list and scaling are fitted when not given."""
    from hadml.data.features import Scaling, condition_features

    h1 = table.column("h1_id").to_numpy().astype(np.int64)
    h2 = table.column("h2_id").to_numpy().astype(np.int64)
    if species is None:
        species = sorted(set(np.abs(h1).tolist()) | set(np.abs(h2).tolist()))
    x = condition_features(table, features)
    if scaling is None:
        scaling = Scaling.fit(x).to_dict()
    xs = (x - np.asarray(scaling["offset"])) / np.asarray(scaling["scale"])
    c1 = table.column("c1_id").to_numpy()
    c2 = table.column("c2_id").to_numpy()
    key, channels, lookups = build_channels(c1, c2, species, spectrum)
    target = np.array([lookups[k].get((int(a), int(b)), -1)
                       for k, a, b in zip(key, h1, h2, strict=True)], dtype=np.int64)
    if np.any(target < 0):
        n = int(np.sum(target < 0))
        raise ValueError(f"{n} clusters decayed into a pair outside the species list or the "
                         "selector's channels (another hadron table or tune?)")
    data = SpeciesData(torch.as_tensor(xs, dtype=torch.float32),
                       torch.as_tensor(table.column("mass").to_numpy(), dtype=torch.float64),
                       torch.as_tensor(key), torch.as_tensor(target),
                       table.column("event").to_numpy())
    return data, channels, species, scaling


def nll(head: SpeciesHead, data: SpeciesData, rows: torch.Tensor,
        channels: ChannelTable) -> torch.Tensor:
    """Mean negative log-likelihood of the observed pairs of ``rows``."""
    lw = pair_log_weights(head(data.x[rows]), data.mass[rows], data.key[rows], channels)
    picked = torch.gather(lw, 1, data.target[rows][:, None])[:, 0]
    return (torch.logsumexp(lw, dim=1) - picked).mean()


def expected_counts(head: SpeciesHead, data: SpeciesData, channels: ChannelTable,
                    species: list[int], batch: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Per species (hadron 1 + hadron 2): the model's expected count (sum of probabilities)
    over the clusters of ``data`` and the observed count: the cluster-level closure."""
    s = len(species)
    exp_counts, obs_counts = np.zeros(s), np.zeros(s)
    with torch.no_grad():
        for start in range(0, len(data), batch):
            rows = torch.arange(start, min(start + batch, len(data)))
            lw = pair_log_weights(head(data.x[rows]), data.mass[rows], data.key[rows], channels)
            p = torch.softmax(lw, dim=1).numpy()
            c1 = channels.col1[data.key[rows]].numpy()
            c2 = channels.col2[data.key[rows]].numpy()
            np.add.at(exp_counts, c1.ravel(), p.ravel())
            np.add.at(exp_counts, c2.ravel(), p.ravel())
            t = data.target[rows].numpy()[:, None]
            np.add.at(obs_counts, np.take_along_axis(c1, t, 1).ravel(), 1.0)
            np.add.at(obs_counts, np.take_along_axis(c2, t, 1).ravel(), 1.0)
    return exp_counts, obs_counts


def side_counts(logits: torch.Tensor, data: SpeciesData, rows: torch.Tensor,
                channels: ChannelTable, batch: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Expected and observed counts of each species as hadron 1 and as hadron 2 over
    ``rows``, from precomputed head logits [len(rows), 2 S]: arrays [2 S] (hadron-1
    columns, then hadron-2 columns, as the logits)."""
    s = logits.shape[1] // 2
    exp_counts, obs_counts = np.zeros(2 * s), np.zeros(2 * s)
    with torch.no_grad():
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            lw = pair_log_weights(logits[start:start + batch], data.mass[part],
                                  data.key[part], channels)
            p = torch.softmax(lw, dim=1).numpy().ravel()
            c1 = channels.col1[data.key[part]].numpy()
            c2 = channels.col2[data.key[part]].numpy() + s
            # bincount, not np.add.at: the same sums, two orders of magnitude faster
            exp_counts += np.bincount(c1.ravel(), p, 2 * s) + np.bincount(c2.ravel(), p, 2 * s)
            t = data.target[part].numpy()[:, None]
            obs_counts += (np.bincount(np.take_along_axis(c1, t, 1).ravel(), None, 2 * s)
                           + np.bincount(np.take_along_axis(c2, t, 1).ravel(), None, 2 * s))
    return exp_counts, obs_counts


def calibrate_offsets(head: SpeciesHead, data: SpeciesData, rows: torch.Tensor,
                      channels: ChannelTable, iterations: int = 30,
                      log=print) -> dict[str, float]:
    """Logit calibration of a trained head: one additive offset per species and side,
    fitted on ``rows`` (the training split) so that each species' expected count as hadron 1
    and as hadron 2 equals its observed count, then folded into the last layer's bias.

    Why: at the maximum of the likelihood the gradient with respect to the last layer's
    bias vanishes, which is exactly "expected count = observed count" for every column;
    a minibatch fit stopped at its best validation epoch is only near that point, and a
    rare species (a baryon at the 1% level) can stay a few percent off while the NLL
    hardly notices. The offsets complete the fit in those 2 S directions with the network
    frozen (a convex problem). Solved by iterative proportional fitting, b += log(obs /
    exp), the classic algorithm for the margins of a log-linear model; a column never
    observed is fitted to an expected count of 0.5. Returns the largest relative
    deviation among columns with at least 100 observations before and after, and the
    iterations run."""
    with torch.no_grad():
        logits = torch.cat([head(data.x[rows[i:i + 8192]]) for i in range(0, len(rows), 8192)])
    offset = torch.zeros(logits.shape[1], dtype=logits.dtype)
    report: dict[str, float] = {}

    def worst(e: np.ndarray, o: np.ndarray) -> float:
        sel = o >= 100
        return float(np.max(np.abs(e[sel] / o[sel] - 1))) if sel.any() else 0.0

    for it in range(iterations + 1):
        e, o = side_counts(logits + offset, data, rows, channels)
        dev = worst(e, o)
        if it == 0:
            report["max_rel_dev_before"] = dev
        log(f"calibration iteration {it}: largest |expected/observed - 1| {dev:.5f} "
            "(columns with >= 100 observations)")
        if it == iterations or dev < 1e-4:
            break
        # A column never observed is pulled to an expected count of 0.5, not to 0 (the
        # likelihood's -inf offset): its probability mass would otherwise keep every
        # observed column below its count.
        live = e > 0
        step = np.where(live, np.log(np.maximum(o, 0.5) / np.where(live, e, 1.0)), 0.0)
        offset += torch.as_tensor(step, dtype=offset.dtype)
    report["max_rel_dev_after"] = dev
    report["iterations"] = float(it)
    last = head.net[-1]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.bias += offset
    return report


@dataclass
class SpeciesResult:
    head: SpeciesHead
    checkpoint: Path
    val_nll: float
    closure: dict[int, tuple[float, float]]  # |id| -> (expected, observed) on validation
    seconds: float
    exported: Path | None = None


def train_species(cfg: SpeciesConfig, table: pa.Table | None = None,
                  log=print) -> SpeciesResult:
    """Maximum-likelihood fit of the species head; keeps the epoch with the best
    validation NLL; writes ``out_dir/name/species_head.pt`` (and the format-2 ONNX file
    when ``cfg.export``)."""
    from hadml.data.datamodule import split_by_event
    from hadml.io import cluster_table

    cfg.validate()
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    if table is None:
        table = cluster_table.read(cfg.data_path)
        data_sha = hashlib.sha256(Path(cfg.data_path).read_bytes()).hexdigest()
    else:
        data_sha = "in-memory table"
    masks = split_by_event(table.column("event").to_numpy(), cfg.val_fraction, 0.0,
                           cfg.split_seed)
    # The species list is every hadron of the table (a structural choice, like the
    # feature list); the input scaling is fitted on the training split only.
    h = np.abs(np.concatenate([table.column("h1_id").to_numpy(), table.column("h2_id").to_numpy()]))
    species = sorted(int(v) for v in np.unique(h))
    from hadml.data.features import Scaling, condition_features

    scaling = Scaling.fit(condition_features(table.filter(pa.array(masks["train"])),
                                             cfg.features)).to_dict()
    data, channels, _, _ = prepare(table, cfg.features, species, scaling)
    rows_train = torch.as_tensor(np.flatnonzero(masks["train"]))
    rows_val = torch.as_tensor(np.flatnonzero(masks["val"]))
    head = SpeciesHead(len(cfg.features), len(species), cfg.hidden, cfg.layers)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    steps = cfg.max_epochs * max(1, len(rows_train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_state = float("inf"), None
    for epoch in range(cfg.max_epochs):
        head.train()
        perm = rows_train[torch.randperm(len(rows_train), generator=gen)]
        for b in range(max(1, len(perm) // cfg.batch_size)):
            loss = nll(head, data, perm[b * cfg.batch_size:(b + 1) * cfg.batch_size], channels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        head.eval()
        with torch.no_grad():
            val = float(nll(head, data, rows_val, channels))
        log(f"epoch {epoch}: train nll {float(loss.detach()):.5f}, val nll {val:.5f} "
            f"({time.perf_counter() - start:.0f} s)")
        if val < best:
            best = val
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
    assert best_state is not None
    head.load_state_dict(best_state)
    head.eval()
    calibration: dict[str, float] = {}
    if cfg.calibrate_iterations > 0:
        with torch.no_grad():
            before = float(nll(head, data, rows_val, channels))
        calibration = calibrate_offsets(head, data, rows_train, channels,
                                        cfg.calibrate_iterations, log)
        with torch.no_grad():
            best = float(nll(head, data, rows_val, channels))
        calibration.update(val_nll_before=before, val_nll_after=best)
        log(f"calibrated offsets: validation nll {before:.5f} -> {best:.5f}")
    val_data = SpeciesData(data.x[rows_val], data.mass[rows_val], data.key[rows_val],
                           data.target[rows_val], data.event[rows_val.numpy()])
    e, o = expected_counts(head, val_data, channels, species)
    closure = {h: (float(e[k]), float(o[k])) for k, h in enumerate(species)}
    out = Path(cfg.out_dir) / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "species_head.pt"
    torch.save({"state_dict": head.state_dict(), "species": species, "features": cfg.features,
                "scaling": scaling, "config": dataclasses.asdict(cfg), "data_sha256": data_sha,
                "val_nll": best, "calibration": calibration}, ckpt)
    (out / "closure.json").write_text(json.dumps(
        {str(h): v for h, v in closure.items()}, indent=0))
    result = SpeciesResult(head, ckpt, best, closure, time.perf_counter() - start)
    if cfg.export:
        from hadml.train.export import export_species_model

        result.exported = export_species_model(ckpt, cfg.angles_from, cfg.export)
    return result


def load_head(checkpoint: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The head of a species checkpoint and its saved fields (species, features, ...)."""
    saved = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    cfg = saved["config"]
    head = SpeciesHead(len(saved["features"]), len(saved["species"]), cfg["hidden"],
                       cfg["layers"])
    head.load_state_dict(saved["state_dict"])
    if saved.get("flavour_offsets") is not None:  # an event-level fit (species_event)
        head = FlavourOffsetHead(head, list(saved["features"]), saved["scaling"],
                                 saved["flavour_offsets"])
    head.eval()
    return head, saved


def is_species_config(config: str | Path, model: str = "species") -> bool:
    """Whether a training YAML (path or shipped recipe name) is a species config (or, with
    ``model="species_event"``, an event-level species fit)."""
    import yaml

    from hadml.train.recipes import find_recipe

    raw = yaml.safe_load(find_recipe(config).read_text()) or {}
    return isinstance(raw, dict) and raw.get("model") == model


def load_species_config(config: str | Path, overrides: list[str] | tuple[str, ...] = (),
                        ) -> SpeciesConfig:
    """A species YAML (path or recipe name) with ``key=value`` overrides (values parsed
    by YAML)."""
    from hadml.train.recipes import read_recipe

    raw = read_recipe(config, overrides)
    return SpeciesConfig.from_dict(raw)
