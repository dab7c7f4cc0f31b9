"""Weighted LEP analyses and the two-sample comparison of weighted samples.

The analyses of ``hadml compare`` (hadml.analysis.analyses) fill unweighted lists of
values. :func:`fill` runs them event by event and records which event each value came
from, so that :func:`book_weighted` can book any per-event weights afterwards on the
reference binning, with the same normalisations as hadml.analysis.analyses.book (unit
weights reproduce it exactly; tests/test_reweight.py) and sum-of-w^2 errors.

:func:`two_sample_chi2` compares two booked MC histograms (both with statistical errors):
chi2 = sum_bins (y1 - y2)^2 / (e1^2 + e2^2), the weighted generalisation of the two-sample
chi2 of hadml.train.metrics.chi2_two_samples for per-event-normalised histograms. Values
from one event are correlated (many particles per event), so chi2 is only approximately
chi2_ndf under the null; :func:`calibrate` measures the scale c from a null comparison
(two independent samples of one setting) and p-values use chi2 / c (hadml.train.metrics:
the null-scale model of the closure test).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hadml.analysis.analyses import ANALYSES, Analysis, HistoDef
from hadml.analysis.yoda import Scatter2D

#: Normalisations whose every bin holds the same number (one value per histogram).
SINGLE_VALUE_NORMS = ("mean", "entry_mean", "dispersion")


@dataclass
class Filled:
    """An analysis after :func:`fill`: its values and, per value, the event index."""

    analysis: Analysis
    values: dict[str, np.ndarray]
    event_of: dict[str, np.ndarray]
    n_events: int
    # Events the analysis counted (its n_events went up), as a mask; None in fills made
    # before this was recorded (then every event is taken as counted).
    counted: np.ndarray | None = None


def _entries(chunks: list) -> int:
    return sum(c.size if isinstance(c, np.ndarray) else 1 for c in chunks)


def fill(events: Iterable[dict[str, np.ndarray]], names: Sequence[str],
         ecm: float | None = None) -> dict[str, Filled]:
    """Run the analyses ``names`` over ``events``, keeping each value's event index."""
    analyses = {name: ANALYSES[name]() for name in names}
    owner: dict[str, dict[str, list[np.ndarray]]] = {n: {} for n in names}
    sizes = {n: {k: 0 for k in a.data} for n, a in analyses.items()}
    counted: dict[str, list[int]] = {n: [] for n in names}
    i = -1
    for i, ev in enumerate(events):
        for name, a in analyses.items():
            before = a.n_events
            a.fill(ev, ecm)
            if a.n_events > before:
                counted[name].append(i)
            for key, chunks in a.data.items():
                if len(chunks) == sizes[name][key]:
                    continue
                added = _entries(chunks[sizes[name][key]:])
                sizes[name][key] = len(chunks)
                owner[name].setdefault(key, []).append(np.full(added, i, dtype=np.int64))
    out = {}
    for name, a in analyses.items():
        arrays = a.arrays()
        event_of = {k: (np.concatenate(owner[name][k]) if owner[name].get(k)
                        else np.zeros(0, dtype=np.int64)) for k in a.data}
        for k in a.data:
            if arrays[k].size != event_of[k].size:
                raise RuntimeError(f"{name}/{k}: {arrays[k].size} values, "
                                   f"{event_of[k].size} event indices")
        mask = np.zeros(i + 1, bool)
        mask[counted[name]] = True
        out[name] = Filled(a, {k: arrays[k].reshape(-1) for k in a.data}, event_of, i + 1,
                           mask)
    return out


def covariance_histograms(filled: Mapping[str, Filled],
                          refs: Mapping[str, Mapping[str, Scatter2D]],
                          weights: Sequence[np.ndarray | None]) -> list[dict]:
    """Every histogram booked with the full bin covariance of hadml.analysis.weighted (the
    calibrated statistic of the exact-weight validation, docs/variations.md), once per
    weight vector of ``weights`` (None: unit): [{'ANALYSIS/NAME': WeightedHisto}, ...].
    Each histogram's per-event terms are made once and dropped before the next one (they
    are events x bins)."""
    from hadml.analysis.weighted import _event_terms, _weighted

    out: list[dict] = [{} for _ in weights]
    for name, f in filled.items():
        counted = getattr(f, "counted", None)
        if counted is None:
            counted = np.ones(f.n_events, bool)
        ws = [np.ones(f.n_events) if w is None else np.asarray(w, float) for w in weights]
        for hname, (hd, _) in f.analysis.finalize(dict(refs[name])).items():
            ref = refs[name][f"/REF/{name}/{hname}"]
            terms = _event_terms(hd, ref, f.values[hd.key], f.event_of[hd.key], counted)
            for k, w in enumerate(ws):
                out[k][f"{name}/{hname}"] = _weighted(terms, w)
    return out


