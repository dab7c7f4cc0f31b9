"""tune run --weights (hadml.analysis.tune_weights): tuning points filled from an anchor
run's exact variation weights (issue 14, item 3; docs/tuning.md, docs/variations.md)."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
from _refdata import require_refdir

from hadml.analysis import tune
from hadml.analysis import tune_weights as tw
from hadml.analysis.surrogate import Parameter, ParameterBox
from hadml.io.atomic import write_json_atomically
from hadml.train.metrics import chi2_sf
from hadml.variations import VALIDATED_STEPS, step_problems

PDG = "PDG_HADRON_MULTIPLICITIES"


def _plan(tmp_path, params, n_events, seed=3, name="t", **options):
    box = ParameterBox(tuple(Parameter(*p) for p in params))
    plan = tune.make_plan(box, {}, "lep", n_events=n_events, order=2, seed=seed,
                          analyses=[PDG], validation=[], **options)
    directory = tmp_path / name
    directory.mkdir()
    write_json_atomically(directory / "plan.json", plan)
    return directory, plan


def _docs(directory):
    return {int(p.stem[1:]): json.loads(p.read_text())
            for p in (directory / "points").glob("p*.json")}


def test_anchors_cover_points_within_the_validated_steps(tmp_path):
    # A 2-d box three validated steps wide: several anchors; every weighted point within
    # each validated step of its anchor, held-back points and anchors-to-be never weighted.
    directory, plan = _plan(tmp_path, [("PwtSquark", 0.254, 0.494),
                                       ("PwtDIquark", 0.287, 0.527)], 100)
    held = tune.held_back_indices(plan)
    a = tw.assign(plan, held)
    assert set(a) == set(range(len(plan["points"]))) == set(range(27))
    kinds = [x.kind for x in a.values()]
    assert kinds.count("anchor") >= 2 and kinds.count("weighted") >= 10
    for k in held:
        assert a[k].kind == "direct" and a[k].reasons == [tw.HELD_BACK]
    for k, x in a.items():
        if x.kind == "weighted":
            assert x.anchor not in held and a[x.anchor].kind == "anchor"
            values = plan["points"][k]["values"]
            anchor = plan["points"][x.anchor]["values"]
            assert step_problems(values, anchor) == []
            assert all(abs(values[n] - anchor[n]) <= VALIDATED_STEPS[n] + 1e-12
                       for n in values)
        elif x.kind == "direct" and k not in held:
            assert "no other point within the validated steps" in x.reasons[0]
    # Work units: each point in exactly one, an anchor with the points it serves.
    members = [k for u in tw.units(a) for k in [u.index, *u.served]]
    assert sorted(members) == list(range(27))
    # A box over the shower: no weights at all, and the report says why.
    _, shower = _plan(tmp_path, [("PwtSquark", 0.35, 0.39), ("shower_pt_min", 0.9, 1.1)],
                      100, name="s")
    b = tw.assign(shower, tune.held_back_indices(shower))
    assert {x.kind for x in b.values()} == {"direct"}
    assert sum("shower_pt_min" in x.reasons[0] for x in b.values()) == 24  # 27 - 3 held


def test_weighted_points_match_direct_runs(tmp_path):
    # One parameter, a box of +-0.2 around the tune's PwtSquark and (for this test) a
    # validated step of 0.2, so that one anchor serves the box and the farthest point is
    # far enough to be seen: the unweighted anchor differs from a direct run there.
    directory, plan = _plan(tmp_path, [("PwtSquark", 0.2, 0.6)], 3000)
    refdir = require_refdir()
    steps = {"PwtSquark": 0.2}
    summary = tw.run_weighted(directory, refdir, steps=steps, log=lambda _m: None)
    held = tune.held_back_indices(plan)
    assert summary["counts"] == {"anchor": 1, "weighted": 12, "direct": 1}
    docs = _docs(directory)
    assert len(docs) == 14
    (anchor,) = [k for k, d in docs.items() if d["source"]["kind"] == "anchor"]
    (direct,) = held
    assert docs[direct]["source"] == {"kind": "direct", "reasons": [tw.HELD_BACK]}
    assert docs[anchor]["source"]["served"] == sorted(set(range(14)) - {anchor, direct})
    weighted = {k: d for k, d in docs.items() if d["source"]["kind"] == "weighted"}
    for d in weighted.values():
        assert d["seed"] == plan["points"][anchor]["seed"]
        assert d["source"]["anchor"] == anchor and 0.5 <= d["source"]["ess_fraction"] <= 1
        assert d["values"] == plan["points"][d["index"]]["values"]
    # The anchor's own result is exactly what a plain `tune run` writes for it.
    plain = json.loads(tune.run_point(plan, anchor, tmp_path / "plain", refdir).read_text())
    assert plain["histograms"] == docs[anchor]["histograms"]

    # The point farthest from the anchor against a direct run there (its own seed): the
    # bins of every PDG rate (one value per histogram) agree within their MC errors, which
    # the unweighted anchor does not.
    far = max(weighted, key=lambda k: abs(plan["points"][k]["values"]["PwtSquark"]
                                          - plan["points"][anchor]["values"]["PwtSquark"]))
    assert abs(plan["points"][far]["values"]["PwtSquark"]
               - plan["points"][anchor]["values"]["PwtSquark"]) > 0.15
    run = json.loads(tune.run_point(plan, far, tmp_path / "plain", refdir).read_text())

    def chi2(doc):
        total, ndf = 0.0, 0
        for h, ref in run["histograms"].items():
            y0, e0 = ref["y"][0], ref["err"][0]
            y1, e1 = doc["histograms"][h]["y"][0], doc["histograms"][h]["err"][0]
            if e0 > 0 and e1 > 0 and y0 > 0:
                total += (y1 - y0) ** 2 / (e0 ** 2 + e1 ** 2)
                ndf += 1
        return total, ndf

    c_w, n = chi2(weighted[far])
    c_u, n_u = chi2(docs[anchor])
    assert n == n_u >= 30
    assert chi2_sf(c_w, n) > 0.01, (c_w, n)
    assert chi2_sf(c_u, n) < 1e-4, (c_u, n)
    # The weighted errors are the anchor's, scaled by the weights' loss of statistics:
    # within a few per cent of the anchor's for a point with a Kish ESS above 90%.
    near = max(weighted, key=lambda k: weighted[k]["source"]["ess_fraction"])
    ratios = [np.divide(np.array(weighted[near]["histograms"][h]["err"]),
                        np.array(docs[anchor]["histograms"][h]["err"]))
              for h in docs[anchor]["histograms"]]
    ratios = np.concatenate(ratios)
    ratios = ratios[np.isfinite(ratios)]
    assert weighted[near]["source"]["ess_fraction"] > 0.99
    assert 0.97 < np.median(ratios) < 1.03

    # Resuming makes nothing new; a lost weighted point is made again, identical.
    lost = tune.point_path(directory, far)
    before = lost.read_text()
    lost.unlink()
    again = tw.run_weighted(directory, refdir, steps=steps, log=lambda _m: None)
    assert json.loads(lost.read_text())["histograms"] == json.loads(before)["histograms"]
    assert again["counts"] == summary["counts"]
    # The fit counts the weighted points in its report.
    table = tune.load_points(directory, plan)
    assert sorted(table.sources) == sorted(["anchor", "direct"] + ["weighted"] * 12)


def test_points_with_poor_weights_fall_back_to_direct_runs(tmp_path, capsys):
    # Demanding a Kish ESS of 99.99% of the events makes every served point fail the
    # tuner rule after the anchor run: each is then run directly, with the reason.
    # (Four points, none held back: the smallest plan with an anchor and fall-backs.)
    directory, plan = _plan(tmp_path, [("PwtSquark", 0.3, 0.5)], 200, n_points=4,
                            holdout=0.0, oversampling=1.0)
    refdir = require_refdir()
    summary = tw.run_weighted(directory, refdir, steps={"PwtSquark": 0.2},
                              min_ess_fraction=0.9999, log=lambda _m: None)
    held = tune.held_back_indices(plan)
    assert not held and summary["counts"] == {"anchor": 1, "direct": 3}
    docs = _docs(directory)
    (anchor,) = [k for k, d in docs.items() if d["source"]["kind"] == "anchor"]
    assert docs[anchor]["source"]["served"] == []
    for k, d in docs.items():
        if k == anchor or k in held:
            continue
        assert d["seed"] == plan["points"][k]["seed"]  # its own run
        (reason,) = d["source"]["reasons"]
        assert reason.startswith(f"weights from anchor {anchor} not usable: Kish ESS")
    text = tw.format_summary(summary, len(plan["points"]))
    assert text.startswith("4 of 4 points made: 1 anchor runs, 0 points from anchor "
                           "weights, 3 other direct runs")

    # The command line, with the validated steps: a box inside them is one anchor run
    # (and the held-back points).
    shutil.rmtree(directory)
    box = tmp_path / "box.yaml"
    box.write_text("base: lep\nparameters:\n  - {name: PwtSquark, low: 0.354, high: 0.394}\n"
                   "  - {name: PwtDIquark, low: 0.387, high: 0.427}\n")
    out = tmp_path / "cli"
    assert tune.main(["plan", "--box", str(box), "-o", str(out), "-n", "100", "--analyses",
                      PDG, "--validation", "", "--refdir", str(refdir)]) == 0
    capsys.readouterr()
    assert tune.main(["run", str(out), "--weights", "--jobs", "1", "--refdir",
                      str(refdir)]) == 0
    printed = capsys.readouterr().out
    n = len(tune.load_plan(out)["points"])
    n_held = tune.n_held_back(n, 0.1)
    assert f"{n} of {n} points made: 1 anchor runs, {n - 1 - n_held} points from anchor " \
           f"weights, {n_held} other direct runs" in printed
    assert json.loads((out / tw.SUMMARY_FILE).read_text())["counts"]["weighted"] == n - 1 - n_held
    assert math.isclose(sum(1 for _ in (out / "points").glob("p*.json")), n)


def test_command_line_error_of_the_weighted_run_is_a_message(tmp_path):
    # `python -m hadml.analysis.tune` runs the module as __main__; the weighted path raises
    # hadml.analysis.tune's TuneError, which main() must catch there too.
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "hadml.analysis.tune", "run",
                          str(tmp_path / "no-plan"), "--weights"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "plan.json not found" in res.stderr
