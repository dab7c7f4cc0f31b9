from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyhepmc
import pytest

from hadml.io import cluster_table
from hadml.io.hepmc import HepMCWriter, read_final_states


def test_hepmc_round_trip_keeps_history(small_run, tmp_path):
    path = tmp_path / "ev.hepmc"
    events = small_run.events[:5]
    with HepMCWriter(path) as w:
        for ev in events:
            w.write(ev)
    with pyhepmc.open(str(path)) as f:
        read = list(f)
    assert len(read) == 5
    for ev, gen in zip(events, read, strict=True):
        assert gen.event_number == ev.number
        assert len(gen.particles) == len(ev)
        # Parents are written before children: every production vertex's incoming
        # particles have smaller ids than its outgoing ones.
        for v in gen.vertices:
            if v.particles_in and v.particles_out:
                assert max(p.id for p in v.particles_in) < min(p.id for p in v.particles_out)
        # A final hadron can be traced back to a cluster (id 81); shower photons, also
        # final, come from the beams.
        fin = [p for p in gen.particles if p.status == 1 and abs(p.pid) > 100]
        p = fin[0]
        seen = set()
        while p.production_vertex is not None and p.production_vertex.particles_in:
            p = p.production_vertex.particles_in[0]
            seen.add(p.pid)
        assert 81 in seen
    finals = list(read_final_states(path))
    for ev, fs in zip(events, finals, strict=True):
        np.testing.assert_allclose(fs["p"], ev.final_state()["p"], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(fs["pid"], ev.final_state()["pid"])


def test_cluster_table_round_trip(small_run, tmp_path):
    path = tmp_path / "clusters.parquet"
    cluster_table.write(small_run.cluster_table, path, info={"seed": 7})
    back = cluster_table.read(path)
    assert back.equals(small_run.cluster_table.replace_schema_metadata(back.schema.metadata))
    assert cluster_table.info(back) == {"seed": 7}


def test_cluster_table_refuses_bad_files(tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(cluster_table.ClusterTableError, match="not a readable Parquet"):
        cluster_table.read(junk)
    other = tmp_path / "other.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1, 2]}), str(other))
    with pytest.raises(cluster_table.ClusterTableError, match="not a cluster table"):
        cluster_table.read(other)
    with pytest.raises(cluster_table.ClusterTableError, match="does not exist"):
        cluster_table.read(tmp_path / "missing.parquet")


def test_hepmc_writer_is_atomic_and_keeps_partial_output(small_run, tmp_path):
    path = tmp_path / "ev.hepmc"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="stop"):
        with HepMCWriter(path) as w:
            for ev in small_run.events[:3]:
                w.write(ev)
            w.flush()
            assert path.read_bytes() == b"old"  # nothing under the final name yet
            raise RuntimeError("stop")
    assert path.read_bytes() == b"old"
    with pyhepmc.open(str(tmp_path / "ev.hepmc.partial")) as f:
        assert sum(1 for _ in f) == 3
    # Nothing written: nothing kept, not even a partial file.
    with pytest.raises(RuntimeError):
        with HepMCWriter(tmp_path / "new.hepmc"):
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev.hepmc", "ev.hepmc.partial"]


def test_cluster_table_write_is_atomic(small_run, tmp_path):
    from hadml.io.atomic import OutputPathError

    path = tmp_path / "cl.parquet"
    cluster_table.write(small_run.cluster_table, path)
    assert cluster_table.read(path).num_rows == small_run.cluster_table.num_rows
    with pytest.raises(OutputPathError, match="is a directory"):
        cluster_table.write(small_run.cluster_table, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cl.parquet"]


def test_write_atomically_keeps_the_old_file_on_failure(tmp_path):
    from hadml.io.atomic import OutputWriteError, write_atomically

    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def half_then_disk_full(file):
        file.write(b"new, half written")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputWriteError, match=r"out\.bin failed: No space left on device"):
        write_atomically(target, half_then_disk_full)

    def interrupted(file):
        file.write(b"new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, interrupted)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary file left
    assert write_atomically(target, lambda file: file.write(b"new")) == target
    assert target.read_bytes() == b"new"
