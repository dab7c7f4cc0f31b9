"""Atomic output files: written beside the target under a hidden temporary name and
renamed onto it only when complete, so that a failed or interrupted run never touches an
existing file. What an unfinished run made can be kept under ``<target>.partial``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

#: Suffix of the file an unfinished run leaves (the target's name + this).
PARTIAL_SUFFIX = ".partial"


class OutputPathError(ValueError):
    """An output path cannot be used (checked before the first event)."""


class OutputWriteError(OSError):
    """Writing an output file failed (disk full, I/O error); the message names the file."""


def partial_path(target: Path) -> Path:
    return target.with_name(target.name + PARTIAL_SUFFIX)


def check_output_path(path: str | os.PathLike, what: str) -> Path:
    """The resolved target of an output path, or OutputPathError saying why it cannot be
    written atomically: an empty name, a directory, an existing non-regular file (device,
    FIFO: a rename would replace it), a missing or read-only directory."""
    text = os.fspath(path)
    if not text or text.endswith(os.sep):
        raise OutputPathError(f"{what} {text!r} does not name a file")
    target = Path(os.path.realpath(text))  # write beside the file a symlink points to
    if target.is_dir():
        raise OutputPathError(f"{what} {text} is a directory")
    if target.exists() and not target.is_file():
        raise OutputPathError(
            f"{what} {text} exists and is not a regular file (a device, FIFO or socket); "
            "hadml writes a temporary file and renames it onto the target, so name a "
            "regular or new file"
        )
    parent = target.parent
    if not parent.exists():
        raise OutputPathError(f"{what} {text}: output directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputPathError(f"{what} {text}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what} {text}: output directory {parent} is not writable")
    partial = partial_path(target)
    if partial.exists() and not partial.is_file():
        raise OutputPathError(f"{what} {text}: {partial} exists and is not a regular file "
                              "(it would receive an unfinished run)")
    return target


def check_distinct(paths: Iterable[tuple[str, Path]]) -> None:
    """Two outputs naming the same file (also through links) is an error."""
    seen: dict[Path, str] = {}
    for what, target in paths:
        if target in seen:
            raise OutputPathError(f"{seen[target]} and {what} name the same file {target}")
        seen[target] = what


class AtomicFile:
    """A binary file written under a temporary name beside ``target``.

    ``commit()`` renames it onto the target; ``abort(keep)`` renames it to the partial
    name (keep=True) or deletes it. The temporary file is created with the permissions a
    new file gets (umask applied), in the target's directory so that the rename is atomic.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        for _ in range(100):
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
            except OSError as err:
                raise OutputPathError(
                    f"cannot create a file in {target.parent} for {target}: "
                    f"{err.strerror or err}") from err
        else:  # pragma: no cover - 100 random collisions
            raise OutputWriteError(f"cannot create a temporary file beside {target}")
        self.tmp = tmp
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.done = False
        self.partial: Path | None = None

    def finish(self) -> None:
        """Flush, sync and close the temporary file (everything but the rename)."""
        if self.file.closed:
            return
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
        except OSError as err:
            self.abort(keep=True)
            kept = f"; what was written is kept as {self.partial}" if self.partial else ""
            raise OutputWriteError(
                f"writing {self.target} failed: {err.strerror or err}{kept}") from err

    def commit(self) -> None:
        """finish() and rename onto the target."""
        self.finish()
        try:
            os.replace(self.tmp, self.target)
        except OSError as err:
            self.abort(keep=True)
            raise OutputWriteError(
                f"cannot rename {self.tmp} onto {self.target}: {err.strerror or err}") from err
        self.done = True

    def abort(self, keep: bool) -> Path | None:
        """Close and keep the file under the partial name (returned) or delete it."""
        if self.done:
            return self.partial
        self.done = True
        try:
            self.file.close()
        except OSError:
            pass  # a full disk: what is there is kept as it is
        if keep:
            dest = partial_path(self.target)
            try:
                os.replace(self.tmp, dest)
                self.partial = dest
            except OSError:
                self.partial = self.tmp if self.tmp.exists() else None
            return self.partial
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass
        return None


def write_atomically(target: Path, write: Callable[[BinaryIO], object],
                     errors: tuple[type[BaseException], ...] = (OSError,)) -> Path:
    """Write ``target`` through ``write(file)`` under a temporary name and rename it onto
    the target only when ``write`` returned. An exception listed in ``errors`` becomes an
    OutputWriteError naming the file; any failure or interruption removes the temporary
    file and leaves an existing target as it was."""
    atomic = AtomicFile(target)
    try:
        write(atomic.file)
    except errors as err:
        atomic.abort(keep=False)
        reason = getattr(err, "strerror", None) or err
        raise OutputWriteError(f"writing {target} failed: {reason}") from err
    except BaseException:
        atomic.abort(keep=False)
        raise
    atomic.commit()
    return target


def write_json_atomically(path: str | os.PathLike, doc: Any) -> Path:
    """``doc`` as indented JSON, written with :func:`write_atomically`."""
    text = (json.dumps(doc, indent=1) + "\n").encode()
    return write_atomically(Path(path), lambda file: file.write(text))
