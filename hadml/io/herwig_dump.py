"""Readers for HADML's Herwig 7 cluster text dumps, and conversion to the cluster table.

Two formats (DESIGN.md section 5, /work/shared/herwig-dumps/README.md); one event per line,
clusters separated by ``|``, entries separated by ``;``, momenta written as ``E,px,py,pz``:

(a) ``q1;q2;cluster;h1;h2;`` with each entry ``pid,E,px,py,pz``. A constituent written as
    pid 88 (``88,0,0,0,0``) is a placeholder: the constituents of that cluster are unknown.
    The dumps of hadml's Herwig adapter (cpp_plugin/herwig) give each constituent a sixth
    field, its perturbative flag (``1`` from the shower or hard process, ``0`` otherwise).
(b) Cluster trees, each entry ``(index),pid,[child indices],E,px,py,pz``. Constituents
    point to their cluster (pid 81); a cluster points to two hadrons, or to two lighter
    clusters when it fissioned. Clusters made by fission have no constituents in the file.

The readers yield :class:`DumpEvent` objects holding every cluster that decayed into two
hadrons. Four-momenta are stored as ``(px, py, pz, e)`` numpy arrays like everywhere else
in hadml.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from hadml.io import cluster_table

PLACEHOLDER_ID = 88
CLUSTER_ID = 81

__all__ = [
    "DumpCluster",
    "DumpEvent",
    "HadronizationRecord",
    "HerwigDumpError",
    "Particle",
    "completed_events",
    "detect_format",
    "read",
    "read_hadronization",
    "to_cluster_table",
]


class HerwigDumpError(ValueError):
    """A Herwig dump line cannot be parsed; the message names file, line and entry."""


@dataclass(frozen=True)
class Particle:
    pid: int
    p: np.ndarray  # (px, py, pz, e)
    perturbative: bool | None = None  # constituents only; None when the file does not say


@dataclass
class DumpCluster:
    cluster: Particle
    hadrons: tuple[Particle, Particle]
    # None when the file does not know them (placeholder 88 in format (a), clusters made by
    # fission in format (b)).
    constituents: tuple[Particle, Particle] | None


@dataclass
class DumpEvent:
    number: int
    clusters: list[DumpCluster] = field(default_factory=list)


def _p4(values: list[str]) -> np.ndarray:
    e, px, py, pz = (float(v) for v in values)
    return np.array([px, py, pz, e])


def _parse_a(line: str) -> list[DumpCluster]:
    out = []
    for chunk in line.split("|"):
        entries = [e for e in chunk.strip().split(";") if e.strip()]
        if not entries:
            continue
        if len(entries) != 5:
            raise ValueError(f"cluster {chunk[:60]!r}... has {len(entries)} entries, expected 5")
        parts = []
        for k, entry in enumerate(entries):
            fields = entry.split(",")
            if len(fields) == 6 and k < 2:  # constituent with its perturbative flag
                if fields[5].strip() not in ("0", "1"):
                    raise ValueError(f"entry {entry!r}: perturbative flag must be 0 or 1")
                parts.append(Particle(int(fields[0]), _p4(fields[1:5]), fields[5].strip() == "1"))
                continue
            if len(fields) != 5:
                expected = "5 (or 6 with the perturbative flag)" if k < 2 else "5"
                raise ValueError(f"entry {entry!r} has {len(fields)} fields, expected {expected}")
            parts.append(Particle(int(fields[0]), _p4(fields[1:])))
        q1, q2, cl, h1, h2 = parts
        if cl.pid != CLUSTER_ID:
            raise ValueError(f"third entry of a cluster has pid {cl.pid}, expected 81")
        consts = None if PLACEHOLDER_ID in (q1.pid, q2.pid) else (q1, q2)
        out.append(DumpCluster(cl, (h1, h2), consts))
    return out


_ENTRY_B = re.compile(
    r"^\s*\((\d+)\)\s*,\s*(-?\d+)\s*,\s*\[([\d\s]*)\]\s*,([^,]+),([^,]+),([^,]+),([^,]+)$"
)


def _parse_b(line: str) -> list[DumpCluster]:
    entries: dict[int, tuple[Particle, list[int]]] = {}
    for entry in line.replace("|", ";").split(";"):
        if not entry.strip():
            continue
        m = _ENTRY_B.match(entry.strip())
        if m is None:
            raise ValueError(f"entry {entry.strip()!r} is not (index),pid,[children],E,px,py,pz")
        index, pid = int(m.group(1)), int(m.group(2))
        children = [int(c) for c in m.group(3).split()]
        entries[index] = (Particle(pid, _p4(list(m.groups()[3:]))), children)
    parents: dict[int, list[int]] = {}
    for index, (_, children) in entries.items():
        for c in children:
            parents.setdefault(c, []).append(index)
    out = []
    for index, (part, children) in entries.items():
        if part.pid != CLUSTER_ID or len(children) != 2:
            continue
        missing = [c for c in children if c not in entries]
        if missing:
            raise ValueError(f"cluster ({index}) has children {missing} not in the event")
        kids = [entries[c][0] for c in children]
        if any(k.pid == CLUSTER_ID for k in kids):
            continue  # fission into two clusters, not a decay
        mothers = [entries[i][0] for i in parents.get(index, [])]
        consts = None
        if len(mothers) == 2 and all(m_.pid != CLUSTER_ID for m_ in mothers):
            consts = (mothers[0], mothers[1])
        out.append(DumpCluster(part, (kids[0], kids[1]), consts))
    return out


def detect_format(path: str | Path) -> str:
    """'a' or 'b' from the first non-empty line."""
    with open(path) as f:
        for line in f:
            if line.strip():
                return "b" if line.lstrip().startswith("(") else "a"
    raise HerwigDumpError(f"{path} is empty")


def read(path: str | Path, fmt: str = "auto") -> Iterator[DumpEvent]:
    """Yield the events of a Herwig dump (empty lines are skipped, events numbered from 0)."""
    path = Path(path)
    if not path.exists():
        raise HerwigDumpError(f"Herwig dump {path} does not exist")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in ("a", "b"):
        raise HerwigDumpError(f"unknown Herwig dump format {fmt!r}: use 'a', 'b' or 'auto'")
    parse = _parse_a if fmt == "a" else _parse_b
    number = 0
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                clusters = parse(line.strip())
            except ValueError as err:
                raise HerwigDumpError(
                    f"{path}:{lineno}: cannot parse format ({fmt}) line: {err}"
                ) from err
            yield DumpEvent(number, clusters)
            number += 1


# --- flavour bookkeeping (PDG Monte Carlo numbering scheme, RPP section 45) -------------


def quark_content(pid: int) -> list[int]:
    """Signed quark flavours of a quark, diquark, meson or baryon (antiquarks negative).

    Meson |id| = n2 n3 J with n2 >= n3: for the positive id the heavier flavour n2 is a
    quark if up-type (even), an antiquark if down-type (odd), e.g. K+ = 321 = u sbar.
    """
    a = abs(pid)
    sign = 1 if pid > 0 else -1
    if 1 <= a <= 6:
        return [sign * a]
    core = a % 10000
    n1, n2, n3 = (core // 1000) % 10, (core // 100) % 10, (core // 10) % 10
    if n1 != 0 and n3 == 0:  # diquark q1 q2 0 s
        return [sign * n1, sign * n2]
    if n1 != 0:  # baryon
        return [sign * n1, sign * n2, sign * n3]
    if n2 == 0:
        return []
    if n2 == n3:
        # Flavour-neutral light mesons (pi0, eta, rho0, omega, phi...) are u/d/s mixtures.
        return [1, -1, 2, -2, 3, -3] if n2 <= 3 else [n2, -n2]
    heavy = n2 if n2 % 2 == 0 else -n2
    return [sign * heavy, -sign * (n3 if heavy > 0 else -n3)]


def _is_triplet(pid: int) -> bool:
    """Colour triplet: quark or anti-diquark."""
    return 1 <= pid <= 6 or pid < -1000


def _order(cl: DumpCluster) -> tuple[tuple[Particle, Particle] | None, tuple[Particle, Particle]]:
    """Constituent 1 = colour triplet; hadron 1 = the hadron carrying constituent 1's flavour
    (ties keep the file order)."""
    h1, h2 = cl.hadrons
    if cl.constituents is None:
        return None, (h1, h2)
    c1, c2 = cl.constituents
    if not _is_triplet(c1.pid) and _is_triplet(c2.pid):
        c1, c2 = c2, c1

    def carries(h: Particle, c: Particle) -> int:
        content = quark_content(h.pid)
        return sum(1 for q in quark_content(c.pid) if q in content)

    if carries(h2, c1) + carries(h1, c2) > carries(h1, c1) + carries(h2, c2):
        h1, h2 = h2, h1
    return (c1, c2), (h1, h2)


def to_cluster_table(
    events: Iterable[DumpEvent], unknown_constituents: str = "drop"
) -> pa.Table:
    """Cluster table (schema v1) from dump events.

    ``unknown_constituents`` says what to do with clusters whose constituents the file does
    not know (format (a) placeholders, fission products in format (b)): ``drop`` them, or
    ``cluster_direction``: keep them with a massless pseudo-constituent 1 (id 0) along the
    cluster's lab momentum, so the model frame becomes the helicity frame (z along the
    cluster flight direction) - a different frame than the contract's, usable for studies
    only. Constituent 2 is then the zero vector with id 0. Perturbative flags come from the
    file when it has them (dumps of hadml's Herwig adapter) and are written False otherwise.
    Masses come from the file's 4-momenta (about 6 digits).
    """
    if unknown_constituents not in ("drop", "cluster_direction"):
        raise ValueError("unknown_constituents must be 'drop' or 'cluster_direction'")
    rows: dict[str, list] = {name: [] for name, _ in cluster_table.COLUMNS}
    p4 = ("px", "py", "pz", "e")
    for ev in events:
        for k, cl in enumerate(ev.clusters):
            consts, (h1, h2) = _order(cl)
            if consts is None:
                if unknown_constituents == "drop":
                    continue
                p = cl.cluster.p[:3]
                n = np.linalg.norm(p)
                d = p / n if n > 0 else np.array([0.0, 0.0, 1.0])
                consts = (Particle(0, np.append(d, 1.0)), Particle(0, np.zeros(4)))
            rows["event"].append(ev.number)
            rows["cluster"].append(k)
            for tag, part in (("c1", consts[0]), ("c2", consts[1]), ("h1", h1), ("h2", h2)):
                rows[f"{tag}_id"].append(part.pid)
                for j, name in enumerate(p4):
                    rows[f"{tag}_{name}"].append(part.p[j])
            rows["c1_pert"].append(bool(consts[0].perturbative))
            rows["c2_pert"].append(bool(consts[1].perturbative))
            for j, name in enumerate(p4):
                rows[name].append(cl.cluster.p[j])
            m2 = cl.cluster.p[3] ** 2 - float(np.sum(cl.cluster.p[:3] ** 2))
            rows["mass"].append(float(np.sqrt(max(m2, 0.0))))
    arrays = [pa.array(rows[name], type=dtype) for name, dtype in cluster_table.COLUMNS]
    return pa.Table.from_arrays(arrays, schema=cluster_table.SCHEMA)


# --- hadronization records (the adapter's HadronizationDump, for the parity harness) ------


@dataclass(frozen=True)
class HadronizationRecord:
    """One Herwig event at hadronization, as written by ``MLClusterRedecayer:HadronizationDump``:
    the partons Herwig hadronized and every cluster it made (before any re-decay).
    ``number`` is the line index; ``event`` is ThePEG's event number, which repeats when an
    event was discarded after hadronization and generated again (see completed_events).

    Partons use Pythia's colour convention (quarks carry ``col``, antiquarks ``acol``, gluons
    both; 0 = none), with colour lines numbered from 1 within the event. A cluster's
    ``cluster_parent`` is the index of the cluster it fissioned from (-1: primary), its
    children are PDG ids (81: a cluster, i.e. it fissioned; one hadron: a single-hadron
    cluster).
    """

    number: int
    parton_id: np.ndarray  # int32 [n]
    parton_p: np.ndarray  # float64 [n, 4] (px, py, pz, e)
    parton_mass: np.ndarray  # float64 [n]
    parton_col: np.ndarray  # int32 [n]
    parton_acol: np.ndarray  # int32 [n]
    cluster_mass: np.ndarray  # float64 [k]
    cluster_parent: np.ndarray  # int64 [k]
    cluster_children: tuple[tuple[int, ...], ...]
    #: ThePEG's event number (the line's ``event``), or the line index in records without it
    event: int = -1
    #: int32 [k, 2]: the colour octets of the partons' shower history as (colour line,
    #: anticolour line) pairs (the line's ``octets``; empty in records without it), for
    #: Herwig's OctetTreatment All
    octets: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int32))

    @property
    def fissioned(self) -> np.ndarray:
        """bool [k]: clusters that split into clusters."""
        return np.array([CLUSTER_ID in c for c in self.cluster_children], dtype=bool)

    @property
    def single_hadron(self) -> np.ndarray:
        """bool [k]: clusters that became one hadron."""
        return np.array([len(c) == 1 and c[0] != CLUSTER_ID for c in self.cluster_children],
                        dtype=bool)

    @property
    def primary_hadrons(self) -> np.ndarray:
        """int64: ids of the hadrons the clusters made (before hadron decays)."""
        ids = [i for c in self.cluster_children for i in c if i != CLUSTER_ID]
        return np.asarray(ids, dtype=np.int64)

    def partons(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(id, col, acol, p) as hadml's cluster stage takes them (ClusterHadronizer)."""
        return self.parton_id, self.parton_col, self.parton_acol, self.parton_p


