"""HepMC3 output, atomic and checked. The text is HepMC3's own (Asciiv3, written by HepMC3's
C++ WriterAscii inside hadml._core, in the event loop's worker for a run's blocks); this
module puts it into files, compressed by suffix. Parents are always written before their
children."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from hadml.event import Event
from hadml.io.atomic import AtomicFile, OutputPathError, OutputWriteError, check_output_path


def hepmc3_text(events: list[Event], weight_names: Sequence[str] | None = None,
                weights: np.ndarray | None = None) -> bytes:
    """HepMC3 Asciiv3 text of events (no file header or footer), by HepMC3's WriterAscii:
    one vertex per distinct parent range, the record's order, status codes and masses.
    ``weight_names`` (nominal first) and ``weights`` (events, variations): named event
    weights, 1 for the nominal, then the parameter-variation weights (hadml.variations)."""
    from hadml import _core

    if not events:
        return b""
    offsets = np.cumsum([0] + [len(e) for e in events]).tolist()
    return _core.hepmc3_events(
        [e.number for e in events], offsets,
        np.concatenate([e.pid for e in events]), np.concatenate([e.status for e in events]),
        np.concatenate([e.p for e in events]), np.concatenate([e.m for e in events]),
        np.concatenate([e.parents for e in events]), list(weight_names or []),
        None if weights is None else np.asarray(weights, dtype=np.float64))


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
    same bytes. gzip at zlib's default level 6 (HepMC3's own compressed writer's too):
    2.4x faster than level 9 on HepMC3 text for 1.3% more bytes (docs/performance.md)."""
    suffix = target.suffix.lower()
    if suffix == ".gz":
        return gzip.GzipFile(filename=target.stem, mode="wb", fileobj=raw, mtime=0,
                             compresslevel=6)
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
    OutputWriteError naming the file. The text between header and footer comes from
    HepMC3's C++ writer: ``write_text`` takes a block's text as the event loop made it,
    ``write`` formats one Event.
    """

    def __init__(self, path: str | Path, weight_names: Sequence[str] | None = None) -> None:
        """``weight_names``: named event weights (the nominal first; hadml.variations),
        written as HepMC3 run information in the header."""
        from hadml import _core

        self.path = check_output_path(path, "HepMC3 output")
        self.weight_names = list(weight_names or [])
        check_hepmc_suffix(self.path)
        self._atomic = AtomicFile(self.path)
        self._stream: BinaryIO | None = _compressor(self._atomic.file, self.path)
        self._footer = _core.hepmc3_footer()
        self.n_written = 0
        self.partial: Path | None = None
        try:
            self._stream.write(_core.hepmc3_header(self.weight_names))
        except OSError as err:
            self.abort()
            raise self._failed(err) from err

    def _failed(self, err: BaseException) -> OutputWriteError:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return OutputWriteError(f"writing {self.path} failed after {self.n_written} events: "
                                f"{reason}")

    def write_text(self, text: bytes, n_events: int) -> None:
        """Append the HepMC3 text of ``n_events`` whole events (hadml._core's output)."""
        if self._stream is None:
            raise OutputWriteError(f"{self.path} is closed")
        try:
            self._stream.write(text)
        except OSError as err:
            raise self._failed(err) from err
        self.n_written += n_events

    def write(self, event: Event, weights: np.ndarray | None = None) -> None:
        """One event; ``weights``: one per variation when the writer has weight names."""
        if self.weight_names:
            n = len(self.weight_names) - 1
            if weights is None or len(weights) != n:
                raise ValueError(f"{self.path}: expected {n} variation weights per event, got "
                                 f"{None if weights is None else len(weights)}")
            self.write_text(hepmc3_text([event], self.weight_names, np.reshape(weights, (1, n))),
                            1)
        else:
            self.write_text(hepmc3_text([event]), 1)

    def flush(self) -> None:
        """Push everything written so far to the file (errors surface here at the latest)."""
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except OSError as err:
            raise self._failed(err) from err

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.write(self._footer)
        if stream is not self._atomic.file:
            stream.close()  # the compressor's trailer; the file itself stays open
        else:
            stream.flush()

    def finish(self) -> None:
        """Write the footer and sync the file, under its temporary name."""
        if self._stream is None:
            return
        try:
            self._close_stream()
        except OSError as err:
            self.abort()
            raise self._failed(err) from err
        self._atomic.finish()

    def close(self) -> None:
        """Finish the file and rename it onto the target."""
        self.finish()
        if not self._atomic.done:
            self._atomic.commit()

    def abort(self) -> Path | None:
        """Stop writing; keep the events written as ``<path>.partial`` (returned)."""
        with contextlib.suppress(OSError, RuntimeError, EOFError, ValueError):
            self._close_stream()
        self._stream = None
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
