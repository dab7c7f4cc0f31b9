"""Pythia 8 (pythia8mc) for the perturbative stage and for hadron decays (DESIGN.md section 2).

Pythia's own hadronization is off; it gives the final partons of e+e- -> gamma*/Z -> q qbar
after the final-state shower, and later decays the primary hadrons of the cluster stage.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from hadml.config import GeneratorConfig

#: Pythia's random seed must lie in [1, 900 000 000].
PYTHIA_MAX_SEED = 900_000_000


@contextlib.contextmanager
def _captured_stdout() -> Iterator[list[str]]:
    """Keep Pythia's banner and init listing (C++ stdout, which no setting silences before
    the banner) off the terminal; the lines are collected, for the reason of a failure."""
    lines: list[str] = []
    try:
        fd = os.dup(1)
    except OSError:
        yield lines
        return
    try:
        with tempfile.TemporaryFile() as capture:
            sys.stdout.flush()
            os.dup2(capture.fileno(), 1)
            try:
                yield lines
            finally:
                sys.stdout.flush()
                os.dup2(fd, 1)
                capture.seek(0)
                lines.extend(capture.read().decode("utf-8", "replace").splitlines())
    finally:
        os.close(fd)


def _pythia_messages(lines: list[str], limit: int = 4) -> str:
    """Pythia's own error and warning lines (the reason it gives), shortened."""
    found = [" ".join(line.split()) for line in lines
             if "PYTHIA Error" in line or "PYTHIA Abort" in line or "PYTHIA Warning" in line]
    return "; ".join(found[:limit])


def make_pythia(settings: list[str]):
    """An initialised, quiet pythia8mc.Pythia with these settings (a clear error, with
    Pythia's reason, for a setting Pythia rejects or a failed initialisation)."""
    import pythia8mc

    with _captured_stdout() as lines:
        pythia = pythia8mc.Pythia("", False)
        rejected = [s for s in settings if not pythia.readString(s)]
        ok = not rejected and pythia.init()
    if rejected:
        reason = _pythia_messages(lines)
        raise ValueError(f"Pythia rejected the setting {rejected[0]!r}"
                         + (f": {reason}" if reason else ""))
    if not ok:
        reason = _pythia_messages(lines) or _init_failure_reason(settings)
        raise RuntimeError(f"Pythia initialisation failed ({reason}); settings: "
                           + "; ".join(settings))
    return pythia


def _init_failure_reason(settings: list[str]) -> str:
    """Pythia's own messages for a failed initialisation: Print:quiet silences them, so the
    initialisation is repeated once without it (only after a failure)."""
    import pythia8mc

    loud = [s for s in settings if not s.replace(" ", "").lower().startswith("print:quiet")]
    with _captured_stdout() as lines:
        pythia = pythia8mc.Pythia("", False)
        for s in [*loud, "Print:quiet = off"]:
            pythia.readString(s)
        pythia.init()
    return _pythia_messages(lines) or "Pythia gave no reason"


_QUIET = [
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Random:setSeed = on",
]


def perturbative_settings(config: GeneratorConfig) -> list[str]:
    alpha_s = config.effective_shower_alpha_s()
    coupling = [] if alpha_s is None else [f"TimeShower:alphaSvalue = {alpha_s!r}"]
    return [
        "Beams:idA = 11",
        "Beams:idB = -11",
        f"Beams:eCM = {config.ecm!r}",
        "WeakSingleBoson:ffbar2gmZ = on",
        "23:onMode = off",
        "23:onIfAny = " + " ".join(str(f) for f in config.flavours),
        f"PDF:lepton = {'on' if config.isr else 'off'}",
        "HadronLevel:all = off",
        f"TimeShower:pTmin = {config.effective_shower_pt_min()!r}",
        *coupling,
        *_QUIET,
        "Random:seed = 1",
        *config.pythia,
    ]


def decay_settings(extra: list[str] | None = None) -> list[str]:
    """Settings of the Pythia that only decays the cluster stage's primary hadrons."""
    return ["ProcessLevel:all = off", "HadronLevel:Hadronize = off", *_QUIET,
            "Random:seed = 1", *(extra or [])]


def xml_dir(pythia) -> str:
    """The xmldoc directory an initialised pythia8mc.Pythia read (the wheel's own copy, or
    PYTHIA8DATA): the C++ event loop's Pythia instances read the same files."""
    return str(pythia.settings.word("xmlPath"))


class ChargeTable:
    """3 x electric charge for any PDG id Pythia knows, vectorised (sorted-id lookup)."""

    def __init__(self, pythia) -> None:
        pdt = pythia.particleData
        ids, charges = [], []
        # nextId(0) returns 0 in pythia8mc, so the walk starts from id 1.
        pid = 1 if pdt.isParticle(1) else pdt.nextId(1)
        while pid != 0:
            ids.append(pid)
            charges.append(int(pdt.chargeType(pid)))
            pid = pdt.nextId(pid)
        order = np.argsort(ids)
        self._ids = np.asarray(ids, dtype=np.int64)[order]
        self._charge3 = np.asarray(charges, dtype=np.int64)[order]

    def __call__(self, pid: np.ndarray) -> np.ndarray:
        a = np.abs(np.asarray(pid, dtype=np.int64))
        idx = np.clip(np.searchsorted(self._ids, a), 0, len(self._ids) - 1)
        unknown = self._ids[idx] != a
        if np.any(unknown):
            raise KeyError(f"PDG ids unknown to Pythia's particle data: {np.unique(a[unknown])}")
        return np.sign(pid) * self._charge3[idx]


