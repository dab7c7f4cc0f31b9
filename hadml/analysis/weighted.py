"""Weighted LEP histograms with a full covariance, for parameter-variation weights.

The analyses of hadml.analysis.analyses collect raw values (per event or per particle);
:class:`EntryTracker` records, while they fill, which event each value came from, so that
every booked histogram can be recomputed for any set of event weights
(:func:`weighted_histogram`): the bin values are ratio estimators (weighted sums over the
weighted number of events, or of entries), and their covariance comes from the per-event
influence vectors, cov = sum_e w_e^2 u_e u_e^T (the delta method; unit weights give the
ordinary sampling covariance, and entries of one event that share bins are correlated,
as they are). :func:`chi2_two_histograms` compares two independent histograms with the full
covariance (pseudo-inverse; ndf = its rank), which makes its chi2 calibrated even for
normalised shapes and per-particle spectra (docs/variations.md, the null test).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .analyses import Analysis, HistoDef
from .yoda import Scatter2D

#: Bins with fewer raw entries than this in either sample are left out of the two-sample
#: chi2: the Gaussian approximation of a ratio estimator needs some entries.
MIN_ENTRIES = 10


class EntryTracker:
    """Which event each raw value of each analysis came from, and the events' weights.

    Call :meth:`after_fill` after each ``analysis.fill(event)`` (with the counters taken
    by :meth:`before_fill`)."""

    def __init__(self) -> None:
        self.weights: list[np.ndarray] = []  # per event: (n_weights,)
        # (analysis, key) -> per-entry event index chunks
        self.index: dict[tuple[str, str], list[np.ndarray]] = {}
        # analysis -> events it counted (n_events went up)
        self.counted: dict[str, list[int]] = {}
        self._state: dict[str, tuple[int, dict[str, int]]] = {}
        self.names: list[str] = []  # weight names (the first is the nominal weight)

    @property
    def n_events(self) -> int:
        return len(self.weights)

    def add_event(self, weights: np.ndarray) -> int:
        self.weights.append(np.asarray(weights, dtype=np.float64))
        return len(self.weights) - 1

    def before_fill(self, name: str, a: Analysis) -> None:
        self._state[name] = (a.n_events, {k: len(v) for k, v in a.data.items()})

    def after_fill(self, name: str, a: Analysis, event: int) -> None:
        n_before, chunks_before = self._state[name]
        if a.n_events > n_before:
            self.counted.setdefault(name, []).append(event)
        for key, chunks in a.data.items():
            new = chunks[chunks_before.get(key, 0):]
            n = sum(len(c) if isinstance(c, np.ndarray) else 1 for c in new)
            if n:
                self.index.setdefault((name, key), []).append(np.full(n, event, np.int64))

    def entries(self, name: str, key: str) -> np.ndarray:
        chunks = self.index.get((name, key), [])
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int64)

    def weight_matrix(self) -> np.ndarray:
        return np.stack(self.weights) if self.weights else np.zeros((0, 0))


@dataclass
class WeightedHisto:
    y: np.ndarray          # bin values
    cov: np.ndarray        # covariance of the bin values
    entries: np.ndarray    # raw entries per bin (unweighted)
    one_entry: np.ndarray | None = None  # error given to an empty bin (as analyses.book)

    @property
    def err(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def scatter(self, ref: Scatter2D, path: str) -> Scatter2D:
        """The histogram as analyses.book writes it: an empty bin gets the error of one
        entry (for the chi2 against data)."""
        e = self.err
        if self.one_entry is not None:
            e = np.where(self.entries > 0, e, self.one_entry)
        return Scatter2D(path, ref.x.copy(), ref.xerr_minus.copy(), ref.xerr_plus.copy(),
                         self.y.copy(), e, e.copy())


def _bin_matrix(values: np.ndarray, event: np.ndarray, n_events: int, lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
    """C[e, i]: entries of event e in bin [lo_i, hi_i) (shared edges made identical, as
    analyses.bin_counts)."""
    hi = np.array(hi, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    nxt = lo[1:]
    shared = np.abs(hi[:-1] - nxt) <= 1e-9 * np.maximum(np.abs(nxt), 1.0)
    hi[:-1][shared] = nxt[shared]
    n_bins = len(lo)
    if np.all(np.diff(lo) > 0) and np.all(hi[:-1] <= lo[1:]):
        # Ordered bins that do not overlap (the reference files'): one search per entry.
        i = np.searchsorted(lo, values, side="right") - 1
        ok = i >= 0
        ok[ok] = values[ok] < hi[i[ok]]
        flat = event[ok] * n_bins + i[ok]
        return np.bincount(flat, minlength=n_events * n_bins).reshape(
            n_events, n_bins).astype(np.float64)
    C = np.zeros((n_events, n_bins))
    for k in range(n_bins):
        m = (values >= lo[k]) & (values < hi[k])
        np.add.at(C[:, k], event[m], 1.0)
    return C


def _ratio(num: np.ndarray, den: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratio estimator y = sum_e w num_e / sum_e w den_e (num (n, k), den (n,)) and its
    influence vectors u_e = (num_e - y den_e) / sum_e w den_e."""
    d = float(w @ den)
    if d <= 0:
        return np.zeros(num.shape[1]), np.zeros_like(num)
    y = (w @ num) / d
    return y, (num - den[:, None] * y[None, :]) / d


