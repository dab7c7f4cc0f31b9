"""The event generator: Pythia 8 partons -> hadml cluster stage -> Pythia 8 decays.

Reproducibility. Events are made in blocks of ``config.block_size``. Block ``b`` reseeds
Pythia (both instances) and the cluster stage's two random engines (steps, and decays:
docs/architecture.md, "Random streams") from (seed, decay seed, b) alone, so the output is
byte identical for any ``jobs``. Within a block the streams are consumed event by event,
so a shorter run gives the first events of a longer one with the same seed, up to the
first event of a block that fails in the cluster stage: failed events are replaced by new
ones drawn after the block's first pass (counted with their reason in the summary).

The seed rule (:func:`resolve_seed`). A run's seed can be given in four places: the
``seed=`` argument of :func:`generate` / :func:`iter_events` (the CLI's ``--seed``),
``--set seed=N`` (``apply_overrides``), ``seed:`` in a ``--config`` file, and
``GeneratorConfig(seed=N)``. They are one setting: each may be given, and when several are
they must agree (the same value twice is fine, two values are a ConfigError naming both).
With none, the seed is ``hadml.config.DEFAULT_SEED`` (1).

Invariants. Every event is checked in the code path, not only in tests, in two parts,
each with the deviation Pythia uses (|dE| + |dpx| + |dpy| + |dpz| as a fraction of
sqrt(s), Pythia's Check:epTolErr): hadml's own stages (cluster stage and hadron decays:
final state against the partons and photons they start from) within
HADML_STAGE_TOLERANCE, and Pythia's perturbative stage (those partons and photons against
the beams) within Pythia's own warning threshold PYTHIA_STAGE_TOLERANCE. The final state
also carries zero charge and zero baryon number. A violation raises
:class:`ConservationError` naming the event and the seed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import itertools
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hadml.config import ConfigError, GeneratorConfig
from hadml.event import Event
from hadml.pythia_stage import (
    PYTHIA_MAX_SEED,
    ChargeTable,
    HadronDecayer,
    PartonEvent,
    PartonGenerator,
    decay_settings,
    perturbative_settings,
    xml_dir,
)

#: hadml's stages (cluster stage + hadron decays), summed 4-momentum deviation / sqrt(s).
#: Measured maxima: 8.6e-13 in 10^5 events at 91.188 GeV, 1.3e-10 in 10^4 events at
#: 1000 GeV (the top of the supported range, hadml.config.ECM_MAX); a lost or
#: double-counted particle is >= 1e-5. (The C++ cluster stage checks its own part per
#: component at 1e-9 of the incoming energy.)
HADML_STAGE_TOLERANCE = 1e-9
#: Pythia's perturbative stage: Pythia's Check:epTolWarn (1e-6; Pythia drops events above
#: Check:epTolErr = 1e-4 itself). Its rounding has a long tail: 5.3e-9 in 10^5 events at
#: 91.188 GeV (seed 21, event 6428: 1.8e-7 GeV, a photon splitting to e+e-), while the
#: median is 6e-16.
PYTHIA_STAGE_TOLERANCE = 1e-6
#: Attempts allowed per requested event before a run is declared broken.
MAX_ATTEMPTS_PER_EVENT = 10
#: During a run, after this many ML cluster decays, a fallback fraction above
#: ML_FALLBACK_EARLY_FACTOR x the limit stops the run at once (a broken model does not run
#: to the end); the limit itself is applied to the whole run at its end.
ML_FALLBACK_CHECK_AFTER = 1_000
ML_FALLBACK_EARLY_FACTOR = 10.0


class ConservationError(RuntimeError):
    """An event violates 4-momentum, charge or baryon-number conservation (a bug)."""


class MLFallbackError(RuntimeError):
    """Too many ML cluster decays fell back to the classic decay: the model is broken."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received during a run (raised between two events)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _DeferredSignals:
    """While a run is in progress, SIGINT and SIGTERM only note that they came; the run
    raises :class:`Interrupted` at the next event boundary (``check``). A Python handler
    that raised inside a write (pyhepmc calls back into Python from C++) could leave the
    writer in an endless retry; between events every output is consistent. A second
    signal raises at once. Only the main thread can handle signals: elsewhere this does
    nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _note(self, signum: int, frame: object) -> None:
        if self.received is not None:
            self._restore()
            raise Interrupted(signum)
        self.received = signum

    def check(self) -> None:
        if self.received is not None:
            raise Interrupted(self.received)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __enter__(self) -> _DeferredSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()


def derive_seed(seed: int, block: int, stream: str, modulus: int = 2**63) -> int:
    """Independent seed for one block and one random stream, stable across platforms."""
    digest = hashlib.sha256(f"hadml:{seed}:{block}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % modulus


def resolve_seed(seed: int | None, config: GeneratorConfig,
                 source: str = "the seed argument") -> GeneratorConfig:
    """Apply the seed rule (module docstring): a copy of ``config`` with its run seed set;
    ConfigError if ``seed`` and the config's seed are both given and differ."""
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
                or not 0 <= int(seed) < 2**63:
            raise ConfigError(f"{source}: the seed must be an integer in [0, 2^63), "
                              f"got {seed!r}")
        seed = int(seed)
        if config.seed is not None and config.seed != seed:
            raise ConfigError(
                f"{source} gives seed {seed} but the configuration (config file seed:, "
                f"--set seed= or GeneratorConfig) gives {config.seed}; give the seed in one "
                "place (or the same value)"
            )
    return dataclasses.replace(config, seed=config.run_seed if seed is None else seed)


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


