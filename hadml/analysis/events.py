"""Event input for the analysis: HepMC3 files (pyhepmc) or in-memory events.

An analysis event is a dict with
  'pid'  int[n]      PDG codes of the final-state (status 1) particles,
  'p'    float[n, 4] their (px, py, pz, E) in GeV,
and optionally
  'decayed_pid' int[k]  PDG codes of the hadrons that decayed in the event (status 2
                        in HepMC). Identified-hadron multiplicities (PDG table, which
                        includes feed-down from decays) count pid + decayed_pid; without
                        it only particles stable in the record can be counted.
  'decayed_p' float[k, 4], 'decayed_mother' int[k]
                        their momenta, and the index (into the decayed_* arrays) of the
                        decayed hadron each one came from, -1 if made by hadronization
                        (b-hadron chains and D* for the heavy-flavour analyses).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np


class EventFormatError(ValueError):
    """An input event has the wrong shape or type."""


def as_event(event: dict, index: int = 0) -> dict[str, np.ndarray]:
    """Validate and convert one in-memory event dict to the analysis layout."""
    try:
        pid = np.asarray(event["pid"], dtype=np.int64)
        p = np.asarray(event["p"], dtype=np.float64)
    except KeyError as err:
        raise EventFormatError(
            f"event {index}: missing key {err}; an event is {{'pid': int[n], 'p': float[n, 4]}}"
        ) from None
    if p.ndim != 2 or p.shape[1] != 4 or len(p) != len(pid):
        raise EventFormatError(
            f"event {index}: 'p' must have shape [n, 4] = (px, py, pz, E) with n = len(pid) "
            f"= {len(pid)}; got {p.shape}"
        )
    out = {"pid": pid, "p": p}
    if "decayed_pid" in event and event["decayed_pid"] is not None:
        out["decayed_pid"] = np.asarray(event["decayed_pid"], dtype=np.int64)
        k = len(out["decayed_pid"])
        for key, dtype, shape in (("decayed_p", np.float64, (k, 4)),
                                  ("decayed_mother", np.int64, (k,))):
            if event.get(key) is not None:
                out[key] = np.asarray(event[key], dtype=dtype)
                if out[key].shape != shape:
                    raise EventFormatError(f"event {index}: '{key}' must have shape {shape} "
                                           f"(one entry per decayed_pid); got {out[key].shape}")
    return out


def read_hepmc(path: str | Path, max_events: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Iterate over the events of a HepMC3 file (any format pyhepmc.open reads).

    Status-1 particles become 'pid'/'p'; status-2 hadrons (|pid| > 100) 'decayed_pid'.
    """
    import pyhepmc

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HepMC file not found: {path}")
    count = 0
    with pyhepmc.open(str(path)) as f:
        for ev in f:
            if max_events is not None and count >= max_events:
                break
            numbers = ev.numpy.particles
            status = np.asarray(numbers.status)
            pid = np.asarray(numbers.pid, dtype=np.int64)
            p = np.stack(
                [np.asarray(numbers.px), np.asarray(numbers.py), np.asarray(numbers.pz),
                 np.asarray(numbers.e)], axis=1,
            ).astype(np.float64)
            # HepMC momentum unit: MeV files are converted to GeV.
            if ev.momentum_unit == pyhepmc.Units.MEV:
                p = p * 1e-3
            final = status == 1
            decayed = np.flatnonzero((status == 2) & (np.abs(pid) > 100))
            # HepMC3 particle ids are 1-based positions; a decay has one incoming particle.
            row = np.full(len(pid), -1, dtype=np.int64)
            row[decayed] = np.arange(len(decayed))
            parts = ev.particles
            first_parent = np.array([ps[0].id - 1 if (ps := parts[i].parents) else -1
                                     for i in decayed], dtype=np.int64)
            mother = np.where(first_parent >= 0, row[first_parent], -1)
            yield {"pid": pid[final], "p": p[final], "decayed_pid": pid[decayed],
                   "decayed_p": p[decayed], "decayed_mother": mother}
            count += 1


def iter_events(events: Iterable[dict], max_events: int | None = None) -> Iterator[dict]:
    for k, ev in enumerate(events):
        if max_events is not None and k >= max_events:
            break
        yield as_event(ev, k)
