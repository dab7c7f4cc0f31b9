"""`hadml compare` with bad inputs: every case exits non-zero with a message that names the
problem (file, record, histogram, option), prints no traceback, and leaves an existing
report exactly as it was. Corrupt HepMC files are made from a real hadml run (classic,
seed 7) by cutting or editing its text."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from hadml.analysis.analyses import ALEPH, PDG
from hadml.analysis.compare import SHIPPED_REFDIR, compare_events
from hadml.cli import main

N_EVENTS = 40
OLD = {"report.md": "old report\n", "report.json": '{"old": true}\n', "good.yoda": "old\n"}


@pytest.fixture(scope="module")
def good_text(small_run, tmp_path_factory) -> str:
    """A HepMC3 file of N_EVENTS events as hadml writes it (full history, vertices)."""
    from hadml.io.hepmc import HepMCWriter

    path = tmp_path_factory.mktemp("hepmc") / "good.hepmc"
    with HepMCWriter(path) as w:
        for ev in small_run.events[:N_EVENTS]:
            w.write(ev)
    return path.read_text()


def event_lines(text: str) -> list[int]:
    """0-based indices of the event ('E ...') lines."""
    return [k for k, line in enumerate(text.splitlines()) if line.startswith("E ")]


def record_tag(text: str, record: int) -> str:
    """How the error names 1-based event record ``record`` of ``text``."""
    k = event_lines(text)[record - 1]
    number = text.splitlines()[k].split()[1]
    return f"record {record} (event number {number}, line {k + 1})"


def particle_line(text: str, record: int, which: int = 5) -> int:
    """0-based index of the ``which``-th particle line of event record ``record``."""
    lines = text.splitlines()
    k = event_lines(text)[record - 1]
    ps = [i for i in range(k, len(lines)) if lines[i].startswith("P ")]
    return ps[which]


def edit_line(text: str, index: int, new: str | None) -> str:
    lines = text.splitlines(keepends=True)
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    return "".join(lines)


@pytest.fixture
def report(tmp_path) -> Path:
    """A report directory holding the files of an earlier run."""
    rep = tmp_path / "rep"
    rep.mkdir()
    for name, text in OLD.items():
        (rep / name).write_text(text)
    return rep


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(["compare", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_error(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert err.startswith("hadml compare: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


def assert_untouched(rep: Path) -> None:
    assert sorted(p.name for p in rep.iterdir()) == sorted(OLD), list(rep.iterdir())
    for name, text in OLD.items():
        assert (rep / name).read_text() == text


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


# -- input files --------------------------------------------------------------------------


def test_missing_input(tmp_path, report, capsys):
    rc, _, err = run([str(tmp_path / "nope.hepmc"), "-o", str(report)], capsys)
    assert_error(rc, err, "HepMC file not found", "nope.hepmc")
    assert_untouched(report)


def test_directory_as_input(tmp_path, report, capsys):
    rc, _, err = run([str(tmp_path), "-o", str(report)], capsys)
    assert_error(rc, err, f"{tmp_path} is a directory, not a HepMC file")
    assert_untouched(report)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.hepmc", b"", ["empty.hepmc: the file is empty"]),
        ("notes.hepmc", b"hello\nworld\n",
         ["notes.hepmc: not a HepMC3 or HepMC2 ASCII event file (line 1: 'hello'"]),
        ("noise.hepmc", bytes(range(1, 256)) * 8, ["noise.hepmc: not a HepMC3 or HepMC2"]),
        ("plain.hepmc.gz", b"HepMC::Version 3.02.05\n",
         ["plain.hepmc.gz: the name ends in .gz but the file is not gzip-compressed"]),
        ("events.lhe", b'<LesHouchesEvents version="3.0">\n<init>\n',
         ["events.lhe: a Les Houches (LHEF) parton-level file"]),
        ("noline.hepmc", b"HepMC::Version 3.02.05\n" + b"7" * (3 << 20),
         ["noline.hepmc: line 2 is longer than 1024 kB: not a HepMC ASCII file"]),
    ],
)
def test_not_a_hepmc_file(tmp_path, report, capsys, name, data, words):
    rc, _, err = run([str(write(tmp_path, name, data)), "-o", str(report)], capsys)
    assert_error(rc, err, *words)
    assert_untouched(report)


def _truncated_mid_line(text):
    cut = particle_line(text, 7) + 1  # inside the 6th particle line of record 7
    lines = text.splitlines(keepends=True)
    return "".join(lines[:cut]) + lines[cut][:25], 7, "the file ends in the middle of line"


def _truncated_at_line(text):
    cut = particle_line(text, 7)
    return ("".join(text.splitlines(keepends=True)[:cut]), 7,
            "5 particle lines but its event line declares")


def _garbage_line(text):
    k = particle_line(text, 12)
    return (edit_line(text, k, "this line is garbage\n"), 12,
            f"line {k + 1} is not a HepMC record line: 'this line is garbage'")


def _bad_particle(text):
    """A number HepMC3's own reader would take as 1.2 without a word."""
    k = particle_line(text, 3)
    words = text.splitlines()[k].split()
    words[4] = "1.2.3"  # px
    line = " ".join(words)
    return edit_line(text, k, line + "\n"), 3, f"malformed particle line {k + 1}: '{line[:60]}'"