def _hadronization_record(number: int, text: str) -> HadronizationRecord:
    data = json.loads(text)
    partons = np.asarray(data["partons"], dtype=np.float64).reshape(-1, 8)
    clusters = data["clusters"]
    children = tuple(tuple(int(i) for i in c[2]) for c in clusters)
    if any(len(c) not in (1, 2) for c in children):
        raise ValueError("a cluster with neither one nor two children")
    record = HadronizationRecord(
        number=number,
        parton_id=partons[:, 0].astype(np.int32),
        parton_p=np.ascontiguousarray(partons[:, 1:5]),
        parton_mass=partons[:, 5].copy(),
        parton_col=partons[:, 6].astype(np.int32),
        parton_acol=partons[:, 7].astype(np.int32),
        cluster_mass=np.asarray([float(c[0]) for c in clusters], dtype=np.float64),
        cluster_parent=np.asarray([int(c[1]) for c in clusters], dtype=np.int64),
        cluster_children=children,
        event=int(data.get("event", number)),
        octets=np.asarray(data.get("octets", []), dtype=np.int32).reshape(-1, 2),
    )
    if np.any(record.cluster_parent >= len(clusters)):
        raise ValueError("a cluster parent index past the event's clusters")
    return record


def read_hadronization(path: str | Path) -> Iterator[HadronizationRecord]:
    """Yield the events of a hadronization record file (JSON lines; events numbered from 0)."""
    path = Path(path)
    if not path.exists():
        raise HerwigDumpError(f"Herwig hadronization record {path} does not exist")
    with open(path) as f:
        for number, (lineno, line) in enumerate(
                (i, ln) for i, ln in enumerate(f, start=1) if ln.strip()):
            try:
                yield _hadronization_record(number, line)
            except (ValueError, KeyError, TypeError, IndexError) as err:
                raise HerwigDumpError(
                    f"{path}:{lineno}: not a hadronization record: {err}") from None


def completed_events(records: Iterable[HadronizationRecord]) -> list[HadronizationRecord]:
    """The record of each event that Herwig completed: when an event is discarded after its
    hadronization (an event error in the decays, say), ThePEG generates it again under the
    same event number and the adapter writes a second line; only the last one belongs to the
    run's output. Order of first appearance is kept."""
    last: dict[int, HadronizationRecord] = {}
    for r in records:
        last[r.event] = r
    return list(last.values())
