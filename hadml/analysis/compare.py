"""Compare simulated events with LEP reference data: chi2/ndf, YODA, Markdown, JSON, plots.

chi2 per histogram = sum_bins (mc - data)^2 / (sigma_data^2 + sigma_mc^2), with
sigma_data the reference error on the side facing the MC value (yerr+ if mc > data)
and sigma_mc the MC statistical error from sumw2. Bins where both errors vanish are
skipped; ndf = number of bins used (no fitted parameters).

Ensembles (docs/training.md, "Ensemble"): the events of an input's ensemble members
(``members``) are analysed the same way; each histogram then carries, for that input, the
per-bin envelope (min, max) of the members' values, drawn as a band around the central
input, and each member's chi2, reported as a range next to the central value.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import yoda
from .analyses import ANALYSES, HistoDef
from .events import iter_events, read_hepmc
from .yoda import Scatter2D

REFDIR_ENV = "HADML_REFDIR"


class RefDataError(FileNotFoundError):
    """Reference data missing or unknown analysis."""


def resolve_refdir(refdir: str | Path | None) -> Path:
    if refdir is None:
        env = os.environ.get(REFDIR_ENV)
        if not env:
            raise RefDataError(
                f"no reference-data directory: pass --refdir DIR (refdir=...) or set "
                f"{REFDIR_ENV} (in this project the files are in ../shared/refdata)"
            )
        refdir = env
    path = Path(refdir)
    if not path.is_dir():
        raise RefDataError(f"reference-data directory not found: {path}")
    return path


def load_refs(names: Sequence[str], refdir: str | Path | None) -> dict[str, dict[str, Scatter2D]]:
    """{analysis: {path: Scatter2D}} read from REFDIR/<analysis>.yoda."""
    base = resolve_refdir(refdir)
    out = {}
    for name in names:
        if name not in ANALYSES:
            raise RefDataError(
                f"analysis {name!r} is not implemented; available: {', '.join(ANALYSES)}"
            )
        path = base / f"{name}.yoda"
        if not path.is_file():
            raise RefDataError(f"reference file not found: {path}")
        out[name] = yoda.read(path)
    return out


def chi2(mc: Scatter2D, ref: Scatter2D) -> tuple[float, int, np.ndarray]:
    """(chi2, ndf, per-bin pulls) of mc against ref (same binning)."""
    if len(mc) != len(ref):
        raise ValueError(f"{mc.path}: {len(mc)} bins but reference {ref.path} has {len(ref)}")
    diff = mc.y - ref.y
    sig_data = np.where(diff > 0, ref.yerr_plus, ref.yerr_minus)
    var = sig_data**2 + 0.5 * (mc.yerr_minus**2 + mc.yerr_plus**2)
    use = var > 0
    pulls = np.zeros(len(diff))
    pulls[use] = diff[use] / np.sqrt(var[use])
    return float(np.sum(pulls[use] ** 2)), int(np.count_nonzero(use)), pulls


@dataclass
class HistoResult:
    analysis: str
    name: str
    observable: str
    ref: Scatter2D
    mc: dict[str, Scatter2D] = field(default_factory=dict)
    chi2: dict[str, float] = field(default_factory=dict)
    ndf: dict[str, int] = field(default_factory=dict)
    #: Per input with ensemble members: per-bin (min, max) over the members' values.
    band: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: Per input with ensemble members: each member's chi2 (same ndf as the input's).
    member_chi2: dict[str, list[float]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.analysis}/{self.name}"


@dataclass
class CompareResult:
    labels: list[str]
    histos: list[HistoResult]
    n_events: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def total(self, label: str, analysis: str | None = None) -> tuple[float, int]:
        c = sum(h.chi2[label] for h in self.histos if analysis in (None, h.analysis))
        n = sum(h.ndf[label] for h in self.histos if analysis in (None, h.analysis))
        return c, n

    def member_totals(self, label: str, analysis: str | None = None) -> list[float]:
        """Total chi2 of each ensemble member of ``label`` (empty without members)."""
        hs = [h for h in self.histos if analysis in (None, h.analysis) and label in h.member_chi2]
        if not hs:
            return []
        return [float(sum(v)) for v in zip(*(h.member_chi2[label] for h in hs), strict=True)]


def analyse(events: Iterable[dict], refs: Mapping[str, Mapping[str, Scatter2D]],
            max_events: int | None = None, ecm: float | None = None):
    """Run the analyses named in refs over events; return {analysis: {name: (def, mc)}}
    and the number of events read."""
    analyses = {name: ANALYSES[name]() for name in refs}
    n = 0
    for ev in events if isinstance(events, Iterable) else []:
        if max_events is not None and n >= max_events:
            break
        for a in analyses.values():
            a.fill(ev, ecm)
        n += 1
    booked = {name: a.finalize(dict(refs[name])) for name, a in analyses.items()}
    extra = {name: a for name, a in analyses.items()}
    return booked, n, extra


def _add_members(results: Mapping[str, HistoResult], label: str,
                 members: Sequence[Iterable[dict]], ref_data, max_events: int | None,
                 ecm: float | None, notes: list[str]) -> None:
    """Analyse the ensemble members of ``label``; store their band and chi2 values."""
    values: dict[str, list[np.ndarray]] = {}
    for k, events in enumerate(members):
        booked, n, _ = analyse(events, ref_data, max_events, ecm)
        if n == 0:
            raise ValueError(f"ensemble member {k} of {label!r} has no events")
        notes.append(f"{label}: ensemble member {k}: {n} events")
        for aname, items in booked.items():
            for name, (_, mc) in items.items():
                r = results[f"{aname}/{name}"]
                values.setdefault(r.id, []).append(mc.y)
                r.member_chi2.setdefault(label, []).append(chi2(mc, r.ref)[0])
    for key, ys in values.items():
        stack = np.stack(ys)
        results[key].band[label] = (stack.min(axis=0), stack.max(axis=0))


def _compare(sources: Mapping[str, Iterable[dict]], refs: list[str], refdir, outdir,
             max_events: int | None, ecm: float | None, plots: bool,
             members: Mapping[str, Sequence[Iterable[dict]]] | None = None) -> CompareResult:
    ref_data = load_refs(refs, refdir)
    labels = list(sources)
    unknown = sorted(set(members or {}) - set(labels))
    if unknown:
        raise ValueError(f"ensemble members given for unknown inputs {unknown}; inputs: {labels}")
    results: dict[str, HistoResult] = {}
    n_events: dict[str, int] = {}
    notes: list[str] = []
    outdir = Path(outdir) if outdir is not None else None
    if outdir is not None:
        outdir.mkdir(parents=True, exist_ok=True)
    for label, events in sources.items():
        t0 = time.perf_counter()
        booked, n, analyses = analyse(events, ref_data, max_events, ecm)
        dt = time.perf_counter() - t0
        n_events[label] = n
        if n == 0:
            raise ValueError(f"input {label!r} has no events")
        notes.append(f"{label}: {n} events analysed in {dt:.1f} s "
                     f"({1e3 * dt / n:.2f} ms/event including reading)")
        pdg = analyses.get("PDG_HADRON_MULTIPLICITIES")
        if pdg is not None and not pdg.has_decayed:
            notes.append(f"{label}: no decayed-hadron record (decayed_pid): unstable species "
                         "(pi0, eta, K0S, Lambda, ...) cannot be counted")
        mc_all: list[Scatter2D] = []
        for aname, items in booked.items():
            for name, (hdef, mc) in items.items():
                hdef: HistoDef
                key = f"{aname}/{name}"
                ref = ref_data[aname][f"/REF/{aname}/{name}"]
                if key not in results:
                    results[key] = HistoResult(aname, name, hdef.observable, ref)
                r = results[key]
                r.mc[label] = mc
                r.chi2[label], r.ndf[label], _ = chi2(mc, ref)
                mc_all.append(mc)
        if outdir is not None:
            yoda.write(outdir / f"{_safe(label)}.yoda", mc_all)
    for label, member_sources in (members or {}).items():
        _add_members(results, label, member_sources, ref_data, max_events, ecm, notes)
        notes.append(f"{label}: band = envelope of {len(member_sources)} ensemble members")
    histos = sorted(results.values(), key=lambda h: h.id)
    res = CompareResult(labels, histos, n_events, notes)
    if outdir is not None:
        write_json(res, outdir / "report.json")
        if plots:
            for h in histos:
                plot(h, labels, outdir / "plots" / f"{h.analysis}_{h.name}.png")
        write_markdown(res, outdir / "report.md", plots)
    return res


def compare_events(sources: Mapping[str, Iterable[dict]], refs: Sequence[str],
                   refdir: str | Path | None = None, outdir: str | Path | None = None,
                   max_events: int | None = None, ecm: float | None = None,
                   plots: bool = True,
                   members: Mapping[str, Sequence[Iterable[dict]]] | None = None
                   ) -> CompareResult:
    """Compare in-memory events {label: [{'pid', 'p'[, 'decayed_pid']}, ...]} with the
    reference analyses ``refs``; writes the report to outdir when given. ``members``:
    {label: [events of member 1, ...]}, the ensemble members of an input."""
    wrapped = {label: iter_events(evs, max_events) for label, evs in sources.items()}
    wrapped_members = {label: [iter_events(evs, max_events) for evs in group]
                       for label, group in (members or {}).items()}
    return _compare(wrapped, list(refs), refdir, outdir, max_events, ecm, plots,
                    wrapped_members)


def compare_files(files: Sequence[str | Path], labels: Sequence[str] | None, refs: Sequence[str],
                  refdir: str | Path | None = None, outdir: str | Path | None = None,
                  max_events: int | None = None, ecm: float | None = None,
                  plots: bool = True,
                  members: Mapping[str, Sequence[str | Path]] | None = None) -> CompareResult:
    """Compare HepMC3 files (one label each, default the file stem). ``members``:
    {label: [HepMC3 files of the input's ensemble members]}."""
    if labels and len(labels) != len(files):
        raise ValueError(f"{len(labels)} labels for {len(files)} files")
    labels = list(labels) if labels else [Path(f).stem for f in files]
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be unique: {labels}")
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"HepMC file not found: {f}")
    member_files = {lab: list(fs) for lab, fs in (members or {}).items()}
    for f in (f for fs in member_files.values() for f in fs):
        if not Path(f).is_file():
            raise FileNotFoundError(f"HepMC file not found: {f}")
    sources = {lab: read_hepmc(f, max_events) for lab, f in zip(labels, files, strict=True)}
    member_sources = {lab: [read_hepmc(f, max_events) for f in fs]
                      for lab, fs in member_files.items()}
    return _compare(sources, list(refs), refdir, outdir, max_events, ecm, plots,
                    member_sources)


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _md(text: str) -> str:
    """Escape the Markdown table separator in observable names such as |y_T|."""
    return text.replace("|", "\\|")


def _fmt(c: float, n: int) -> str:
    return f"{c / n:.2f}" if n else "-"


def _spread(values: list[float], n: int) -> str:
    """' [min-max]' of the members' chi2/ndf, or '' without members."""
    if not values or not n:
        return ""
    return f" [{min(values) / n:.2f}-{max(values) / n:.2f}]"


def write_markdown(res: CompareResult, path: Path, plots: bool) -> None:
    lines = ["# hadml comparison with LEP data", ""]
    lines += [f"- {note}" for note in res.notes]
    lines += ["", "## Summary (total chi2/ndf)", ""]
    analyses = sorted({h.analysis for h in res.histos})
    head = "| input | " + " | ".join(analyses) + " | all |"
    lines += [head, "|" + "---|" * (len(analyses) + 2)]
    for lab in res.labels:
        cells = []
        for a in [*analyses, None]:
            c, n = res.total(lab, a)
            cells.append(f"{_fmt(c, n)}{_spread(res.member_totals(lab, a), n)} ({c:.1f}/{n})")
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    if any(h.member_chi2 for h in res.histos):
        lines += ["", "[a-b]: range of chi2/ndf over the input's ensemble members."]
    lines += ["", "## Per histogram (chi2/ndf)", ""]
    lines.append("| histogram | observable | " + " | ".join(res.labels) + " |")
    lines.append("|" + "---|" * (len(res.labels) + 2))
    for h in res.histos:
        cells = []
        for lab in res.labels:
            if lab in h.chi2:
                spread = _spread(h.member_chi2.get(lab, []), h.ndf[lab])
                cells.append(f"{_fmt(h.chi2[lab], h.ndf[lab])}{spread} ({h.ndf[lab]})")
            else:
                cells.append("-")
        name = h.id
        if plots:
            name = f"[{h.id}](plots/{h.analysis}_{h.name}.png)"
        lines.append(f"| {name} | {_md(h.observable)} | " + " | ".join(cells) + " |")
    single = [h for h in res.histos if len(h.ref) == 1]
    if single:
        lines += ["", "## Single-value measurements", ""]
        lines.append("| histogram | observable | data | " + " | ".join(res.labels) + " |")
        lines.append("|" + "---|" * (len(res.labels) + 3))
        for h in single:
            data = f"{h.ref.y[0]:.4g} ± {h.ref.yerr_plus[0]:.2g}"
            cells = [f"{h.mc[lab].y[0]:.4g} ± {h.mc[lab].yerr_plus[0]:.2g}"
                     if lab in h.mc else "-" for lab in res.labels]
            lines.append(f"| {h.id} | {_md(h.observable)} | {data} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def write_json(res: CompareResult, path: Path) -> None:
    out = {
        "inputs": {lab: {"events": res.n_events[lab], "chi2": res.total(lab)[0],
                         "ndf": res.total(lab)[1]} for lab in res.labels},
        "histograms": [
            {
                "id": h.id,
                "observable": h.observable,
                "bins": len(h.ref),
                "results": {lab: {"chi2": h.chi2[lab], "ndf": h.ndf[lab],
                                  "chi2_ndf": h.chi2[lab] / h.ndf[lab] if h.ndf[lab] else None,
                                  **({"member_chi2": h.member_chi2[lab],
                                      "band_min": h.band[lab][0].tolist(),
                                      "band_max": h.band[lab][1].tolist()}
                                     if lab in h.member_chi2 else {})}
                            for lab in h.chi2},
            }
            for h in res.histos
        ],
        "notes": res.notes,
    }
    path.write_text(json.dumps(out, indent=1))


def plot(h: HistoResult, labels: list[str], path: Path) -> None:
    """Data with error band, MC inputs overlaid, and an MC/data ratio panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax, rax) = plt.subplots(2, 1, sharex=True, figsize=(6, 5.5),
                                  gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
    ref = h.ref
    lo, hi = ref.edges
    x = ref.x
    ylo, yhi = ref.y - ref.yerr_minus, ref.y + ref.yerr_plus
    if len(ref) == 1:
        xs = np.array([lo[0], hi[0]])
        ax.fill_between(xs, ylo[0], yhi[0], color="0.8", label="data")
        ax.plot(xs, [ref.y[0]] * 2, color="k")
    else:
        edges = np.append(lo, hi[-1])
        ax.fill_between(edges, np.append(ylo, ylo[-1]), np.append(yhi, yhi[-1]), step="post",
                        color="0.8", label="data")
        ax.errorbar(x, ref.y, yerr=[ref.yerr_minus, ref.yerr_plus], fmt="ko", ms=3)
    safe_ref = np.where(ref.y != 0, ref.y, np.nan)
    rel_lo, rel_hi = ylo / safe_ref, yhi / safe_ref
    rax.fill_between(np.append(lo, hi[-1]), np.append(rel_lo, rel_lo[-1]),
                     np.append(rel_hi, rel_hi[-1]), step="post", color="0.8")
    rax.axhline(1.0, color="k", lw=0.8)
    for k, lab in enumerate(labels):
        mc = h.mc.get(lab)
        if mc is None:
            continue
        col = f"C{k}"
        chi = h.chi2[lab] / h.ndf[lab] if h.ndf[lab] else float("nan")
        if lab in h.band:
            blo, bhi = h.band[lab]
            edges = np.append(lo, hi[-1])
            ax.fill_between(edges, np.append(blo, blo[-1]), np.append(bhi, bhi[-1]),
                            step="post", color=col, alpha=0.3, lw=0,
                            label=f"{lab}: ensemble members")
            rax.fill_between(edges, np.append(blo / safe_ref, blo[-1] / safe_ref[-1]),
                             np.append(bhi / safe_ref, bhi[-1] / safe_ref[-1]), step="post",
                             color=col, alpha=0.3, lw=0)
        ax.errorbar(x, mc.y, yerr=mc.yerr_plus, xerr=[ref.xerr_minus, ref.xerr_plus], fmt="none",
                    ecolor=col, label=f"{lab} (chi2/ndf {chi:.2f})")
        rax.errorbar(x, mc.y / safe_ref, yerr=mc.yerr_plus / np.abs(safe_ref),
                     xerr=[ref.xerr_minus, ref.xerr_plus], fmt="none", ecolor=col)
    ax.set_title(f"{h.id}: {h.observable}", fontsize=9)
    ax.legend(fontsize=8)
    positive = np.all(ref.y > 0) and len(ref) > 1 and ref.y.max() / ref.y.min() > 50
    if positive:
        ax.set_yscale("log")
    rax.set_ylim(0.5, 1.5)
    rax.set_ylabel("MC / data")
    rax.set_xlabel(h.observable)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
