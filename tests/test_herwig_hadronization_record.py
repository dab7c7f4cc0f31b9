"""The reader of the Herwig adapter's hadronization records (MLClusterRedecayer:
HadronizationDump, one JSON line per event), used by the parity harness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hadml.io import herwig_dump

# Two events as the adapter writes them: [id, px, py, pz, e, m, col, acol] per parton,
# [mass, parent, [children]] per cluster. Event 0: q g qbar; one cluster fissions into two,
# one of which becomes a single hadron. Event 1: q qbar into one two-hadron cluster.
RECORD = (
    '{"partons":[[1,0,0,30,30.1,0.33,1,0],[21,0,5,-3,6,0.95,2,1],[-1,0,-5,-27,27.5,0.33,0,2]],'
    '"clusters":[[5.5,-1,[81,81]],[1.2,0,[211,-211]],[0.14,0,[111]],[2.0,-1,[2212,-2212]]]}\n'
    '\n'
    '{"partons":[[2,0,0,45.6,45.6,0.33,1,0],[-2,0,0,-45.6,45.6,0.33,0,1]],'
    '"clusters":[[3.1,-1,[213,-211]]]}\n'
)


def test_reads_partons_and_clusters(tmp_path: Path) -> None:
    path = tmp_path / "had.jsonl"
    path.write_text(RECORD)
    events = list(herwig_dump.read_hadronization(path))
    assert [e.number for e in events] == [0, 1]
    e0 = events[0]
    np.testing.assert_array_equal(e0.parton_id, [1, 21, -1])
    np.testing.assert_array_equal(e0.parton_col, [1, 2, 0])
    np.testing.assert_array_equal(e0.parton_acol, [0, 1, 2])
    np.testing.assert_allclose(e0.parton_p[1], [0, 5, -3, 6])  # (px, py, pz, e)
    np.testing.assert_allclose(e0.parton_mass, [0.33, 0.95, 0.33])
    np.testing.assert_allclose(e0.cluster_mass, [5.5, 1.2, 0.14, 2.0])
    np.testing.assert_array_equal(e0.cluster_parent, [-1, 0, 0, -1])
    np.testing.assert_array_equal(e0.fissioned, [True, False, False, False])
    np.testing.assert_array_equal(e0.single_hadron, [False, False, True, False])
    np.testing.assert_array_equal(np.sort(e0.primary_hadrons), [-2212, -211, 111, 211, 2212])
    pid, col, acol, p = events[1].partons()
    assert pid.dtype == np.int32 and col.dtype == np.int32 and p.shape == (2, 4)
    np.testing.assert_array_equal(events[1].primary_hadrons, [213, -211])


@pytest.mark.parametrize("line, what", [
    ('{"partons":[[1,0,0]],"clusters":[]}', "cannot reshape"),
    ('{"partons":[],"clusters":[[1.0,-1,[211,-211,111]]]}', "neither one nor two children"),
    ('{"partons":[],"clusters":[[1.0,3,[211,-211]]]}', "parent index"),
    ('{"partons":[]', "Expecting"),
])
def test_bad_record_names_file_and_line(tmp_path: Path, line: str, what: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"partons":[],"clusters":[]}\n' + line + "\n")
    with pytest.raises(herwig_dump.HerwigDumpError, match=rf"bad.jsonl:2: .*{what}"):
        list(herwig_dump.read_hadronization(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(herwig_dump.HerwigDumpError, match="does not exist"):
        list(herwig_dump.read_hadronization(tmp_path / "none.jsonl"))


def test_event_numbers_and_the_last_line_of_a_regenerated_event(tmp_path: Path) -> None:
    # event 7 was discarded after hadronization and generated again: its second line counts
    path = tmp_path / "had.jsonl"
    path.write_text(
        '{"event":6,"partons":[],"clusters":[[1.0,-1,[211,-211]]]}\n'
        '{"event":7,"partons":[],"clusters":[[2.0,-1,[211,-211]]]}\n'
        '{"event":7,"partons":[],"clusters":[[3.0,-1,[211,-211]]]}\n'
        '{"event":8,"partons":[],"clusters":[[4.0,-1,[211,-211]]]}\n')
    records = list(herwig_dump.read_hadronization(path))
    assert [r.event for r in records] == [6, 7, 7, 8]
    assert [r.number for r in records] == [0, 1, 2, 3]
    done = herwig_dump.completed_events(records)
    assert [r.event for r in done] == [6, 7, 8]
    assert [float(r.cluster_mass[0]) for r in done] == [1.0, 3.0, 4.0]
    # records without event numbers: the line index stands in; without octets: none
    path.write_text(RECORD)
    assert [r.event for r in herwig_dump.read_hadronization(path)] == [0, 1]
    assert all(r.octets.shape == (0, 2) for r in herwig_dump.read_hadronization(path))


def test_octets_of_the_shower_history(tmp_path: Path) -> None:
    path = tmp_path / "had.jsonl"
    path.write_text('{"event":1,"partons":[[1,0,0,30,30.1,0.33,1,0],[-1,0,0,-30,30.1,0.33,0,2]],'
                    '"octets":[[1,2],[3,1]],"clusters":[[60.2,-1,[81,81]]]}\n')
    (record,) = herwig_dump.read_hadronization(path)
    assert record.octets.dtype == np.int32
    np.testing.assert_array_equal(record.octets, [[1, 2], [3, 1]])