def compare_covariance(a: Mapping[str, object], b: Mapping[str, object]) -> Comparison:
    """Two-sample chi2 with the full covariance (hadml.analysis.weighted.
    chi2_two_histograms) of the histograms both have."""
    from hadml.analysis.weighted import chi2_two_histograms

    out = Comparison()
    for key in sorted(set(a) & set(b)):
        r = chi2_two_histograms(a[key], b[key])
        if r.ndf:
            out.chi2[key], out.ndf[key] = r.chi2, r.ndf
    return out


def weighted_bin_sums(values: np.ndarray, w: np.ndarray, lo: np.ndarray,
                      hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum w, sum w^2) of the values in [lo_k, hi_k), with the edge handling of
    hadml.analysis.analyses.bin_counts (shared edges made identical)."""
    hi = np.array(hi, dtype=np.float64)
    nxt = np.asarray(lo, dtype=np.float64)[1:]
    shared = np.abs(hi[:-1] - nxt) <= 1e-9 * np.maximum(np.abs(nxt), 1.0)
    hi[:-1][shared] = nxt[shared]
    order = np.argsort(values, kind="stable")
    v = np.asarray(values, dtype=np.float64)[order]
    ws = np.asarray(w, dtype=np.float64)[order]
    c1 = np.concatenate([[0.0], np.cumsum(ws)])
    c2 = np.concatenate([[0.0], np.cumsum(ws * ws)])
    a = np.searchsorted(v, lo, side="left")
    b = np.searchsorted(v, hi, side="left")
    return c1[b] - c1[a], c2[b] - c2[a]


def jet_indicator(resolutions: np.ndarray, n_jets: int, y_cut: np.ndarray) -> np.ndarray:
    """[n_events, n_cuts]: 1 where the event has n_jets Durham jets at y_cut; summed over
    events it is hadml.analysis.analyses.jet_fractions (tests check they agree)."""
    res = np.asarray(resolutions, dtype=np.float64).reshape(-1, 5)
    upper = np.column_stack([np.ones(len(res)), res])
    lower = np.column_stack([res, np.zeros(len(res))])
    up, low = upper[:, n_jets - 1], lower[:, n_jets - 1]
    yc = np.asarray(y_cut, dtype=np.float64)[None, :]
    return ((low[:, None] < yc) & (yc < up[:, None])).astype(np.float64)


def _mean_and_error(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and its error sqrt(sum w^2 (x - mean)^2) / sum w, times
    sqrt(n / (n - 1)) so that unit weights give std(ddof=1) / sqrt(n)."""
    n = len(x)
    if n == 0:
        return 0.0, 0.0
    sw = w.sum()
    mean = float(np.sum(w * x) / sw)
    if n < 2:
        return mean, 0.0
    err = float(np.sqrt(np.sum(w * w * (x - mean) ** 2)) / sw * np.sqrt(n / (n - 1)))
    return mean, err


def book_weighted(ref: Scatter2D, h: HistoDef, filled: Filled,
                  event_weights: np.ndarray) -> Scatter2D:
    """The histogram ``h`` of ``filled`` on ``ref``'s bins with per-event weights, as
    hadml.analysis.analyses.book normalises it (event count -> sum of event weights;
    counts -> sums of weights, errors sqrt(sum w^2), an empty bin the error of one mean
    event weight)."""
    w_ev = np.asarray(event_weights, dtype=np.float64)
    if len(w_ev) != filled.n_events:
        raise ValueError(f"{len(w_ev)} weights for {filled.n_events} events")
    values = filled.values[h.key]
    w = w_ev[filled.event_of[h.key]]
    lo, hi = ref.edges
    width = hi - lo
    total = max(float(w_ev.sum()), 1e-300)
    floor = float(np.mean(w_ev ** 2)) if len(w_ev) else 1.0  # one event's w^2
    norm = h.norm
    if norm in ("density", "fraction", "unit", "jet_fraction"):
        if norm == "jet_fraction":
            rows = values.reshape(-1, 5)
            wr = w.reshape(-1, 5)[:, 0]
            inside = jet_indicator(rows, h.order, np.exp(ref.x))
            sums, sums2 = wr @ inside, (wr * wr) @ inside
        else:
            sums, sums2 = weighted_bin_sums(values, w, lo, hi)
        if norm in ("fraction", "jet_fraction"):
            scale = 1.0 / total
        elif norm == "unit":
            scale = 1.0 / (max(float(w.sum()), 1e-300) * width)
            floor = float(np.mean(w ** 2)) if len(w) else 1.0
        else:
            scale = 1.0 / (total * width)
        y = sums * scale
        err = np.sqrt(np.maximum(sums2, floor)) * scale
    elif norm in ("mean", "entry_mean"):
        mean, e = _mean_and_error(values, w)
        y, err = np.full(len(ref), mean), np.full(len(ref), e)
    elif norm == "dispersion":
        if len(values):
            mean = np.sum(w * values) / w.sum()
            d = float(np.sqrt(np.sum(w * (values - mean) ** 2) / w.sum()))
        else:
            d = 0.0
        n_eff = max(kish(w_ev), 1.0)
        y, err = np.full(len(ref), d), np.full(len(ref), d / np.sqrt(2.0 * n_eff))
    elif norm == "moments":
        powers = np.rint(ref.x).astype(int)
        pairs = [_mean_and_error(values ** k, w) for k in powers]
        y = np.array([m for m, _ in pairs])
        err = np.array([e for _, e in pairs])
    else:
        raise ValueError(f"unknown normalisation {norm!r}")
    y, err = y * h.scale, err * h.scale
    return Scatter2D(f"/HADML_WEIGHTED/{filled.analysis.name}/{h.name}", ref.x.copy(),
                     ref.xerr_minus.copy(), ref.xerr_plus.copy(), y, err, err.copy())


