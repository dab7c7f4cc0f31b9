"""Join the shards of a run into the outputs of the whole run (``hadml merge``).

The shards' manifests (hadml.io.manifest) are checked first: one run (hadml version,
seed, parameter variations, configuration hash, run size and block size agree), every
block exactly once (no overlap, none missing), event counts that match the block plan,
and output files whose size and SHA-256 are the ones their manifest recorded. Then the
outputs are joined, block by block, in block order, exactly as one process writes them
(hadml.generator.generate):

- HepMC3: the header of the first shard (with the run's weight names, ``W nominal ...``,
  when it has parameter variations), the event records of every shard, the footer;
  the stream is flushed after every block as HepMCWriter does, so that a compressed
  output (.gz, .bz2, .xz) has the same bytes too. Each block's event count and first
  event number are checked while copying.
- Cluster table: the rows of each block handed to ClusterTableWriter one block at a
  time, so that the row groups (and the bytes) are those of a one-process run, with the
  ``weight_<name>`` columns of the run's variations; the run information is that of the
  whole run.

Both outputs are written atomically (hadml.io.atomic) and renamed only when both are
complete: a failed merge leaves an existing file untouched.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hadml.io.manifest import Manifest, OutputRecord, sha256_file

#: HepMC3 ASCII: an event record starts with a line "E <number> ...".
_EVENT_START = b"\nE "
_FOOTER = b"HepMC::Asciiv3-END_EVENT_LISTING"
_CHUNK = 1 << 20


class MergeError(ValueError):
    """Shards that cannot be joined (another run, overlapping or missing blocks, changed
    or truncated files); the message names the shards and what is wrong."""


@dataclass
class MergeResult:
    n_shards: int
    n_events: int
    n_rows: int | None  # cluster-table rows, when a cluster table was written
    hepmc: Path | None
    clusters: Path | None


def block_sizes(manifest: Manifest) -> list[tuple[int, int, int]]:
    """(block, events, first event number) of the blocks of a shard."""
    from hadml.generator import block_plan

    plan = block_plan(manifest.run_events, manifest.block_size)
    return plan[manifest.blocks[0]:manifest.blocks[1]]


def _config_difference(a: dict, b: dict) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys) or \
        "the same options (a tune or model file changed between the shards)"


def _describe_variations(m: Manifest) -> str:
    if not m.variations:
        return "no parameter variations"
    return "variations " + "; ".join(
        f"{v['name']} ({', '.join(f'{k}={x:g}' for k, x in sorted(v['overrides'].items()))})"
        for v in m.variations)


def check_shards(manifests: Sequence[Manifest], kinds: Sequence[str] = (),
                 expect: range | None = None) -> list[Manifest]:
    """The manifests in block order, checked to be the shards of one run that together
    cover ``expect`` (default: every block of the run) exactly once, each with the
    outputs named in ``kinds``. MergeError otherwise."""
    from hadml.generator import block_plan

    if not manifests:
        raise MergeError("no shard manifests given")
    first = manifests[0]
    for m in manifests:
        for attr, what in (("hadml_version", "hadml version"), ("seed", "seed"),
                           ("run_events", "run size (events)"),
                           ("block_size", "block size")):
            if getattr(m, attr) != getattr(first, attr):
                raise MergeError(
                    f"{m.describe()} has {what} {getattr(m, attr)!r} but {first.describe()} "
                    f"has {getattr(first, attr)!r}: they are not shards of one run")
        if m.variations != first.variations:
            raise MergeError(
                f"{m.describe()} was made with {_describe_variations(m)} but "
                f"{first.describe()} with {_describe_variations(first)} (--variations "
                "files differ): they are not shards of one run")
        if m.config_hash != first.config_hash:
            raise MergeError(
                f"{m.describe()} and {first.describe()} have different configurations "
                f"(config hash {m.config_hash[:12]} vs {first.config_hash[:12]}; "
                f"{_config_difference(m.config, first.config)}): they are not shards of one "
                "run")
        plan = block_plan(m.run_events, m.block_size)
        if m.run_blocks != len(plan):
            raise MergeError(f"{m.describe()}: a run of {m.run_events} events in blocks of "
                             f"{m.block_size} has {len(plan)} blocks, the manifest says "
                             f"{m.run_blocks}")
        expected_events = sum(n for _, n, _ in block_sizes(m))
        if m.events != expected_events:
            raise MergeError(f"{m.describe()}: its blocks hold {expected_events} events, the "
                             f"manifest says {m.events}")
        for kind in kinds:
            record = m.output(kind)
            if record is None:
                raise MergeError(f"{m.describe()} has no {_KIND_NAMES[kind]} output")
            if record.events != m.events:
                raise MergeError(f"{m.describe()}: its {_KIND_NAMES[kind]} "
                                 f"{record.path} holds {record.events} events, the shard "
                                 f"{m.events}")
    ordered = sorted(manifests, key=lambda m: m.blocks)
    expect = range(0, first.run_blocks) if expect is None else expect
    missing: list[str] = []
    position = expect.start
    previous: Manifest | None = None
    for m in ordered:
        start, stop = m.blocks
        if start < position:
            assert previous is not None
            raise MergeError(f"{m.describe()} overlaps {previous.describe()}: blocks "
                             f"{start}-{min(stop, position) - 1} would be written twice")
        if start > position:
            missing.append(f"{position}-{start - 1}")
        position, previous = stop, m
    if position < expect.stop:
        missing.append(f"{position}-{expect.stop - 1}")
    if ordered[0].blocks[0] < expect.start or position > expect.stop:
        raise MergeError(f"the shards cover blocks {ordered[0].blocks[0]}-{position - 1}, "
                         f"outside the blocks {expect.start}-{expect.stop - 1} to join")
    if missing:
        raise MergeError(
            f"blocks {', '.join(missing)} of the run's {first.run_blocks} blocks are in none "
            f"of the {len(ordered)} shards given (a shard failed or its manifest was not "
            "given)")
    return ordered


_KIND_NAMES = {"hepmc": "HepMC3", "clusters": "cluster-table"}


def verify_outputs(manifests: Sequence[Manifest], kinds: Sequence[str]) -> None:
    """Each output file exists with the size and SHA-256 its manifest recorded."""
    for m in manifests:
        for kind in kinds:
            record = m.output(kind)
            assert record is not None
            path = m.output_path(record)
            if not path.is_file():
                raise MergeError(f"{m.describe()}: its {_KIND_NAMES[kind]} output {path} "
                                 "does not exist")
            sha, size = sha256_file(path)
            if (sha, size) != (record.sha256, record.size):
                raise MergeError(
                    f"{m.describe()}: {path} is not the file its manifest describes ({size} "
                    f"bytes, sha256 {sha[:12]}..., expected {record.size} bytes, sha256 "
                    f"{record.sha256[:12]}...): it was changed, truncated or overwritten "
                    "after the shard finished")


# -- HepMC3 ------------------------------------------------------------------------------------
def _open_hepmc(path: Path) -> BinaryIO:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".bz2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


class _HepMCShard:
    """Reads one shard's HepMC3 file as header, one byte string per block, footer."""

    def __init__(self, manifest: Manifest, record: OutputRecord) -> None:
        self.manifest = manifest
        self.path = manifest.output_path(record)
        self.header = b""
        self.footer = b""

    def _error(self, what: str) -> MergeError:
        return MergeError(f"{self.manifest.describe()}: HepMC3 file {self.path}: {what}")

    def blocks(self) -> Iterator[bytes]:
        """The event records of each block, checked against the block plan; ``header``
        is set before the first block is yielded, ``footer`` after the last."""
        with _open_hepmc(self.path) as stream:
            try:
                yield from self._blocks(stream)
            except (OSError, EOFError, lzma.LZMAError) as err:
                raise self._error(f"unreadable ({err})") from err

    def _blocks(self, stream: BinaryIO) -> Iterator[bytes]:
        buf = b""
        eof = False

        def more() -> bool:
            nonlocal buf, eof
            if eof:
                return False
            data = stream.read(_CHUNK)
            if not data:
                eof = True
                return False
            buf += data
            return True

        # The header: everything before the first event record.
        while (start := buf.find(_EVENT_START)) < 0:
            if not more():
                raise self._error("no event record")
        self.header, buf = buf[:start + 1], buf[start + 1:]
        plan = block_sizes(self.manifest)
        for k, (block, n_events, first_number) in enumerate(plan):
            while b"\n" not in buf and more():  # the whole "E" line, to check its number
                pass
            self._check_number(buf, first_number, block)
            if k + 1 < len(plan):
                # The block ends where its (n_events + 1)-th record starts.
                found, scan, end = 1, 0, -1
                while True:
                    at = buf.find(_EVENT_START, scan)
                    if at >= 0:
                        if found == n_events:
                            end = at + 1
                            break
                        found, scan = found + 1, at + 1
                        continue
                    scan = max(len(buf) - len(_EVENT_START) + 1, scan)
                    if not more():
                        raise self._error(f"block {block} ends after {found} of its "
                                          f"{n_events} events (file truncated?)")
                piece, buf = buf[:end], buf[end:]
            else:
                while more():
                    pass
                end = buf.find(b"\n" + _FOOTER)
                if end < 0:
                    raise self._error("no end-of-listing line (file truncated?)")
                piece, self.footer = buf[:end + 1], buf[end + 1:]
                found = piece.count(_EVENT_START) + 1
                if found != n_events:
                    raise self._error(f"the last block ({block}) holds {found} events, the "
                                      f"block plan {n_events}")
            yield piece

    def _check_number(self, buf: bytes, number: int, block: int) -> None:
        fields = buf[:buf.find(b"\n")].split(b" ")
        if fields[0] != b"E" or len(fields) < 2 or fields[1] != str(number).encode():
            raise self._error(f"block {block} should start with event {number}, found "
                              f"{buf[:40]!r}")


