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

MC errors come from sumw2 (unit weights: sqrt(count); an empty bin gets the error of one
entry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .observables import charge3, event_shapes, rapidity_along
from .yoda import Scatter2D

ALEPH = "ALEPH_1996_S3486095"
PDG = "PDG_HADRON_MULTIPLICITIES"


@dataclass(frozen=True)
class HistoDef:
    name: str  # dNN-xNN-yNN
    observable: str
    key: str  # which accumulated array
    norm: str  # density | fraction | mean | dispersion


def bin_counts(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Counts of values in [lo_k, hi_k) for possibly non-contiguous bins."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    return (np.searchsorted(v, hi, side="left") - np.searchsorted(v, lo, side="left")).astype(
        np.float64
    )


def book(ref: Scatter2D, values: np.ndarray, n_events: int, norm: str, path: str) -> Scatter2D:
    """An MC Scatter2D on the reference bins of ``ref``, normalised as ``norm``."""
    lo, hi = ref.edges
    width = hi - lo
    values = np.asarray(values, dtype=np.float64)
    n = max(n_events, 1)
    if norm in ("density", "fraction"):
        counts = bin_counts(values, lo, hi)
        scale = 1.0 / n if norm == "fraction" else 1.0 / (n * width)
        y = counts * scale
        # An empty bin still has a statistical uncertainty: use the error of one entry
        # (close to the 68% Poisson upper limit 1.14), else tiny-data-error bins in the
        # tails give arbitrary chi2 for small samples.
        err = np.sqrt(np.maximum(counts, 1.0)) * scale
    elif norm == "mean":
        y = np.full(len(ref), values.mean() if len(values) else 0.0)
        err = np.full(len(ref), values.std(ddof=1) / np.sqrt(n) if len(values) > 1 else 0.0)
    elif norm == "dispersion":
        d = values.std() if len(values) else 0.0
        y = np.full(len(ref), d)
        err = np.full(len(ref), d / np.sqrt(2.0 * n))
    else:
        raise ValueError(f"unknown normalisation {norm!r}")
    return Scatter2D(path, ref.x.copy(), ref.xerr_minus.copy(), ref.xerr_plus.copy(), y, err,
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
                                   f"/HADML/{self.name}/{h.name}"))
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


ANALYSES: dict[str, Callable[[], Analysis]] = {ALEPH: Aleph1996, PDG: PdgMultiplicities}
