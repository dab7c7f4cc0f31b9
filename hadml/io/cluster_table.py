"""The cluster table: one row per cluster that decayed into two hadrons (Parquet).

This is the training input of the ML decay model (DESIGN.md section 5). The schema is
versioned; readers refuse files with another major version or missing columns.

Columns (all momenta in GeV, lab frame = e+e- centre-of-mass frame):

=====================  =======  ===============================================
event                  int64    event number (unique within a file)
cluster                int32    index of the cluster within its event
c1_id, c2_id           int32    PDG ids of constituent 1 (colour triplet) and 2
c1_px .. c1_e          float64  constituent 1 four-momentum (px, py, pz, e)
c2_px .. c2_e          float64  constituent 2 four-momentum
c1_pert, c2_pert       bool     constituent comes from the perturbative shower
px, py, pz, e, mass    float64  cluster four-momentum and mass
h1_id, h2_id           int32    PDG ids of the two hadrons (h1 carries c1's flavour)
h1_px .. h1_e          float64  hadron 1 four-momentum
h2_px .. h2_e          float64  hadron 2 four-momentum
weight_<name>          float64  optional: the event's weight for parameter variation
                                <name> (hadml.variations; every row of an event has it)
=====================  =======  ===============================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hadml.io.atomic import AtomicFile, OutputWriteError, check_output_path, write_atomically

SCHEMA_VERSION = "1"
SCHEMA_KEY = b"hadml.cluster_table.schema_version"
INFO_KEY = b"hadml.cluster_table.info"

_P4 = ("px", "py", "pz", "e")


def _columns() -> list[tuple[str, pa.DataType]]:
    cols: list[tuple[str, pa.DataType]] = [("event", pa.int64()), ("cluster", pa.int32())]
    for c in ("c1", "c2"):
        cols.append((f"{c}_id", pa.int32()))
        cols += [(f"{c}_{k}", pa.float64()) for k in _P4]
    cols += [("c1_pert", pa.bool_()), ("c2_pert", pa.bool_())]
    cols += [(k, pa.float64()) for k in (*_P4, "mass")]
    for h in ("h1", "h2"):
        cols.append((f"{h}_id", pa.int32()))
        cols += [(f"{h}_{k}", pa.float64()) for k in _P4]
    return cols


COLUMNS: list[tuple[str, pa.DataType]] = _columns()
SCHEMA = pa.schema(COLUMNS, metadata={SCHEMA_KEY: SCHEMA_VERSION.encode()})


class ClusterTableError(ValueError):
    """A cluster table file is unreadable, of another schema version, or incomplete."""


def schema(weight_names: Sequence[str] = ()) -> pa.Schema:
    """The table's schema, with a ``weight_<name>`` column per parameter variation."""
    if not weight_names:
        return SCHEMA
    cols = COLUMNS + [(f"weight_{n}", pa.float64()) for n in weight_names]
    return pa.schema(cols, metadata=SCHEMA.metadata)


def weight_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """Parameter-variation weights of each row, by variation name (empty if none)."""
    return {name[len("weight_"):]: table.column(name).to_numpy()
            for name in table.column_names if name.startswith("weight_")}