def _lost_line(text):
    declared = int(text.splitlines()[event_lines(text)[19]].split()[3])
    return (edit_line(text, particle_line(text, 20), None), 20,
            f"{declared - 1} particle lines but its event line declares {declared}")


def _nan_momentum(text):
    k = particle_line(text, 30, which=3)
    words = text.splitlines()[k].split()
    words[6] = "nan"  # pz
    return edit_line(text, k, " ".join(words) + "\n"), 30, "non-finite momentum component"


def _vertex_beyond_particles(text):
    """A vertex naming particle n + 1 of an n-particle event: pyhepmc itself would crash
    the process (SIGSEGV) on this record."""
    lines = text.splitlines()
    k0 = event_lines(text)[8]
    n = int(lines[k0].split()[3])
    k = next(i for i in range(k0, len(lines)) if lines[i].startswith("V "))
    words = lines[k].split()
    words[3] = f"[{n + 1}]"
    return (edit_line(text, k, " ".join(words) + "\n"), 9,
            f"vertex line {k + 1} names particle {n + 1} of an event with {n} particles")


@pytest.mark.parametrize("corrupt", [_truncated_mid_line, _truncated_at_line, _garbage_line,
                                     _bad_particle, _lost_line, _nan_momentum,
                                     _vertex_beyond_particles],
                         ids=lambda f: f.__name__.strip("_"))
def test_corrupt_record_is_named(good_text, tmp_path, report, capsys, corrupt):
    """Without --skip-bad a corrupt record stops the run, naming file and record; with it,
    the record is skipped and counted, and the other events are all analysed."""
    text, record, reason = corrupt(good_text)
    path = write(tmp_path, "bad.hepmc", text)
    rc, _, err = run([str(path), "-o", str(report), "--no-plots"], capsys)
    assert_error(rc, err, f"{path}: bad {record_tag(good_text, record)}: {reason}",
                 "--skip-bad")
    assert_untouched(report)

    rc, out, err = run([str(path), "-o", str(report), "--no-plots", "--skip-bad"], capsys)
    assert rc == 0, err
    truncated = corrupt in (_truncated_mid_line, _truncated_at_line)
    # A file cut inside record 7 holds 6 complete events; otherwise one record is lost.
    n_good = record - 1 if truncated else N_EVENTS - 1
    assert "bad: chi2/ndf = " in out and f"({n_good} events; 1 bad records skipped" in out
    data = json.loads((report / "report.json").read_text())["inputs"]["bad"]
    assert data["events"] == n_good and data["skipped_records"] == 1
    assert data["truncated"] is truncated
    assert len(data["bad_records"]) == 1
    assert data["bad_records"][0].startswith(f"{record_tag(good_text, record)}: {reason}")


