"""Event input for the analysis: HepMC files (pyhepmc) or in-memory events.

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

Reading HepMC files record by record
------------------------------------
pyhepmc (HepMC3's readers) stops at the first event it cannot parse and ends the
iteration as if the file had ended: every later event is silently lost, and a file cut
at an event boundary, or one that is not HepMC at all, reads as fewer (or zero) events
without complaint. :class:`HepMCEvents` therefore frames the file into event records
itself (an ASCII HepMC event starts at a line ``E ...``; the listing ends with
``HepMC::...-END_EVENT_LISTING``) and hands pyhepmc one record at a time, so that a bad
record is found, named (file, record number, event number, line) and either stops the
run (default) or is skipped and counted (``skip_bad``). The framing reads no physics:
pyhepmc parses every record. Checks per record: only HepMC record lines; the particle
(HepMC3) or vertex (HepMC2) count its ``E`` line declares; the shape of every line whose
numbers the reader uses (HepMC3's reader takes '1.2.3' for 1.2, and crashes the process
on some bad cross-references, see _check_v3 / _check_v2); a parse that pyhepmc accepts;
finite momenta; at least one final-state particle; a complete last line. A file without
the end-of-listing line was cut (a killed writer, a full disk) and is an error unless
``skip_bad``.

Formats: HepMC3 ASCII (Asciiv3) and HepMC2 ASCII (IO_GenEvent), plain or compressed with
gzip, bzip2 or xz (recognised from the content, not the name). LHEF (parton level) and
HEPEVT (no header, so indistinguishable from any text file) are refused.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np


class EventFormatError(ValueError):
    """An input event has the wrong shape or type."""


class HepMCFormatError(ValueError):
    """A HepMC input file that cannot be read; the message names the file and where."""


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
    if not np.all(np.isfinite(p)):
        raise EventFormatError(f"event {index}: non-finite momentum component")
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


def iter_events(events: Iterable[dict], max_events: int | None = None) -> Iterator[dict]:
    for k, ev in enumerate(events):
        if max_events is not None and k >= max_events:
            break
        yield as_event(ev, k)


# ---------------------------------------------------------------------------------------
# HepMC files

_V3 = "HepMC3 ASCII"
_V2 = "HepMC2 ASCII"
_START = {b"HepMC::Asciiv3-START_EVENT_LISTING": _V3,
          b"HepMC::IO_GenEvent-START_EVENT_LISTING": _V2}
_END_SUFFIX = b"-END_EVENT_LISTING"
# First characters of the lines of an ASCII HepMC record: HepMC3 E U W A T N V P (C for
# cross sections in some writers), HepMC2 E N U C H F V P.
_RECORD_PREFIXES = frozenset(b"EUWATNVPCHF")
# Run-information lines HepMC3 may write between the header and the first event.
_RUN_PREFIXES = frozenset(b"WTAN")

# (magic bytes, name, opener); the stdlib modules cover what pyhepmc writes except zstd.
_COMPRESSION = (
    (b"\x1f\x8b", "gzip", gzip.open),
    (b"BZh", "bzip2", bz2.open),
    (b"\xfd7zXZ\x00", "xz", lzma.open),
)
_SUFFIX_KIND = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}
_DECOMPRESS_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)
# Longer lines than any HepMC writer makes (a particle line is ~150 bytes; a weight line
# with thousands of weights stays far below).
_MAX_LINE = 1 << 20
# Record checks before pyhepmc sees a record. HepMC3's readers convert numbers with
# atof/atoi and do not check them ('1.2.3' reads as 1.2, 'abc' as 0), and they index
# their particle and vertex tables with the numbers read: a vertex line naming particle
# 104 of a 103-particle event, or a HepMC2 vertex with barcode 0, crashes the process
# (found by mutating real files at random). So the shape of every line that carries such
# numbers, and every cross-reference, is checked here first. HepMC3 records: one regular-
# expression search per line type over the whole record, plus the vertex references.
_NUM = rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_INT = rb"-?\d{1,9}"
_POS = rb"(?: @(?: (?:" + _NUM + rb")){4})?"
_END = rb"[ \t]*\r?$"
# Each pattern finds the first line of its type that does NOT have the expected shape.
# They start with the literal newline, not '^' in multiline mode, so that the regex
# engine jumps from line to line instead of trying every byte (10x faster).
_V3_SHAPES = (
    ("particle", re.compile(rb"\nP (?!\d{1,9} " + _INT + rb" " + _INT + rb"(?: (?:" + _NUM
                            + rb")){5} " + _INT + _END + rb")", re.M | re.I)),
    ("vertex", re.compile(rb"\nV (?!-\d{1,9} " + _INT + rb" \[\d{1,9}(?:,\d{1,9})*\]" + _POS
                          + _END + rb")", re.M | re.I)),
    ("units", re.compile(rb"\nU (?!(?:GEV|MEV) (?:MM|CM)" + _END + rb")", re.M)),
    ("weights", re.compile(rb"\nW (?!(?:" + _NUM + rb")(?: (?:" + _NUM + rb"))*" + _END + rb")",
                           re.M | re.I)),
    ("attribute", re.compile(rb"\nA (?!" + _INT + rb" \S+ )", re.M)),
)
_V3_EVENT = re.compile(rb"E -?\d{1,10} (\d{1,9}) (\d{1,9})" + _POS + _END, re.I)
_V3_VERTEX_REFS = re.compile(rb"\nV \S+ \S+ \[([\d,]+)\]")
_NUMBER = re.compile(_NUM, re.I)
_V2_WEIGHT_NAMES = re.compile(rb'N (\d{1,6})((?: "[^"\n]*")*)[ \t]*')


def _is_int(word: bytes) -> bool:
    return word.lstrip(b"-").isdigit() and len(word) <= 10


def _check_v3(rec_line: int, blob: bytes) -> str:
    """Problems of one HepMC3 ASCII record ('' if none)."""
    first = blob[:blob.find(b"\n") + 1 or len(blob)]
    head = _V3_EVENT.match(first)
    if head is None:
        return f"malformed event line {_printable(first)}"
    n_particles = int(head.group(2))
    found = blob.count(b"\nP ")
    if found != n_particles:
        return (f"{found} particle lines but its event line declares {n_particles} "
                "(record cut short or lines lost)")
    for what, shape in _V3_SHAPES:
        bad = shape.search(blob)
        if bad is not None:
            start = bad.start() + 1  # after the newline
            end = blob.find(b"\n", start)
            lineno = rec_line + blob.count(b"\n", 0, start)
            return (f"malformed {what} line {lineno}: "
                    f"{_printable(blob[start:end if end >= 0 else len(blob)])}")
    for refs in _V3_VERTEX_REFS.finditer(blob):
        ids = [int(w) for w in refs.group(1).split(b",")]
        if min(ids) < 1 or max(ids) > n_particles:
            line = rec_line + blob.count(b"\n", 0, refs.start() + 1)
            return (f"vertex line {line} names particle {max(ids)} of an event with "
                    f"{n_particles} particles")
    return ""


def _check_v2(rec_line: int, lines: list[bytes]) -> str:
    """Problems of one HepMC2 (IO_GenEvent) record ('' if none): the shape of the E, V
    and P lines, the particle count of every vertex, the vertex count of the event, and
    that vertex barcodes are negative and unique and particles end in such a vertex."""
    def bad(k: int, what: str) -> str:
        return f"malformed {what} line {rec_line + k}: {_printable(lines[k])}"

    def numbers(words: list[bytes]) -> bool:
        return all(_NUMBER.fullmatch(w) for w in words)

    w = lines[0].split()
    try:
        n_random = int(w[11])
        n_weights = int(w[12 + n_random])
        ok = (all(_is_int(x) for x in w[1:3] + w[6:13 + n_random]) and numbers(w[3:6])
              and len(w) == 13 + n_random + n_weights and numbers(w[13 + n_random:])
              and n_random >= 0 and n_weights >= 0)
        n_vertices = int(w[8])
    except (IndexError, ValueError):
        ok = False
    if not ok:
        return bad(0, "event")
    barcodes: set[int] = set()
    end_vertices: list[tuple[int, int]] = []
    expected = 0  # particle lines still due to the current vertex
    vertices = 0
    for k, line in enumerate(lines[1:], 1):
        w = line.split()
        tag = w[0] if w else b""
        if tag == b"V":
            if expected:
                return f"vertex before line {rec_line + k} has {expected} particles too few"
            try:
                ok = (len(w) >= 10 and all(_is_int(x) for x in (w[1], w[2], *w[7:10]))
                      and numbers(w[3:7]) and len(w) == 10 + int(w[9])
                      and numbers(w[10:]) and int(w[1]) < 0 and int(w[1]) not in barcodes
                      and int(w[7]) >= 0 and int(w[8]) >= 0)
            except ValueError:
                ok = False
            if not ok:
                return bad(k, "vertex")
            barcodes.add(int(w[1]))
            expected = int(w[7]) + int(w[8])
            vertices += 1
        elif tag == b"P":
            try:
                ok = (len(w) >= 13 and all(_is_int(x) for x in (w[1], w[2], w[8], w[11], w[12]))
                      and numbers(w[3:8]) and numbers(w[9:11])
                      and len(w) == 13 + 2 * int(w[12]) and int(w[12]) >= 0
                      and all(_is_int(x) for x in w[13:]))
            except ValueError:
                ok = False
            if not ok or vertices == 0:
                return bad(k, "particle")
            if expected == 0:
                return f"particle line {rec_line + k} beyond its vertex's particle count"
            expected -= 1
            end_vertices.append((k, int(w[11])))
        elif tag == b"U":
            if len(w) != 3 or w[1] not in (b"GEV", b"MEV") or w[2] not in (b"MM", b"CM"):
                return bad(k, "units")
        elif tag == b"N":  # N count "name" "name" ...
            names = _V2_WEIGHT_NAMES.fullmatch(line.rstrip(b"\r\n"))
            if names is None or int(names.group(1)) != names.group(2).count(b'"') // 2:
                return bad(k, "weight-names")
        elif tag in (b"C", b"H", b"F"):  # cross section, heavy ion, PDF: numbers only
            if not numbers(w[1:]):
                return bad(k, {b"C": "cross-section", b"H": "heavy-ion", b"F": "PDF"}[tag])
    if expected:
        return f"last vertex has {expected} particles too few (record cut short?)"
    if vertices != n_vertices:
        return (f"{vertices} vertex lines but its event line declares {n_vertices} "
                "(record cut short or lines lost)")
    for k, end in end_vertices:
        if end != 0 and end not in barcodes:
            return f"particle line {rec_line + k} ends in vertex {end}, which is not in the event"
    return ""


@dataclass
class BadRecord:
    """An event record that could not be used."""

    record: int  # 1-based position among the event records of the file
    event_number: str  # as written on its E line ('?' if unreadable)
    line: int  # line number of its E line
    reason: str

    def describe(self) -> str:
        return (f"record {self.record} (event number {self.event_number}, line {self.line}): "
                f"{self.reason}")


@dataclass
class ReadStats:
    """What reading one HepMC file found."""

    path: Path
    format: str = ""
    records: int = 0
    events: int = 0
    bad: list[BadRecord] = field(default_factory=list)
    unterminated: bool = False  # no end-of-listing line: the file was cut

    def notes(self) -> list[str]:
        out = [f"{self.path}: skipped bad {b.describe()}" for b in self.bad[:20]]
        if len(self.bad) > 20:
            out.append(f"{self.path}: ... {len(self.bad) - 20} more bad records skipped")
        if self.unterminated:
            out.append(f"{self.path}: no end-of-listing line: the file is truncated")
        return out


@dataclass
class _Record:
    number: int
    line: int
    lines: list[bytes]
    problem: str = ""


def _printable(raw: bytes, limit: int = 60) -> str:
    return repr(raw.rstrip(b"\r\n")[:limit].decode("utf-8", "replace"))


def _open_binary(path: Path) -> IO[bytes]:
    """The decompressed byte stream of ``path`` (compression recognised by its magic)."""
    with open(path, "rb") as raw:
        magic = raw.read(6)
    for signature, _kind, opener in _COMPRESSION:
        if magic.startswith(signature):
            return opener(path, "rb")
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        try:
            from compression import zstd  # type: ignore[import-not-found]  # Python >= 3.14
        except ImportError:
            try:
                from backports import zstd  # type: ignore[import-not-found,no-redef]
            except ImportError:
                raise HepMCFormatError(
                    f"{path}: zstd-compressed; reading it needs the backports.zstd package "
                    "(or decompress it first)"
                ) from None
        return zstd.open(path, "rb")
    kind = _SUFFIX_KIND.get(path.suffix.lower())
    if kind is not None:
        raise HepMCFormatError(f"{path}: the name ends in {path.suffix} but the file is not "
                               f"{kind}-compressed")
    return open(path, "rb")


@contextlib.contextmanager
def _quiet_hepmc():
    """Silence HepMC3's own error printout while pyhepmc parses one record: the record's
    problem is reported by the caller, with the file and record named. HepMC3's switches
    are process-wide, so they are restored at once."""
    import pyhepmc

    saved = (pyhepmc.Setup.print_errors, pyhepmc.Setup.print_warnings,
             pyhepmc.Setup.debug_level)
    pyhepmc.Setup.print_errors = False
    pyhepmc.Setup.print_warnings = False
    pyhepmc.Setup.debug_level = 0
    try:
        yield
    finally:
        (pyhepmc.Setup.print_errors, pyhepmc.Setup.print_warnings,
         pyhepmc.Setup.debug_level) = saved


class HepMCEvents:
    """The events of one HepMC file, validated record by record (see the module doc).

    Iterating yields analysis events; :attr:`stats` then holds the counts. With
    ``skip_bad`` a bad record is skipped and listed in ``stats.bad``; without it the first
    bad record raises :class:`HepMCFormatError` naming file, record, event number and line.
    """

    def __init__(self, path: str | Path, max_events: int | None = None,
                 skip_bad: bool = False) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.skip_bad = skip_bad
        self.stats = ReadStats(self.path)

    # -- checks that need no event -------------------------------------------------------
    def check(self) -> str:
        """Fail fast on a missing, unreadable, empty or non-HepMC file; return its format."""
        path = self.path
        if not path.exists():
            raise FileNotFoundError(f"HepMC file not found: {path}")
        if path.is_dir():
            raise HepMCFormatError(f"{path} is a directory, not a HepMC file")
        if not path.is_file():
            raise HepMCFormatError(f"{path} is not a regular file")
        try:
            if path.stat().st_size == 0:
                raise HepMCFormatError(f"{path}: the file is empty")
            with self._stream() as stream:
                return self._read_header(stream)[0]
        except PermissionError as err:
            raise HepMCFormatError(f"cannot read {path}: {err.strerror}") from None

    def _stream(self) -> IO[bytes]:
        return _open_binary(self.path)

    def _fail(self, msg: str) -> HepMCFormatError:
        return HepMCFormatError(f"{self.path}: {msg}")

    def _lines(self, stream: IO[bytes], lineno: int) -> Iterator[bytes]:
        """The lines of ``stream`` (after line ``lineno``), refusing any longer than
        _MAX_LINE: a binary file given by mistake has no newlines to stop a reader."""
        while True:
            line = stream.readline(_MAX_LINE)
            if not line:
                return
            lineno += 1
            if len(line) == _MAX_LINE and not line.endswith(b"\n"):
                raise self._fail(f"line {lineno} is longer than {_MAX_LINE // 1024} kB: not a "
                                 "HepMC ASCII file")
            yield line

    def _read_header(self, stream: IO[bytes]) -> tuple[str, list[bytes], bytes | None, int]:
        """(format, header lines, first line after the header, its line number)."""
        lineno = 0
        fmt = ""
        header: list[bytes] = []
        try:
            for line in self._lines(stream, lineno):
                lineno += 1
                text = line.strip()
                if not fmt:
                    if not text:
                        continue
                    if text.startswith(b"HepMC::Version"):
                        header.append(line)
                        continue
                    if text in _START:
                        fmt = _START[text]
                        header.append(line)
                        continue
                    if b"<LesHouchesEvents" in text:
                        raise self._fail("a Les Houches (LHEF) parton-level file, not HepMC; "
                                         "hadron-level analyses need HepMC3 or HepMC2 ASCII")
                    raise self._fail(
                        f"not a HepMC3 or HepMC2 ASCII event file (line {lineno}: "
                        f"{_printable(line)}; expected 'HepMC::Asciiv3-START_EVENT_LISTING' "
                        "or 'HepMC::IO_GenEvent-START_EVENT_LISTING')"
                    )
                if not text:
                    continue
                if text.startswith(b"E ") or text.endswith(_END_SUFFIX):
                    return fmt, header, line, lineno
                if text[0] in _RUN_PREFIXES and fmt == _V3:
                    header.append(line)
                    continue
                raise self._fail(f"line {lineno}: {_printable(line)} is not a HepMC header line")
        except _DECOMPRESS_ERRORS as err:
            raise self._fail(f"cannot decompress: {err}") from None
        if not fmt:
            raise self._fail("not a HepMC3 or HepMC2 ASCII event file (no HepMC header line)")
        return fmt, header, None, lineno

    # -- records -------------------------------------------------------------------------
    def _records(self, stream: IO[bytes]) -> Iterator[tuple[str, list[bytes], _Record]]:
        fmt, header, first, lineno = self._read_header(stream)
        self.stats.format = fmt
        stats = self.stats
        rec: _Record | None = None
        ended = False
        pending = [] if first is None else [first]
        last = b"\n"
        try:
            lines: Iterator[bytes] = self._lines(stream, lineno)
            while True:
                if pending:
                    line = pending.pop()
                else:
                    line = next(lines, None)
                    if line is None:
                        break
                    lineno += 1
                last = line
                text = line.strip()
                if not text:
                    if rec is not None and not ended:
                        rec.lines.append(line)  # keeps the line numbers of the record exact
                    continue
                if ended:
                    # Concatenated listings (cat a.hepmc b.hepmc) are fine; anything else
                    # after the end-of-listing line is not.
                    if text.startswith(b"HepMC::Version"):
                        header = [line]
                        continue
                    if text in _START:
                        fmt = _START[text]
                        header.append(line)
                        ended = False
                        continue
                    raise self._fail(f"line {lineno}: {_printable(line)} after the "
                                     "end-of-listing line")
                if text.startswith(b"E "):
                    if rec is not None:
                        yield fmt, header, rec
                    stats.records += 1
                    rec = _Record(stats.records, lineno, [line])
                elif text.endswith(_END_SUFFIX):
                    if rec is not None:
                        yield fmt, header, rec
                        rec = None
                    ended = True
                elif rec is None:
                    raise self._fail(f"line {lineno}: {_printable(line)} before the first "
                                     "event record")
                else:
                    if text[0] not in _RECORD_PREFIXES or text[1:2] not in (b" ", b""):
                        if not rec.problem:
                            rec.problem = (f"line {lineno} is not a HepMC record line: "
                                           f"{_printable(line)}")
                    rec.lines.append(line)
        except _DECOMPRESS_ERRORS as err:
            # A compressed stream cut short (or corrupt): the record being read is
            # incomplete and nothing after it can be read.
            if rec is None:
                raise self._fail(f"cannot decompress past line {lineno}: {err}") from None
            rec.problem = f"the compressed data end or break inside it ({err})"
            yield fmt, header, rec  # raises there unless skip_bad
            stats.unterminated = True
            return
        if not last.endswith(b"\n") and not ended:
            if rec is None:
                raise self._fail(f"line {lineno}: the file ends in the middle of a line")
            rec.problem = rec.problem or f"the file ends in the middle of line {lineno}"
        if rec is not None:
            yield fmt, header, rec
        if not ended:
            stats.unterminated = True

    @staticmethod
    def _parse(fmt: str, header: list[bytes], blob: bytes):
        import pyhepmc
        from pyhepmc.io import ReaderAscii, ReaderAsciiHepMC2, pyiostream

        reader_cls = ReaderAscii if fmt == _V3 else ReaderAsciiHepMC2
        buf = io.BytesIO(b"".join(header) + blob)
        with _quiet_hepmc():
            reader = reader_cls(pyiostream(buf))
            gen = pyhepmc.GenEvent()
            try:
                ok = reader.read_event(gen)
            except (RuntimeError, ValueError) as err:  # e.g. weights vs. weight names
                return None, f"pyhepmc refuses it: {str(err).strip()[:200]}"
            finally:
                reader.close()
        if not ok:
            return None, "pyhepmc cannot parse it (a malformed particle or vertex line)"
        return gen, ""

    @staticmethod
    def _to_event(gen) -> tuple[dict[str, np.ndarray] | None, str]:
        import pyhepmc

        numbers = gen.numpy.particles
        status = np.asarray(numbers.status)
        pid = np.asarray(numbers.pid, dtype=np.int64)
        if len(pid) == 0:
            return None, "no particles"
        p = np.stack([np.asarray(numbers.px), np.asarray(numbers.py), np.asarray(numbers.pz),
                      np.asarray(numbers.e)], axis=1).astype(np.float64)
        if not np.all(np.isfinite(p)):
            return None, "non-finite momentum component"
        # HepMC momentum unit: MeV files are converted to GeV.
        if gen.momentum_unit == pyhepmc.Units.MEV:
            p = p * 1e-3
        final = status == 1
        if not np.any(final):
            return None, "no final-state (status 1) particle"
        decayed = np.flatnonzero((status == 2) & (np.abs(pid) > 100))
        # HepMC3 particle ids are 1-based positions; a decay has one incoming particle.
        row = np.full(len(pid), -1, dtype=np.int64)
        row[decayed] = np.arange(len(decayed))
        parts = gen.particles
        first_parent = np.array([ps[0].id - 1 if (ps := parts[i].parents) else -1
                                 for i in decayed], dtype=np.int64)
        mother = np.where(first_parent >= 0, row[first_parent], -1)
        event = {"pid": pid[final], "p": p[final], "decayed_pid": pid[decayed],
                 "decayed_p": p[decayed], "decayed_mother": mother}
        # Named event weights (hadml generate --variations): the nominal one first.
        weights = list(gen.weights)
        if len(weights) > 1 and gen.run_info is not None:
            event["weights"] = np.asarray(weights, dtype=np.float64)
            event["weight_names"] = list(gen.run_info.weight_names)
        return event, ""

    def _bad(self, rec: _Record, reason: str) -> None:
        number = rec.lines[0].split()[1].decode("ascii", "replace") if len(
            rec.lines[0].split()) > 1 else "?"
        bad = BadRecord(rec.number, number, rec.line, reason)
        if not self.skip_bad:
            raise self._fail(f"bad {bad.describe()}; skip_bad (--skip-bad) skips and counts "
                             "bad records")
        self.stats.bad.append(bad)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        self.check()
        self.stats = ReadStats(self.path)
        try:
            with self._stream() as stream:
                for fmt, header, rec in self._records(stream):
                    if self.max_events is not None and self.stats.events >= self.max_events:
                        return
                    blob = b"".join(rec.lines)
                    problem = rec.problem or (_check_v3(rec.line, blob) if fmt == _V3
                                              else _check_v2(rec.line, rec.lines))
                    event = None
                    if not problem:
                        gen, problem = self._parse(fmt, header, blob)
                        if gen is not None:
                            event, problem = self._to_event(gen)
                    if event is None:
                        self._bad(rec, problem)
                        continue
                    self.stats.events += 1
                    yield event
        except PermissionError as err:
            raise self._fail(f"cannot read: {err.strerror}") from None
        if self.stats.unterminated and not self.skip_bad and (
                self.max_events is None or self.stats.events < self.max_events):
            raise self._fail(
                f"no end-of-listing line after {self.stats.records} event records: the file "
                "is truncated (a killed writer or a full disk?); skip_bad (--skip-bad) uses "
                "the complete records"
            )


def read_hepmc(path: str | Path, max_events: int | None = None,
               skip_bad: bool = False) -> HepMCEvents:
    """The events of a HepMC3 / HepMC2 ASCII file (plain, .gz, .bz2, .xz): iterate over
    the result. Status-1 particles become 'pid'/'p'; status-2 hadrons (|pid| > 100)
    'decayed_pid'. A bad record raises :class:`HepMCFormatError` (file, record, event
    number, line) unless ``skip_bad``, which skips and counts it (``.stats``)."""
    return HepMCEvents(path, max_events, skip_bad)
