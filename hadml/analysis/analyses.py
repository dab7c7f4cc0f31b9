"""LEP analyses: per-event fills and the final histograms on reference binning.

Each analysis accumulates raw per-event / per-particle values while events stream in
(cheap), and books histograms only at the end, on the bin edges of the reference file
and with its normalisation:

* ``density``   count / (N_events * bin width)  -- 1/N dN/dx. For event shapes this is
  the unit-area normalisation of the Rivet analysis (overflow included in N); for
  per-particle spectra the integral is the mean multiplicity.
* ``fraction``  count / N_events  (ALEPH d18: P(n_ch) per even n, values sum to 1).
* ``mean``      mean per event (multiplicities), error std / sqrt(N).
* ``dispersion`` D = sqrt(<n^2> - <n>^2), error D / sqrt(2 N) (Gaussian approximation).
* ``unit``      count / (N_entries * bin width): unit area over all entries, overflow
  included (Rivet's ``normalize``), for per-particle spectra such as x_B.
* ``entry_mean`` mean over all entries (not events), error std / sqrt(N_entries): the
  mean of a per-particle quantity (Rivet's Profile1D at one point).
* ``moments``   <X^n> per event at x = n (n = 1..5), error std(X^n) / sqrt(N).
* ``jet_fraction`` fraction of events with exactly ``order`` Durham jets (``order`` = 6:
  six or more) at y_cut = exp(x) of each reference point (the bin centre), from the
  per-event resolutions y12..y56 (see :class:`Aleph2004`).

``HistoDef.scale`` multiplies value and error (e.g. ALEPH 1999's branching fractions).
MC errors come from sumw2 (unit weights: sqrt(count); an empty bin gets the error of one
entry).

Per-event quantities that several analyses need (the event shapes of all final-state
particles, like a Rivet projection) are computed once per event and kept in the event
dict under ``'_derived'``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .observables import (
    EventShapes,
    b_hadron_selection,
    charge3,
    durham_resolutions,
    event_shapes,
    rapidity_along,
)
from .yoda import Scatter2D

ALEPH = "ALEPH_1996_S3486095"
PDG = "PDG_HADRON_MULTIPLICITIES"
ALEPH_SHAPES = "ALEPH_2004_S5765862"
OPAL_SHAPES = "OPAL_2004_S6132243"
ALEPH_BFRAG = "ALEPH_2001_S4656318"
DELPHI_BFRAG = "DELPHI_2011_I890503"
ALEPH_DSTAR = "ALEPH_1999_S4193598"

NEUTRINOS = (12, 14, 16)


@dataclass(frozen=True)
class HistoDef:
    name: str  # dNN-xNN-yNN
    observable: str
    key: str  # which accumulated array
    norm: str  # density | fraction | mean | dispersion | unit | entry_mean | moments | jet_fraction
    order: int = 0  # jet_fraction: number of jets (6 = six or more)
    scale: float = 1.0  # extra factor on value and error


def bin_counts(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Counts of values in [lo_k, hi_k) for possibly non-contiguous bins.

    Edges are x -+ xerr in the YODA files, so a shared edge can differ by rounding
    between neighbours; such edges are made identical, leaving no gap (or overlap)."""
    hi = np.array(hi, dtype=np.float64)
    nxt = np.asarray(lo, dtype=np.float64)[1:]
    shared = np.abs(hi[:-1] - nxt) <= 1e-9 * np.maximum(np.abs(nxt), 1.0)
    hi[:-1][shared] = nxt[shared]
    v = np.sort(np.asarray(values, dtype=np.float64))
    return (np.searchsorted(v, hi, side="left") - np.searchsorted(v, lo, side="left")).astype(
        np.float64
    )


