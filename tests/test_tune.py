"""The classic-model tuner on a tiny scan against the shared reference data."""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from _refdata import require_refdir

from hadml.analysis import tune
from hadml.config import load_config


def test_score_and_scan_pick_the_lowest_objective():
    refdir = require_refdir()
    nominal = tune.score({}, 150, 3, refdir)
    assert math.isfinite(nominal.objective) and nominal.objective > 0
    assert 12 < nominal.mean_charged < 30
    # Diquark weight 0.33 -> 1.0 roughly doubles the baryons; the yields score must move.
    more_baryons = tune.score({"PwtDIquark": 1.0}, 150, 3, refdir)
    assert more_baryons.yields != nominal.yields
    best, history = tune.coordinate_scan({"PwtDIquark": (0.33107, 1.0)}, 150, 3, refdir,
                                         log=lambda _msg: None)
    assert len(history) == 2
    assert best["PwtDIquark"] == min(history, key=lambda s: s.objective).overrides["PwtDIquark"]


def test_shipped_tune_is_a_valid_config():
    from hadml.config import TUNE_KEYS, TUNES

    path = Path(tune.__file__).parents[1] / "tunes" / TUNES["lep"]
    doc = yaml.safe_load(path.read_text())
    assert set(doc) <= TUNE_KEYS
    load_config(overrides={"tune": "lep"}).validate()
