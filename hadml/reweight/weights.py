"""Per-event weight files and weight diagnostics (numpy, pyarrow, pyhepmc; no torch).

A weight file has a column ``event_number`` (the HepMC3 event number hadml generate
wrote) and one float64 column per named weight, as Parquet (``.parquet``) or NPZ
(``.npz``). Written atomically: a failed run leaves an existing file untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hadml.io.atomic import AtomicFile, check_output_path, write_atomically

NUMBER_COLUMN = "event_number"
WEIGHT_SUFFIXES = (".parquet", ".npz")
#: Name of the (unit) weight of the original sample in a weighted HepMC3 copy.
NOMINAL_WEIGHT = "nominal"


def kish_ess(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (Kish 1965, Survey Sampling)."""
    w = np.asarray(w, dtype=np.float64)
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


def normalised(w: np.ndarray) -> np.ndarray:
    """``w`` scaled to mean 1 (the weighted sample keeps the nominal event count)."""
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)) or w.mean() <= 0:
        raise ValueError("non-finite or non-positive weights: the classifier is broken")
    return w / w.mean()


def check_weight_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix not in WEIGHT_SUFFIXES:
        raise ValueError(f"weight file {p}: the suffix must be one of {WEIGHT_SUFFIXES}")
    return p


def write_weights(path: str | Path, numbers: np.ndarray,
                  weights: Mapping[str, np.ndarray]) -> Path:
    """Write ``event_number`` and the named weights (.parquet or .npz), atomically."""
    target = check_output_path(check_weight_path(path), "weight file")
    bad = [k for k in weights if k == NUMBER_COLUMN or not k]
    if bad:
        raise ValueError(f"weight names {bad} are not allowed")
    columns = {NUMBER_COLUMN: np.asarray(numbers, dtype=np.int64)}
    columns.update({k: np.asarray(v, dtype=np.float64) for k, v in weights.items()})
    if any(len(v) != len(numbers) for v in columns.values()):
        raise ValueError("every weight needs one value per event")

    def write(file: BinaryIO) -> None:
        if target.suffix == ".npz":
            np.savez(file, **columns)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table(columns), file)

    return write_atomically(target, write)


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a weight file (``event_number`` and the weights)."""
    p = check_weight_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weight file not found: {p}")
    if p.suffix == ".npz":
        with np.load(p) as f:
            cols = {k: f[k] for k in f.files}
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(p)
        cols = {k: table.column(k).to_numpy() for k in table.column_names}
    if NUMBER_COLUMN not in cols:
        raise ValueError(f"{p}: no {NUMBER_COLUMN} column; not a hadml weight file")
    return cols


def write_hepmc_copy(source: str | Path, target: str | Path, numbers: np.ndarray,
                     weights: Mapping[str, np.ndarray]) -> Path:
    """Copy the HepMC3 file ``source`` to ``target`` with named event weights: the first,
    ``nominal``, is 1; then one per entry of ``weights`` (matched by event number)."""
    import pyhepmc

    from hadml.io.hepmc import _compressor, check_hepmc_suffix

    dest = check_output_path(target, "HepMC3 output")
    check_hepmc_suffix(dest)
    names = [NOMINAL_WEIGHT, *weights]
    if len(set(names)) != len(names):
        raise ValueError(f"weight names must differ from each other and from "
                         f"{NOMINAL_WEIGHT!r}: {list(weights)}")
    row = {int(n): i for i, n in enumerate(numbers)}
    table = np.column_stack([np.ones(len(numbers))] + [np.asarray(w) for w in weights.values()])
    run_info = pyhepmc.GenRunInfo()
    run_info.weight_names = names
    out = AtomicFile(dest)
    stream = _compressor(out.file, dest)
    n = 0
    try:
        with pyhepmc.open(str(source)) as reader, pyhepmc.open(stream, "w") as writer:
            for event in reader:
                i = row.get(int(event.event_number))
                if i is None:
                    raise ValueError(f"{source}: event {event.event_number} has no weight")
                event.run_info = run_info
                event.weights = table[i].tolist()
                writer.write(event)
                n += 1
        if stream is not out.file:
            stream.close()
        if n != len(numbers):
            raise ValueError(f"{source}: {n} events, but {len(numbers)} weights")
        out.commit()
    except BaseException:
        with contextlib.suppress(OSError):
            if stream is not out.file:
                stream.close()
        out.abort(keep=False)
        raise
    return dest