def jet_fractions(resolutions: np.ndarray, n_jets: int, y_cut: np.ndarray) -> np.ndarray:
    """Number of events with exactly n_jets Durham jets (n_jets = 6: six or more) at each
    y_cut, from resolutions[N, 5] = (y12, y23, y34, y45, y56) per event.

    An event has n jets at y_cut when y_{n,n+1} < y_cut < y_{n-1,n}, with y_01 = 1 (the
    largest possible Durham distance; Rivet's ALEPH_2004 loop starts there too).
    """
    res = np.asarray(resolutions, dtype=np.float64).reshape(-1, 5)
    upper = np.column_stack([np.ones(len(res)), res])  # y_{n-1,n}, n = 1..6
    lower = np.column_stack([res, np.zeros(len(res))])  # y_{n,n+1}; >= 6 jets: no floor
    up, low = upper[:, n_jets - 1], lower[:, n_jets - 1]
    yc = np.asarray(y_cut, dtype=np.float64)[None, :]
    return np.count_nonzero((low[:, None] < yc) & (yc < up[:, None]), axis=0).astype(np.float64)


def book(ref: Scatter2D, values: np.ndarray, n_events: int, norm: str, path: str,
         order: int = 0, scale: float = 1.0) -> Scatter2D:
    """An MC Scatter2D on the reference bins of ``ref``, normalised as ``norm`` (see the
    module docstring) and multiplied by ``scale``."""
    mc = _book(ref, values, n_events, norm, order)
    if scale != 1.0:
        mc.y *= scale
        mc.yerr_minus *= scale
        mc.yerr_plus *= scale
    mc.path = path
    return mc


