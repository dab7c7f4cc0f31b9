"""The event generator: Pythia 8 partons -> hadml cluster stage -> Pythia 8 decays.

Reproducibility. Events are made in blocks of ``config.block_size``. Block ``b`` reseeds
Pythia (both instances) and the cluster stage's random engine from (seed, b) alone, so an
event depends only on the seed, the configuration and its number: the output is byte
identical for any ``jobs``. Within a block, events that fail in the cluster stage are
replaced by new ones (counted with their reason in the summary).

Invariants. Every event is checked in the code path, not only in tests: the final state
carries the beams' 4-momentum (relative 1e-9 of sqrt(s)), zero charge and zero baryon
number; the cluster stage checks the same between partons and primary hadrons. A
violation raises :class:`ConservationError` naming the event and the seed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hadml.config import GeneratorConfig
from hadml.event import (
    CLUSTER_PID,
    FATE_DECAYED,
    FATE_FISSIONED,
    STATUS_BEAM,
    STATUS_CLUSTER,
    STATUS_DECAYED,
    STATUS_FINAL,
    STATUS_PARTON,
    STATUS_SPLIT_GLUON,
    Event,
    baryon_number3,
)
from hadml.pythia_stage import (
    PYTHIA_MAX_SEED,
    ChargeTable,
    HadronDecayer,
    PartonEvent,
    PartonGenerator,
)

CONSERVATION_TOLERANCE = 1e-9
#: Attempts allowed per requested event before a run is declared broken.
MAX_ATTEMPTS_PER_EVENT = 10


class ConservationError(RuntimeError):
    """An event violates 4-momentum, charge or baryon-number conservation (a bug)."""


def derive_seed(seed: int, block: int, stream: str, modulus: int = 2**63) -> int:
    """Independent seed for one block and one random stream, stable across platforms."""
    digest = hashlib.sha256(f"hadml:{seed}:{block}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % modulus


@dataclass
class BlockResult:
    block: int
    events: list[Event]
    cluster_events: list[dict[str, np.ndarray]]  # raw cluster-stage dicts (for the table)
    n_charged: np.ndarray
    failures: dict[str, int]
    ml_fallbacks: int
    seconds: float


@dataclass
class RunSummary:
    n_events: int = 0
    n_charged_sum: float = 0.0
    n_charged_sum2: float = 0.0
    failures: collections.Counter = field(default_factory=collections.Counter)
    ml_fallbacks: int = 0
    seconds: float = 0.0
    cluster_decays: str = "classic"  # "classic" or "ML (<model file>)"

    def add(self, block: BlockResult) -> None:
        self.n_events += len(block.n_charged)
        self.n_charged_sum += float(block.n_charged.sum())
        self.n_charged_sum2 += float((block.n_charged.astype(float) ** 2).sum())
        self.failures.update(block.failures)
        self.ml_fallbacks += block.ml_fallbacks

    @property
    def mean_charged(self) -> float:
        return self.n_charged_sum / self.n_events if self.n_events else float("nan")

    @property
    def mean_charged_error(self) -> float:
        n = self.n_events
        if n < 2:
            return float("nan")
        var = (self.n_charged_sum2 - self.n_charged_sum**2 / n) / (n - 1)
        return float(np.sqrt(max(var, 0.0) / n))

    def text(self) -> str:
        lines = [
            f"cluster decays        : {self.cluster_decays}",
            f"events generated      : {self.n_events}",
            f"mean charged mult.    : {self.mean_charged:.3f} +- {self.mean_charged_error:.3f}",
            f"time per event        : {1e3 * self.seconds / max(self.n_events, 1):.3f} ms "
            f"({self.seconds:.1f} s wall)",
            f"failed (replaced)     : {sum(self.failures.values())}",
        ]
        for reason, count in self.failures.most_common():
            lines.append(f"  {count:6d} x {reason}")
        if self.cluster_decays != "classic":
            lines.append(f"ML outputs replaced   : {self.ml_fallbacks} (non-finite or out of "
                         "range; classic decay used)")
        return "\n".join(lines)


class ModelLoadError(ValueError):
    """The ML model cannot be used: unreadable, breaks the contract, or the device is
    unavailable."""


def _make_cluster_decayer(config: GeneratorConfig):
    from hadml import _core

    params = config.cluster_params()
    if config.hadronization == "classic":
        return _core.ClassicClusterDecayer(params)
    if not getattr(_core, "HAS_ONNX", False):
        raise RuntimeError(
            "hadml was built without ONNX Runtime, so --hadronization ml is unavailable. "
            "Reinstall with ONNX Runtime available (see README, 'ONNX Runtime')."
        )
    from hadml.models import default_model_path

    model = config.model or str(default_model_path())
    try:
        return _core.OnnxClusterDecayer(
            model, device=config.device, threads=config.ml_threads, policy=config.ml_policy,
            params=params,
        )
    except (RuntimeError, ValueError) as err:
        # The shim's message names the file and what is wrong with it (or with the device).
        raise ModelLoadError(str(err)) from err


class Generator:
    """One generator instance (two Pythia objects and one cluster stage)."""

    def __init__(self, config: GeneratorConfig) -> None:
        from hadml import _core
        from hadml.hadrons import hadron_table

        config.validate()
        self.config = config
        self.partons = PartonGenerator(config)
        self.decayer = HadronDecayer() if config.decay_hadrons else None
        table_source = self.decayer.pythia if self.decayer else self.partons.pythia
        self.hadron_table = hadron_table(table_source)
        order = np.argsort(self.hadron_table["id"])
        self._mass_ids = np.asarray(self.hadron_table["id"])[order]
        self._masses = np.asarray(self.hadron_table["mass"], dtype=np.float64)[order]
        self._charges = ChargeTable(table_source)
        self.cluster_decayer = _make_cluster_decayer(config)
        self.hadronizer = _core.ClusterHadronizer(
            config.cluster_params(), self.hadron_table, self.cluster_decayer, 1
        )

    # -- one block -------------------------------------------------------------------------
    def run_block(self, block: int, n_events: int, first_number: int,
                  keep_events: bool = True, keep_clusters: bool = False) -> BlockResult:
        start = time.perf_counter()
        seed = self.config.seed
        decay_seed = self.config.effective_decay_seed()  # decays' streams (docs/architecture.md)
        self.partons.reseed(1 + derive_seed(seed, block, "pythia-partons", PYTHIA_MAX_SEED))
        if self.decayer:
            self.decayer.reseed(
                1 + derive_seed(decay_seed, block, "pythia-decays", PYTHIA_MAX_SEED))
        self.hadronizer.seed(derive_seed(seed, block, "cluster-stage"),
                             derive_seed(decay_seed, block, "cluster-decays"))
        fallbacks_before = self.cluster_decayer.stats()["fallbacks"]

        failures: collections.Counter = collections.Counter()
        good: list[tuple[PartonEvent, dict]] = []
        attempts = 0
        while len(good) < n_events:
            need = n_events - len(good)
            attempts += need
            if attempts > MAX_ATTEMPTS_PER_EVENT * n_events:
                raise RuntimeError(
                    f"block {block} (seed {seed}): more than {MAX_ATTEMPTS_PER_EVENT} attempts "
                    f"per event; failures so far: {dict(failures)}"
                )
            batch = [self.partons.next() for _ in range(need)]
            results = self.hadronizer.hadronize([pe.as_tuple() for pe in batch])
            for pe, res in zip(batch, results, strict=True):
                number = first_number + len(good)
                if res["conservation_violated"]:
                    raise ConservationError(
                        f"event {number} (seed {seed}, block {block}): {res['error']}"
                    )
                if res["error"] is not None:
                    failures[_reason(res["error"])] += 1
                    continue
                good.append((pe, res))

        events: list[Event] = []
        cluster_events: list[dict] = []
        n_charged = np.empty(n_events, dtype=np.int64)
        for k, (pe, res) in enumerate(good):
            number = first_number + k
            event = self._assemble(number, pe, res)
            self._check(event, pe, number, block)
            fin = event.final
            n_charged[k] = int(np.count_nonzero(self._charges(event.pid[fin]) != 0))
            if keep_events:
                events.append(event)
            if keep_clusters:
                cluster_events.append(res)
        fallbacks = self.cluster_decayer.stats()["fallbacks"] - fallbacks_before
        return BlockResult(block, events, cluster_events, n_charged, dict(failures),
                           int(fallbacks), time.perf_counter() - start)

    # -- event record ------------------------------------------------------------------------
    def _assemble(self, number: int, pe: PartonEvent, res: dict) -> Event:
        """Full history: beams -> partons -> (split gluons ->) clusters -> hadrons -> decays.

        Partons are ordered cluster by cluster so that the two constituents of a primary
        cluster are adjacent (a HEPEVT parent range)."""
        p_id, p_p, p_mass = res["parton_id"], res["parton_p"], res["parton_mass"]
        split = res["parton_split"]
        source = res["parton_source"]
        cl_parent = res["cluster_parent"]
        primary = np.flatnonzero(cl_parent < 0)
        constituents = np.stack([res["cluster_c1_parton"][primary],
                                 res["cluster_c2_parton"][primary]], axis=1).reshape(-1)
        split_gluons = np.flatnonzero(split)
        order = np.concatenate([split_gluons, constituents]).astype(np.int64)
        if len(order) != len(p_id) or len(np.unique(order)) != len(order):
            raise RuntimeError(
                f"event {number}: partons and cluster constituents do not match one to one"
            )
        parton_pos = np.empty(len(p_id), dtype=np.int64)
        parton_pos[order] = 2 + np.arange(len(order))

        # Shower photons (not partons) follow the partons, children of the beams too.
        n_other = len(pe.other_id)
        first_other = 2 + len(order)

        # Cluster rows. Fissioned clusters first (a parent's index is below its children's),
        # then the final clusters with each light-cluster exchange pair adjacent, so that
        # the pair can be the parent range of the exchange vertex
        # {light cluster, partner} -> {hadron, moved partner (extra row) or hadron}.
        n_cl = len(cl_parent)
        fate = res["cluster_fate"]
        exchange = res["cluster_exchange"]
        index = np.arange(n_cl)
        pair_key = np.where(exchange >= 0, np.minimum(index, exchange), index)
        cl_order = np.lexsort((index, pair_key, fate != FATE_FISSIONED))
        first_cluster = first_other + n_other
        cluster_pos = np.empty(n_cl, dtype=np.int64)
        cluster_pos[cl_order] = first_cluster + np.arange(n_cl)
        moved = np.flatnonzero((exchange >= 0) & (fate == FATE_DECAYED))
        n_moved = len(moved)
        moved_pos = np.full(n_cl, -1, dtype=np.int64)
        moved_pos[moved] = first_cluster + n_cl + np.arange(n_moved)
        first_hadron = first_cluster + n_cl + n_moved
        h_id, h_p, h_cluster = res["hadron_id"], res["hadron_p"], res["hadron_cluster"]
        n_h = len(h_id)
        # Nominal masses of the species (the cluster stage puts hadrons on these shells).
        h_mass = self._masses[np.searchsorted(self._mass_ids, np.abs(h_id))]

        # Parent ranges.
        par = np.full((first_hadron + n_h, 2), -1, dtype=np.int64)
        beam_slice = slice(2, 2 + len(order))
        is_input = source[order] < 0
        par[beam_slice][is_input] = (0, 1)
        split_src = source[order][~is_input]
        par[beam_slice][~is_input] = np.stack([parton_pos[split_src]] * 2, axis=1)
        par[first_other:first_cluster] = (0, 1)
        prim_rows = cluster_pos[primary]
        c1 = parton_pos[res["cluster_c1_parton"][primary]]
        par[prim_rows] = np.stack([c1, c1 + 1], axis=1)
        child = np.flatnonzero(cl_parent >= 0)
        par[cluster_pos[child]] = np.stack([cluster_pos[cl_parent[child]]] * 2, axis=1)
        # Products of each cluster: its own row, the exchange pair, or the moved-partner row.
        product_parent = np.stack([cluster_pos, cluster_pos], axis=1)
        paired = np.flatnonzero(exchange >= 0)
        pair_lo = np.minimum(cluster_pos[paired], cluster_pos[exchange[paired]])
        product_parent[paired] = np.stack([pair_lo, pair_lo + 1], axis=1)
        par[moved_pos[moved]] = product_parent[moved]
        product_parent[moved] = np.stack([moved_pos[moved]] * 2, axis=1)
        par[first_hadron:] = product_parent[h_cluster]

        n_rows_cl = n_cl + n_moved
        pid = np.concatenate([[11, -11], p_id[order], pe.other_id,
                              np.full(n_rows_cl, CLUSTER_PID), h_id])
        status = np.concatenate([
            [STATUS_BEAM, STATUS_BEAM],
            np.where(split[order], STATUS_SPLIT_GLUON, STATUS_PARTON),
            np.full(n_other, STATUS_FINAL),
            np.full(n_rows_cl, STATUS_CLUSTER),
            np.full(n_h, STATUS_FINAL),
        ])
        cl_p = np.concatenate([res["cluster_p_initial"][cl_order], res["cluster_p"][moved]])
        cl_m = np.sqrt(np.clip(cl_p[:, 3] ** 2 - (cl_p[:, :3] ** 2).sum(axis=1), 0, None))
        mom = np.concatenate([pe.beams, p_p[order], pe.other_p, cl_p, h_p])
        mass = np.concatenate([[0.000510999, 0.000510999], p_mass[order], pe.other_m, cl_m,
                               h_mass])

        if self.decayer is not None and n_h:
            dec = self.decayer.decay(h_id, h_p, h_mass)
            # dec rows 0..n_h-1 are the primary hadrons in the same order; the rest are
            # decay products whose mothers point into the decay record.
            if len(dec.id) < n_h or not np.array_equal(dec.id[:n_h], h_id):
                raise RuntimeError(f"event {number}: Pythia reordered the primary hadrons")
            status[first_hadron:] = np.where(dec.final[:n_h], STATUS_FINAL, STATUS_DECAYED)
            extra = slice(n_h, len(dec.id))
            mothers = dec.mother[extra] + first_hadron
            pid = np.concatenate([pid, dec.id[extra]])
            status = np.concatenate(
                [status, np.where(dec.final[extra], STATUS_FINAL, STATUS_DECAYED)])
            mom = np.concatenate([mom, dec.p[extra]])
            mass = np.concatenate([mass, dec.m[extra]])
            par = np.concatenate([par, np.stack([mothers, mothers], axis=1)])
        return Event(number, pid.astype(np.int32), status.astype(np.int32), mom, mass,
                     par.astype(np.int32))

    def _check(self, event: Event, pe: PartonEvent, number: int, block: int) -> None:
        fin = event.final
        total = event.p[fin].sum(axis=0)
        expected = pe.beams.sum(axis=0)
        tol = CONSERVATION_TOLERANCE * self.config.ecm
        where = f"event {number} (seed {self.config.seed}, block {block})"
        if np.any(np.abs(total - expected) > tol):
            raise ConservationError(
                f"{where}: final-state 4-momentum {total.tolist()} differs from the beams' "
                f"{expected.tolist()} by more than {tol:.3g} GeV"
            )
        charge = int(self._charges(event.pid[fin]).sum())
        if charge != 0:
            raise ConservationError(f"{where}: final-state charge is {charge}/3, not 0")
        baryon = int(baryon_number3(event.pid[fin]).sum())
        if baryon != 0:
            raise ConservationError(f"{where}: final-state baryon number is {baryon}/3, not 0")


def _reason(message: str) -> str:
    """Group failure messages by their stable part (before any number)."""
    head = message.split(":")[0]
    return head[:120]


# -- running many blocks ---------------------------------------------------------------------
_WORKER_GENERATOR: Generator | None = None  # one per worker process (set by _worker_init)


def _worker_init(config_dict: dict) -> None:
    global _WORKER_GENERATOR
    from hadml.config import load_config

    _WORKER_GENERATOR = Generator(load_config(overrides=config_dict))


def _worker_run(args: tuple[int, int, int, bool, bool]) -> BlockResult:
    assert _WORKER_GENERATOR is not None
    return _WORKER_GENERATOR.run_block(*args)


def block_plan(n_events: int, block_size: int) -> list[tuple[int, int, int]]:
    """(block index, events in block, first event number) for a run of n_events."""
    plan = []
    for b, first in enumerate(range(0, n_events, block_size)):
        plan.append((b, min(block_size, n_events - first), first))
    return plan


def run_blocks(config: GeneratorConfig, n_events: int, jobs: int = 1,
               keep_events: bool = True, keep_clusters: bool = False,
               progress: Callable[[int], None] | None = None) -> Iterator[BlockResult]:
    """Yield the block results of a run in block order, using ``jobs`` processes."""
    if n_events < 1:
        raise ValueError(f"number of events must be positive, got {n_events}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    config.validate()
    plan = block_plan(n_events, config.block_size)
    tasks = [(b, n, first, keep_events, keep_clusters) for b, n, first in plan]
    if jobs == 1:
        gen = Generator(config)
        for task in tasks:
            result = gen.run_block(*task)
            if progress:
                progress(len(result.n_charged))
            yield result
        return
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_worker_init,
        initargs=(config.to_dict(),),
    ) as pool:
        for result in pool.map(_worker_run, tasks):
            if progress:
                progress(len(result.n_charged))
            yield result


def iter_events(n_events: int, seed: int = 1, config: GeneratorConfig | None = None,
                jobs: int = 1, **overrides) -> Iterator[Event]:
    """Yield events one by one, block by block, without keeping the run in memory (the
    same events as :func:`generate` with the same arguments)."""
    from hadml.config import apply_overrides

    cfg = apply_overrides(config or GeneratorConfig(), {"seed": seed, **overrides})
    for block in run_blocks(cfg, n_events, jobs, keep_events=True):
        yield from block.events


@dataclass
class GenerationResult:
    config: GeneratorConfig
    events: list[Event]
    summary: RunSummary
    cluster_table: object | None = None  # pyarrow.Table when clusters were collected

    def final_states(self) -> list[dict[str, np.ndarray]]:
        return [e.final_state() for e in self.events]


def generate(n_events: int, seed: int = 1, config: GeneratorConfig | None = None,
             jobs: int = 1, collect_clusters: bool = False, keep_events: bool = True,
             hepmc: str | Path | None = None, clusters: str | Path | None = None,
             progress: bool = False, **overrides) -> GenerationResult:
    """Generate e+e- -> hadrons events with hadml's cluster hadronization.

    Parameters
    ----------
    n_events: number of events.
    seed: random seed; the same seed gives identical events for any ``jobs``.
    config: a GeneratorConfig (default: Herwig 7.3 cluster parameters at 91.188 GeV).
    overrides: config fields or cluster parameters, e.g. ``hadronization="ml"``,
        ``ecm=91.2``, ``ClMaxLight=3.6``.
    collect_clusters: also return the cluster table (pyarrow Table, schema v1).
    hepmc, clusters: optional output files (HepMC3, Parquet).
    """
    from hadml.config import apply_overrides

    base = config or GeneratorConfig()
    cfg = apply_overrides(base, {"seed": seed, **overrides})
    cfg.validate()
    summary = RunSummary()
    if cfg.hadronization == "ml":
        from hadml.models import default_model_path

        summary.cluster_decays = f"ML ({cfg.model or default_model_path()}, {cfg.device})"
    events: list[Event] = []
    cluster_dicts: list[dict] = []
    numbers: list[int] = []
    want_clusters = collect_clusters or clusters is not None
    writer = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_events, unit="ev", desc=f"hadml {cfg.hadronization}")
    start = time.perf_counter()
    try:
        if hepmc is not None:
            from hadml.io.hepmc import HepMCWriter

            writer = HepMCWriter(hepmc)
        for block in run_blocks(cfg, n_events, jobs, keep_events or writer is not None,
                                want_clusters, bar.update if bar else None):
            summary.add(block)
            if writer is not None:
                for ev in block.events:
                    writer.write(ev)
            if keep_events:
                events.extend(block.events)
            if want_clusters:
                cluster_dicts.extend(block.cluster_events)
                first = block_plan(n_events, cfg.block_size)[block.block][2]
                numbers.extend(range(first, first + len(block.cluster_events)))
    finally:
        if writer is not None:
            writer.close()
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - start
    table = None
    if want_clusters:
        from hadml.io import cluster_table

        table = cluster_table.from_events(cluster_dicts, numbers)
        if clusters is not None:
            cluster_table.write(table, clusters, info={"config": cfg.to_dict(),
                                                       "n_events": n_events})
    return GenerationResult(cfg, events, summary, table)
