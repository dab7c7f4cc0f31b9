"""HepMC3 output (pyhepmc), atomic and checked. Parents are always written before their
children."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import pyhepmc

from hadml.event import Event
from hadml.io.atomic import AtomicFile, OutputPathError, OutputWriteError, check_output_path


def to_genevent(event: Event, run_info: pyhepmc.GenRunInfo | None = None,
                weights: np.ndarray | None = None) -> pyhepmc.GenEvent:
    """``weights``: the parameter-variation weights of the event (hadml.variations), written
    after the nominal weight 1 under the names of ``run_info``."""
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
    if run_info is not None:  # after from_hepevt, which clears the weights
        gen.run_info = run_info
        gen.weights = [1.0, *(() if weights is None else np.asarray(weights).tolist())]
    return gen


#: Compressed HepMC3 outputs by suffix of the target name.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
#: Suffixes that name a compression this writer does not provide.
UNSUPPORTED_SUFFIXES = (".zst", ".zstd", ".lz4", ".zip")


def check_hepmc_suffix(path: Path) -> None:
    if path.suffix.lower() in UNSUPPORTED_SUFFIXES:
        raise OutputPathError(
            f"HepMC3 output {path}: compression {path.suffix} is not supported; use "
            f"{', '.join(COMPRESSED_SUFFIXES)} or an uncompressed name"
        )


def _compressor(raw: BinaryIO, target: Path) -> BinaryIO:
    """A compressing stream into ``raw`` chosen by the target's suffix (or raw itself).
    The gzip header records the target's name and mtime 0, so the same events give the
    same bytes."""
    suffix = target.suffix.lower()
    if suffix == ".gz":
        return gzip.GzipFile(filename=target.stem, mode="wb", fileobj=raw, mtime=0)
    if suffix == ".bz2":
        return bz2.BZ2File(raw, "wb")
    if suffix == ".xz":
        return lzma.LZMAFile(raw, "wb")
    return raw


class HepMCWriter:
    """Writes events to a HepMC3 ASCII file (compressed for .gz, .bz2, .xz), atomically.

    The file is written under a temporary name beside ``path`` and renamed onto it by
    ``close()``; ``abort()`` (or leaving the context on an exception) keeps what was
    written as ``<path>.partial`` (or nothing if no event was written), and an existing
    file at ``path`` is never touched. Every write is checked: a failure raises
    OutputWriteError naming the file.
    """

    def __init__(self, path: str | Path, weight_names: list[str] | None = None) -> None:
        """``weight_names``: named event weights (the nominal first; hadml.variations)."""
        self.path = check_output_path(path, "HepMC3 output")
        self._run_info: pyhepmc.GenRunInfo | None = None
        if weight_names:
            self._run_info = pyhepmc.GenRunInfo()
            self._run_info.weight_names = list(weight_names)
        check_hepmc_suffix(self.path)
        self._atomic = AtomicFile(self.path)
        self._stream = _compressor(self._atomic.file, self.path)
        self._writer = pyhepmc.open(self._stream, "w")
        self.n_written = 0
        self.partial: Path | None = None

    def _failed(self, err: BaseException) -> OutputWriteError:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return OutputWriteError(f"writing {self.path} failed after {self.n_written} events: "
                                f"{reason}")

    def write(self, event: Event, weights: np.ndarray | None = None) -> None:
        """``weights``: one per variation when the writer has weight names."""
        if self._run_info is not None:
            n = len(self._run_info.weight_names) - 1
            if weights is None or len(weights) != n:
                raise ValueError(f"{self.path}: expected {n} variation weights per event, got "
                                 f"{None if weights is None else len(weights)}")
        try:
            self._writer.write(to_genevent(event, self._run_info, weights))
        except OSError as err:
            raise self._failed(err) from err
        self.n_written += 1

    def flush(self) -> None:
        """Push everything written so far to the file (errors surface here at the latest)."""
        try:
            self._writer.flush()
            self._stream.flush()
        except OSError as err:
            raise self._failed(err) from err

    def finish(self) -> None:
        """Write the footer and sync the file, under its temporary name."""
        if self._writer is None:
            return
        try:
            self._writer.close()
            if self._stream is not self._atomic.file:
                self._stream.close()
        except OSError as err:
            self._writer = None
            self.abort()
            raise self._failed(err) from err
        self._writer = None
        self._atomic.finish()

    def close(self) -> None:
        """Finish the file and rename it onto the target."""
        self.finish()
        if not self._atomic.done:
            self._atomic.commit()

    def abort(self) -> Path | None:
        """Stop writing; keep the events written as ``<path>.partial`` (returned)."""
        if self._writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self._writer.close()
            self._writer = None
        if self._stream is not self._atomic.file:
            with contextlib.suppress(OSError, RuntimeError, EOFError):
                self._stream.close()
        self.partial = self._atomic.abort(keep=self.n_written > 0)
        return self.partial

    def __enter__(self) -> HepMCWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


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
