"""Scale-out of one run beyond ``--jobs``: shards for batch array jobs, dask.distributed.

A run of ``n_events`` is a fixed list of blocks of ``block_size`` events, each seeded from
(seed, block) alone (hadml.generator), so any subset of blocks can be made anywhere and
the pieces joined into exactly the bytes one process writes:

- ``--shard I/N`` makes the contiguous blocks ``[I*B//N, (I+1)*B//N)`` of the run's B
  blocks and writes a manifest (hadml.io.manifest) beside its outputs; ``hadml merge``
  (hadml.io.merge) checks the manifests and joins the shards.
- ``--executor dask`` sends the blocks to a dask.distributed cluster as tasks of
  ``task_blocks`` contiguous blocks; each task writes its own shard (outputs and
  manifest) into a work directory that the workers and this process share, and this
  process merges them into the outputs and removes the work directory.

docs/scale-out.md has the Slurm, HTCondor and dask recipes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hadml.config import ConfigError, GeneratorConfig
from hadml.generator import RunSummary, check_outputs
from hadml.io.manifest import MANIFEST_SUFFIX, Manifest, record_output, write_manifest

#: Dask tasks per worker thread when the task size is not given: small enough to balance
#: the load, large enough that building a generator (about 1 s: Pythia's initialisation)
#: stays small against a task.
TASKS_PER_THREAD = 4
EXECUTORS = ("local", "dask")


class ScaleOutError(ConfigError):
    """A scale-out option cannot be used (bad --shard, dask not installed, ...)."""


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` of ``count`` (0 <= index < count) of a run."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise ScaleOutError(f"--shard must be I/N (shard I of N, counted from 0), e.g. "
                                f"--shard 0/10 or --shard $SLURM_ARRAY_TASK_ID/10; got "
                                f"{text!r}")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 0 <= index < count:
            raise ScaleOutError(f"--shard {text}: need 0 <= I < N (shards are counted from "
                                f"0: an array of N jobs is 0..N-1)")
        return cls(index, count)

    def blocks(self, config: GeneratorConfig, n_events: int) -> range:
        """This shard's blocks of a run of ``n_events``."""
        n_blocks = math.ceil(n_events / config.block_size)
        if self.count > n_blocks:
            raise ScaleOutError(
                f"--shard {self}: the run has only {n_blocks} block(s) ({n_events} events "
                f"in blocks of {config.block_size}), so at most {n_blocks} shard(s); use "
                "fewer shards or a smaller block_size (which changes the events)")
        return range(self.index * n_blocks // self.count,
                     (self.index + 1) * n_blocks // self.count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def variation_records(variations: Sequence | None) -> list[dict]:
    """The parameter variations (hadml.variations.Variation) as the manifest stores them."""
    return [{"name": v.name, "overrides": dict(v.overrides)} for v in variations or []]


def variations_from_records(records: Sequence[dict]) -> list:
    """hadml.variations.Variation list from :func:`variation_records`."""
    from hadml.variations import Variation

    return [Variation(r["name"], {k: float(x) for k, x in r["overrides"].items()})
            for r in records]


def config_hash(config: GeneratorConfig, variations: Sequence | None = None) -> str:
    """SHA-256 of everything that decides the outputs besides the seed and the blocks: the
    options, the cluster parameters after the tune, the shower settings, the ML model's
    bytes and the parameter variations (their weights; absent from the hash of a run
    without, so that such hashes are unchanged)."""
    payload: dict[str, object] = {
        "config": config.to_dict(),
        "cluster_params": config.cluster_params(),
        "shower_pt_min": config.effective_shower_pt_min(),
        "shower_alpha_s": config.effective_shower_alpha_s(),
    }
    if config.hadronization == "ml":
        from hadml.io.manifest import sha256_file
        from hadml.models import default_model_path

        payload["model_sha256"] = sha256_file(config.model or default_model_path())[0]
    if variations:
        payload["variations"] = variation_records(variations)
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def default_manifest_path(hepmc: str | os.PathLike | None,
                          clusters: str | os.PathLike | None) -> Path:
    """``<first output>.manifest.json``."""
    first = hepmc if hepmc is not None else clusters
    if first is None:
        raise ScaleOutError("a shard needs an output to describe: give --out and/or "
                            "--clusters")
    return Path(os.fspath(first) + MANIFEST_SUFFIX)


def check_manifest_path(manifest: str | os.PathLike, hepmc: str | os.PathLike | None,
                        clusters: str | os.PathLike | None) -> Path:
    from hadml.io.atomic import check_distinct, check_output_path

    target = check_output_path(manifest, "shard manifest")
    outputs = [("shard manifest", target)]
    for what, path in (("HepMC3 output (--out)", hepmc),
                       ("cluster-table output (--clusters)", clusters)):
        if path is not None:
            outputs.append((what, Path(os.path.realpath(path))))
    check_distinct(outputs)
    return target


def write_shard_manifest(config: GeneratorConfig, n_events: int, blocks: range,
                         manifest: str | os.PathLike, hepmc: str | os.PathLike | None,
                         clusters: str | os.PathLike | None,
                         shard: str | None = None,
                         variations: Sequence | None = None) -> Manifest:
    """Describe the finished outputs of the blocks ``blocks`` of a run in a manifest."""
    import pyarrow.parquet as pq

    from hadml import __version__
    from hadml.generator import block_plan, resolve_seed, select_blocks

    config = resolve_seed(None, config)
    plan = block_plan(n_events, config.block_size)
    events = sum(n for _, n, _ in select_blocks(plan, blocks))
    target = Path(os.path.realpath(manifest))
    outputs = []
    if hepmc is not None:
        outputs.append(record_output("hepmc", hepmc, target, events))
    if clusters is not None:
        rows = pq.read_metadata(os.fspath(clusters)).num_rows
        outputs.append(record_output("clusters", clusters, target, events, rows))
    result = Manifest(
        hadml_version=__version__, seed=config.run_seed,
        config_hash=config_hash(config, variations), config=config.to_dict(),
        run_events=n_events, block_size=config.block_size, run_blocks=len(plan),
        blocks=(blocks.start, blocks.stop), events=events, shard=shard, outputs=outputs,
        variations=variation_records(variations))
    write_manifest(result, target)
    return result


def run_shard(n_events: int, config: GeneratorConfig, blocks: range, *,
              hepmc: str | os.PathLike | None = None,
              clusters: str | os.PathLike | None = None,
              manifest: str | os.PathLike | None = None, jobs: int = 1,
              progress: bool = False, shard: str | None = None,
              variations: Sequence | None = None) -> tuple[RunSummary, Manifest]:
    """Make the blocks ``blocks`` of a run of ``n_events`` with ``jobs`` local processes,
    write the outputs and then their manifest (default ``<first output>.manifest.json``).
    ``variations``: hadml.variations weights, recorded in the manifest."""
    from hadml.generator import generate

    manifest = check_manifest_path(manifest or default_manifest_path(hepmc, clusters),
                                   hepmc, clusters)
    result = generate(n_events, config=config, jobs=jobs, keep_events=False, hepmc=hepmc,
                      clusters=clusters, progress=progress, blocks=blocks,
                      variations=variations)
    written = write_shard_manifest(result.config, n_events, blocks, manifest, hepmc,
                                   clusters, shard, variations)
    return result.summary, written


# -- dask.distributed ----------------------------------------------------------------------
def _import_distributed():
    try:
        import distributed
    except ImportError as err:
        raise ScaleOutError(
            "--executor dask needs dask.distributed, which is not installed "
            f"({err}); install it with:\n    pip install 'hadml[dask]'") from err
    return distributed


def _dask_task(config: dict, n_events: int, start: int, stop: int, hepmc: str | None,
               clusters: str | None, manifest: str | None,
               variations: list[dict] | None = None) -> tuple[RunSummary, Manifest | None]:
    """One dask task: blocks [start, stop) of the run, written as a shard (on a worker).
    ``variations``: :func:`variation_records` of the run's parameter variations."""
    from hadml.config import load_config
    from hadml.generator import generate

    cfg = load_config(overrides=config)
    varied = variations_from_records(variations or []) or None
    if manifest is None:  # nothing to write: only the summary
        result = generate(n_events, config=cfg, keep_events=False, blocks=range(start, stop),
                          variations=varied)
        return result.summary, None
    return run_shard(n_events, cfg, range(start, stop), hepmc=hepmc, clusters=clusters,
                     manifest=manifest, variations=varied)


def _add_summaries(parts: list[RunSummary], cluster_decays: str) -> RunSummary:
    total = RunSummary(cluster_decays=cluster_decays)
    for part in parts:
        total.n_events += part.n_events
        total.n_charged_sum += part.n_charged_sum
        total.n_charged_sum2 += part.n_charged_sum2
        total.failures.update(part.failures)
        total.ml_fallbacks += part.ml_fallbacks
        total.stage_retries += part.stage_retries
        total.ml_decays += part.ml_decays
        if part.weight_sum is not None:  # parameter variations: sums of w and w^2
            total.variation_info = part.variation_info
            if total.weight_sum is None:
                total.weight_sum = np.zeros_like(part.weight_sum)
                total.weight_sum2 = np.zeros_like(part.weight_sum)
            total.weight_sum += part.weight_sum
            total.weight_sum2 += part.weight_sum2
    return total


def _work_directory(work_dir: str | os.PathLike | None,
                    first_output: str | os.PathLike | None) -> Path:
    """A new directory for the tasks' shards: in ``work_dir``, else hidden beside the
    first output, else a temporary directory (no outputs: nothing is written there)."""
    token = secrets.token_hex(4)
    if work_dir is not None:
        base = Path(work_dir)
        if not base.is_dir():
            raise ScaleOutError(f"--work-dir {work_dir} is not a directory")
        if not os.access(base, os.W_OK | os.X_OK):
            raise ScaleOutError(f"--work-dir {work_dir} is not writable")
        path = base / f"hadml-dask-{token}"
    elif first_output is not None:
        target = Path(os.path.realpath(first_output))
        path = target.with_name(f".{target.name}.dask-{token}")
    else:
        return Path(tempfile.mkdtemp(prefix="hadml-dask-"))
    path.mkdir()
    return path


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises Interrupted (a KeyboardInterrupt) like Ctrl-C, so that a dask run or
    a merge cleans up (work directory, temporary files; the outputs are untouched); only
    the main thread can set handlers."""
    import threading

    from hadml.generator import Interrupted

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _connect(distributed, scheduler: str | None, workers: int, processes: bool):
    """A client of the scheduler at ``scheduler`` (an address, or a scheduler file
    written by ``dask scheduler --scheduler-file``), or of a new local cluster."""
    import logging

    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=processes,
            dashboard_address=None, silence_logs=logging.ERROR)
        return distributed.Client(cluster), cluster
    try:
        if scheduler.endswith(".json") and os.path.isfile(scheduler):
            return distributed.Client(scheduler_file=scheduler), None
        return distributed.Client(scheduler), None
    except (OSError, TimeoutError, ValueError) as err:
        raise ScaleOutError(f"--scheduler {scheduler}: cannot connect to a dask scheduler "
                            f"there ({err})") from err


def run_dask(n_events: int, config: GeneratorConfig, *,
             hepmc: str | os.PathLike | None = None,
             clusters: str | os.PathLike | None = None, blocks: range | None = None,
             scheduler: str | None = None, workers: int = 1, processes: bool = True,
             task_blocks: int | None = None, work_dir: str | os.PathLike | None = None,
             progress: bool = False, variations: Sequence | None = None) -> RunSummary:
    """Make a run (or the blocks ``blocks`` of it) on dask.distributed and merge the
    tasks' shards into ``hepmc`` / ``clusters``: the same bytes as ``generate(...,
    jobs=1)``. ``scheduler``: an address (``tcp://host:8786``) or a scheduler file;
    None starts a local cluster of ``workers`` workers (processes, or threads of this
    process with ``processes=False``). ``task_blocks``: blocks per task (default: about
    TASKS_PER_THREAD tasks per worker thread). ``work_dir``: where the tasks write their
    shards; it must be visible to the workers and to this process at the same path
    (default: a hidden directory beside the first output, removed at the end)."""
    from hadml.generator import (
        Generator,
        _check_count,
        _check_ml_fallbacks,
        block_plan,
        resolve_seed,
        select_blocks,
    )
    from hadml.io.merge import merge_shards

    # -- every input, before the first task ----------------------------------------------
    n_events = _check_count(n_events, "the number of events")
    workers = _check_count(workers, "workers")
    if task_blocks is not None:
        task_blocks = _check_count(task_blocks, "--task-blocks")
    config = resolve_seed(None, config)
    config.validate()
    plan = select_blocks(block_plan(n_events, config.block_size), blocks)
    selected = range(plan[0][0], plan[-1][0] + 1)
    targets = check_outputs(hepmc, clusters)
    distributed = _import_distributed()
    # Pythia settings, the model and the variations, checked here before any task.
    checked = Generator(config, variations)
    cluster_decays = "classic"
    model = ""
    if config.hadronization == "ml":
        from hadml.models import default_model_path

        model = str(config.model or default_model_path())
        cluster_decays = f"ML ({model}, {config.run_device})"

    started = time.perf_counter()
    work = _work_directory(work_dir, hepmc if hepmc is not None else clusters)
    client = cluster = None
    bar = None
    futures: list = []
    try:
        with sigterm_interrupts():
            client, cluster = _connect(distributed, scheduler, workers, processes)
            if task_blocks is None:
                threads = max(sum(client.nthreads().values()), 1)
                task_blocks = max(1, math.ceil(len(selected) / (TASKS_PER_THREAD * threads)))
            config_dict = config.to_dict()
            token = work.name.rsplit("-", 1)[-1]
            for start in range(selected.start, selected.stop, task_blocks):
                stop = min(start + task_blocks, selected.stop)
                stem = work / f"blocks-{start:07d}-{stop - 1:07d}"
                task_hepmc = f"{stem}.hepmc" if hepmc is not None else None
                task_clusters = f"{stem}.parquet" if clusters is not None else None
                task_manifest = (f"{stem}{MANIFEST_SUFFIX}" if targets else None)
                futures.append(client.submit(
                    _dask_task, config_dict, n_events, start, stop, task_hepmc,
                    task_clusters, task_manifest, variation_records(variations),
                    key=f"hadml-{token}-blocks-{start}-{stop}",
                    pure=False))
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=sum(n for _, n, _ in plan), unit="ev",
                           desc=f"hadml {config.hadronization} (dask)")
            summaries: list[RunSummary] = []
            manifests: list[Manifest] = []
            for future in distributed.as_completed(futures):
                try:
                    summary, manifest = future.result()
                except Exception as err:
                    raise RuntimeError(f"dask task {future.key} failed: "
                                       f"{type(err).__name__}: {err}") from err
                summaries.append(summary)
                if manifest is not None:
                    manifests.append(manifest)
                if bar is not None:
                    bar.update(summary.n_events)
            total = _add_summaries(summaries, cluster_decays)
            if total.weight_sum is not None:
                total.variation_info = checked.variation_info
            total.seconds = time.perf_counter() - started
            _check_ml_fallbacks(total, config, model)
            if targets:
                merge_shards(manifests, hepmc, clusters,
                             expect=None if blocks is None else selected)
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            for future in futures:
                future.cancel()
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    return total


def run(n_events: int, config: GeneratorConfig, *, hepmc: str | None = None,
        clusters: str | None = None, shard: ShardSpec | None = None,
        manifest: str | None = None, executor: str = "local", jobs: int = 1,
        scheduler: str | None = None, task_blocks: int | None = None,
        work_dir: str | None = None, progress: bool = False,
        variations: Sequence | None = None) -> tuple[RunSummary, Manifest | None]:
    """A run, or shard ``shard`` of it, on ``executor`` ("local": ``jobs`` processes;
    "dask": run_dask), with the shard's manifest. The CLI's ``hadml generate``.
    ``variations`` (hadml.variations): exact weights, recorded in a shard's manifest."""
    from hadml.generator import generate, resolve_seed

    if executor not in EXECUTORS:
        raise ScaleOutError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    config = resolve_seed(None, config)
    config.validate()
    blocks = shard.blocks(config, n_events) if shard is not None else None
    manifest_path = None
    if shard is not None:
        manifest_path = check_manifest_path(
            manifest or default_manifest_path(hepmc, clusters), hepmc, clusters)
    elif manifest is not None:
        raise ScaleOutError("--manifest describes a shard: give it with --shard I/N")
    if executor == "local":
        if blocks is None:
            result = generate(n_events, config=config, jobs=jobs, keep_events=False,
                              hepmc=hepmc, clusters=clusters, progress=progress,
                              variations=variations)
            return result.summary, None
        return run_shard(n_events, config, blocks, hepmc=hepmc, clusters=clusters,
                         manifest=manifest_path, jobs=jobs, progress=progress,
                         shard=str(shard), variations=variations)
    summary = run_dask(n_events, config, hepmc=hepmc, clusters=clusters, blocks=blocks,
                       scheduler=scheduler, workers=jobs, task_blocks=task_blocks,
                       work_dir=work_dir, progress=progress, variations=variations)
    written = None
    if blocks is not None:
        assert manifest_path is not None
        written = write_shard_manifest(config, n_events, blocks, manifest_path, hepmc,
                                       clusters, str(shard), variations)
    return summary, written