@dataclass
class _EventTerms:
    """What a histogram needs of each event, independent of the weights: the numerator
    rows ``num`` (n_events, k) and denominator ``den`` (n_events,) of its ratio
    estimators (for ``dispersion``: the sums of x and x^2 as the two numerator columns)."""

    hd: HistoDef
    num: np.ndarray
    den: np.ndarray
    width: np.ndarray | None  # bin widths for densities
    n_ref: int


def _event_terms(hd: HistoDef, ref: Scatter2D, values: np.ndarray, event: np.ndarray,
                 counted: np.ndarray) -> _EventTerms:
    n = len(counted)
    lo, hi = ref.edges
    values = np.asarray(values, dtype=np.float64)
    k_e = np.bincount(event, minlength=n).astype(np.float64)  # entries per event
    f_e = counted.astype(np.float64)
    norm = hd.norm
    width = None
    if norm in ("density", "fraction", "unit"):
        num = _bin_matrix(values, event, n, lo, hi)
        den = k_e if norm == "unit" else f_e
        width = None if norm == "fraction" else hi - lo
    elif norm == "jet_fraction":
        rows = values.reshape(-1, 5)
        row_event = event[::5]
        num = np.zeros((n, len(ref)))
        for i, y_cut in enumerate(np.exp(ref.x)):
            np.add.at(num[:, i], row_event, _jets_at(rows, hd.order, y_cut))
        den = f_e
    elif norm in ("mean", "entry_mean"):
        num = np.bincount(event, weights=values, minlength=n)[:, None]
        den = k_e
    elif norm == "dispersion":
        num = np.stack([np.bincount(event, weights=values, minlength=n),
                        np.bincount(event, weights=values * values, minlength=n)], 1)
        den = k_e
    elif norm == "moments":
        powers = np.rint(ref.x).astype(int)
        num = np.stack([np.bincount(event, weights=values ** p, minlength=n)
                        for p in powers], 1)
        den = k_e
    else:
        raise ValueError(f"unknown normalisation {norm!r}")
    return _EventTerms(hd, num, den, width, len(ref))


def _weighted(t: _EventTerms, w: np.ndarray) -> WeightedHisto:
    """The histogram of event terms ``t`` with event weights ``w``."""
    hd, n_ref = t.hd, t.n_ref
    norm = hd.norm
    one_entry = None
    if norm in ("density", "fraction", "unit", "jet_fraction"):
        y, U = _ratio(t.num, t.den, w)
        one_entry = np.full(n_ref, float(np.mean(w)) / max(float(w @ t.den), 1e-300))
        if t.width is not None:
            y, U, one_entry = y / t.width, U / t.width[None, :], one_entry / t.width
        entries = t.num.sum(0)
    elif norm in ("mean", "entry_mean"):
        y1, U1 = _ratio(t.num, t.den, w)
        y = np.full(n_ref, y1[0])
        U = np.repeat(U1, n_ref, axis=1)
        entries = np.full(n_ref, float(t.den.sum()))
    elif norm == "dispersion":
        s1, s2, k_e = t.num[:, 0], t.num[:, 1], t.den
        (m1, m2), _ = _ratio(t.num, k_e, w)
        d = np.sqrt(max(m2 - m1 * m1, 0.0))
        den = float(w @ k_e)
        u = ((s2 - m2 * k_e) - 2 * m1 * (s1 - m1 * k_e)) / (2 * d * den) if d > 0 and den > 0 \
            else np.zeros(len(w))
        y = np.full(n_ref, d)
        U = np.repeat(u[:, None], n_ref, axis=1)
        entries = np.full(n_ref, float(k_e.sum()))
    else:  # moments
        y, U = _ratio(t.num, t.den, w)
        entries = np.full(n_ref, float(t.den.sum()))
    Uw = U * w[:, None]
    cov = Uw.T @ Uw
    if one_entry is not None:
        one_entry = one_entry * hd.scale
    return WeightedHisto(y * hd.scale, cov * hd.scale ** 2, entries, one_entry)