@dataclass
class BlockResult:
    block: int
    events: list[Event]
    clusters: object | None  # pyarrow.Table of the block's cluster decays (keep_clusters)
    n_charged: np.ndarray
    failures: dict[str, int]
    ml_fallbacks: int
    ml_decays: int  # cluster decays asked of the ML decayer (fallbacks included)
    seconds: float
    stage_retries: int = 0  # extra tries of reconnection/fission/light clusters
    # Per event, |dE| + |dpx| + |dpy| + |dpz| between Pythia's partons and photons and the
    # beams (GeV): the rounding of Pythia's stage, checked against PYTHIA_STAGE_TOLERANCE.
    pythia_deviation: np.ndarray | None = None
    hepmc: bytes | None = None  # HepMC3 text of the block's events (keep_hepmc)
    # Parameter-variation weights (n_events, n_variations), None without variations.
    weights: np.ndarray | None = None


@dataclass
class RunSummary:
    n_events: int = 0
    n_charged_sum: float = 0.0
    n_charged_sum2: float = 0.0
    failures: collections.Counter = field(default_factory=collections.Counter)
    ml_fallbacks: int = 0
    stage_retries: int = 0
    ml_decays: int = 0
    seconds: float = 0.0
    cluster_decays: str = "classic"  # "classic" or "ML (<model file>, <device>)"
    # Parameter variations (hadml.variations): variation_info() of the cluster stage and
    # the running sums of w and w^2 per variation.
    variation_info: list[dict] = field(default_factory=list)
    weight_sum: np.ndarray | None = None
    weight_sum2: np.ndarray | None = None

    def add(self, block: BlockResult) -> None:
        if block.weights is not None:
            if self.weight_sum is None:
                self.weight_sum = np.zeros(block.weights.shape[1])
                self.weight_sum2 = np.zeros(block.weights.shape[1])
            self.weight_sum += block.weights.sum(axis=0)
            self.weight_sum2 += (block.weights ** 2).sum(axis=0)
        self.n_events += len(block.n_charged)
        self.n_charged_sum += float(block.n_charged.sum())
        self.n_charged_sum2 += float((block.n_charged.astype(float) ** 2).sum())
        self.failures.update(block.failures)
        self.ml_fallbacks += block.ml_fallbacks
        self.stage_retries += block.stage_retries
        self.ml_decays += block.ml_decays

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

    def variation_reports(self) -> list:
        """hadml.variations.VariationReport per variation (Kish ESS, flags)."""
        from hadml.variations import VariationReport

        if self.weight_sum is None:
            return []
        return [VariationReport(d["name"], list(d["groups"]), list(d["hard_boundaries"]),
                                self.n_events, float(s1),
                                float(s1 * s1 / s2) if s2 > 0 else 0.0)
                for d, s1, s2 in zip(self.variation_info, self.weight_sum, self.weight_sum2,
                                     strict=True)]

    @property
    def ml_fallback_fraction(self) -> float:
        return self.ml_fallbacks / self.ml_decays if self.ml_decays else 0.0

    def text(self) -> str:
        lines = [
            f"cluster decays        : {self.cluster_decays}",
            f"events generated      : {self.n_events}",
            f"mean charged mult.    : {self.mean_charged:.3f} +- {self.mean_charged_error:.3f}",
            f"time per event        : {1e3 * self.seconds / max(self.n_events, 1):.3f} ms "
            f"({self.seconds:.1f} s wall)",
            f"retried (same partons): {self.stage_retries} tries of reconnection, fission "
            "and light clusters",
            f"failed (replaced)     : {sum(self.failures.values())}",
        ]
        for reason, count in self.failures.most_common():
            lines.append(f"  {count:6d} x {reason}")
        if self.cluster_decays != "classic":
            lines.append(
                f"ML outputs replaced   : {self.ml_fallbacks} of {self.ml_decays} cluster "
                f"decays ({100 * self.ml_fallback_fraction:.4f}%; non-finite or out of "
                "range, classic decay used)")
        reports = self.variation_reports()
        if reports:
            lines.append("variation weights     :")
            lines += [f"  {r.text()}" for r in reports]
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
            model, device=config.run_device, threads=config.run_ml_threads,
            policy=config.run_ml_policy,
            params=params,
        )
    except (RuntimeError, ValueError) as err:
        # The shim's message names the file and what is wrong with it (or with the device).
        raise ModelLoadError(str(err)) from err


