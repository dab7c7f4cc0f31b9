"""Shard manifests: what one shard of a run made (JSON, written beside its outputs).

A run of ``n_events`` is a fixed list of blocks (hadml.generator.block_plan); a shard
makes a contiguous range of them (``hadml generate --shard I/N``, or one dask task).
Its manifest records what ``hadml merge`` needs to check that the shards belong together
and join them into the output of the whole run: the seed, a hash of the configuration,
the run's size and block size, the shard's block range and event count, the run's
parameter variations (hadml.variations: names and overrides, also in the hash), the hadml
version, and every output file with its size and SHA-256.

Paths of outputs in the manifest's directory (or below it) are stored relative to it, so
that a directory of shards can be moved or copied as a whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hadml.io.atomic import write_atomically

MANIFEST_FORMAT = "hadml-shard-manifest"
MANIFEST_VERSION = 1
#: Suffix of a manifest written beside a shard's first output.
MANIFEST_SUFFIX = ".manifest.json"
#: Output kinds: the HepMC3 events (--out) and the Parquet cluster table (--clusters).
KINDS = ("hepmc", "clusters")


class ManifestError(ValueError):
    """A manifest file is unreadable or not a hadml shard manifest."""


@dataclass
class OutputRecord:
    kind: str  # "hepmc" or "clusters"
    path: str  # as stored: relative to the manifest's directory, or absolute
    sha256: str
    size: int  # bytes
    events: int  # events written (HepMC3) or covered (cluster table)
    rows: int | None = None  # rows of a cluster table


@dataclass
class Manifest:
    hadml_version: str
    seed: int
    config_hash: str
    config: dict[str, Any]  # GeneratorConfig.to_dict() of the run (seed resolved)
    run_events: int  # events of the whole run
    block_size: int
    run_blocks: int  # blocks of the whole run
    blocks: tuple[int, int]  # this shard's blocks [start, stop)
    events: int  # events in this shard
    shard: str | None = None  # "I/N" when made by --shard
    outputs: list[OutputRecord] = field(default_factory=list)
    #: Parameter variations of the run (hadml.variations), in order: {"name": ...,
    #: "overrides": {parameter: value}}; empty without variations.
    variations: list[dict[str, Any]] = field(default_factory=list)
    #: Where the manifest was read from or written to (not stored).
    path: Path | None = None

    def output(self, kind: str) -> OutputRecord | None:
        for record in self.outputs:
            if record.kind == kind:
                return record
        return None

    def output_path(self, record: OutputRecord) -> Path:
        """The file of an output record (relative paths are the manifest's directory's)."""
        path = Path(record.path)
        if not path.is_absolute() and self.path is not None:
            path = self.path.parent / path
        return path

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("path")
        d["blocks"] = list(self.blocks)
        return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, **d}

    def describe(self) -> str:
        label = f"shard {self.shard}" if self.shard else "shard"
        where = f" ({self.path})" if self.path else ""
        return f"{label} blocks {self.blocks[0]}-{self.blocks[1] - 1}{where}"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while data := f.read(chunk):
            digest.update(data)
            size += len(data)
    return digest.hexdigest(), size


def record_output(kind: str, path: str | os.PathLike, manifest_path: Path, events: int,
                  rows: int | None = None) -> OutputRecord:
    """An output record for a finished file, its path relative to the manifest's
    directory when it lies there or below."""
    if kind not in KINDS:
        raise ValueError(f"output kind must be one of {KINDS}, got {kind!r}")
    target = Path(os.path.realpath(path))
    base = Path(os.path.realpath(manifest_path)).parent
    try:
        stored = str(target.relative_to(base))
    except ValueError:
        stored = str(target)
    sha, size = sha256_file(target)
    return OutputRecord(kind, stored, sha, size, events, rows)


def write_manifest(manifest: Manifest, path: str | os.PathLike) -> Path:
    """Write a manifest atomically (temporary file renamed onto ``path``)."""
    from hadml.io.atomic import check_output_path

    target = check_output_path(path, "shard manifest")
    text = json.dumps(manifest.to_dict(), indent=1, sort_keys=True) + "\n"
    write_atomically(target, lambda file: file.write(text.encode()))
    manifest.path = target
    return target


def _need(data: dict, key: str, types: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ManifestError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, types) or (isinstance(value, bool) and types is int):
        raise ManifestError(f"{where}: field {key!r} has the wrong type ({value!r})")
    return value


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Read and check a shard manifest; ManifestError names the file and the problem."""
    where = f"manifest {os.fspath(path)}"
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as err:
        raise ManifestError(f"{where} does not exist") from err
    except IsADirectoryError as err:
        raise ManifestError(f"{where} is a directory") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{where} cannot be read: {err}") from err
    except json.JSONDecodeError as err:
        raise ManifestError(f"{where} is not JSON ({err}); is it a shard manifest "
                            f"(*{MANIFEST_SUFFIX})?") from err
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{where} is not a hadml shard manifest (no \"format\": "
                            f"\"{MANIFEST_FORMAT}\")")
    if data.get("version") != MANIFEST_VERSION:
        raise ManifestError(f"{where} has manifest version {data.get('version')!r}; this "
                            f"hadml reads version {MANIFEST_VERSION}")
    blocks = _need(data, "blocks", list, where)
    if len(blocks) != 2 or not all(isinstance(b, int) for b in blocks) \
            or not 0 <= blocks[0] < blocks[1]:
        raise ManifestError(f"{where}: blocks must be [start, stop) with 0 <= start < "
                            f"stop, got {blocks!r}")
    outputs = []
    for k, raw in enumerate(_need(data, "outputs", list, where)):
        at = f"{where}, output {k}"
        if not isinstance(raw, dict):
            raise ManifestError(f"{at}: not an object")
        kind = _need(raw, "kind", str, at)
        if kind not in KINDS:
            raise ManifestError(f"{at}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
        rows = raw.get("rows")
        if rows is not None and not isinstance(rows, int):
            raise ManifestError(f"{at}: field 'rows' has the wrong type ({rows!r})")
        outputs.append(OutputRecord(kind, _need(raw, "path", str, at),
                                    _need(raw, "sha256", str, at),
                                    _need(raw, "size", int, at),
                                    _need(raw, "events", int, at), rows))
    shard = data.get("shard")
    variations = data.get("variations", [])  # absent in manifests of runs without
    if not isinstance(variations, list) or not all(
            isinstance(v, dict) and isinstance(v.get("name"), str)
            and isinstance(v.get("overrides"), dict) for v in variations):
        raise ManifestError(f"{where}: field 'variations' must be a list of "
                            f"{{\"name\", \"overrides\"}} objects, got {variations!r}")
    manifest = Manifest(
        hadml_version=_need(data, "hadml_version", str, where),
        seed=_need(data, "seed", int, where),
        config_hash=_need(data, "config_hash", str, where),
        config=_need(data, "config", dict, where),
        run_events=_need(data, "run_events", int, where),
        block_size=_need(data, "block_size", int, where),
        run_blocks=_need(data, "run_blocks", int, where),
        blocks=(blocks[0], blocks[1]),
        events=_need(data, "events", int, where),
        shard=shard if isinstance(shard, str) else None,
        outputs=outputs,
        variations=variations,
        path=Path(os.path.realpath(path)),
    )
    if manifest.blocks[1] > manifest.run_blocks:
        raise ManifestError(f"{where}: blocks {blocks} lie outside the run's "
                            f"{manifest.run_blocks} blocks")
    return manifest