def _run_info_lines(header: bytes) -> list[bytes]:
    """The run-information lines of a HepMC3 header (``W``: the weight names)."""
    return [line for line in header.split(b"\n") if line.startswith(b"W ")]


def _check_weight_names(reader: _HepMCShard, m: Manifest) -> None:
    """The shard's header names the weights of the manifest's variations as one process
    writes them (hadml.io.hepmc.HepMCWriter): none without variations."""
    from hadml import _core
    from hadml.variations import NOMINAL_WEIGHT_NAME

    names = ([NOMINAL_WEIGHT_NAME, *(v["name"] for v in m.variations)]
             if m.variations else [])
    expected = _run_info_lines(_core.hepmc3_header(names))
    if _run_info_lines(reader.header) != expected:
        raise reader._error(f"its weight names {_run_info_lines(reader.header)!r} are not "
                            f"those of the manifest's variations {expected!r}")


def _write_hepmc(shards: Sequence[Manifest], target: Path, files: list) -> None:
    """Join the shards' HepMC3 files into ``target`` (kept as a finished temporary file;
    the caller commits it): ``files`` receives the AtomicFile."""
    from hadml.io.atomic import AtomicFile, OutputWriteError
    from hadml.io.hepmc import _compressor

    atomic = AtomicFile(target)
    files.append(atomic)
    stream = _compressor(atomic.file, target)
    header: bytes | None = None
    footer = b""
    try:
        for m in shards:
            record = m.output("hepmc")
            assert record is not None
            reader = _HepMCShard(m, record)
            for k, piece in enumerate(reader.blocks()):
                if k == 0:
                    if header is None:
                        header = reader.header
                        _check_weight_names(reader, m)
                        stream.write(header)
                    elif reader.header != header:
                        raise reader._error(
                            f"its header {reader.header!r} differs from the first shard's "
                            f"{header!r} (another HepMC3 version or run information)")
                stream.write(piece)
                stream.flush()  # as HepMCWriter.flush after every block
            if footer and reader.footer != footer:
                raise reader._error(f"its end-of-listing {reader.footer!r} differs from "
                                    f"the first shard's {footer!r}")
            footer = reader.footer
        stream.write(footer)
        if stream is not atomic.file:
            stream.close()
    except OSError as err:
        if isinstance(err, OutputWriteError):
            raise
        raise OutputWriteError(f"writing {target} failed: {err.strerror or err}") from err
    finally:
        if stream is not atomic.file:
            with contextlib.suppress(OSError, EOFError):
                stream.close()
    atomic.finish()