class Generator:
    """One generator instance: the C++ event loop (hadml._core.EventLoop: two Pythia 8
    instances, the cluster stage, the checks and the event record), plus, in Python, a
    Pythia of the same settings that checks them with clear errors and gives the particle
    data (hadron table, charges), and the cluster stage alone (``hadronizer``) for studies."""

    def __init__(self, config: GeneratorConfig, variations: Sequence | None = None) -> None:
        """``variations``: hadml.variations.Variation list for exact weights (or None)."""
        from hadml import _core
        from hadml.hadrons import hadron_table

        config.validate()
        config = resolve_seed(None, config)
        self.config = config
        self.partons = PartonGenerator(config)
        self.decayer = HadronDecayer() if config.decay_hadrons else None
        table_source = self.decayer.pythia if self.decayer else self.partons.pythia
        self.hadron_table = hadron_table(table_source)
        self._charges = ChargeTable(table_source)
        self.cluster_decayer = _make_cluster_decayer(config)
        self.hadronizer = _core.ClusterHadronizer(
            config.cluster_params(), self.hadron_table, self.cluster_decayer, 1
        )
        self._loop = _core.EventLoop(
            xml_dir(self.partons.pythia), perturbative_settings(config), decay_settings(),
            config.decay_hadrons, config.cluster_params(), self.hadron_table,
            self.cluster_decayer, HADML_STAGE_TOLERANCE, PYTHIA_STAGE_TOLERANCE,
            MAX_ATTEMPTS_PER_EVENT)
        self.variations = list(variations or [])
        self.variation_info: list[dict] = []
        if self.variations:
            self._set_variations(config)

    def _set_variations(self, config: GeneratorConfig) -> None:
        from hadml.variations import as_pairs

        try:
            pairs = as_pairs(self.variations)
            self.hadronizer.set_variations(pairs)
            self._loop.set_variations(pairs)
        except ValueError as err:
            raise ConfigError(f"variations: {err}") from err
        self.variation_info = self._loop.variation_info()
        if config.hadronization != "classic":
            direction = [d["name"] for d in self.variation_info
                         if "decay direction" in d["groups"]]
            if direction:
                raise ConfigError(
                    f"variations {direction} vary ClSmr/ClDir, which reweight the classic "
                    "cluster decay; the ML decay has no such parameters (use "
                    "--hadronization classic, or drop them)")

    # -- one block -------------------------------------------------------------------------
    def run_block(self, block: int, n_events: int, first_number: int,
                  keep_events: bool = True, keep_clusters: bool = False,
                  keep_hepmc: bool = False) -> BlockResult:
        """Make one block in C++ (hadml._core.EventLoop.run_block): the events as flat
        arrays, split here into Event views, the cluster table's columns, and with
        ``keep_hepmc`` the events' HepMC3 text (HepMC3's C++ writer)."""
        from hadml import _core

        start = time.perf_counter()
        seed = self.config.run_seed
        decay_seed = self.config.effective_decay_seed()  # decays' streams (docs/architecture.md)
        stats_before = self.cluster_decayer.stats()
        try:
            out = self._loop.run_block(
                block, seed,
                1 + derive_seed(seed, block, "pythia-partons", PYTHIA_MAX_SEED),
                1 + derive_seed(decay_seed, block, "pythia-decays", PYTHIA_MAX_SEED),
                derive_seed(seed, block, "cluster-stage"),
                derive_seed(decay_seed, block, "cluster-decays"),
                n_events, first_number, keep_events, keep_clusters, keep_hepmc)
        except _core.ConservationViolation as err:
            raise ConservationError(str(err)) from None
        events = _split_events(out["events"]) if keep_events else []
        clusters = None
        if keep_clusters:
            from hadml.io import cluster_table

            clusters = cluster_table.from_columns(
                out["clusters"], weight_names=[v.name for v in self.variations])
        stats = self.cluster_decayer.stats()
        fallbacks = stats["fallbacks"] - stats_before["fallbacks"]
        ml_decays = 0
        if self.config.hadronization == "ml":
            ml_decays = fallbacks + stats["decayed"] - stats_before["decayed"]
        return BlockResult(block, events, clusters, out["n_charged"], dict(out["failures"]),
                           int(fallbacks), int(ml_decays), time.perf_counter() - start,
                           int(out["stage_retries"]), out["pythia_deviation"],
                           out.get("hepmc"), out.get("weights"))

    def _check(self, event: Event, pe: PartonEvent, number: int, block: int) -> None:
        """The conservation checks the event loop applies to every event (4-momentum per
        stage, module docstring; final-state charge and baryon number), on one event."""
        from hadml import _core

        start = pe.p.sum(axis=0) + pe.other_p.sum(axis=0)
        beams = pe.beams.sum(axis=0)
        try:
            self._loop.check(event.pid, event.status, event.p, start.tolist(), beams.tolist(),
                             f"event {number} (seed {self.config.run_seed}, block {block})")
        except _core.ConservationViolation as err:
            raise ConservationError(str(err)) from None


