"""HepMC3 output (pyhepmc). Parents are always written before their children."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np
import pyhepmc

from hadml.event import Event


def to_genevent(event: Event) -> pyhepmc.GenEvent:
    gen = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
    p = event.p
    gen.from_hepevt(
        event_number=event.number,
        px=np.ascontiguousarray(p[:, 0]),
        py=np.ascontiguousarray(p[:, 1]),
        pz=np.ascontiguousarray(p[:, 2]),
        en=np.ascontiguousarray(p[:, 3]),
        m=np.ascontiguousarray(event.m),
        pid=np.ascontiguousarray(event.pid, dtype=np.int32),
        status=np.ascontiguousarray(event.status, dtype=np.int32),
        parents=np.ascontiguousarray(event.parents, dtype=np.int32),
        fortran=False,
    )
    return gen


class HepMCWriter:
    """Writes events to a HepMC3 ASCII file; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(f"output directory {self.path.parent} does not exist")
        self._writer = pyhepmc.io.WriterAscii(str(self.path))
        self.n_written = 0

    def write(self, event: Event) -> None:
        self._writer.write_event(to_genevent(event))
        self.n_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> HepMCWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_final_states(path: str | Path, max_events: int | None = None):
    """Yield {'pid', 'p'} of the final-state particles of each event in a HepMC3 file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HepMC file {path} does not exist")
    with pyhepmc.open(str(path)) as f:
        for k, gen in enumerate(f):
            if max_events is not None and k >= max_events:
                break
            numbers = gen.numpy.particles
            mask = numbers.status == 1
            pid = numbers.pid[mask]
            mom = np.stack([numbers.px, numbers.py, numbers.pz, numbers.e], axis=1)[mask]
            yield {"pid": pid, "p": mom}