def test_truncated_at_event_boundary(good_text, tmp_path, report, capsys):
    """Cut exactly before an event line: every record left is complete, only the missing
    end-of-listing line shows the loss (pyhepmc reads such a file without a word)."""
    lines = good_text.splitlines(keepends=True)
    path = write(tmp_path, "cut.hepmc", "".join(lines[:event_lines(good_text)[25]]))
    rc, _, err = run([str(path), "-o", str(report), "--no-plots"], capsys)
    assert_error(rc, err, f"{path}: no end-of-listing line after 25 event records: the file "
                          "is truncated")
    assert_untouched(report)
    rc, out, err = run([str(path), "-o", str(report), "--no-plots", "--skip-bad"], capsys)
    assert rc == 0 and "(25 events; file truncated)" in out, out + err


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_compressed_inputs(good_text, tmp_path, report, capsys, kind):
    """Compressed files are read like plain ones; a cut compressed file names the record
    the data end in."""
    compress, suffix = {"gzip": (gzip.compress, ".gz"), "bzip2": (bz2.compress, ".bz2"),
                        "xz": (lzma.compress, ".xz")}[kind]
    blob = compress(good_text.encode())
    whole = write(tmp_path, f"whole.hepmc{suffix}", blob)
    rc, out, err = run([str(whole), "-o", str(report), "--no-plots"], capsys)
    assert rc == 0 and "whole: chi2/ndf" in out and f"({N_EVENTS} events)" in out, err
    cut = write(tmp_path, f"cut.hepmc{suffix}", blob[: len(blob) // 2])
    rc, _, err = run([str(cut), "-o", str(report), "--no-plots"], capsys)
    assert_error(rc, err, f"{cut}: ")
    # bzip2 decompresses whole 900 kB blocks: nothing of this file can be read.
    assert ("the compressed data end or break inside it" in err if kind != "bzip2"
            else "cannot decompress" in err), err


def test_hepmc2_input(good_text, tmp_path, report, capsys):
    """HepMC2 (IO_GenEvent) files are read with the same checks; a vertex with barcode 0
    (which crashes pyhepmc's HepMC2 reader) is a bad record."""
    import pyhepmc

    v3 = write(tmp_path, "v3.hepmc", good_text)
    v2 = tmp_path / "v2.hepmc"
    with pyhepmc.open(v3) as src, pyhepmc.open(v2, "w", format="hepmc2") as dst:
        for ev in src:
            dst.write(ev)
    rc, out, err = run([str(v3), str(v2), "-o", str(report), "--no-plots"], capsys)
    assert rc == 0, err
    data = json.loads((report / "report.json").read_text())["inputs"]
    assert data["v2"]["format"] == "HepMC2 ASCII" and data["v3"]["format"] == "HepMC3 ASCII"
    assert data["v2"]["events"] == data["v3"]["events"] == N_EVENTS
    assert data["v2"]["chi2"] == pytest.approx(data["v3"]["chi2"], rel=1e-12)
    text = v2.read_text()
    k = [i for i, line in enumerate(text.splitlines()) if line.startswith("V ")][40]
    words = text.splitlines()[k].split()
    words[1] = "0"
    bad = write(tmp_path, "bad2.hepmc", edit_line(text, k, " ".join(words) + "\n"))
    rc, _, err = run([str(bad), "-o", str(report), "--no-plots"], capsys)
    assert_error(rc, err, f"{bad}: bad record ", f"malformed vertex line {k + 1}: "
                                                  f"'{' '.join(words)}'")


def test_skip_bad_counts_several_records(good_text, tmp_path, report, capsys):
    text = good_text
    for record in (5, 17, 33):  # one line lost in each: counts no longer match
        text = edit_line(text, particle_line(text, record), None)
    path = write(tmp_path, "three.hepmc", text)
    rc, _, err = run([str(path), "-o", str(report), "--no-plots"], capsys)
    assert_error(rc, err, record_tag(text, 5))  # the first bad record stops the run
    rc, out, err = run([str(path), "-o", str(report), "--no-plots", "--skip-bad"], capsys)
    assert rc == 0 and f"({N_EVENTS - 3} events; 3 bad records skipped)" in out, out + err
    data = json.loads((report / "report.json").read_text())["inputs"]["three"]
    assert [b.split(":")[0] for b in data["bad_records"]] == [record_tag(text, r)
                                                              for r in (5, 17, 33)]
    md = (report / "report.md").read_text()
    assert "three: 3 bad event records skipped (--skip-bad)" in md


def test_all_records_bad_is_an_error(good_text, tmp_path, report, capsys):
    lines = good_text.splitlines(keepends=True)
    for record in reversed(range(1, N_EVENTS + 1)):  # every record loses a particle line
        del lines[particle_line(good_text, record)]
    path = write(tmp_path, "allbad.hepmc", "".join(lines))
    rc, _, err = run([str(path), "-o", str(report), "--no-plots", "--skip-bad"], capsys)
    assert_error(rc, err, f"{path} has no events ({N_EVENTS} bad records skipped)")
    assert_untouched(report)


def test_zero_events(good_text, tmp_path, report, capsys):
    head_foot = [line for line in good_text.splitlines(keepends=True) if line.startswith("HepMC")]
    assert len(head_foot) == 3  # version, start and end of the listing
    path = write(tmp_path, "none.hepmc", "".join(head_foot))
    rc, _, err = run([str(path), "-o", str(report)], capsys)
    assert_error(rc, err, f"{path} has no events")
    assert_untouched(report)


def test_failure_in_second_input_keeps_report(good_text, tmp_path, report, capsys):
    """The first file is analysed in full, the second is cut: nothing is written."""
    good = write(tmp_path, "good.hepmc", good_text)
    lines = good_text.splitlines(keepends=True)
    bad = write(tmp_path, "bad.hepmc", "".join(lines[: particle_line(good_text, 30)]))
    rc, _, err = run([str(good), str(bad), "-o", str(report)], capsys)
    assert_error(rc, err, f"{bad}: bad {record_tag(good_text, 30)}")
    assert_untouched(report)


# -- reference data -----------------------------------------------------------------------


@pytest.fixture
def refdir(tmp_path) -> Path:
    d = tmp_path / "refs"
    d.mkdir()
    for name in (ALEPH, PDG):
        (d / f"{name}.yoda").write_bytes((SHIPPED_REFDIR / f"{name}.yoda").read_bytes())
    return d


@pytest.fixture
def hepmc(good_text, tmp_path) -> Path:
    return write(tmp_path, "good.hepmc", good_text)


def test_empty_reference(hepmc, refdir, report, capsys):
    (refdir / f"{ALEPH}.yoda").write_text("")
    rc, _, err = run([str(hepmc), "--refdir", str(refdir), "-o", str(report)], capsys)
    assert_error(rc, err, f"reference file {refdir / ALEPH}.yoda holds no histograms")
    assert_untouched(report)


def test_malformed_reference(hepmc, refdir, report, capsys):
    path = refdir / f"{PDG}.yoda"
    lines = path.read_text().splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[k] = "9.12e+01 5e-01 5e-01 x 1.0 1.0\n"
    path.write_text("".join(lines))
    rc, _, err = run([str(hepmc), "--refdir", str(refdir), "-o", str(report)], capsys)
    assert_error(rc, err, f"{path}:{k + 1}: non-numeric data line")
    assert_untouched(report)


def test_reference_lacks_a_histogram(hepmc, refdir, report, capsys):
    path = refdir / f"{ALEPH}.yoda"
    text = path.read_text()
    begin = text.index(f"BEGIN YODA_SCATTER2D_V2 /REF/{ALEPH}/d05-x01-y01")
    end = text.index("END YODA_SCATTER2D_V2", begin) + len("END YODA_SCATTER2D_V2\n")
    path.write_text(text[:begin] + text[end:])
    rc, _, err = run([str(hepmc), "--refdir", str(refdir), "-o", str(report)], capsys)
    assert_error(rc, err, f"reference file {path} lacks /REF/{ALEPH}/d05-x01-y01, which "
                          f"analysis {ALEPH} compares with")
    assert_untouched(report)


def test_reference_missing_and_refdir_missing(hepmc, refdir, tmp_path, report, capsys):
    (refdir / f"{PDG}.yoda").unlink()
    rc, _, err = run([str(hepmc), "--refdir", str(refdir), "-o", str(report)], capsys)
    assert_error(rc, err, f"reference file not found: {refdir / PDG}.yoda")
    rc, _, err = run([str(hepmc), "--refdir", str(tmp_path / "nowhere"), "-o", str(report)],
                     capsys)
    assert_error(rc, err, f"reference-data directory not found: {tmp_path / 'nowhere'}")
    assert_untouched(report)


def test_unknown_analysis(hepmc, report, capsys):
    rc, _, err = run([str(hepmc), "--ref", "ALEPH_1996", "-o", str(report)], capsys)
    assert_error(rc, err, "analysis 'ALEPH_1996' is not implemented; available: "
                          f"{ALEPH}, {PDG}")
    assert_untouched(report)


# -- options and output -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--label", "a"], ["1 labels for 2 files: give one --label per input file"]),
        (["--label", "a", "--label", "b", "--label", "c"], ["3 labels for 2 files"]),
        (["--label", "same", "--label", "same"], ["labels must be unique"]),
        ([], ["labels must be unique", "the same file is given twice"]),
        (["--label", "a/b", "--label", "a_b"], ["clashing output file names"]),
        (["--label", " ", "--label", "b"], ["a label must not be empty"]),
        (["--label", "a", "--label", "b", "--max-events", "0"],
         ["--max-events must be at least 1, got 0"]),
        (["--label", "a", "--label", "b", "--ecm", "-91.2"],
         ["--ecm must be a positive energy in GeV, got -91.2"]),
        (["--label", "a", "--label", "b", "--ecm", "nan"], ["--ecm must be a positive"]),
    ],
    ids=["too-few-labels", "too-many-labels", "duplicate-labels", "same-file-twice",
         "clashing-names", "blank-label", "max-events-0", "negative-ecm", "nan-ecm"],
)
def test_bad_options(hepmc, report, capsys, extra, words):
    rc, _, err = run([str(hepmc), str(hepmc), "-o", str(report), *extra], capsys)
    assert_error(rc, err, *words)
    assert_untouched(report)


