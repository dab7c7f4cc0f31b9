"""Minimal YODA text I/O: Scatter2D (read/write) and Histo1D (read, as a scatter).

Layout of a block, as in the Rivet reference files::

    BEGIN YODA_SCATTER2D_V2 /REF/ALEPH_1996_S3486095/d01-x01-y01
    Path: /REF/ALEPH_1996_S3486095/d01-x01-y01
    Type: Scatter2D
    ---
    # xval	 xerr-	 xerr+	 yval	 yerr-	 yerr+
    2.500000e-03	2.500000e-03	2.500000e-03	1.236000e+01	4.079216e-01	4.079216e-01
    END YODA_SCATTER2D_V2
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class YodaError(ValueError):
    """A YODA file that cannot be parsed; the message names file and line."""


@dataclass
class Scatter2D:
    path: str
    x: np.ndarray
    xerr_minus: np.ndarray
    xerr_plus: np.ndarray
    y: np.ndarray
    yerr_minus: np.ndarray
    yerr_plus: np.ndarray
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last path component, e.g. 'd01-x01-y01'."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bin edges (x - xerr-, x + xerr+)."""
        return self.x - self.xerr_minus, self.x + self.xerr_plus

    def __len__(self) -> int:
        return len(self.x)


_SCATTER = "YODA_SCATTER2D"
_HISTO = "YODA_HISTO1D"


def _fail(source: str, lineno: int, msg: str) -> YodaError:
    return YodaError(f"{source}:{lineno}: {msg}")


def parse(text: str, source: str = "<string>") -> dict[str, Scatter2D]:
    """Parse YODA text into {path: Scatter2D}. Histo1D blocks become scatters of
    their bin densities (sumw / width, error sqrt(sumw2) / width). Other object
    types are skipped."""
    out: dict[str, Scatter2D] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if not line.startswith("BEGIN "):
            raise _fail(source, i, f"expected 'BEGIN YODA_...', got {line[:60]!r}")
        parts = line.split()
        if len(parts) < 3:
            raise _fail(source, i, "BEGIN line without an object path")
        kind, path = parts[1], parts[2]
        start = i
        ann: dict[str, str] = {}
        rows: list[tuple[int, list[float]]] = []
        in_data = False
        end_tag = f"END {kind}"
        closed = False
        while i < len(lines):
            raw = lines[i].strip()
            i += 1
            if raw == end_tag or raw.startswith(end_tag + " "):
                closed = True
                break
            if raw.startswith("BEGIN "):
                raise _fail(source, i, f"block {path} (line {start}) not closed before new BEGIN")
            if not raw:
                continue
            if raw == "---":
                in_data = True
                continue
            if raw.startswith("#"):
                continue
            if not in_data:
                if ":" not in raw:
                    # YODA 1 files have no '---' separator: data starts at first number.
                    try:
                        float(raw.split()[0])
                    except ValueError:
                        raise _fail(source, i, f"bad annotation line {raw[:60]!r}") from None
                    in_data = True
                else:
                    key, _, value = raw.partition(":")
                    ann[key.strip()] = value.strip()
                    continue
            words = raw.split()
            if kind.startswith(_HISTO) and words[0] in ("Total", "Underflow", "Overflow"):
                continue
            try:
                values = [float(w) for w in words]
            except ValueError:
                raise _fail(source, i, f"non-numeric data line {raw[:60]!r}") from None
            if any(not math.isfinite(v) for v in values):
                raise _fail(source, i, f"non-finite value in {raw[:60]!r}")
            rows.append((i, values))
        if not closed:
            raise _fail(source, start, f"block {path} has no '{end_tag}'")
        if path in out:
            raise _fail(source, start, f"second object with path {path}")
        if kind.startswith(_SCATTER):
            for lineno, v in rows:
                if len(v) != 6:
                    raise _fail(source, lineno, f"Scatter2D line needs 6 numbers, got {len(v)}")
            a = np.array([v for _, v in rows], dtype=np.float64).reshape(-1, 6)
            out[path] = Scatter2D(path, *(a[:, k] for k in range(6)), annotations=ann)
        elif kind.startswith(_HISTO):
            # xlow xhigh sumw sumw2 sumwx sumwx2 numEntries
            for lineno, v in rows:
                if len(v) != 7:
                    raise _fail(source, lineno, f"Histo1D bin line needs 7 numbers, got {len(v)}")
            a = np.array([v for _, v in rows], dtype=np.float64).reshape(-1, 7)
            lo, hi = a[:, 0], a[:, 1]
            width = hi - lo
            if np.any(width <= 0):
                raise _fail(source, start, f"Histo1D {path} has a bin with xhigh <= xlow")
            x = 0.5 * (lo + hi)
            y = a[:, 2] / width
            err = np.sqrt(a[:, 3]) / width
            out[path] = Scatter2D(path, x, x - lo, hi - x, y, err, err.copy(), annotations=ann)
    return out


def read(path: str | Path) -> dict[str, Scatter2D]:
    """Read a YODA text file (Scatter2D and Histo1D objects)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"YODA file not found: {path}")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise YodaError(f"{path}: not a YODA text file ({err})") from None
    return parse(text, str(path))


def format_scatter(s: Scatter2D) -> str:
    lines = [f"BEGIN YODA_SCATTER2D_V2 {s.path}"]
    ann = {"Path": s.path, "Title": "~", "Type": "Scatter2D", **s.annotations}
    ann["Path"] = s.path
    ann["Type"] = "Scatter2D"
    for key, value in ann.items():
        lines.append(f"{key}: {value}")
    lines.append("---")
    lines.append("# xval\t xerr-\t xerr+\t yval\t yerr-\t yerr+")
    for row in zip(s.x, s.xerr_minus, s.xerr_plus, s.y, s.yerr_minus, s.yerr_plus, strict=True):
        # repr-exact floats so that write -> read is a lossless round trip.
        lines.append("\t".join(repr(float(v)) for v in row))
    lines.append("END YODA_SCATTER2D_V2")
    return "\n".join(lines) + "\n"


def create_beside(path: Path) -> tuple[int, Path]:
    """Create a new temporary file in the directory of ``path`` (same file system, so it can
    be renamed onto ``path``), with the permissions a plain open() would give (umask).
    Returns (file descriptor, temporary path)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def format_scatters(scatters: list[Scatter2D] | dict[str, Scatter2D]) -> str:
    """YODA text of several scatters."""
    items = list(scatters.values()) if isinstance(scatters, dict) else list(scatters)
    return "\n".join(format_scatter(s) for s in items)


def write(path: str | Path, scatters: list[Scatter2D] | dict[str, Scatter2D]) -> None:
    """Write scatters to a YODA text file: to a temporary file beside it, renamed when
    complete, so that a failed write leaves an existing file as it was."""
    path = Path(path)
    text = format_scatters(scatters)
    fd, tmp = create_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