# -- cluster table -----------------------------------------------------------------------------
def cluster_blocks(m: Manifest, record: OutputRecord, batch_rows: int = 1 << 16) -> Iterator:
    """The rows of each block of a shard's cluster table in block order (a pyarrow Table,
    or None for a block without rows), read in batches of ``batch_rows`` (memory stays at
    a block's rows and a batch)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hadml.io.cluster_table import schema

    path = m.output_path(record)
    names = schema([v["name"] for v in m.variations]).names
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise MergeError(f"{m.describe()}: {path} is not a readable Parquet file: {err}") \
            from err
    missing = [name for name in names if name not in pf.schema_arrow.names]
    if missing:
        raise MergeError(f"{m.describe()}: {path} is not a cluster table (lacks {missing})")
    if record.rows is not None and pf.metadata.num_rows != record.rows:
        raise MergeError(f"{m.describe()}: {path} has {pf.metadata.num_rows} rows, the "
                         f"manifest says {record.rows}")
    plan = block_sizes(m)
    firsts = np.array([first for _, _, first in plan], dtype=np.int64)
    end = plan[-1][2] + plan[-1][1]
    current = 0
    pieces: list = []
    last_event = -1
    for batch in pf.iter_batches(batch_size=batch_rows, columns=names):
        events = batch.column("event").to_numpy()
        if events.size == 0:
            continue
        if events[0] < last_event or np.any(np.diff(events) < 0):
            raise MergeError(f"{m.describe()}: {path}: events are not in order")
        if events[0] < firsts[0] or events[-1] >= end:
            raise MergeError(f"{m.describe()}: {path} holds event numbers "
                             f"{int(events.min())}-{int(events.max())}, outside the "
                             f"shard's events {firsts[0]}-{end - 1}")
        last_event = int(events[-1])
        index = np.searchsorted(firsts, events, side="right") - 1
        table = pa.Table.from_batches([batch])
        cuts = np.flatnonzero(np.diff(index)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, events.size], strict=True):
            block = int(index[lo])
            while current < block:
                yield pa.concat_tables(pieces) if pieces else None
                pieces, current = [], current + 1
            pieces.append(table.slice(int(lo), int(hi - lo)))
    while current < len(plan):
        yield pa.concat_tables(pieces) if pieces else None
        pieces, current = [], current + 1


def _write_clusters(shards: Sequence[Manifest], target: Path, info: dict,
                    files: list) -> int:
    from hadml.io.cluster_table import ClusterTableWriter

    writer = ClusterTableWriter(target,
                                weight_names=[v["name"] for v in shards[0].variations])
    files.append(writer)
    for m in shards:
        record = m.output("clusters")
        assert record is not None
        for table in cluster_blocks(m, record):
            if table is not None:  # None: a block without decayed clusters (no rows)
                writer.write(table)
    writer.finish(info)
    return writer.n_rows


# -- both ----------------------------------------------------------------------------------
def merge_shards(manifests: Sequence[Manifest], hepmc: str | Path | None = None,
                 clusters: str | Path | None = None, expect: range | None = None,
                 verify: bool = True) -> MergeResult:
    """Check the shards (:func:`check_shards`, :func:`verify_outputs`) and join their
    outputs into ``hepmc`` and/or ``clusters``, atomically. ``expect``: the blocks the
    shards must cover (default: the whole run; a range makes a shard of shards)."""
    from hadml.io.atomic import check_distinct, check_output_path
    from hadml.io.hepmc import check_hepmc_suffix

    if hepmc is None and clusters is None:
        raise MergeError("nothing to write: give --out (HepMC3) and/or --clusters "
                         "(Parquet cluster table)")
    kinds = [k for k, v in (("hepmc", hepmc), ("clusters", clusters)) if v is not None]
    targets: list[tuple[str, Path]] = []
    hep_target = clu_target = None
    if hepmc is not None:
        hep_target = check_output_path(hepmc, "HepMC3 output")
        check_hepmc_suffix(hep_target)
        targets.append(("HepMC3 output (--out)", hep_target))
    if clusters is not None:
        clu_target = check_output_path(clusters, "cluster-table output")
        targets.append(("cluster-table output (--clusters)", clu_target))
    check_distinct(targets)
    ordered = check_shards(manifests, kinds, expect)
    for m in ordered:
        for record in m.outputs:
            source = m.output_path(record).resolve()
            for what, target in targets:
                if source == target:
                    raise MergeError(f"{what} {target} is an input of {m.describe()}")
    if verify:
        verify_outputs(ordered, kinds)
    first = ordered[0]
    n_events = sum(m.events for m in ordered)
    info: dict[str, object] = {"config": first.config, "n_events": n_events}
    if expect is not None and expect != range(0, first.run_blocks):
        info["blocks"] = [expect.start, expect.stop]
        info["run_events"] = first.run_events
    files: list = []  # AtomicFile / ClusterTableWriter, committed together at the end
    n_rows = None
    try:
        if hep_target is not None:
            _write_hepmc(ordered, hep_target, files)
        if clu_target is not None:
            n_rows = _write_clusters(ordered, clu_target, info, files)
        for f in files:  # both finished: rename both
            if hasattr(f, "commit"):
                f.commit()
            else:
                f.close(info)
    except BaseException:
        for f in files:  # nothing of a failed merge is kept
            with contextlib.suppress(Exception):
                if hasattr(f, "commit"):
                    f.abort(keep=False)
                elif (kept := f.abort()) is not None:
                    kept.unlink()
        raise
    return MergeResult(len(ordered), n_events, n_rows, hep_target, clu_target)
