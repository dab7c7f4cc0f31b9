"""Pythia 8 with its own (Lund string) hadronization: the peer to compare with.

Same perturbative settings as hadml's generator (DESIGN.md sect. 2: e+e- -> gamma*/Z ->
u d s c b, no ISR) but with HadronLevel on, so the events are Pythia's default tune.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hadml.pythia_stage import make_pythia


def string_settings(seed: int = 1, ecm: float = 91.188,
                    extra: list[str] | None = None) -> list[str]:
    """Pythia 8 default (Monash, string hadronization) with hadml's process settings."""
    return [
        "Beams:idA = 11", "Beams:idB = -11", f"Beams:eCM = {ecm}",
        "WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "23:onIfAny = 1 2 3 4 5",
        "PDF:lepton = off", "HadronLevel:all = on",
        "Print:quiet = on", "Next:numberCount = 0", "Random:setSeed = on",
        f"Random:seed = {seed}", *(extra or []),
    ]


def pythia_string_events(n_events: int, seed: int = 1, ecm: float = 91.188,
                         extra: list[str] | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Yield analysis events {'pid', 'p', 'decayed_pid'} from Pythia 8 default."""
    pythia = make_pythia(string_settings(seed, ecm, extra))
    made = 0
    while made < n_events:
        if not pythia.next():
            continue
        ev = pythia.event
        pid, mom, decayed, decayed_mom, first_mother = [], [], [], [], []
        row: dict[int, int] = {}
        for i in range(ev.size()):
            part = ev[i]
            if part.isFinal():
                pid.append(part.id())
                mom.append((part.px(), part.py(), part.pz(), part.e()))
            elif part.isHadron() and 81 <= abs(part.status()) <= 99:
                # hadronization (8x) and decay (9x) products that decayed further
                row[i] = len(decayed)
                decayed.append(part.id())
                decayed_mom.append((part.px(), part.py(), part.pz(), part.e()))
                first_mother.append(part.mother1())
        made += 1
        yield {"pid": np.asarray(pid, dtype=np.int64),
               "p": np.asarray(mom, dtype=np.float64).reshape(-1, 4),
               "decayed_pid": np.asarray(decayed, dtype=np.int64),
               "decayed_p": np.asarray(decayed_mom, dtype=np.float64).reshape(-1, 4),
               # string pieces and partons are not in `row`: made by hadronization
               "decayed_mother": np.asarray([row.get(m, -1) for m in first_mother],
                                            dtype=np.int64)}