def _split_events(rec: dict[str, np.ndarray]) -> list[Event]:
    """Event objects (views into the block's arrays) from the event loop's flat record."""
    offsets = rec["offsets"]
    pid, status, p, m, parents = (rec[k] for k in ("pid", "status", "p", "m", "parents"))
    return [Event(int(number), pid[a:b], status[a:b], p[a:b], m[a:b], parents[a:b])
            for number, a, b in zip(rec["number"].tolist(), offsets[:-1].tolist(),
                                    offsets[1:].tolist(), strict=True)]


# -- running many blocks ---------------------------------------------------------------------
_WORKER_GENERATOR: Generator | None = None  # one per worker process (set by _worker_init)


def _worker_init(config_dict: dict, variations: list | None = None) -> None:
    global _WORKER_GENERATOR
    from hadml.config import load_config

    # Ctrl-C (or a SIGTERM to the process group) reaches every process: the parent stops
    # the run and keeps what was written; the workers finish their block and are shut down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _WORKER_GENERATOR = Generator(load_config(overrides=config_dict), variations)


def _worker_run(args: tuple[int, int, int, bool, bool, bool]) -> BlockResult:
    assert _WORKER_GENERATOR is not None
    return _WORKER_GENERATOR.run_block(*args)


def block_plan(n_events: int, block_size: int) -> list[tuple[int, int, int]]:
    """(block index, events in block, first event number) for a run of n_events."""
    plan = []
    for b, first in enumerate(range(0, n_events, block_size)):
        plan.append((b, min(block_size, n_events - first), first))
    return plan


def select_blocks(plan: list[tuple[int, int, int]],
                  blocks: range | None) -> list[tuple[int, int, int]]:
    """The part of a run's block plan that ``blocks`` (a range of block indices, step 1;
    None: all) selects, for a shard of the run (hadml.scaleout)."""
    if blocks is None:
        return plan
    if not isinstance(blocks, range) or blocks.step != 1 or not (
            0 <= blocks.start < blocks.stop <= len(plan)):
        raise ValueError(f"blocks must be a non-empty range of block indices within "
                         f"[0, {len(plan)}), got {blocks!r}")
    return plan[blocks.start:blocks.stop]


