"""Scale-out (hadml.scaleout, hadml.io.manifest, hadml.io.merge): shards and dask tasks
join into the bytes of one --jobs 1 run; bad shards give clear errors and leave existing
outputs alone."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hadml.cli import main
from hadml.config import GeneratorConfig
from hadml.io.manifest import ManifestError, read_manifest
from hadml.io.merge import MergeError, merge_shards
from hadml.scaleout import ScaleOutError, ShardSpec, run_shard

# 23 events in blocks of 4: 6 blocks, the last one short (3 events).
N_EVENTS, SEED, BLOCK = 23, 5, 4
CONFIG = GeneratorConfig(block_size=BLOCK, seed=SEED)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Path]:
    """The --jobs 1 run: compressed HepMC3 and the cluster table."""
    import hadml

    d = tmp_path_factory.mktemp("reference")
    hadml.generate(N_EVENTS, config=CONFIG, keep_events=False, hepmc=d / "events.hepmc.gz",
                   clusters=d / "clusters.parquet")
    return {"hepmc": d / "events.hepmc.gz", "clusters": d / "clusters.parquet"}


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[Path]:
    """Shards 0/2 (plain HepMC3) and 1/2 (bzip2), with their manifests."""
    d = tmp_path_factory.mktemp("shards")
    manifests = []
    for index, suffix in ((0, ".hepmc"), (1, ".hepmc.bz2")):
        spec = ShardSpec(index, 2)
        _, manifest = run_shard(N_EVENTS, CONFIG, spec.blocks(CONFIG, N_EVENTS),
                                hepmc=d / f"events.{index}{suffix}",
                                clusters=d / f"clusters.{index}.parquet", shard=str(spec))
        manifests.append(manifest.path)
    return manifests


def test_shard_spec_parses_and_partitions_the_blocks():
    assert ShardSpec.parse(" 3 / 10 ") == ShardSpec(3, 10)
    for bad in ("2/2", "a/b", "1/0", "-1/2", "1", "1/2/3"):
        with pytest.raises(ScaleOutError, match="--shard"):
            ShardSpec.parse(bad)
    cfg = GeneratorConfig(block_size=10)
    ranges = [ShardSpec(i, 3).blocks(cfg, 95) for i in range(3)]  # 10 blocks
    assert ranges == [range(0, 3), range(3, 6), range(6, 10)]
    with pytest.raises(ScaleOutError, match="only 10 block"):
        ShardSpec(0, 11).blocks(cfg, 95)


def test_manifests_describe_the_shards(shards):
    first, second = (read_manifest(p) for p in shards)
    assert (first.blocks, first.events, first.shard) == ((0, 3), 12, "0/2")
    assert (second.blocks, second.events, second.shard) == ((3, 6), 11, "1/2")
    for m in (first, second):
        assert (m.seed, m.run_events, m.block_size, m.run_blocks) == (SEED, N_EVENTS, BLOCK, 6)
        for record in m.outputs:
            path = m.output_path(record)
            assert record.sha256 == _sha(path) and record.size == path.stat().st_size
            assert record.events == m.events
        rows = m.output("clusters").rows
        assert rows == pq.read_metadata(m.output_path(m.output("clusters"))).num_rows > 0
    assert first.config_hash == second.config_hash and len(first.config_hash) == 64
    # The shard's cluster table says which part of the run it is.
    info = json.loads(pq.read_metadata(first.output_path(first.output("clusters")))
                      .metadata[b"hadml.cluster_table.info"])
    assert (info["n_events"], info["blocks"], info["run_events"]) == (12, [0, 3], N_EVENTS)


def test_merged_shards_are_byte_identical_to_one_job(shards, reference, tmp_path, capsys):
    out, table = tmp_path / "events.hepmc.gz", tmp_path / "clusters.parquet"
    # The manifests in any order; the CLI as the user runs it.
    assert main(["merge", str(shards[1]), str(shards[0]), "--out", str(out),
                 "--clusters", str(table)]) == 0
    text = capsys.readouterr().out
    assert "shards merged         : 2 (blocks 0-5" in text and "events                : 23" in text
    assert out.read_bytes() == reference["hepmc"].read_bytes()
    assert table.read_bytes() == reference["clusters"].read_bytes()
    # Uncompressed too: the events are the same text.
    import gzip

    plain = tmp_path / "events.hepmc"
    merge_shards([read_manifest(p) for p in shards], hepmc=plain)
    assert plain.read_bytes() == gzip.decompress(reference["hepmc"].read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["events.hepmc.gz", "clusters.parquet", "events.hepmc"])  # no temporary files left


def test_cluster_rows_are_split_at_block_boundaries(shards):
    """Merging hands ClusterTableWriter one block at a time (its row groups then match a
    one-process run): the split must hold for batches that end inside a block or hold
    several blocks."""
    from hadml.io.merge import block_sizes, cluster_blocks

    for manifest in map(read_manifest, shards):
        record = manifest.output("clusters")
        whole = pq.read_table(manifest.output_path(record))
        events = whole.column("event").to_numpy()
        for batch_rows in (7, 50, 1 << 16):
            pieces = list(cluster_blocks(manifest, record, batch_rows=batch_rows))
            plan = block_sizes(manifest)
            assert len(pieces) == len(plan) == 3
            for piece, (_, n, first) in zip(pieces, plan, strict=True):
                in_block = (events >= first) & (events < first + n)
                assert piece is not None and piece.num_rows == in_block.sum() > 0
                assert piece.column("event").to_pylist() == events[in_block].tolist()
                assert piece.column("h1_px").to_pylist() == \
                    whole.column("h1_px").to_numpy()[in_block].tolist()


def _copy_shards(shards: list[Path], dest: Path) -> list[Path]:
    copied = []
    for manifest in shards:
        for path in manifest.parent.iterdir():
            if not (dest / path.name).exists():
                shutil.copy(path, dest / path.name)
        copied.append(dest / manifest.name)
    return copied


def test_merge_refuses_bad_shards_and_keeps_the_existing_output(shards, tmp_path, capsys):
    local = _copy_shards(shards, tmp_path)  # a moved directory of shards still merges
    out = tmp_path / "merged.hepmc"
    out.write_text("an earlier result\n")
    cases = [
        ([local[0]], "blocks 3-5 of the run's 6 blocks are in none"),
        ([local[0], local[0], local[1]], "overlaps"),
    ]
    for manifests, message in cases:
        assert main(["merge", *map(str, manifests), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    # Another seed: not a shard of the same run.
    data = json.loads(local[1].read_text())
    data["seed"] = SEED + 1
    other = tmp_path / "other.manifest.json"
    other.write_text(json.dumps(data))
    with pytest.raises(MergeError, match="seed 6 but .* has 5"):
        merge_shards([read_manifest(local[0]), read_manifest(other)], hepmc=out)
    data["seed"], data["config"]["ecm"], data["config_hash"] = SEED, 200.0, "0" * 64
    other.write_text(json.dumps(data))
    with pytest.raises(MergeError, match="different configurations .*ecm: 200.0 vs 91.188"):
        merge_shards([read_manifest(local[0]), read_manifest(other)], hepmc=out)
    # A shard file changed after its manifest was written.
    shard_file = read_manifest(local[0]).output_path(read_manifest(local[0]).output("hepmc"))
    original = shard_file.read_bytes()
    shard_file.write_bytes(original[:-200])
    assert main(["merge", *map(str, local), "--out", str(out)]) == 2
    assert "not the file its manifest describes" in capsys.readouterr().err
    # Without the checksum, the event counts still catch the truncation.
    with pytest.raises(MergeError, match="no end-of-listing line|holds"):
        merge_shards([read_manifest(p) for p in local], hepmc=out, verify=False)
    shard_file.write_bytes(original)
    # Not a manifest; a missing one; an output that is an input.
    assert main(["merge", str(shard_file), "--out", str(out)]) == 2
    assert "is not JSON" in capsys.readouterr().err
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nothing.manifest.json")
    with pytest.raises(MergeError, match="is an input of"):
        merge_shards([read_manifest(p) for p in local], hepmc=shard_file)
    with pytest.raises(MergeError, match="nothing to write"):
        merge_shards([read_manifest(p) for p in local])
    assert out.read_text() == "an earlier result\n"
    assert not any(p.name.endswith((".tmp", ".partial")) for p in tmp_path.iterdir())


def test_generate_shard_cli(tmp_path, capsys, reference):
    outs = []
    for index in range(3):
        out = tmp_path / f"e{index}.hepmc.gz"
        assert main(["generate", "-n", str(N_EVENTS), "--seed", str(SEED), "--set",
                     f"block_size={BLOCK}", "--out", str(out), "--shard", f"{index}/3",
                     "--no-progress"]) == 0
        outs.append(out)
    text = capsys.readouterr().out
    assert "shard                 : 2/3 (blocks 4-5 of 6, 7 of 23 events)" in text
    assert f"manifest written      : {outs[2]}.manifest.json" in text
    merged = tmp_path / "events.hepmc.gz"
    assert main(["merge", *(f"{o}.manifest.json" for o in outs), "--out", str(merged)]) == 0
    assert merged.read_bytes() == reference["hepmc"].read_bytes()
    capsys.readouterr()
    for args, message in [
        (["--shard", "3/3", "--out", str(tmp_path / "x.hepmc")], "need 0 <= I < N"),
        (["--shard", "0/7", "--out", str(tmp_path / "x.hepmc")], "only 6 block(s)"),
        (["--shard", "0/2"], "needs an output"),
        (["--manifest", str(tmp_path / "m.json"), "--out", str(tmp_path / "x.hepmc")],
         "give it with --shard"),
        (["--scheduler", "tcp://localhost:1"], "is for --executor dask"),
        (["--shard", "0/2", "--out", str(tmp_path / "x.hepmc"), "--manifest",
          str(tmp_path / "x.hepmc")], "name the same file"),
    ]:
        argv = ["generate", "-n", str(N_EVENTS), "--set", f"block_size={BLOCK}",
                "--no-progress", *args]
        assert main(argv) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "x.hepmc").exists()


def test_dask_local_cluster_is_byte_identical_to_one_job(reference, shards, tmp_path):
    pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    from hadml.io.manifest import read_manifest as read
    from hadml.scaleout import run_dask, write_shard_manifest

    out, table = tmp_path / "events.hepmc.gz", tmp_path / "clusters.parquet"
    # Two workers (threads of this process: light on CI), a task of 3 blocks each.
    summary = run_dask(N_EVENTS, CONFIG, hepmc=out, clusters=table, workers=2,
                       processes=False, task_blocks=3)
    assert summary.n_events == N_EVENTS
    assert out.read_bytes() == reference["hepmc"].read_bytes()
    assert table.read_bytes() == reference["clusters"].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.parquet",
                                                           "events.hepmc.gz"]
    # A shard made on dask joins a shard made by one process.
    blocks = ShardSpec(1, 2).blocks(CONFIG, N_EVENTS)
    part = tmp_path / "part1.hepmc"
    run_dask(N_EVENTS, CONFIG, hepmc=part, blocks=blocks, workers=2, processes=False,
             task_blocks=2)
    manifest = write_shard_manifest(CONFIG, N_EVENTS, blocks, f"{part}.manifest.json", part,
                                    None, "1/2")
    merged = tmp_path / "merged" / "events.hepmc.gz"  # gzip records the name
    merged.parent.mkdir()
    merge_shards([read(shards[0]), manifest], hepmc=merged)
    assert merged.read_bytes() == reference["hepmc"].read_bytes()


def test_dask_missing_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    out = tmp_path / "e.hepmc"
    assert main(["generate", "-n", "3", "--out", str(out), "--executor", "dask",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'hadml[dask]'" in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


VARIATIONS_YAML = ("- {name: smr_up, ClSmrLight: 0.9}\n"
                   "- {name: pwt_down, PwtSquark: 0.32}\n")


def test_variations_join_from_shards_and_dask(tmp_path, capsys):
    """Parameter-variation weights (hadml.variations): shards 0/2 + 1/2 merged and a dask
    run give the bytes of one --jobs 1 run (W header line, weight_<name> columns); shards
    with other variations are refused."""
    from hadml.config import load_config
    from hadml.scaleout import config_hash, run_dask
    from hadml.variations import load_variations

    vfile, other = tmp_path / "v.yaml", tmp_path / "other.yaml"
    vfile.write_text(VARIATIONS_YAML)
    other.write_text(VARIATIONS_YAML.replace("0.32", "0.35"))
    base = ["generate", "-n", str(N_EVENTS), "--seed", str(SEED), "--set",
            f"block_size={BLOCK}", "--no-progress"]
    ref = {"hepmc": tmp_path / "ref.hepmc", "clusters": tmp_path / "ref.parquet"}
    assert main([*base, "--variations", str(vfile), "--out", str(ref["hepmc"]),
                 "--clusters", str(ref["clusters"])]) == 0
    header = ref["hepmc"].read_text().split("\nE ", 1)[0].splitlines()
    assert r"W nominal\|smr_up\|pwt_down" in header  # HepMC3 escapes the separator
    weights = pq.read_table(ref["clusters"]).select(["weight_smr_up", "weight_pwt_down"])
    assert weights.num_rows > 0 and any(w != 1.0 for w in weights.column(0).to_pylist())

    def shard(index: int, variations: Path | None, name: str) -> Path:
        out = tmp_path / f"{name}.hepmc"
        extra = ["--variations", str(variations)] if variations is not None else []
        assert main([*base, *extra, "--out", str(out), "--clusters",
                     str(tmp_path / f"{name}.parquet"), "--shard", f"{index}/2"]) == 0
        return Path(f"{out}.manifest.json")

    m0, m1 = shard(0, vfile, "s0"), shard(1, vfile, "s1")
    manifest = read_manifest(m0)
    assert manifest.variations == [{"name": "smr_up", "overrides": {"ClSmrLight": 0.9}},
                                   {"name": "pwt_down", "overrides": {"PwtSquark": 0.32}}]
    cfg = load_config(overrides=manifest.config)
    assert manifest.config_hash == config_hash(cfg, load_variations(vfile))
    assert manifest.config_hash != config_hash(cfg)  # variations are in the hash
    merged = {"hepmc": tmp_path / "m.hepmc", "clusters": tmp_path / "m.parquet"}
    assert main(["merge", str(m0), str(m1), "--out", str(merged["hepmc"]), "--clusters",
                 str(merged["clusters"])]) == 0
    for kind in ("hepmc", "clusters"):
        assert merged[kind].read_bytes() == ref[kind].read_bytes(), kind

    # Another variations file, or none, in one shard: refused, nothing written.
    capsys.readouterr()
    for bad, message in ((shard(1, other, "o1"), "PwtSquark=0.35"),
                         (shard(1, None, "n1"), "no parameter variations")):
        target = tmp_path / "bad.hepmc"
        assert main(["merge", str(m0), str(bad), "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert "--variations files differ" in err and message in err, err
        assert "Traceback" not in err and not target.exists()

    pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    out = {"hepmc": tmp_path / "d.hepmc", "clusters": tmp_path / "d.parquet"}
    summary = run_dask(N_EVENTS, CONFIG, hepmc=out["hepmc"], clusters=out["clusters"],
                       workers=2, processes=False, task_blocks=2,
                       variations=load_variations(vfile))
    assert summary.n_events == N_EVENTS
    assert [r.name for r in summary.variation_reports()] == ["smr_up", "pwt_down"]
    for kind in ("hepmc", "clusters"):
        assert out[kind].read_bytes() == ref[kind].read_bytes(), kind