def _book(ref: Scatter2D, values: np.ndarray, n_events: int, norm: str,
          order: int) -> Scatter2D:
    lo, hi = ref.edges
    width = hi - lo
    values = np.asarray(values, dtype=np.float64)
    n = max(n_events, 1)
    if norm in ("density", "fraction", "unit", "jet_fraction"):
        if norm == "jet_fraction":
            counts = jet_fractions(values, order, np.exp(ref.x))
        else:
            counts = bin_counts(values, lo, hi)
        if norm in ("fraction", "jet_fraction"):
            scale = 1.0 / n
        elif norm == "unit":
            scale = 1.0 / (max(len(values), 1) * width)
        else:
            scale = 1.0 / (n * width)
        y = counts * scale
        # An empty bin still has a statistical uncertainty: use the error of one entry
        # (close to the 68% Poisson upper limit 1.14), else tiny-data-error bins in the
        # tails give arbitrary chi2 for small samples.
        err = np.sqrt(np.maximum(counts, 1.0)) * scale
    elif norm == "mean":
        y = np.full(len(ref), values.mean() if len(values) else 0.0)
        err = np.full(len(ref), values.std(ddof=1) / np.sqrt(n) if len(values) > 1 else 0.0)
    elif norm == "entry_mean":
        k = len(values)
        y = np.full(len(ref), values.mean() if k else 0.0)
        err = np.full(len(ref), values.std(ddof=1) / np.sqrt(k) if k > 1 else 0.0)
    elif norm == "dispersion":
        d = values.std() if len(values) else 0.0
        y = np.full(len(ref), d)
        err = np.full(len(ref), d / np.sqrt(2.0 * n))
    elif norm == "moments":
        powers = np.rint(ref.x).astype(int)
        if len(values) == 0:
            y = err = np.zeros(len(ref))
        else:
            xn = values[:, None] ** powers[None, :]
            y = xn.mean(axis=0)
            err = xn.std(axis=0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0 * y
    else:
        raise ValueError(f"unknown normalisation {norm!r}")
    return Scatter2D("", ref.x.copy(), ref.xerr_minus.copy(), ref.xerr_plus.copy(), y, err,
                     err.copy())


class Analysis:
    """Base: subclasses fill ``self.data[key]`` lists and define ``histos``."""

    name = ""
    histos: tuple[HistoDef, ...] = ()

    def __init__(self) -> None:
        self.n_events = 0
        self.data: dict[str, list] = {h.key: [] for h in self.histos}

    def fill(self, event: dict[str, np.ndarray], ecm: float | None = None) -> None:
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for key, chunks in self.data.items():
            if chunks and isinstance(chunks[0], np.ndarray):
                out[key] = np.concatenate(chunks)
            else:
                out[key] = np.asarray(chunks, dtype=np.float64)
        return out

    def finalize(self, refs: dict[str, Scatter2D]) -> dict[str, tuple[HistoDef, Scatter2D]]:
        """Book every histogram whose reference exists: {name: (def, mc scatter)}."""
        arrays = self.arrays()
        out = {}
        for h in self.histos:
            ref = refs.get(f"/REF/{self.name}/{h.name}")
            if ref is None:
                continue
            out[h.name] = (h, book(ref, arrays[h.key], self.n_events, h.norm,
                                   f"/HADML/{self.name}/{h.name}", h.order, h.scale))
        return out


def _ecm(event: dict[str, np.ndarray], ecm: float | None) -> float:
    """sqrt(s): given, or the invariant mass of all final-state particles (neutrinos
    included), which is exact for e+e- without ISR."""
    if ecm is not None:
        return ecm
    q = event["p"].sum(axis=0)
    return float(np.sqrt(max(q[3] ** 2 - q[0] ** 2 - q[1] ** 2 - q[2] ** 2, 0.0)))


class Aleph1996(Analysis):
    """ALEPH, Phys. Rept. 294 (1998) 1 (Rivet ALEPH_1996_S3486095), charged particles.

    Events with fewer than 2 charged particles are vetoed (as Rivet does). Event shapes
    from charged particles; d06 uses E_vis = sum of charged energies. pT_in / pT_out are
    |p . n| along the sphericity major (2nd eigenvector) / minor (3rd) axes, y_T the
    rapidity w.r.t. the thrust axis (|y|), x_p = |p| / (sqrt(s)/2).
    """

    name = ALEPH
    histos = (
        HistoDef("d01-x01-y01", "Sphericity S (charged)", "sph", "density"),
        HistoDef("d02-x01-y01", "Aplanarity A (charged)", "apl", "density"),
        HistoDef("d03-x01-y01", "1-T (charged)", "omt", "density"),
        HistoDef("d04-x01-y01", "Thrust minor (charged)", "tmin", "density"),
        HistoDef("d05-x01-y01", "-ln y23 Durham (charged)", "lny23", "density"),
        HistoDef("d06-x01-y01", "M_h^2/E_vis^2 (charged)", "mh2", "density"),
        HistoDef("d07-x01-y01", "C parameter (charged)", "cpar", "density"),
        HistoDef("d08-x01-y01", "Oblateness (charged)", "obl", "density"),
        HistoDef("d09-x01-y01", "x_p (charged)", "xp", "density"),
        HistoDef("d10-x01-y01", "|y_T| w.r.t. thrust axis (charged)", "yt", "density"),
        HistoDef("d11-x01-y01", "pT_in w.r.t. sphericity axes [GeV] (charged)", "ptin", "density"),
        HistoDef("d12-x01-y01", "pT_out w.r.t. sphericity axes [GeV] (charged)", "ptout",
                 "density"),
        HistoDef("d17-x01-y01", "ln(1/x_p) (charged)", "xi", "density"),
        HistoDef("d18-x01-y01", "P(n_ch)", "nch", "fraction"),
        HistoDef("d19-x01-y01", "<n_ch>", "nch", "mean"),
        HistoDef("d19-x01-y02", "dispersion D of n_ch", "nch", "dispersion"),
        HistoDef("d20-x01-y01", "<n_ch>, |y_T| < 0.5", "nch05", "mean"),
        HistoDef("d21-x01-y01", "<n_ch>, |y_T| < 1.0", "nch10", "mean"),
        HistoDef("d22-x01-y01", "<n_ch>, |y_T| < 1.5", "nch15", "mean"),
        HistoDef("d23-x01-y01", "<n_ch>, |y_T| < 2.0", "nch20", "mean"),
    )

    def __init__(self, use_fastjet: bool = True) -> None:
        super().__init__()
        self.use_fastjet = use_fastjet

    def fill(self, event: dict[str, np.ndarray], ecm: float | None = None) -> None:
        sqrt_s = _ecm(event, ecm)
        charged = charge3(event["pid"]) != 0
        p4 = event["p"][charged]
        if len(p4) < 2:
            return
        self.n_events += 1
        s = event_shapes(p4, use_fastjet=self.use_fastjet)
        d = self.data
        d["sph"].append(s.sphericity)
        d["apl"].append(s.aplanarity)
        d["omt"].append(1.0 - s.thrust)
        d["tmin"].append(s.thrust_minor)
        d["lny23"].append(-np.log(s.y23) if s.y23 > 0 else np.inf)
        d["mh2"].append(s.heavy_mass2)
        d["cpar"].append(s.c_parameter)
        d["obl"].append(s.oblateness)
        mag = np.linalg.norm(p4[:, :3], axis=1)
        xp = mag / (0.5 * sqrt_s)
        d["xp"].append(xp)
        d["xi"].append(-np.log(np.maximum(xp, 1e-300)))
        yt = np.abs(rapidity_along(p4, s.thrust_axis))
        d["yt"].append(yt)
        d["ptin"].append(np.abs(p4[:, :3] @ s.sph_axes[:, 1]))
        d["ptout"].append(np.abs(p4[:, :3] @ s.sph_axes[:, 2]))
        d["nch"].append(float(len(p4)))
        for key, cut in (("nch05", 0.5), ("nch10", 1.0), ("nch15", 1.5), ("nch20", 2.0)):
            d[key].append(float(np.count_nonzero(yt < cut)))


# PDG_HADRON_MULTIPLICITIES (PDG 2008, table 40.1): particle + antiparticle, feed-down
# included. dNN -> (label, |PDG ids|). K0 is counted as K0_S + K0_L (K0/K0bar themselves
# are only intermediate states in generators). The y index of the 91 GeV point is found
# from the reference file (the point whose x bin holds 91.2 GeV).
PDG_SPECIES: dict[str, tuple[str, tuple[int, ...]]] = {
    "d01": ("pi+-", (211,)),
    "d02": ("pi0", (111,)),
    "d03": ("K+-", (321,)),
    "d04": ("K0 (K0S + K0L)", (310, 130)),
    "d05": ("eta", (221,)),
    "d06": ("eta'(958)", (331,)),
    "d07": ("D+-", (411,)),
    "d08": ("D0", (421,)),
    "d09": ("D_s+-", (431,)),
    "d13": ("f0(980)", (9010221,)),
    "d15": ("rho0(770)", (113,)),
    "d16": ("rho+-(770)", (213,)),
    "d17": ("omega(782)", (223,)),
    "d18": ("K*+-(892)", (323,)),
    "d19": ("K*0(892)", (313,)),
    "d20": ("phi(1020)", (333,)),
    "d21": ("D*+-(2010)", (413,)),
    "d25": ("J/psi", (443,)),
    "d31": ("f2(1270)", (225,)),
    "d32": ("f2'(1525)", (335,)),
    "d38": ("p", (2212,)),
    "d39": ("Lambda", (3122,)),
    "d40": ("Sigma0", (3212,)),
    "d41": ("Sigma-", (3112,)),
    "d42": ("Sigma+", (3222,)),
    "d43": ("Sigma+-", (3112, 3222)),
    "d44": ("Xi-", (3312,)),
    "d45": ("Delta++(1232)", (2224,)),
    "d46": ("Sigma-(1385)", (3114,)),
    "d47": ("Sigma+(1385)", (3224,)),
    "d48": ("Sigma+-(1385)", (3114, 3224)),
    "d49": ("Xi0(1530)", (3324,)),
    "d50": ("Omega-", (3334,)),
    "d51": ("Lambda_c+", (4122,)),
}


class PdgMultiplicities(Analysis):
    """Mean identified-hadron multiplicities per event at the Z pole.

    Counts final particles plus the decayed hadrons ('decayed_pid'), so that unstable
    species (pi0, eta, K0S, Lambda, phi, ...) and feed-down are both counted, as in the
    PDG table. Without 'decayed_pid' unstable species read zero: the report says so.
    """

    name = PDG

    def __init__(self) -> None:
        self.histos = tuple(
            HistoDef(f"{d}-x01-y??", f"<n> {label}", d, "mean")
            for d, (label, _) in PDG_SPECIES.items()
        )
        super().__init__()
        self.has_decayed = False
        # One sorted key table and a key -> species matrix, so one event costs one
        # searchsorted + bincount instead of a membership test per species.
        self._keys = np.unique(np.concatenate([ids for _, ids in PDG_SPECIES.values()]))
        self._species = list(PDG_SPECIES)
        self._matrix = np.zeros((len(self._keys), len(self._species)))
        for k, (_, ids) in enumerate(PDG_SPECIES.values()):
            self._matrix[np.searchsorted(self._keys, ids), k] = 1.0

    def fill(self, event: dict[str, np.ndarray], ecm: float | None = None) -> None:
        self.n_events += 1
        pids = event["pid"]
        if "decayed_pid" in event:
            self.has_decayed = True
            pids = np.concatenate([pids, event["decayed_pid"]])
        a = np.abs(pids)
        idx = np.minimum(np.searchsorted(self._keys, a), len(self._keys) - 1)
        hit = self._keys[idx] == a
        per_key = np.bincount(idx[hit], minlength=len(self._keys))
        for d, count in zip(self._species, per_key @ self._matrix, strict=True):
            self.data[d].append(float(count))

    def finalize(self, refs: dict[str, Scatter2D]) -> dict[str, tuple[HistoDef, Scatter2D]]:
        arrays = self.arrays()
        out = {}
        for h in self.histos:
            d = h.key
            for y in range(1, 6):
                name = f"{d}-x01-y{y:02d}"
                ref = refs.get(f"/REF/{self.name}/{name}")
                if ref is None or len(ref) != 1:
                    continue
                lo, hi = ref.edges
                if lo[0] <= 91.2 <= hi[0]:
                    hd = HistoDef(name, h.observable, d, "mean")
                    out[name] = (hd, book(ref, arrays[d], self.n_events, "mean",
                                          f"/HADML/{self.name}/{name}"))
                    break
        return out


def _derived(event: dict, key: str, compute: Callable[[], object]):
    """A per-event quantity shared by several analyses (as a Rivet projection is):
    computed by the first analysis that asks and kept in event['_derived']."""
    cache = event.setdefault("_derived", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _all_particle_shapes(event: dict, use_fastjet: bool) -> EventShapes:
    """Event shapes of ALL final-state particles, neutrinos included, with the Durham
    resolutions y12 .. y56 (ALEPH 2004 and OPAL 2004)."""
    return _derived(event, "shapes_all",
                    lambda: event_shapes(event["p"], use_fastjet=use_fastjet, n_durham=5))


def _n_charged(event: dict) -> int:
    return _derived(event, "n_charged",
                    lambda: int(np.count_nonzero(charge3(event["pid"]) != 0)))


class Aleph2004(Analysis):
    """ALEPH, Eur. Phys. J. C35 (2004) 457 (Rivet ALEPH_2004_S5765862), 91.2 GeV only.

    All final-state particles, neutrinos included (the data are corrected to include
    them, and Rivet's projections use the full final state, also for the jets). No event
    selection; every event counts in the normalisation. Shapes are unit area
    (1/N dN/dX); at 91.2 GeV d54 is T itself and d102 is ln(T_minor). The Durham
    resolutions d149-d180 are -ln y_{n,n+1} per event; the n-jet fractions d187-d227
    are evaluated at y_cut = exp(x) of each point, the bin centre. Rivet tests the
    lower bin edge instead, but the data's own -ln y12 distribution (d149) integrates
    to the 1-jet and 2-jet fractions (d187, d195) only at the centres (docs/analysis.md).
    d01 (<n_ch> vs
    sqrt(s)) is not booked: one point of a multi-energy object (ALEPH 1996 d19 has it).
    """

    name = ALEPH_SHAPES
    histos = (
        HistoDef("d54-x01-y01", "Thrust T (all particles)", "thrust", "density"),
        HistoDef("d62-x01-y01", "Heavy jet mass M_H^2/E_vis^2", "mh2", "density"),
        HistoDef("d70-x01-y01", "Total broadening B_T", "bt", "density"),
        HistoDef("d78-x01-y01", "Wide broadening B_W", "bw", "density"),
        HistoDef("d86-x01-y01", "C parameter", "cpar", "density"),
        HistoDef("d94-x01-y01", "Thrust major", "tmaj", "density"),
        HistoDef("d102-x01-y01", "ln(thrust minor)", "lntmin", "density"),
        HistoDef("d110-x01-y01", "Jet mass difference (M_H^2 - M_L^2)/E_vis^2", "mdiff",
                 "density"),
        HistoDef("d118-x01-y01", "Aplanarity A", "apl", "density"),
        HistoDef("d133-x01-y01", "Oblateness O", "obl", "density"),
        HistoDef("d141-x01-y01", "Sphericity S", "sph", "density"),
        HistoDef("d149-x01-y01", "-ln y12 (Durham)", "lny12", "density"),
        HistoDef("d157-x01-y01", "-ln y23 (Durham)", "lny23", "density"),
        HistoDef("d165-x01-y01", "-ln y34 (Durham)", "lny34", "density"),
        HistoDef("d173-x01-y01", "-ln y45 (Durham)", "lny45", "density"),
        HistoDef("d180-x01-y01", "-ln y56 (Durham)", "lny56", "density"),
        HistoDef("d187-x01-y01", "1-jet fraction vs ln y_cut (Durham)", "ynn", "jet_fraction",
                 order=1),
        HistoDef("d195-x01-y01", "2-jet fraction vs ln y_cut (Durham)", "ynn", "jet_fraction",
                 order=2),
        HistoDef("d203-x01-y01", "3-jet fraction vs ln y_cut (Durham)", "ynn", "jet_fraction",
                 order=3),
        HistoDef("d211-x01-y01", "4-jet fraction vs ln y_cut (Durham)", "ynn", "jet_fraction",
                 order=4),
        HistoDef("d219-x01-y01", "5-jet fraction vs ln y_cut (Durham)", "ynn", "jet_fraction",
                 order=5),
        HistoDef("d227-x01-y01", ">=6-jet fraction vs ln y_cut (Durham)", "ynn",
                 "jet_fraction", order=6),
    )

    def __init__(self, use_fastjet: bool = True) -> None:
        super().__init__()
        self.use_fastjet = use_fastjet

    def fill(self, event: dict[str, np.ndarray], ecm: float | None = None) -> None:
        self.n_events += 1
        if len(event["p"]) < 2:
            return
        s = _all_particle_shapes(event, self.use_fastjet)
        d = self.data
        d["thrust"].append(s.thrust)
        d["mh2"].append(s.heavy_mass2)
        d["bt"].append(s.b_total)
        d["bw"].append(s.b_wide)
        d["cpar"].append(s.c_parameter)
        d["tmaj"].append(s.thrust_major)
        d["lntmin"].append(np.log(s.thrust_minor) if s.thrust_minor > 0 else -np.inf)
        d["mdiff"].append(s.heavy_mass2 - s.light_mass2)
        d["apl"].append(s.aplanarity)
        d["obl"].append(s.oblateness)
        d["sph"].append(s.sphericity)
        # y = 0 (fewer particles than jets) is not filled but counts in N, as in Rivet
        for key, y in zip(("lny12", "lny23", "lny34", "lny45", "lny56"), s.durham,
                          strict=True):
            d[key].append(-np.log(y) if y > 0 else np.inf)
        d["ynn"].append(np.asarray(s.durham, dtype=np.float64))


class Opal2004(Analysis):
    """OPAL, Eur. Phys. J. C40 (2005) 287 (Rivet OPAL_2004_S6132243), 91 GeV (y01) only.

    Events need >= 2 charged particles and are normalised to those selected. Event
    shapes from all final-state particles (neutrinos included); the Durham y23 from the
    visible ones (neutrinos excluded: Rivet's FastJets default). M_H and M_L are the
    hemisphere masses over E_vis (not squared). d15-d26 are the moments <X^n>, n = 1..5.
    """

    name = OPAL_SHAPES
    _shapes = (
        # (distribution, moments, observable, key)
        ("d01", "d15", "1-T", "omt"),
        ("d02", "d16", "Heavy hemisphere mass M_H/E_vis", "mh"),
        ("d03", "d17", "C parameter", "cpar"),
        ("d04", "d18", "Total broadening B_T", "bt"),
        ("d05", "d19", "Wide broadening B_W", "bw"),
        ("d06", "d20", "Durham y23 (visible particles)", "y23"),
        ("d07", "d21", "Thrust major", "tmaj"),
        ("d08", "d22", "Thrust minor", "tmin"),
        ("d09", None, "Aplanarity A", "apl"),
        ("d10", "d23", "Sphericity S", "sph"),
        ("d11", "d24", "Oblateness O", "obl"),
        ("d12", "d25", "Light hemisphere mass M_L/E_vis", "ml"),
        ("d13", "d26", "Narrow broadening B_N", "bn"),
        ("d14", None, "D parameter", "dpar"),
    )
    histos = tuple(
        [HistoDef(f"{d}-x01-y01", obs, key, "density") for d, _, obs, key in _shapes]
        + [HistoDef(f"{m}-x01-y01", f"Moments <X^n> of {obs}", key, "moments")
           for _, m, obs, key in _shapes if m is not None]
    )

    def __init__(self, use_fastjet: bool = True) -> None:
        super().__init__()
        self.use_fastjet = use_fastjet

    def fill(self, event: dict[str, np.ndarray], ecm: float | None = None) -> None:
        if _n_charged(event) < 2:
            return
        self.n_events += 1
        s = _all_particle_shapes(event, self.use_fastjet)
        visible = ~np.isin(np.abs(event["pid"]), NEUTRINOS)
        if np.all(visible):
            y23 = s.y23
        else:
            y23 = float(durham_resolutions(event["p"][visible], 2, self.use_fastjet)[1])
        d = self.data
        for key, value in (("omt", 1.0 - s.thrust), ("mh", np.sqrt(s.heavy_mass2)),
                           ("cpar", s.c_parameter), ("bt", s.b_total), ("bw", s.b_wide),
                           ("y23", y23), ("tmaj", s.thrust_major), ("tmin", s.thrust_minor),
                           ("apl", s.aplanarity), ("sph", s.sphericity),
                           ("obl", s.oblateness), ("ml", np.sqrt(s.light_mass2)),
                           ("bn", s.b_narrow), ("dpar", s.d_parameter)):
            d[key].append(value)


def _decay_record(event: dict, analysis: str,
                  keys: tuple[str, ...] = ("decayed_pid", "decayed_p", "decayed_mother"),
                  ) -> tuple[np.ndarray, ...]:
    """The decayed-hadron arrays ``keys`` of an event, or a clear error."""
    missing = [k for k in keys if k not in event]
    if missing:
        raise ValueError(
            f"{analysis} needs the decayed hadrons and their decay chain ({', '.join(missing)} "
            "missing): HepMC3 files with the status-2 hadrons and their decay vertices, or "
            "in-memory events from Event.final_state()")
    return tuple(event[k] for k in keys)


class _BFragmentation(Analysis):
    """x_B = E_B / E_beam of b hadrons, one entry per hadron (events with >= 2 charged
    particles), unit area; the means over all entries. E_beam = sqrt(s)/2."""

    def fill(self, event: dict[str, np.ndarray], ecm: float | None = None) -> None:
        pid, p, mother = _decay_record(event, self.name)
        if _n_charged(event) < 2:
            return
        self.n_events += 1
        weak, primary = b_hadron_selection(pid, mother)
        e_beam = 0.5 * _ecm(event, ecm)
        for key, mask in (("xb_weak", weak), ("xb_primary", primary)):
            if key in self.data:
                self.data[key].append(p[mask, 3] / e_beam)


class Aleph2001(_BFragmentation):
    """ALEPH, Phys. Lett. B512 (2001) 30 (Rivet ALEPH_2001_S4656318).

    Weakly decaying b hadrons: no b hadron among their decay products. Primary
    ('leading') b hadrons: made by the hadronization (Rivet: a parent with |id| <= 100
    that is not a lepton or photon, which covers quarks, gluons and Herwig's clusters,
    id 81). Every such hadron counts, so a b bbar event gives two entries of each kind.
    """

    name = ALEPH_BFRAG
    histos = (
        HistoDef("d01-x01-y01", "x_B of weakly decaying b hadrons", "xb_weak", "unit"),
        HistoDef("d01-x01-y02", "x_B of primary b hadrons", "xb_primary", "unit"),
        HistoDef("d07-x01-y01", "<x_B> of weakly decaying b hadrons", "xb_weak", "entry_mean"),
        HistoDef("d07-x01-y02", "<x_B> of primary b hadrons", "xb_primary", "entry_mean"),
    )


class Delphi2011(_BFragmentation):
    """DELPHI, Eur. Phys. J. C71 (2011) 1557 (Rivet DELPHI_2011_I890503): x_B of weakly
    decaying b hadrons (same definition as ALEPH 2001)."""

    name = DELPHI_BFRAG
    histos = (
        HistoDef("d01-x01-y01", "x_B of weakly decaying b hadrons", "xb_weak", "unit"),
        HistoDef("d02-x01-y01", "<x_B> of weakly decaying b hadrons", "xb_weak", "entry_mean"),
    )


# ALEPH 1999 quote the D*+- rate through D*+ -> D0 pi+, D0 -> K- pi+; Rivet scales the
# generator's D*+- spectrum by these branching fractions and by 1000 (per 1000 events).
DSTAR_BR = 0.677 * 0.0395


class Aleph1999Dstar(Analysis):
    """ALEPH, Eur. Phys. J. C16 (2000) 597 (Rivet ALEPH_1999_S4193598): D*+- scaled
    energy x_E = E / E_beam in all hadronic events.

    Every D*+-(2010) (decayed, or final if the decay table keeps it) in events with >= 5
    charged particles; normalised per event over ALL events (Rivet's sumOfWeights), times
    1000 * BR(D*+ -> D0 pi+) * BR(D0 -> K- pi+) = 1000 * 0.677 * 0.0395.
    """

    name = ALEPH_DSTAR
    histos = (
        HistoDef("d01-x01-y01", "D*+- x_E (x 1000 BR(D*->D0 pi) BR(D0->K pi) per event)",
                 "xe", "density", scale=1000.0 * DSTAR_BR),
    )

    def fill(self, event: dict[str, np.ndarray], ecm: float | None = None) -> None:
        pid, p = _decay_record(event, self.name, ("decayed_pid", "decayed_p"))
        self.n_events += 1
        if _n_charged(event) < 5:
            return
        e_beam = 0.5 * _ecm(event, ecm)
        energies = np.concatenate([p[np.abs(pid) == 413, 3],
                                   event["p"][np.abs(event["pid"]) == 413, 3]])
        self.data["xe"].append(energies / e_beam)


ANALYSES: dict[str, Callable[[], Analysis]] = {
    ALEPH: Aleph1996,
    PDG: PdgMultiplicities,
    ALEPH_SHAPES: Aleph2004,
    OPAL_SHAPES: Opal2004,
    ALEPH_BFRAG: Aleph2001,
    DELPHI_BFRAG: Delphi2011,
    ALEPH_DSTAR: Aleph1999Dstar,
}