def run_blocks(config: GeneratorConfig, n_events: int, jobs: int = 1,
               keep_events: bool = True, keep_clusters: bool = False,
               progress: Callable[[int], None] | None = None,
               generator: Generator | None = None,
               blocks: range | None = None,
               keep_hepmc: bool = False,
               variations: Sequence | None = None) -> Iterator[BlockResult]:
    """Yield the block results of a run in block order, using ``jobs`` processes.

    With jobs > 1 at most 2 x jobs blocks are in flight, so memory does not grow with the
    run when the consumer (the writers) is slower than the workers; closing the iterator
    (an error or an interrupt in the consumer) cancels the blocks not started.
    ``generator`` (jobs == 1) reuses an instance built and checked by the caller.
    ``blocks`` runs only those blocks of the ``n_events`` run (a shard, hadml.scaleout)."""
    n_events = _check_count(n_events, "the number of events")
    jobs = _check_count(jobs, "jobs")
    config = resolve_seed(None, config)
    config.validate()
    plan = select_blocks(block_plan(n_events, config.block_size), blocks)
    tasks = [(b, n, first, keep_events, keep_clusters, keep_hepmc) for b, n, first in plan]
    jobs = min(jobs, len(tasks))  # a worker per block at most
    if jobs == 1:
        gen = generator or Generator(config, variations)
        for task in tasks:
            result = gen.run_block(*task)
            if progress:
                progress(len(result.n_charged))
            yield result
        return
    ctx = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_worker_init,
        initargs=(config.to_dict(), list(variations or [])),
    )
    pending: collections.deque = collections.deque()
    remaining = iter(tasks)
    try:
        for task in itertools.islice(remaining, 2 * jobs):
            pending.append(pool.submit(_worker_run, task))
        while pending:
            try:
                result = pending.popleft().result()
            except concurrent.futures.process.BrokenProcessPool as err:
                raise RuntimeError(f"a worker process died ({err}); the run stopped") from err
            task = next(remaining, None)
            if task is not None:
                pending.append(pool.submit(_worker_run, task))
            if progress:
                progress(len(result.n_charged))
            yield result
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def iter_events(n_events: int, seed: int | None = None, config: GeneratorConfig | None = None,
                jobs: int = 1, **overrides) -> Iterator[Event]:
    """Yield events one by one, block by block, without keeping the run in memory (the
    same events as :func:`generate` with the same arguments; the same seed rule)."""
    from hadml.config import apply_overrides

    cfg = apply_overrides(config or GeneratorConfig(), overrides, source="iter_events()")
    cfg = resolve_seed(seed, cfg)
    for block in run_blocks(cfg, n_events, jobs, keep_events=True):
        yield from block.events


@dataclass
class GenerationResult:
    config: GeneratorConfig
    events: list[Event]
    summary: RunSummary
    cluster_table: object | None = None  # pyarrow.Table when clusters were collected
    # Parameter-variation weights (n_events, n_variations) and their names (variations=).
    weights: np.ndarray | None = None
    weight_names: list[str] = field(default_factory=list)

    def final_states(self) -> list[dict[str, np.ndarray]]:
        return [e.final_state() for e in self.events]


class RunStopped(Exception):
    """Raised from a run that failed or was interrupted after it started writing: says
    how many events were made and where the unfinished outputs are kept. ``__cause__``
    is the original error (or KeyboardInterrupt)."""

    def __init__(self, message: str, n_events: int, partial: list[Path]) -> None:
        super().__init__(message)
        self.n_events = n_events
        self.partial = partial


def _check_ml_fallbacks(summary: RunSummary, cfg: GeneratorConfig, model: str,
                        factor: float = 1.0) -> None:
    limit = cfg.run_ml_max_fallback_fraction
    if summary.ml_decays and summary.ml_fallback_fraction > factor * limit:
        raise MLFallbackError(
            f"ONNX cluster-decay model '{model}': {summary.ml_fallbacks} of "
            f"{summary.ml_decays} cluster decays ({100 * summary.ml_fallback_fraction:.3g}%) "
            f"had non-finite or out-of-range outputs and fell back to the classic decay, "
            f"above ml_max_fallback_fraction = {limit:g}; the model is broken (or raise "
            "the limit with --set ml_max_fallback_fraction=...)"
        )