def test_output_is_a_file(hepmc, tmp_path, capsys):
    target = write(tmp_path, "report.txt", "keep me\n")
    rc, _, err = run([str(hepmc), "-o", str(target)], capsys)
    assert_error(rc, err, f"report directory {target} exists and is not a directory")
    assert target.read_text() == "keep me\n"
    rc, _, err = run([str(hepmc), "-o", str(target / "sub")], capsys)
    assert_error(rc, err, f"{target} is not a directory")
    assert target.read_text() == "keep me\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and /sys")
@pytest.mark.parametrize("where", ["/proc/hadml-report/sub", "/sys/hadml-report"])
def test_output_cannot_be_made(hepmc, capsys, where):
    """Directories nobody may make, not even root (the chmod test below needs a user)."""
    rc, _, err = run([str(hepmc), "-o", where], capsys)
    first = "/".join(where.split("/")[:3])
    assert_error(rc, err, f"cannot make report directory {first}: ")
    assert not Path(first).exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_output_not_writable(hepmc, report, capsys):
    report.chmod(0o555)
    try:
        rc, _, err = run([str(hepmc), "-o", str(report)], capsys)
    finally:
        report.chmod(0o755)
    assert_error(rc, err, f"cannot write report directory {report}: no write permission")
    assert_untouched(report)


