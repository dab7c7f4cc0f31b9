"""Which child of a Herwig cluster is hadron 1 (hadml/Redecay.h, planRedecay) when both
children fit either constituent's flavour (u dbar -> pi+ pi0, u ubar -> pi0 rho0, ...).

Herwig 7.3's ClusterDecayer::decayIntoTwoHadrons makes hadron i from constituent i
(HadronSelector::chooseHadronPair(mass, particle(0), particle(1))) and, with ClDirLight on,
sends the hadron made from the perturbative constituent along it, the cosine of the
smearing drawn as 1 + ClSmrLight ln(r), redrawn below -1. In the model frame (z along
constituent 1, the colour triplet) hadron 1 is therefore forward with the same mean
whichever constituent is perturbative. Before the fix, flavour-symmetric children kept the
record's order even when Herwig listed the antitriplet first, so for clusters whose
antiquark was the perturbative constituent hadron 1 was the antiquark's hadron: mean cos
theta -0.35 instead of +0.39 (docs/herwig-workflow.md, "The pairing bug").
"""

from __future__ import annotations

import math

import numpy as np
from herwig_lep import LepRuns

from hadml import _core
from hadml.data.features import heaviest_quark, target_angles
from hadml.io import herwig_dump

CL_SMR_LIGHT = 0.78  # Herwig 7.3 default (src/defaults/Hadronization.in, ClSmrLight)


def mean_cos_theta_of_smearing(width: float) -> float:
    """<cos theta> of 1 + width ln(r) redrawn below -1: u = 1 - cos theta is exponential
    with mean `width`, truncated to [0, 2]."""
    t = math.exp(-2.0 / width)
    return 1.0 - (width - 2.0 * t / (1.0 - t))


def test_flavour_symmetric_children_are_paired_as_herwig_made_them(lep: LepRuns) -> None:
    table = herwig_dump.to_cluster_table(herwig_dump.read(lep.get("dump").dump))
    cos = target_angles(table)[:, 0]
    c1, c2 = (table.column(f"c{k}_id").to_numpy() for k in (1, 2))
    h1, h2 = (table.column(f"h{k}_id").to_numpy() for k in (1, 2))
    p1, p2 = (table.column(f"c{k}_pert").to_numpy(zero_copy_only=False) for k in (1, 2))
    light = np.maximum(heaviest_quark(c1), heaviest_quark(c2)) <= 3

    def fits(h: int, c: int) -> bool:
        return _core.carries_flavour(int(h), int(c))

    # both orders of the children fit the constituents' flavours
    tie = np.array([fits(a, x) and fits(b, y) and fits(b, x) and fits(a, y)
                    for a, b, x, y in zip(h1, h2, c1, c2, strict=True)])
    expected = mean_cos_theta_of_smearing(CL_SMR_LIGHT)
    assert abs(expected - 0.387) < 1e-3
    for name, pert in (("triplet", p1 & ~p2), ("antitriplet", ~p1 & p2)):
        for kind, sel in (("flavour-symmetric", tie), ("flavour-fixed", ~tie)):
            x = cos[light & pert & sel]
            assert x.size > 40, f"{name} perturbative, {kind}: only {x.size} clusters"
            err = x.std() / math.sqrt(x.size)
            # forward as Herwig made it (the wrong pairing gave -0.35 here for the
            # antitriplet-perturbative flavour-symmetric clusters)
            assert abs(x.mean() - expected) < 5 * err, (name, kind, x.mean(), err, x.size)
