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

import contextlib
import fnmatch
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import yoda
from .analyses import ANALYSES, Analysis, HistoDef
from .events import HepMCEvents, ReadStats, iter_events
from .weighted import EntryTracker, book_weighted
from .yoda import Scatter2D

REFDIR_ENV = "HADML_REFDIR"
# The Rivet reference files shipped with the package (provenance: refdata/PROVENANCE.md).
SHIPPED_REFDIR = Path(__file__).resolve().with_name("refdata")
ANALYSIS_EXTRA = "pip install 'hadml[analysis]'"


class RefDataError(FileNotFoundError):
    """Reference data missing, empty or incomplete, or an unknown analysis."""


class CompareError(ValueError):
    """Bad options or an output that cannot be written; the message says what to fix."""


def resolve_refdir(refdir: str | Path | None) -> Path:
    """--refdir (``refdir``), else $HADML_REFDIR, else the data shipped with hadml."""
    if refdir is None:
        env = os.environ.get(REFDIR_ENV)
        if env:
            path = Path(env)
            if not path.is_dir():
                raise RefDataError(f"reference-data directory not found: {path} "
                                   f"(from ${REFDIR_ENV})")
            return path
        return SHIPPED_REFDIR
    path = Path(refdir)
    if not path.is_dir():
        raise RefDataError(f"reference-data directory not found: {path}")
    return path


def required_histograms(name: str, analysis: Analysis | None = None) -> list[str]:
    """Path patterns (``fnmatch``) of the reference histograms analysis ``name`` books."""
    a = analysis if analysis is not None else ANALYSES[name]()
    return [f"/REF/{name}/{h.name}" for h in a.histos]


def load_refs(names: Sequence[str], refdir: str | Path | None) -> dict[str, dict[str, Scatter2D]]:
    """{analysis: {path: Scatter2D}} read from REFDIR/<analysis>.yoda.

    An unknown analysis, a missing, empty or malformed file, or a file that lacks (or has
    an empty) histogram the analysis books is an error naming the file and histogram: a
    comparison with part of the data missing would look like a perfect or partial match.
    """
    base = resolve_refdir(refdir)
    out = {}
    for name in names:
        if name not in ANALYSES:
            raise RefDataError(
                f"analysis {name!r} is not implemented; available: {', '.join(ANALYSES)}"
            )
        path = base / f"{name}.yoda"
        if not path.exists():
            raise RefDataError(f"reference file not found: {path}")
        if not path.is_file():
            raise RefDataError(f"reference file {path} is not a regular file")
        try:
            objs = yoda.read(path)
        except PermissionError as err:
            raise RefDataError(f"cannot read reference file {path}: {err.strerror}") from None
        if not objs:
            raise RefDataError(f"reference file {path} holds no histograms (empty or not a "
                               "YODA file)")
        for pattern in required_histograms(name):
            found = [p for p in objs if fnmatch.fnmatchcase(p, pattern)]
            if not found:
                raise RefDataError(f"reference file {path} lacks {pattern}, which analysis "
                                   f"{name} compares with")
            for p in found:
                if len(objs[p]) == 0:
                    raise RefDataError(f"reference histogram {p} in {path} has no points")
        out[name] = objs
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
    #: What a band shows when it is not the ensemble members (weighted variations).
    band_label: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.analysis}/{self.name}"


@dataclass
class CompareResult:
    labels: list[str]
    histos: list[HistoResult]
    n_events: dict[str, int]
    notes: list[str] = field(default_factory=list)
    # label -> what reading its HepMC file found (files only): bad records skipped, ...
    read_stats: dict[str, ReadStats] = field(default_factory=dict)
    # analysis -> why it was not run (a missing optional package)
    skipped_analyses: dict[str, str] = field(default_factory=dict)
    plots: bool = False  # whether plots were written

    def total(self, label: str, analysis: str | None = None) -> tuple[float, int]:
        c = sum(h.chi2[label] for h in self.histos if analysis in (None, h.analysis))
        n = sum(h.ndf[label] for h in self.histos if analysis in (None, h.analysis))
        return c, n

    def skipped_records(self, label: str) -> int:
        stats = self.read_stats.get(label)
        return len(stats.bad) if stats is not None else 0


    def member_totals(self, label: str, analysis: str | None = None) -> list[float]:
        """Total chi2 of each ensemble member of ``label`` (empty without members)."""
        hs = [h for h in self.histos if analysis in (None, h.analysis) and label in h.member_chi2]
        if not hs:
            return []
        return [float(sum(v)) for v in zip(*(h.member_chi2[label] for h in hs), strict=True)]