def from_events(
    events: Sequence[Mapping[str, np.ndarray]], event_numbers: Sequence[int],
    weight_names: Sequence[str] = (),
) -> pa.Table:
    """Build the table from hadronized events (dicts returned by ``_core.ClusterHadronizer``).

    Only clusters with fate "Decayed" (two hadrons) enter. ``weight_names``: the events'
    variation weights (their ``weights`` array, in this order) become columns.
    """
    target = schema(weight_names)
    columns = list(zip(target.names, target.types, strict=True))
    parts: dict[str, list[np.ndarray]] = {name: [] for name, _ in columns}
    for ev, number in zip(events, event_numbers, strict=True):
        if ev.get("error") is not None:
            continue
        decayed = np.flatnonzero(ev["cluster_fate"] == 3)
        if decayed.size == 0:
            continue
        children = ev["cluster_children"][decayed]
        h1, h2 = children[:, 0], children[:, 1]
        n = decayed.size
        parts["event"].append(np.full(n, number, dtype=np.int64))
        parts["cluster"].append(decayed.astype(np.int32))
        for c in ("c1", "c2"):
            parts[f"{c}_id"].append(ev[f"cluster_{c}_id"][decayed])
            p = ev[f"cluster_{c}_p"][decayed]
            for k, name in enumerate(_P4):
                parts[f"{c}_{name}"].append(p[:, k])
            parts[f"{c}_pert"].append(ev[f"cluster_{c}_pert"][decayed])
        p = ev["cluster_p"][decayed]
        for k, name in enumerate(_P4):
            parts[name].append(p[:, k])
        m2 = p[:, 3] ** 2 - (p[:, :3] ** 2).sum(axis=1)
        parts["mass"].append(np.sqrt(np.clip(m2, 0.0, None)))
        for h, idx in (("h1", h1), ("h2", h2)):
            parts[f"{h}_id"].append(ev["hadron_id"][idx])
            hp = ev["hadron_p"][idx]
            for k, name in enumerate(_P4):
                parts[f"{h}_{name}"].append(hp[:, k])
        for k, name in enumerate(weight_names):
            parts[f"weight_{name}"].append(np.full(n, ev["weights"][k]))
    arrays = []
    for name, dtype in columns:
        chunks = parts[name]
        values = np.concatenate(chunks) if chunks else np.zeros(0)
        arrays.append(pa.array(values, type=dtype))
    return pa.Table.from_arrays(arrays, schema=target)


def from_columns(columns: Mapping[str, np.ndarray], weight_names: Sequence[str] = ()
                 ) -> pa.Table:
    """Build the table from the columns the C++ event loop fills (hadml._core.EventLoop,
    one array per column of the schema). ``weight_names``: the variations of the run, whose
    weights are ``columns["weights"]`` (rows, variations), in this order."""
    arrays = [pa.array(columns[name], type=dtype) for name, dtype in COLUMNS]
    if weight_names:
        weights = np.asarray(columns["weights"], dtype=np.float64)
        if weights.shape != (len(arrays[0]), len(weight_names)):
            raise ValueError(f"cluster weights of shape {weights.shape} for "
                             f"{len(arrays[0])} rows and {len(weight_names)} variations")
        arrays += [pa.array(np.ascontiguousarray(weights[:, k]), type=pa.float64())
                   for k in range(len(weight_names))]
    return pa.Table.from_arrays(arrays, schema=schema(weight_names))


def write(table: pa.Table, path: str | Path, info: Mapping[str, object] | None = None) -> None:
    """Write a cluster table atomically (a temporary file renamed onto ``path``); ``info``
    (run configuration, seed...) is stored as JSON."""
    meta = dict(table.schema.metadata or {})
    meta[SCHEMA_KEY] = SCHEMA_VERSION.encode()
    if info is not None:
        meta[INFO_KEY] = json.dumps(dict(info), sort_keys=True, default=str).encode()
    stored = table.replace_schema_metadata(meta)
    write_atomically(check_output_path(path, "cluster-table output"),
                     lambda file: pq.write_table(stored, file),
                     errors=(OSError, pa.ArrowException))


def read(path: str | Path) -> pa.Table:
    """Read and check a cluster table written by :func:`write`."""
    path = Path(path)
    if not path.exists():
        raise ClusterTableError(f"cluster table {path} does not exist")
    try:
        table = pq.read_table(str(path))
        file_meta = pq.read_metadata(str(path)).metadata or {}
    except (pa.ArrowInvalid, OSError) as err:
        raise ClusterTableError(f"{path} is not a readable Parquet file: {err}") from err
    # A streamed table (ClusterTableWriter) stores its run information in the file's
    # key-value metadata, written with the footer; Arrow reads only the schema's.
    meta = dict(table.schema.metadata or {})
    if INFO_KEY in file_meta and INFO_KEY not in meta:
        meta[INFO_KEY] = file_meta[INFO_KEY]
        table = table.replace_schema_metadata(meta)
    version = meta.get(SCHEMA_KEY)
    if version is None:
        raise ClusterTableError(
            f"{path} has no {SCHEMA_KEY.decode()} metadata: not a cluster table"
        )
    if version.decode().split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ClusterTableError(
            f"{path} has cluster-table schema version {version.decode()}, this hadml reads "
            f"version {SCHEMA_VERSION}"
        )
    missing = [name for name, _ in COLUMNS if name not in table.column_names]
    if missing:
        raise ClusterTableError(f"{path} lacks columns {missing}")
    return table