def kish(w: np.ndarray) -> float:
    from hadml.reweight.weights import kish_ess

    return kish_ess(w)


def book_all(filled: Mapping[str, Filled], refs: Mapping[str, Mapping[str, Scatter2D]],
             event_weights: np.ndarray | None = None) -> dict[str, tuple[HistoDef, Scatter2D]]:
    """Every histogram the analyses book against ``refs`` ({analysis: {path: ref}}), with
    per-event weights (None: unit). Keys 'ANALYSIS/NAME'."""
    out = {}
    for name, f in filled.items():
        w = np.ones(f.n_events) if event_weights is None else event_weights
        # The unweighted finalize decides which histograms exist (and, for the PDG table,
        # which reference row is at the Z pole).
        for hname, (hd, _) in f.analysis.finalize(dict(refs[name])).items():
            ref = refs[name][f"/REF/{name}/{hname}"]
            out[f"{name}/{hname}"] = (hd, book_weighted(ref, hd, f, w))
    return out


def two_sample_chi2(a: Scatter2D, b: Scatter2D, norm: str) -> tuple[float, int]:
    """sum (ya - yb)^2 / (ea^2 + eb^2) over the bins where either is non-zero (one bin for
    the single-value normalisations), and the number of bins used."""
    ya, yb = a.y, b.y
    va, vb = a.yerr_plus ** 2, b.yerr_plus ** 2
    if norm in SINGLE_VALUE_NORMS:
        ya, yb, va, vb = ya[:1], yb[:1], va[:1], vb[:1]
    use = ((ya != 0) | (yb != 0)) & (va + vb > 0)
    chi2 = float(np.sum((ya[use] - yb[use]) ** 2 / (va[use] + vb[use])))
    return chi2, int(use.sum())


@dataclass
class Comparison:
    """Per histogram (key 'ANALYSIS/NAME'): chi2 and ndf of two booked samples."""

    chi2: dict[str, float] = field(default_factory=dict)
    ndf: dict[str, int] = field(default_factory=dict)

    def pvalues(self, scale: float = 1.0) -> dict[str, float]:
        from hadml.train.metrics import chi2_sf

        return {k: chi2_sf(self.chi2[k] / scale, self.ndf[k]) for k in self.chi2
                if self.ndf[k] > 0}


def compare(a: Mapping[str, tuple[HistoDef, Scatter2D]],
            b: Mapping[str, tuple[HistoDef, Scatter2D]]) -> Comparison:
    out = Comparison()
    for key in sorted(set(a) & set(b)):
        hd, ha = a[key]
        c2, ndf = two_sample_chi2(ha, b[key][1], hd.norm)
        out.chi2[key], out.ndf[key] = c2, ndf
    return out


def calibrate(null: Comparison) -> float:
    """The scale c of the null model chi2 ~ c chi2_ndf, fitted over all histograms of a
    null comparison: c = sum chi2 / sum ndf (hadml.train.metrics.null_scale, pooled)."""
    ndf = sum(null.ndf.values())
    if ndf < 1:
        raise ValueError("a null comparison without degrees of freedom")
    scale = sum(null.chi2.values()) / ndf
    if not scale > 0:
        raise ValueError("the null comparison has chi2 = 0: the two samples are identical, "
                         "not independent")
    return scale