@dataclass
class PartonEvent:
    """Final partons of one event (Pythia convention: quarks carry col, antiquarks acol)."""

    id: np.ndarray  # int32 [n]
    col: np.ndarray  # int32 [n]
    acol: np.ndarray  # int32 [n]
    p: np.ndarray  # float64 [n, 4] (px, py, pz, E)
    beams: np.ndarray  # float64 [2, 4]: incoming e- and e+ (before any ISR)
    # Final-state particles of the perturbative stage that are not partons (shower photons).
    other_id: np.ndarray  # int32 [k]
    other_p: np.ndarray  # float64 [k, 4]
    other_m: np.ndarray  # float64 [k]
    # (col, acol) of every gluon of the shower history, intermediate or final: the colour
    # octets that colour reconnection must not recreate (Herwig's OctetTreatment All).
    octets: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int32))

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        return self.id, self.col, self.acol, self.p, self.octets


class PartonGenerator:
    """e+e- -> q qbar + final-state shower; hadronization off."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.pythia = make_pythia(perturbative_settings(config))

    def reseed(self, seed: int) -> None:
        self.pythia.rndm.init(int(seed))

    def next(self) -> PartonEvent:
        """Generate one event; raises RuntimeError if Pythia fails repeatedly."""
        for _ in range(10):
            if self.pythia.next():
                break
        else:
            raise RuntimeError("Pythia failed to generate a parton-level event 10 times in a row")
        event = self.pythia.event
        ids, cols, acols, moms = [], [], [], []
        other_ids, other_moms, other_masses = [], [], []
        octets = []
        for i in range(event.size()):
            part = event[i]
            if part.isGluon():
                octets.append((part.col(), part.acol()))
            if not part.isFinal():
                continue
            if part.isParton():
                ids.append(part.id())
                cols.append(part.col())
                acols.append(part.acol())
                moms.append((part.px(), part.py(), part.pz(), part.e()))
            else:
                # Photons of the QED shower (and of ISR when on) and any leptons: they are
                # part of the final state but not of the cluster stage.
                other_ids.append(part.id())
                other_moms.append((part.px(), part.py(), part.pz(), part.e()))
                other_masses.append(part.m())
        beams = np.array([[event[k].px(), event[k].py(), event[k].pz(), event[k].e()]
                          for k in (1, 2)])
        return PartonEvent(
            np.asarray(ids, dtype=np.int32),
            np.asarray(cols, dtype=np.int32),
            np.asarray(acols, dtype=np.int32),
            np.asarray(moms, dtype=np.float64).reshape(-1, 4),
            beams,
            np.asarray(other_ids, dtype=np.int32),
            np.asarray(other_moms, dtype=np.float64).reshape(-1, 4),
            np.asarray(other_masses, dtype=np.float64),
            np.asarray(octets, dtype=np.int32).reshape(-1, 2),
        )


@dataclass
class DecayedHadrons:
    """The decay record of one event's primary hadrons, as Pythia left it (without the
    system line). ``mother`` is the 0-based index of the mother within this record, or -1
    for a primary hadron."""

    id: np.ndarray  # int32 [n]
    p: np.ndarray  # float64 [n, 4]
    m: np.ndarray  # float64 [n]
    mother: np.ndarray  # int32 [n]
    final: np.ndarray  # bool [n]


class HadronDecayer:
    """A second Pythia with ProcessLevel:all = off that only decays hadrons."""

    def __init__(self, extra_settings: list[str] | None = None) -> None:
        self.pythia = make_pythia(decay_settings(extra_settings))

    def reseed(self, seed: int) -> None:
        self.pythia.rndm.init(int(seed))

    def decay(self, ids: np.ndarray, p: np.ndarray, m: np.ndarray) -> DecayedHadrons:
        """Decay the given primary hadrons (all at once, one Pythia call)."""
        event = self.pythia.event
        # reset() leaves the system line (id 90) in entry 0, as Pythia expects in front of
        # a hand-filled record; the primary hadrons follow with status 81.
        event.reset()
        for pid, mom, mass in zip(ids.tolist(), p.tolist(), m.tolist(), strict=True):
            event.append(pid, 81, 0, 0, mom[0], mom[1], mom[2], mom[3], mass)
        if not self.pythia.next():
            raise RuntimeError("Pythia failed to decay the primary hadrons")
        # Reading Pythia's record costs one Python call per particle property, the largest
        # cost of a hadml event: the primaries are known already, so only their status is
        # read; the decay products are read whole.
        n_prim = len(ids)
        prim_final = [event[k].isFinal() for k in range(1, n_prim + 1)]
        rows = []
        for k in range(n_prim + 1, event.size()):
            part = event[k]
            rows.append((part.id(), part.mother1() - 1, part.isFinal(), part.px(), part.py(),
                         part.pz(), part.e(), part.m()))
        ints = np.array([r[:3] for r in rows], dtype=np.int64).reshape(-1, 3)
        reals = np.array([r[3:] for r in rows], dtype=np.float64).reshape(-1, 5)
        out_id = np.concatenate([ids, ints[:, 0]]).astype(np.int32)
        out_p = np.concatenate([p, reals[:, :4]])
        out_m = np.concatenate([m, reals[:, 4]])
        out_mother = np.concatenate([np.full(n_prim, -1), ints[:, 1]]).astype(np.int32)
        out_final = np.concatenate([np.asarray(prim_final, dtype=bool), ints[:, 2] != 0])
        return DecayedHadrons(out_id, out_p, out_m, out_mother, out_final)