def info(table: pa.Table) -> dict[str, object]:
    """The run information stored with the table (empty if none)."""
    raw = (table.schema.metadata or {}).get(INFO_KEY)
    return json.loads(raw) if raw else {}


def concat(tables: Sequence[pa.Table]) -> pa.Table:
    return pa.concat_tables(list(tables)) if tables else SCHEMA.empty_table()


class ClusterTableWriter:
    """Streams a cluster table to Parquet, atomically, in row groups of at least
    ``row_group_rows`` rows: memory stays flat however many events a run makes.

    Like hadml.io.hepmc.HepMCWriter: written beside ``path`` under a temporary name,
    renamed by ``close(info)``; ``abort()`` keeps what was written as ``<path>.partial``
    (a readable table with the rows of the events written so far). Write failures raise
    OutputWriteError naming the file.
    """

    def __init__(self, path: str | Path, row_group_rows: int = 1 << 16,
                 weight_names: Sequence[str] = ()) -> None:
        self.path = check_output_path(path, "cluster-table output")
        self.schema = schema(weight_names)
        self.row_group_rows = row_group_rows
        self._atomic = AtomicFile(self.path)
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._finished = False
        self.n_rows = 0
        self.partial: Path | None = None
        try:
            self._writer = pq.ParquetWriter(self._atomic.file, self.schema)
        except (OSError, pa.ArrowException) as err:
            self._atomic.abort(keep=False)
            raise self._failed(err) from err

    def _failed(self, err: BaseException) -> OutputWriteError:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return OutputWriteError(f"writing {self.path} failed after {self.n_rows} rows: "
                                f"{reason}")

    def write(self, table: pa.Table) -> None:
        """Queue the rows of one block; a row group is written once enough are queued."""
        if table.num_rows:
            self._pending.append(table.select(self.schema.names).cast(self.schema))
            self._pending_rows += table.num_rows
        if self._pending_rows >= self.row_group_rows:
            self.flush()

    def flush(self) -> None:
        if not self._pending or self._writer is None:
            return
        rows = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        try:
            self._writer.write_table(rows, row_group_size=rows.num_rows)
            self._atomic.file.flush()
        except (OSError, pa.ArrowException) as err:
            raise self._failed(err) from err
        self.n_rows += rows.num_rows
        del rows
        # Arrow's allocator (mimalloc) keeps freed pages of each row group for reuse; over
        # 10^6 events their fragmentation showed as a slow RSS creep (docs/performance.md).
        # Returning them after each row group keeps RSS flat; the only growth left is the
        # footer's per-row-group metadata, which Parquet must hold until close.
        pa.default_memory_pool().release_unused()

    def _finish(self, info: Mapping[str, object] | None) -> None:
        assert self._writer is not None
        self.flush()
        if info is not None:
            self._writer.add_key_value_metadata(
                {INFO_KEY: json.dumps(dict(info), sort_keys=True, default=str).encode()})
        writer, self._writer = self._writer, None
        writer.close()
        self._finished = True

    def finish(self, info: Mapping[str, object] | None = None) -> None:
        """Write the footer (with ``info`` as the table's run information) and sync the
        file, under its temporary name."""
        if self._writer is None:
            return
        try:
            self._finish(info)
        except (OSError, pa.ArrowException) as err:
            self._writer = None
            self._atomic.abort(keep=False)  # no footer: not a readable table
            raise self._failed(err) from err
        self._atomic.finish()

    def close(self, info: Mapping[str, object] | None = None) -> None:
        """finish(info) and rename the file onto the target."""
        self.finish(info)
        if not self._atomic.done:
            self._atomic.commit()

    def abort(self, info: Mapping[str, object] | None = None) -> Path | None:
        """Stop; keep the rows written so far as ``<path>.partial`` (returned), with the
        queued rows and ``info`` when the disk still takes them."""
        kept = self._finished
        if self._writer is not None:
            try:
                self._finish(info)
                kept = True
            except (OSError, pa.ArrowException):
                self._writer = None
        self.partial = self._atomic.abort(keep=kept and self.n_rows > 0)
        return self.partial