def test_report_file_that_is_a_directory(hepmc, report, capsys):
    """A directory where report.md belongs: the other files must not be replaced either."""
    (report / "report.md").unlink()
    (report / "report.md").mkdir()
    rc, _, err = run([str(hepmc), "-o", str(report), "--no-plots"], capsys)
    assert_error(rc, err, "cannot write the report", "report.md")
    assert (report / "report.json").read_text() == OLD["report.json"]
    assert (report / "good.yoda").read_text() == OLD["good.yoda"]
    assert not [p for p in report.iterdir() if p.name.endswith(".tmp")]


def test_success_replaces_report_and_leaves_no_temporaries(hepmc, report, capsys):
    rc, out, err = run([str(hepmc), "-o", str(report), "--no-plots"], capsys)
    assert rc == 0, err
    assert "good: chi2/ndf = " in out and f"({N_EVENTS} events)" in out
    assert json.loads((report / "report.json").read_text())["inputs"]["good"]["events"] == \
        N_EVENTS
    assert (report / "good.yoda").read_text().startswith("BEGIN YODA_SCATTER2D_V2 /HADML/")
    assert sorted(p.name for p in report.iterdir()) == sorted(OLD)
    assert oct((report / "report.md").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_interrupt_keeps_report(report):
    """An interrupt part-way through the events (Ctrl-C) writes nothing."""

    def events():
        p = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, -10.0, 10.0], [0.0, 5.0, 0.0, 5.0]])
        for k in range(10):
            if k == 5:
                raise KeyboardInterrupt
            yield {"pid": np.array([211, -211, 22]), "p": p}

    with pytest.raises(KeyboardInterrupt):
        compare_events({"good": events()}, [ALEPH], outdir=report)
    assert_untouched(report)
    with pytest.raises(KeyboardInterrupt):
        compare_events({"good": events()}, [ALEPH], outdir=report / "new" / "dir")
    assert not (report / "new").exists()  # the directories it made are gone again