def plots_unavailable() -> str | None:
    """Why plots cannot be drawn (matplotlib missing), or None.

    matplotlib is an optional extra, not a base dependency: the comparison itself (chi2,
    report.md/json, YODA) needs only numpy, and a batch or tuning job should not pull in a
    plotting stack. Without it plots are off and the report says how to turn them on.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return f"matplotlib is not installed ({ANALYSIS_EXTRA} to enable plots)"
    return None


def analyse(events: Iterable[dict], refs: Mapping[str, Mapping[str, Scatter2D]],
            max_events: int | None = None, ecm: float | None = None,
            skipped: dict[str, str] | None = None, tracker: EntryTracker | None = None):
    """Run the analyses named in refs over events; return {analysis: {name: (def, mc)}},
    the number of events read and the analysis objects.

    An analysis that needs an optional package which is missing (ImportError) is dropped
    and its reason put in ``skipped`` instead of stopping the others. (The Durham y23 of
    ALEPH_1996 does not need fastjet: observables.durham_y23 falls back to the same E-scheme
    clustering in numpy, checked equal to fastjet in tests/test_observables.py, so a base
    install computes every histogram.)

    ``tracker`` records the event of every raw value and the events' named weights
    (hadml.analysis.weighted), for histograms of parameter variations.
    """
    skipped = {} if skipped is None else skipped
    analyses: dict[str, Analysis] = {}
    for name in refs:
        if name in skipped:
            continue
        try:
            analyses[name] = ANALYSES[name]()
        except ImportError as err:
            skipped[name] = _import_reason(err)
    n = 0
    for ev in events:
        if max_events is not None and n >= max_events:
            break
        if tracker is not None:
            k = tracker.add_event(ev.get("weights", _UNIT_WEIGHT))
            tracker.names = ev.get("weight_names", tracker.names)
        for name, a in list(analyses.items()):
            try:
                if tracker is not None:
                    tracker.before_fill(name, a)
                a.fill(ev, ecm)
                if tracker is not None:
                    tracker.after_fill(name, a, k)
            except ImportError as err:
                skipped[name] = _import_reason(err)
                del analyses[name]
        n += 1
    booked = {name: a.finalize(dict(refs[name])) for name, a in analyses.items()}
    return booked, n, analyses


_UNIT_WEIGHT = np.ones(1)


def _add_variations(results: Mapping[str, HistoResult], label: str, analyses,
                    tracker: EntryTracker, ref_data, notes: list[str]) -> None:
    """Bands of the weighted parameter variations of ``label`` (named event weights after
    the nominal one, hadml generate --variations): per histogram the envelope of the
    variations, their chi2 against the data, and per variation the Kish effective sample
    size in the notes."""
    from hadml.variations import kish_ess

    W = tracker.weight_matrix()
    names = list(tracker.names)[1:]
    values: dict[str, list[np.ndarray]] = {}
    for k, vname in enumerate(names, start=1):
        notes.append(f"{label}: variation {vname}: Kish ESS {kish_ess(W[:, k]):.0f} of "
                     f"{len(W)} events, <w> = {W[:, k].mean():.4f}")
        for key, (_, ref, h) in book_weighted(analyses, tracker, ref_data, k).items():
            r = results.get(key)
            if r is None:
                continue
            mc = h.scatter(ref, f"/HADML/{key}")
            values.setdefault(key, []).append(mc.y)
            r.member_chi2.setdefault(label, []).append(chi2(mc, r.ref)[0])
    for key, ys in values.items():
        stack = np.stack(ys)
        results[key].band[label] = (stack.min(axis=0), stack.max(axis=0))
        results[key].band_label[label] = "weighted variations"
    if names:
        notes.append(f"{label}: band = envelope of {len(names)} weighted parameter "
                     f"variations ({', '.join(names)})")


def _import_reason(err: ImportError) -> str:
    return f"needs {err.name or err}, which is not installed ({ANALYSIS_EXTRA})"


def _check_label(label: str) -> None:
    if not label.strip():
        raise CompareError("a label must not be empty")


def _check_options(max_events: int | None, ecm: float | None) -> None:
    if max_events is not None and max_events < 1:
        raise CompareError(f"--max-events must be at least 1, got {max_events}")
    if ecm is not None and not (math.isfinite(ecm) and ecm > 0):
        raise CompareError(f"--ecm must be a positive energy in GeV, got {ecm}")


def _add_members(results: Mapping[str, HistoResult], label: str,
                 members: Sequence[Iterable[dict]], ref_data, max_events: int | None,
                 ecm: float | None, notes: list[str]) -> None:
    """Analyse the ensemble members of ``label``; store their band and chi2 values."""
    values: dict[str, list[np.ndarray]] = {}
    for k, events in enumerate(members):
        booked, n, _ = analyse(events, ref_data, max_events, ecm)
        if n == 0:
            raise CompareError(f"ensemble member {k} of {label!r} has no events")
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
             describe: Mapping[str, str] | None = None,
             read_stats: Mapping[str, ReadStats] | None = None,
             members: Mapping[str, Sequence[Iterable[dict]]] | None = None) -> CompareResult:
    """Validate everything that needs no event, analyse every source, then write the
    report in one go (each file to a temporary beside it, renamed at the end): a run that
    fails, or is interrupted, at any point leaves an existing report as it was."""
    _check_options(max_events, ecm)
    refs = list(dict.fromkeys(refs))  # a repeated --ref is the same analysis
    if not refs:
        raise CompareError("no reference analysis given")
    labels = list(sources)
    for label in labels:
        _check_label(label)
    safe = [_safe(label) for label in labels]
    if len(set(safe)) != len(safe):
        raise CompareError(f"labels {labels} give clashing output file names {safe}; "
                           "choose labels that differ in letters or digits")
    unknown = sorted(set(members or {}) - set(labels))
    if unknown:
        raise CompareError(f"ensemble members given for unknown inputs {unknown}; "
                           f"inputs: {labels}")
    ref_data = load_refs(refs, refdir)
    notes: list[str] = []
    if plots and outdir is not None:
        reason = plots_unavailable()
        if reason is not None:
            plots = False
            notes.append(f"plots off: {reason}")
    out = _Outputs(Path(outdir)) if outdir is not None else None
    if out is not None:
        out.prepare()
    try:
        return _analyse_and_write(sources, ref_data, out, labels, notes, max_events, ecm,
                                  plots, describe or {}, read_stats or {}, members or {})
    except BaseException:
        if out is not None:
            out.abandon()
        raise


def _analyse_and_write(sources: Mapping[str, Iterable[dict]],
                       ref_data: dict[str, dict[str, Scatter2D]], out: _Outputs | None,
                       labels: list[str], notes: list[str], max_events: int | None,
                       ecm: float | None, plots: bool, describe: Mapping[str, str],
                       read_stats: Mapping[str, ReadStats],
                       members: Mapping[str, Sequence[Iterable[dict]]]) -> CompareResult:
    results: dict[str, HistoResult] = {}
    n_events: dict[str, int] = {}
    skipped: dict[str, str] = {}
    mc_by_label: dict[str, list[Scatter2D]] = {}
    trackers: dict[str, tuple[EntryTracker, dict]] = {}
    for label, events in sources.items():
        t0 = time.perf_counter()
        tracker = EntryTracker()
        booked, n, analyses = analyse(events, ref_data, max_events, ecm, skipped, tracker)
        if len(tracker.names) > 1:
            trackers[label] = (tracker, analyses)
        dt = time.perf_counter() - t0
        n_events[label] = n
        what = describe.get(label, f"input {label!r}")
        stats = read_stats.get(label)
        if n == 0:
            extra = f" ({len(stats.bad)} bad records skipped)" if stats and stats.bad else ""
            raise CompareError(f"{what} has no events{extra}")
        if not booked:
            raise CompareError("no analysis could run: " + "; ".join(
                f"{a} {why}" for a, why in skipped.items()))
        notes.append(f"{label}: {n} events analysed in {dt:.1f} s "
                     f"({1e3 * dt / n:.2f} ms/event including reading)")
        if stats is not None:
            if stats.bad:
                notes.append(f"{label}: {len(stats.bad)} bad event records skipped "
                             "(--skip-bad)")
            notes += [f"{label}: {note}" for note in stats.notes()]
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
        mc_by_label[label] = mc_all
    for label, (tracker, analyses) in trackers.items():
        if label in members:
            raise CompareError(f"{label!r} has both weighted variations and ensemble "
                               "members; a band shows one of them")
        _add_variations(results, label, analyses, tracker, ref_data, notes)
    for label, member_sources in members.items():
        _add_members(results, label, member_sources, ref_data, max_events, ecm, notes)
        notes.append(f"{label}: band = envelope of {len(member_sources)} ensemble members")
    for aname, why in skipped.items():
        notes.append(f"analysis {aname} skipped: {why}")
    # Histograms of an analysis dropped part-way (skipped) are not compared at all.
    histos = sorted((h for h in results.values() if h.analysis not in skipped),
                    key=lambda h: h.id)
    res = CompareResult(labels, histos, n_events, notes, dict(read_stats), skipped,
                        plots=plots and out is not None)
    if out is not None:
        with out.transaction():
            for label, mc_all in mc_by_label.items():
                out.text(f"{_safe(label)}.yoda", yoda.format_scatters(mc_all))
            out.text("report.json", json.dumps(_json(res), indent=1))
            if res.plots:
                for h in histos:
                    out.file(f"plots/{h.analysis}_{h.name}.png",
                             lambda path, h=h: plot(h, labels, path))
            out.text("report.md", _markdown(res))
    return res


def compare_events(sources: Mapping[str, Iterable[dict]], refs: Sequence[str],
                   refdir: str | Path | None = None, outdir: str | Path | None = None,
                   max_events: int | None = None, ecm: float | None = None,
                   plots: bool = True,
                   members: Mapping[str, Sequence[Iterable[dict]]] | None = None
                   ) -> CompareResult:
    """Compare in-memory events {label: [{'pid', 'p'[, 'decayed_pid']}, ...]} with the
    reference analyses ``refs``; writes the report to outdir when given. Reference data:
    ``refdir``, else $HADML_REFDIR, else the files shipped with hadml."""
    if outdir is not None:
        check_outdir(outdir)
    wrapped = {label: iter_events(evs, max_events) for label, evs in sources.items()}
    wrapped_members = {label: [iter_events(evs, max_events) for evs in group]
                       for label, group in (members or {}).items()}
    return _compare(wrapped, list(refs), refdir, outdir, max_events, ecm, plots,
                    members=wrapped_members)


def compare_files(files: Sequence[str | Path], labels: Sequence[str] | None, refs: Sequence[str],
                  refdir: str | Path | None = None, outdir: str | Path | None = None,
                  max_events: int | None = None, ecm: float | None = None,
                  plots: bool = True, skip_bad: bool = False,
                  members: Mapping[str, Sequence[str | Path]] | None = None) -> CompareResult:
    """Compare HepMC files (one label each, default the file stem). ``members``:
    {label: [HepMC files of the input's ensemble members]}, drawn as a band.

    Every input is checked before the first event is read (files exist and are HepMC,
    labels, reference data, output directory). A corrupt event record is an error naming
    the file and record unless ``skip_bad``, which skips such records and reports them.
    """
    if not files:
        raise CompareError("no input file given")
    if labels and len(labels) != len(files):
        raise CompareError(f"{len(labels)} labels for {len(files)} files: give one --label "
                           "per input file, in order, or none")
    labels = list(labels) if labels else [_default_label(f) for f in files]
    if len(set(labels)) != len(labels):
        raise CompareError(f"labels must be unique: {labels}" + (
            "" if len(set(map(str, files))) == len(files) else
            " (the same file is given twice; use --label to name each)"))
    sources = {lab: HepMCEvents(f, max_events, skip_bad)
               for lab, f in zip(labels, files, strict=True)}
    member_sources = {lab: [HepMCEvents(f, max_events, skip_bad) for f in fs]
                      for lab, fs in (members or {}).items()}
    for src in [*sources.values(), *(m for ms in member_sources.values() for m in ms)]:
        src.check()
    if outdir is not None:
        check_outdir(outdir)
    describe = {lab: str(src.path) for lab, src in sources.items()}
    stats = _LiveStats(sources)
    return _compare(sources, list(refs), refdir, outdir, max_events, ecm, plots,
                    describe=describe, read_stats=stats, members=member_sources)


def _default_label(path: str | Path) -> str:
    """The file name without compression and HepMC suffixes: run.hepmc.gz -> run."""
    name = Path(path).name
    for suffix in (".gz", ".bz2", ".xz", ".zst", ".zstd"):
        name = name.removesuffix(suffix)
    return Path(name).stem or name


class _LiveStats(Mapping[str, ReadStats]):
    """label -> the ReadStats of its source, read when asked (they fill while reading)."""

    def __init__(self, sources: Mapping[str, HepMCEvents]) -> None:
        self._sources = sources

    def __getitem__(self, label: str) -> ReadStats:
        return self._sources[label].stats

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


# ---------------------------------------------------------------------------------------
# Output


def check_outdir(outdir: str | Path) -> None:
    """Fail before any work if the report directory cannot be made or written."""
    path = Path(outdir)
    if path.exists() and not path.is_dir():
        raise CompareError(f"report directory {path} exists and is not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise CompareError(f"cannot make report directory {path}: {existing} is not a "
                           "directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CompareError(f"cannot write report directory {path}: no write permission in "
                           f"{existing}")


class _Outputs:
    """The report files of one run: each is written to a temporary file beside its target
    and all are renamed into place only after every one was written. A failure or an
    interrupt before that removes the temporaries (and the directories this run made, if
    empty) and leaves existing files untouched."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self._pending: list[tuple[Path, Path]] = []  # (temporary, target)
        self._created: list[Path] = []

    def prepare(self) -> None:
        """Make the directory and prove it writable (a temporary file), before any work."""
        self._make_dirs(self.outdir)
        try:
            fd, probe = yoda.create_beside(self.outdir / "report.md")
            os.close(fd)
            probe.unlink()
        except OSError as err:
            self.abandon()
            raise CompareError(_os_message(err, "cannot write in report directory")) from None

    def abandon(self) -> None:
        for tmp, _ in self._pending:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._pending.clear()
        for d in reversed(self._created):  # only directories this run made, if empty
            with contextlib.suppress(OSError):
                d.rmdir()
        self._created.clear()

    @contextlib.contextmanager
    def transaction(self):
        done = False
        try:
            yield self
            for tmp, target in self._pending:
                os.replace(tmp, target)
            done = True
        except OSError as err:
            raise CompareError(_os_message(err, "cannot write the report")) from None
        finally:
            if done:
                self._pending.clear()
                self._created.clear()
            else:
                self.abandon()

    def _make_dirs(self, path: Path) -> None:
        missing = []
        while not path.exists():
            missing.append(path)
            path = path.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except OSError as err:
                self.abandon()
                raise CompareError(_os_message(err, "cannot make report directory")) from None
            self._created.append(d)

    def file(self, name: str, write: Callable[[Path], None]) -> None:
        target = self.outdir / name
        if target.is_dir():  # found now, before any file is replaced
            raise CompareError(f"cannot write the report: {target} is a directory")
        self._make_dirs(target.parent)
        fd, tmp = yoda.create_beside(target)
        os.close(fd)
        self._pending.append((tmp, target))
        write(tmp)

    def text(self, name: str, text: str) -> None:
        self.file(name, lambda path: _write_text(path, text))


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _os_message(err: OSError, what: str) -> str:
    where = f" {err.filename}:" if err.filename else ":"
    return f"{what}{where} {err.strerror or err}"


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _md(text: str) -> str:
    """Escape the Markdown table separator in observable names such as |y_T|."""
    return text.replace("|", "\\|")


def _fmt(c: float, n: int) -> str:
    return f"{c / n:.2f}" if n else "-"


def _spread(values: list[float], n: int) -> str:
    """' [min-max]' of the ensemble members' chi2/ndf, or '' without members."""
    if not values or not n:
        return ""
    return f" [{min(values) / n:.2f}-{max(values) / n:.2f}]"


def _markdown(res: CompareResult) -> str:
    plots = res.plots
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
        lines += ["", "[a-b]: range of chi2/ndf over the input's ensemble members (or, for "
                  "an input with named weights, over its weighted parameter variations)."]
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
    return "\n".join(lines) + "\n"


def _input_json(res: CompareResult, label: str) -> dict:
    out = {"events": res.n_events[label], "chi2": res.total(label)[0],
           "ndf": res.total(label)[1]}
    stats = res.read_stats.get(label)
    if stats is not None:
        out.update(file=str(stats.path), format=stats.format,
                   skipped_records=len(stats.bad), truncated=stats.unterminated,
                   bad_records=[b.describe() for b in stats.bad[:100]])
    return out


def _json(res: CompareResult) -> dict:
    return {
        "inputs": {lab: _input_json(res, lab) for lab in res.labels},
        "skipped_analyses": res.skipped_analyses,
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


def plot(h: HistoResult, labels: list[str], path: Path) -> None:
    """Data with error band, MC inputs overlaid, and an MC/data ratio panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
                            label=f"{lab}: {h.band_label.get(lab, 'ensemble members')}")
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
    fig.savefig(path, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
