"""Event samples for reweighting: the final states of hadml events, with their numbers.

An *event* here is the analysis event of hadml.analysis (``pid``, ``p`` of the final-state
particles, and the decayed hadrons ``decayed_pid``, ``decayed_p``, ``decayed_mother``) plus
``number``, the event number hadml generate wrote. Two sources give the same dicts:

* a HepMC3 file written by ``hadml generate --out`` (:func:`read_sample`), read with the
  validated reader of ``hadml compare`` (a corrupt or truncated record is an error naming
  the file and record, never a silently shorter sample);
* events made in-process (hadml.generator.iter_events), through :func:`from_events`.

:func:`save_npz` / :func:`load_npz` store a sample compactly (ragged arrays + offsets,
about 20 times smaller than HepMC3), which the validation script uses as a cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from hadml.io.atomic import write_atomically

#: Ragged per-event arrays of an analysis event, and the dtype they are stored with.
RAGGED = {"pid": np.int32, "p": np.float64, "decayed_pid": np.int32,
          "decayed_p": np.float64, "decayed_mother": np.int32}
HEPMC_SUFFIXES = (".hepmc", ".hepmc3", ".hepmc.gz", ".hepmc3.gz", ".hepmc.bz2",
                  ".hepmc3.bz2", ".hepmc.xz", ".hepmc3.xz")


class SampleError(ValueError):
    """An input sample is missing, empty or malformed; the message says which and why."""


def from_events(events: Iterable) -> Iterator[dict[str, np.ndarray]]:
    """Analysis events (with ``number``) of hadml.event.Event objects."""
    for ev in events:
        out = ev.final_state()
        out["number"] = int(ev.number)
        yield out


def _numbered_reader(path: Path, max_events: int | None):
    from hadml.analysis.events import HepMCEvents

    class NumberedEvents(HepMCEvents):
        """The validated reader of hadml compare, keeping each record's event number."""

        @staticmethod
        def _to_event(gen):
            event, problem = HepMCEvents._to_event(gen)
            if event is not None:
                event["number"] = int(gen.event_number)
            return event, problem

    return NumberedEvents(path, max_events=max_events)


def read_sample(path: str | Path, max_events: int | None = None) -> list[dict[str, np.ndarray]]:
    """All events of a HepMC3 file written by hadml generate (or an NPZ sample of
    :func:`save_npz`). Raises SampleError for a missing, empty or malformed input."""
    path = Path(path)
    if not path.is_file():
        raise SampleError(f"sample not found: {path}")
    if path.suffix == ".npz":
        events = load_npz(path)
        return events[:max_events] if max_events is not None else events
    if not any(path.name.endswith(s) for s in HEPMC_SUFFIXES):
        raise SampleError(f"{path}: a sample is a HepMC3 file written by hadml generate "
                          f"(suffix {', '.join(HEPMC_SUFFIXES[:2])}, optionally .gz/.bz2/.xz) "
                          "or an .npz event sample")
    from hadml.analysis.events import HepMCFormatError

    try:
        events = list(_numbered_reader(path, max_events))
    except HepMCFormatError as err:
        raise SampleError(str(err)) from None
    if not events:
        raise SampleError(f"{path}: no events")
    return events


def save_npz(path: str | Path, events: Sequence[dict[str, np.ndarray]]) -> None:
    """Write events as one compressed NPZ (ragged arrays concatenated, plus offsets)."""
    arrays: dict[str, np.ndarray] = {
        "number": np.array([e["number"] for e in events], dtype=np.int64)}
    for key, dtype in RAGGED.items():
        parts = [np.asarray(e[key], dtype=dtype) for e in events]
        arrays[f"{key}_n"] = np.array([len(x) for x in parts], dtype=np.int32)
        shape = (0, 4) if key.endswith("_p") or key == "p" else (0,)
        arrays[key] = np.concatenate(parts) if parts else np.zeros(shape, dtype=dtype)
    write_atomically(Path(path), lambda file: np.savez_compressed(file, **arrays))


def load_npz(path: str | Path) -> list[dict[str, np.ndarray]]:
    """The events of :func:`save_npz`."""
    try:
        with np.load(path) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise SampleError(f"{path}: not an event sample ({err})") from None
    missing = [k for k in ("number", *RAGGED, *(f"{k}_n" for k in RAGGED)) if k not in data]
    if missing:
        raise SampleError(f"{path}: not an event sample (missing arrays {missing})")
    n = len(data["number"])
    if n == 0:
        raise SampleError(f"{path}: no events")
    offsets = {k: np.concatenate([[0], np.cumsum(data[f"{k}_n"])]) for k in RAGGED}
    events = []
    for i in range(n):
        ev = {k: data[k][offsets[k][i]:offsets[k][i + 1]] for k in RAGGED}
        ev["number"] = int(data["number"][i])
        events.append(ev)
    return events