def weighted_histogram(hd: HistoDef, ref: Scatter2D, values: np.ndarray, event: np.ndarray,
                       counted: np.ndarray, w: np.ndarray) -> WeightedHisto:
    """Histogram ``hd`` (as analyses.book normalises it) of raw ``values`` with the event
    index of each (``event``), the events the analysis counted (mask ``counted``) and event
    weights ``w``."""
    return _weighted(_event_terms(hd, ref, values, event, counted), np.asarray(w, float))


def _jets_at(rows: np.ndarray, order: int, y_cut: float) -> np.ndarray:
    """Per event: 1 if it has exactly ``order`` Durham jets at y_cut (the per-event form of
    analyses.jet_fractions, which tests/test_variations.py checks against it)."""
    upper = np.column_stack([np.ones(len(rows)), rows])
    lower = np.column_stack([rows, np.zeros(len(rows))])
    up, low = upper[:, order - 1], lower[:, order - 1]
    return ((low < y_cut) & (y_cut < up)).astype(np.float64)


@dataclass
class TwoSampleChi2:
    chi2: float
    ndf: int
    p: float


def chi2_two_histograms(a: WeightedHisto, b: WeightedHisto,
                        min_entries: int = MIN_ENTRIES) -> TwoSampleChi2:
    """chi2 = d^T (C_a + C_b)^+ d of two independent histograms over the bins with at
    least ``min_entries`` raw entries in both; ndf = rank of C_a + C_b on those bins."""
    from hadml.train.metrics import chi2_sf

    use = (a.entries >= min_entries) & (b.entries >= min_entries)
    if not np.any(use):
        return TwoSampleChi2(float("nan"), 0, float("nan"))
    d = (a.y - b.y)[use]
    cov = (a.cov + b.cov)[np.ix_(use, use)]
    vals, vecs = np.linalg.eigh(cov)
    keep = vals > 1e-10 * max(float(vals.max()), 1e-300)
    proj = vecs[:, keep].T @ d
    chi2 = float(np.sum(proj ** 2 / vals[keep]))
    ndf = int(keep.sum())
    return TwoSampleChi2(chi2, ndf, chi2_sf(chi2, ndf) if ndf else float("nan"))


def book_weighted(analyses: Mapping[str, Analysis], tracker: EntryTracker,
                  refs: Mapping[str, Mapping[str, Scatter2D]], column: int
                  ) -> dict[str, tuple[HistoDef, Scatter2D, WeightedHisto]]:
    """Every histogram the analyses book, recomputed with weight column ``column`` of the
    tracker: {"analysis/name": (def, ref, weighted histogram)}."""
    return book_weighted_columns(analyses, tracker, refs, [column])[column]


def book_weighted_columns(analyses: Mapping[str, Analysis], tracker: EntryTracker,
                          refs: Mapping[str, Mapping[str, Scatter2D]],
                          columns: Sequence[int]
                          ) -> dict[int, dict[str, tuple[HistoDef, Scatter2D, WeightedHisto]]]:
    """:func:`book_weighted` for several weight columns at once (each histogram's
    per-event terms are made once): {column: {"analysis/name": (def, ref, histogram)}}."""
    W = tracker.weight_matrix()
    out: dict[int, dict] = {c: {} for c in columns}
    for aname, a in analyses.items():
        booked = a.finalize(dict(refs[aname]))
        counted = np.zeros(tracker.n_events, bool)
        counted[tracker.counted.get(aname, [])] = True
        arrays = a.arrays()
        for name, (hd, _) in booked.items():
            ref = refs[aname][f"/REF/{aname}/{name}"]
            terms = _event_terms(hd, ref, arrays[hd.key], tracker.entries(aname, hd.key),
                                 counted)
            for c in columns:
                w = W[:, c] if W.size else np.zeros(0)
                out[c][f"{aname}/{name}"] = (hd, ref, _weighted(terms, w))
    return out