def check_outputs(hepmc: str | Path | None,
                  clusters: str | Path | None) -> list[tuple[str, Path]]:
    """Check the HepMC3 (``--out``) and cluster-table (``--clusters``) targets before the
    first event: writable places, a known HepMC3 suffix, and two different files. Returns
    the (description, path) of each target given."""
    from hadml.io.atomic import check_distinct, check_output_path
    from hadml.io.hepmc import check_hepmc_suffix

    targets = []
    if hepmc is not None:
        target = check_output_path(hepmc, "HepMC3 output")
        check_hepmc_suffix(target)
        targets.append(("HepMC3 output (--out)", target))
    if clusters is not None:
        targets.append(("cluster-table output (--clusters)",
                        check_output_path(clusters, "cluster-table output")))
    check_distinct(targets)
    return targets


def generate(n_events: int, seed: int | None = None, config: GeneratorConfig | None = None,
             jobs: int = 1, collect_clusters: bool = False, keep_events: bool = True,
             hepmc: str | Path | None = None, clusters: str | Path | None = None,
             progress: bool = False, blocks: range | None = None,
             variations: Sequence | None = None,
             **overrides) -> GenerationResult:
    """Generate e+e- -> hadrons events with hadml's cluster hadronization.

    Parameters
    ----------
    n_events: number of events.
    seed: random seed; the same seed gives identical events for any ``jobs``. None takes
        the config's seed, else 1; a seed here and a different one in ``config`` is a
        ConfigError (the seed rule, module docstring).
    config: a GeneratorConfig (default: hadml's LEP tune at 91.188 GeV).
    overrides: config fields or cluster parameters, e.g. ``hadronization="ml"``,
        ``ecm=91.2``, ``ClMaxLight=3.6``.
    collect_clusters: also return the cluster table (pyarrow Table, schema v1).
    hepmc, clusters: optional output files (HepMC3, compressed for .gz/.bz2/.xz; Parquet).
    blocks: make only these blocks (a range of block indices) of the ``n_events`` run: a
        shard, joined with the others by ``hadml merge`` (hadml.scaleout, docs/scale-out.md).
    variations: hadml.variations.Variation list: exact per-event weights for each (named
        HepMC3 weights after "nominal", ``weight_<name>`` columns of the cluster table,
        ``result.weights``; docs/variations.md).

    Every input is checked before the first event (numbers, seed, configuration, Pythia
    settings, model, output paths). Outputs are written under temporary names and renamed
    onto ``hepmc`` / ``clusters`` when the run succeeds; an existing file there is never
    touched by a failed run. A run that fails or is interrupted (KeyboardInterrupt) after
    its first event raises :class:`RunStopped` (from the original error) and keeps what it
    wrote as ``<name>.partial``. The cluster table is streamed in row groups: memory
    does not grow with ``n_events`` unless ``keep_events`` or ``collect_clusters``.
    """
    from hadml.config import apply_overrides
    from hadml.io import cluster_table
    from hadml.io.hepmc import HepMCWriter

    # -- every input, before the first event ---------------------------------------------
    n_events = _check_count(n_events, "the number of events")
    jobs = _check_count(jobs, "jobs")
    cfg = apply_overrides(config or GeneratorConfig(), overrides, source="generate()")
    cfg = resolve_seed(seed, cfg)
    cfg.validate()
    plan = select_blocks(block_plan(n_events, cfg.block_size), blocks)
    n_run = sum(n for _, n, _ in plan)  # the events this call makes (all, or a shard's)
    check_outputs(hepmc, clusters)
    summary = RunSummary()
    model = ""
    if cfg.hadronization == "ml":
        from hadml.models import default_model_path

        model = str(cfg.model or default_model_path())
        summary.cluster_decays = f"ML ({model}, {cfg.run_device})"
    events: list[Event] = []
    tables: list = []
    hep_writer: HepMCWriter | None = None
    table_writer: cluster_table.ClusterTableWriter | None = None
    bar = None
    start = time.perf_counter()
    info: dict[str, object] = {"config": cfg.to_dict(), "n_events": n_run}
    selection, blocks = blocks, None  # `blocks` below: the iterator of block results
    if selection is not None:
        info["blocks"] = [selection.start, selection.stop]
        info["run_events"] = n_events
    events_in_table = 0
    weight_blocks: list[np.ndarray] = []
    signals = _DeferredSignals().__enter__()
    try:
        # Building a generator initialises Pythia with the run's settings and loads the
        # model: with jobs > 1 this one only checks them (the workers build their own).
        generator: Generator | None = Generator(cfg, variations)
        summary.variation_info = generator.variation_info
        if min(jobs, len(plan)) > 1:
            generator = None
        signals.check()
        if hepmc is not None:
            hep_writer = (HepMCWriter(hepmc, weight_names=_weight_names(variations))
                          if variations else HepMCWriter(hepmc))
        if clusters is not None:
            table_writer = cluster_table.ClusterTableWriter(
                clusters, **({"weight_names": [v.name for v in variations]}
                             if variations else {}))
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=n_run, unit="ev", desc=f"hadml {cfg.hadronization}")
        want_clusters = collect_clusters or table_writer is not None
        blocks = run_blocks(cfg, n_events, jobs, keep_events, want_clusters,
                            bar.update if bar else None, generator,
                            selection, keep_hepmc=hep_writer is not None,
                            variations=variations)
        for block in blocks:
            summary.add(block)
            signals.check()
            if block.weights is not None:
                weight_blocks.append(block.weights)
            if hep_writer is not None:
                hep_writer.write_text(block.hepmc, len(block.n_charged))
                hep_writer.flush()
            if table_writer is not None:
                table_writer.write(block.clusters)
                events_in_table += len(block.n_charged)
            if keep_events:
                events.extend(block.events)
            if collect_clusters:
                tables.append(block.clusters)
            if summary.ml_decays >= ML_FALLBACK_CHECK_AFTER:
                _check_ml_fallbacks(summary, cfg, model, ML_FALLBACK_EARLY_FACTOR)
        _check_ml_fallbacks(summary, cfg, model)
        summary.seconds = time.perf_counter() - start
        signals.check()
        # Both outputs are finished (footers written, synced) before either is renamed,
        # and a signal from here on is noted, not acted on: no run ends with one old and
        # one new file.
        if hep_writer is not None:
            hep_writer.finish()
        if table_writer is not None:
            table_writer.finish(info)
        if hep_writer is not None:
            hep_writer.close()
        if table_writer is not None:
            table_writer.close(info)
    except BaseException as err:
        if blocks is not None:
            with contextlib.suppress(Exception):
                blocks.close()  # stop the workers before anything else
        kept: list[Path] = []
        notes: list[str] = []
        if hep_writer is not None:
            path = hep_writer.abort()
            if path is not None:
                kept.append(path)
                notes.append(f"{path} ({hep_writer.n_written} events)")
        if table_writer is not None:
            info["n_events"] = events_in_table
            info["complete"] = False
            path = table_writer.abort(info)
            if path is not None:
                kept.append(path)
                notes.append(f"{path} ({table_writer.n_rows} clusters)")
        if summary.n_events == 0 and not kept and not isinstance(err, KeyboardInterrupt):
            raise
        reason = "" if isinstance(err, KeyboardInterrupt) else f": {err}"
        what = "interrupted" if isinstance(err, KeyboardInterrupt) else "stopped"
        existing = ("; existing files under the final names are untouched"
                    if hepmc is not None or clusters is not None else "")
        kept_text = ("; unfinished output kept: " + ", ".join(notes)) if notes else ""
        raise RunStopped(f"run {what} after {summary.n_events} of {n_run} events"
                         f"{reason}{kept_text}{existing}", summary.n_events, kept) from err
    finally:
        signals.__exit__()
        if bar is not None:
            bar.close()
    table = None
    if collect_clusters:
        table = cluster_table.concat(tables).replace_schema_metadata(
            cluster_table.SCHEMA.metadata)
    weights = np.concatenate(weight_blocks) if weight_blocks else None
    return GenerationResult(cfg, events, summary, table, weights,
                            [v.name for v in variations or []])


def _weight_names(variations: Sequence | None) -> list[str] | None:
    from hadml.variations import weight_names

    return weight_names(variations) if variations else None
