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


def read_final_states(path: str | Path, max_events: int | None = None,
                      skip_bad: bool = False):
    """Yield {'pid', 'p'} (GeV) of the final-state particles of each event in a HepMC file.

    The same validated reader as ``hadml compare`` (hadml.analysis.events): a corrupt or
    truncated record raises HepMCFormatError naming the file and record, where pyhepmc
    alone would end the iteration early without a word; ``skip_bad`` skips such records.
    """
    from hadml.analysis.events import read_hepmc

    for event in read_hepmc(path, max_events=max_events, skip_bad=skip_bad):
        yield {"pid": event["pid"], "p": event["p"]}
