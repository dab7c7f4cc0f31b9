"""YODA text reader/writer."""

from __future__ import annotations

import numpy as np
import pytest
from _refdata import require_refdir

from hadml.analysis import yoda


@pytest.fixture(scope="module")
def aleph_path():
    return require_refdir() / "ALEPH_1996_S3486095.yoda"


def test_read_reference_file(aleph_path):
    objs = yoda.read(aleph_path)
    s = objs["/REF/ALEPH_1996_S3486095/d01-x01-y01"]
    # Values as printed in the file's first and last lines of the d01 block.
    assert len(s) == 23
    assert s.x[0] == 2.5e-3 and s.y[0] == 12.36 and s.yerr_plus[0] == 4.079216e-01
    assert s.y[-1] == 1.16e-02
    lo, hi = s.edges
    assert lo[0] == 0.0 and hi[-1] == pytest.approx(0.8, abs=1e-12)
    assert s.name == "d01-x01-y01"
    assert objs["/REF/ALEPH_1996_S3486095/d19-x01-y01"].y[0] == 20.91
    # Every block of the file was read (count the BEGIN lines independently).
    assert len(objs) == aleph_path.read_text().count("BEGIN YODA_SCATTER2D")


def test_write_read_round_trip(tmp_path, aleph_path):
    objs = yoda.read(aleph_path)
    out = tmp_path / "copy.yoda"
    yoda.write(out, objs)
    back = yoda.read(out)
    assert list(back) == list(objs)
    for path, s in objs.items():
        b = back[path]
        for field in ("x", "xerr_minus", "xerr_plus", "y", "yerr_minus", "yerr_plus"):
            np.testing.assert_array_equal(getattr(b, field), getattr(s, field))
    # Values that decimal formatting would round survive exactly.
    rng = np.random.default_rng(1)
    v = rng.random(6 * 5).reshape(6, 5)
    s = yoda.Scatter2D("/HADML/TEST/d01-x01-y01", *v)
    yoda.write(out, [s])
    b = yoda.read(out)["/HADML/TEST/d01-x01-y01"]
    np.testing.assert_array_equal(b.y, s.y)
    np.testing.assert_array_equal(b.yerr_plus, s.yerr_plus)


def test_histo1d_block():
    text = """BEGIN YODA_HISTO1D_V2 /H/h1
Path: /H/h1
Type: Histo1D
---
# xlow	 xhigh	 sumw	 sumw2	 sumwx	 sumwx2	 numEntries
Total	Total	4	4	0	0	4
0	0.5	2	2	0.5	0.2	2
0.5	1.5	2	4	2	2.5	2
END YODA_HISTO1D_V2
"""
    s = yoda.parse(text)["/H/h1"]
    np.testing.assert_allclose(s.y, [4.0, 2.0])
    np.testing.assert_allclose(s.yerr_plus, [np.sqrt(2) / 0.5, 2.0])
    np.testing.assert_allclose(s.edges[0], [0.0, 0.5])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("BEGIN YODA_SCATTER2D_V2 /A\nPath: /A\n---\n1 0.5 0.5 2 0.1\n", 4, "6 numbers"),
        ("BEGIN YODA_SCATTER2D_V2 /A\n---\n1 0.5 0.5 2 x 0.1\nEND YODA_SCATTER2D_V2\n", 3,
         "non-numeric"),
        ("BEGIN YODA_SCATTER2D_V2 /A\n---\n1 0.5 0.5 2 0.1 0.1\n", 1, "no 'END"),
        ("garbage\n", 1, "expected 'BEGIN"),
        ("BEGIN YODA_SCATTER2D_V2 /A\n---\n1 0.5 0.5 nan 0.1 0.1\nEND YODA_SCATTER2D_V2\n", 3,
         "non-finite"),
    ],
)
def test_corrupt_file_error_names_file_and_line(tmp_path, text, line, words):
    bad = tmp_path / "bad.yoda"
    if "6 numbers" in words:
        text += "END YODA_SCATTER2D_V2\n"
    bad.write_text(text)
    with pytest.raises(yoda.YodaError) as err:
        yoda.read(bad)
    assert f"{bad}:{line}:" in str(err.value)
    assert words in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yoda"):
        yoda.read(tmp_path / "nope.yoda")


def test_shipped_reference_data_and_provenance():
    """Every Rivet file ships with the package (all 19), each listed in PROVENANCE.md, and
    every implemented analysis finds its file there."""
    from hadml.analysis.analyses import ANALYSES
    from hadml.analysis.compare import SHIPPED_REFDIR

    files = sorted(p.name for p in SHIPPED_REFDIR.glob("*.yoda"))
    assert len(files) == 19
    provenance = (SHIPPED_REFDIR / "PROVENANCE.md").read_text()
    assert "Rivet" in provenance and "3.1.6" in provenance
    for name in files:
        assert f"| {name} |" in provenance
        assert yoda.read(SHIPPED_REFDIR / name)  # parses, not empty
    for name in ANALYSES:
        assert f"{name}.yoda" in files


def test_shipped_files_equal_shared_refdata():
    """The shipped copies are byte-identical to the project's ../shared/refdata."""
    from _refdata import shared_refdata

    from hadml.analysis.compare import SHIPPED_REFDIR

    shared = shared_refdata()
    if shared is None:
        pytest.skip("../shared/refdata not present (fresh clone)")
    names = sorted(p.name for p in shared.glob("*.yoda"))
    assert names == sorted(p.name for p in SHIPPED_REFDIR.glob("*.yoda"))
    for name in names:
        assert (SHIPPED_REFDIR / name).read_bytes() == (shared / name).read_bytes(), name


def test_duplicate_object_path_is_an_error(tmp_path):
    block = "BEGIN YODA_SCATTER2D_V2 /A\n---\n1 0.5 0.5 2 0.1 0.1\nEND YODA_SCATTER2D_V2\n"
    bad = tmp_path / "dup.yoda"
    bad.write_text(block + block)
    with pytest.raises(yoda.YodaError, match=f"{bad}:5: second object with path /A"):
        yoda.read(bad)


def test_write_replaces_only_when_complete(tmp_path):
    """write() goes through a temporary file: an object that cannot be formatted leaves
    the old file as it was, and no temporary behind."""
    out = tmp_path / "mc.yoda"
    out.write_text("old\n")
    good = yoda.Scatter2D("/HADML/T/d01", *np.ones((6, 2)))
    broken = yoda.Scatter2D("/HADML/T/d02", *np.ones((6, 2)))
    broken.y = None  # not iterable: formatting fails
    with pytest.raises(TypeError):
        yoda.write(out, [good, broken])
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mc.yoda"]
    yoda.write(out, [good])
    assert list(yoda.read(out)) == ["/HADML/T/d01"]
    assert [p.name for p in tmp_path.iterdir()] == ["mc.yoda"]
