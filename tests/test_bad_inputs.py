"""Bad inputs to ``hadml generate``, as a careless or hostile user gives them: every case
must end with the documented exit status, a message that says what is wrong, no
traceback, and a pre-existing output file left byte for byte as it was (issue 11).

Exit status: 2 bad input, 1 a failed run, 130/143 SIGINT/SIGTERM (hadml.cli.main).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyhepmc
import pytest

import hadml
import hadml.generator as generator_module
from hadml.cli import main
from hadml.generator import Generator, RunStopped
from hadml.io import cluster_table
from hadml.models import default_model_path

#: Where the imported hadml lives: subprocesses use the same package as this process (the
#: installed one in CI, where the checkout's hadml/ has no compiled module).
PACKAGE_ROOT = Path(hadml.__file__).resolve().parents[1]
OLD = b"HepMC::Version 3.02.05\nan existing output that a failed run must not touch\n"


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """main() in this process: (exit status, stderr). A traceback would be an uncaught
    exception here; argparse's own errors exit through SystemExit."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 2
    return rc, capsys.readouterr().err


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def _write(path: Path, text: str | bytes) -> str:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


# -- files the cases refer to; each factory gets the test's tmp_path ---------------------
def _config(text: str | bytes):
    return lambda tmp: _write(tmp / "run.yaml", text)


def _tune(text: str):
    return lambda tmp: _write(tmp / "tune.yaml", text)


def _model(content: bytes | None):
    def make(tmp: Path) -> str:
        path = tmp / "model.onnx"
        if content is not None:
            path.write_bytes(content)
        return str(path)
    return make


DEEP_YAML = "ecm: " + "[" * 20000 + "]" * 20000 + "\n"
# "Billion laughs": nine levels of nine aliases each (9^9 strings if expanded).
LAUGHS = "pythia:\n  - &a ['x','x','x','x','x','x','x','x','x']\n" + "".join(
    f"  - &{chr(98 + k)} [" + ",".join([f"*{chr(97 + k)}"] * 9) + "]\n" for k in range(8))

# (id, argv after `generate`, files {placeholder: factory}, exit status, phrase in stderr)
CASES = [
    # numbers and CLI options
    ("n-zero", ["-n", "0"], {}, 2, "at least 1"),
    ("n-negative", ["-n", "-5"], {}, 2, "at least 1"),
    ("n-not-a-number", ["-n", "ten"], {}, 2, "invalid int value"),
    ("n-float", ["-n", "1e3"], {}, 2, "invalid int value"),
    ("seed-negative", ["-n", "2", "--seed", "-1"], {}, 2, "seed must be an integer"),
    ("seed-too-large", ["-n", "2", "--seed", str(2**63)], {}, 2, "seed must be an integer"),
    ("seed-not-a-number", ["-n", "2", "--seed", "x"], {}, 2, "invalid int value"),
    ("jobs-zero", ["-n", "2", "--jobs", "0"], {}, 2, "--jobs must be at least 1"),
    ("jobs-negative", ["-n", "2", "--jobs", "-3"], {}, 2, "--jobs must be at least 1"),
    ("ecm-5", ["-n", "2", "--ecm", "5"], {}, 2, "sqrt(s) must lie in"),
    ("ecm-10", ["-n", "2", "--ecm", "10"], {}, 2, "sqrt(s) must lie in"),
    ("ecm-nan", ["-n", "2", "--ecm", "nan"], {}, 2, "cannot use value"),
    ("ecm-inf", ["-n", "2", "--ecm", "inf"], {}, 2, "cannot use value"),
    ("ecm-huge", ["-n", "2", "--ecm", "1e6"], {}, 2, "sqrt(s) must lie in"),
    ("hadronization-unknown", ["-n", "2", "--hadronization", "strings"], {}, 2,
     "invalid choice"),
    ("model-without-ml", ["-n", "2", "--model", "{model}"], {"{model}": _model(b"x")}, 2,
     "only apply to hadronization 'ml'"),
    ("device-without-ml", ["-n", "2", "--device", "cpu"], {}, 2,
     "only apply to hadronization 'ml'"),
    ("set-model-without-ml", ["-n", "2", "--set", "model={model}"],
     {"{model}": _model(b"x")}, 2, "only apply to hadronization 'ml'"),
    ("set-threads-without-ml", ["-n", "2", "--set", "ml_threads=4"], {}, 2,
     "ml_threads only apply"),
    ("set-unknown-option", ["-n", "2", "--set", "NoSuchParam=1"], {}, 2,
     "unknown option 'NoSuchParam'"),
    ("set-without-equals", ["-n", "2", "--set", "ecm"], {}, 2, "key=value"),
    ("set-twice-differently", ["-n", "2", "--set", "ecm=91", "--set", "ecm=200"], {}, 2,
     "gives 'ecm' twice"),
    ("set-param-not-a-number", ["-n", "2", "--set", "ClMaxLight=abc"], {}, 2,
     "needs a number"),
    ("set-param-negative", ["-n", "2", "--set", "ClMaxLight=-1"], {}, 2, "ClMax"),
    ("set-param-nan", ["-n", "2", "--set", "PwtSquark=nan"], {}, 2, "needs a number"),
    ("set-param-not-integer", ["-n", "2", "--set", "ColourReconnection=0.5"], {}, 2,
     "integer"),
    ("set-block-size-zero", ["-n", "2", "--set", "block_size=0"], {}, 2, "block_size"),
    ("set-block-size-huge", ["-n", "2", "--set", "block_size=1000000"], {}, 2,
     "block_size must lie in"),
    ("set-flavour-6", ["-n", "2", "--set", "flavours=1,6"], {}, 2, "subset of 1..5"),
    ("set-flavour-repeated", ["-n", "2", "--set", "flavours=1,1"], {}, 2, "without repeats"),
    ("set-bool-garbage", ["-n", "2", "--set", "decay_hadrons=maybe"], {}, 2,
     "cannot use value"),
    ("set-pt-min-out-of-pythia-range", ["-n", "2", "--set", "shower_pt_min=5"], {}, 2,
     "TimeShower:pTmin"),
    ("set-alpha-s-out-of-range", ["-n", "2", "--set", "shower_alpha_s=0.5"], {}, 2,
     "must lie in"),
    ("set-seed-disagrees-with-seed", ["-n", "2", "--set", "seed=5", "--seed", "6"], {}, 2,
     "gives seed 6 but the configuration"),
    ("set-and-option-both", ["-n", "2", "--ecm", "91", "--set", "ecm=91"], {}, 2,
     "both given"),
    ("ml-fraction-above-1", ["-n", "2", "--hadronization", "ml", "--set",
                             "ml_max_fallback_fraction=2"], {}, 2, "must lie in [0, 1]"),
    ("ml-policy-unknown", ["-n", "2", "--hadronization", "ml", "--set", "ml_policy=ignore"],
     {}, 2, "ml_policy must be one of"),
    # Pythia settings that would switch off or replace a part of the pipeline
    ("pythia-hadron-level-on", ["-n", "2", "--set", "pythia=HadronLevel:all = on"], {}, 2,
     "would replace the cluster model"),
    ("pythia-hadronize-lowercase", ["-n", "2", "--set", "pythia=hadronlevel:Hadronize on"],
     {}, 2, "would replace the cluster model"),
    ("pythia-beams", ["-n", "2", "--set", "pythia=Beams:eCM = 200"], {}, 2, "use ecm"),
    ("pythia-pdf-lepton", ["-n", "2", "--set", "pythia=PDF:lepton = on"], {}, 2, "use isr"),
    ("pythia-process-off", ["-n", "2", "--set", "pythia=WeakSingleBoson:ffbar2gmZ = off"],
     {}, 2, "only TimeShower:*"),
    ("pythia-other-process", ["-n", "2", "--set", "pythia=HardQCD:all = on"], {}, 2,
     "refused"),
    ("pythia-random-seed", ["-n", "2", "--set", "pythia=Random:seed = 3"], {}, 2, "use seed"),
    ("pythia-z-decays", ["-n", "2", "--set", "pythia=23:onMode = off"], {}, 2,
     "particle data"),
    ("pythia-parton-level-off", ["-n", "2", "--set", "pythia=PartonLevel:FSR = off"], {}, 2,
     "parton level"),
    ("pythia-next", ["-n", "2", "--set", "pythia=Next:numberCount = 10"], {}, 2,
     "quiet"),
    ("pythia-decays", ["-n", "2", "--set", "pythia=ParticleDecays:limitTau0 = on"], {}, 2,
     "decay_hadrons"),
    ("pythia-alpha-s", ["-n", "2", "--set", "pythia=TimeShower:alphaSvalue = 0.2"], {}, 2,
     "use the shower_alpha_s option"),
    ("pythia-comment", ["-n", "2", "--set", "pythia=! nothing"], {}, 2,
     "not a 'Key = value' setting"),
    ("pythia-unknown-key", ["-n", "2", "--set", "pythia=TimeShower:noSuchSetting = 1"], {},
     2, "Pythia rejected the setting"),
    # configuration files
    ("config-missing", ["-n", "2", "--config", "{dir}/none.yaml"], {}, 2, "does not exist"),
    ("config-directory", ["-n", "2", "--config", "{dir}"], {}, 2, "is not a file"),
    ("config-device-file", ["-n", "2", "--config", "/dev/zero"], {}, 2, "is not a file"),
    ("config-bad-yaml", ["-n", "2", "--config", "{cfg}"], {"{cfg}": _config("ecm: [1, 2\n")},
     2, "not valid YAML"),
    ("config-list", ["-n", "2", "--config", "{cfg}"], {"{cfg}": _config("- 1\n- 2\n")}, 2,
     "must hold a mapping"),
    ("config-unknown-key", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("ecm: 91.2\nenergy: 3\n")}, 2, "run.yaml: key 'energy'"),
    ("config-ecm-string", ["-n", "2", "--config", "{cfg}"], {"{cfg}": _config("ecm: abc\n")},
     2, "run.yaml: key 'ecm'"),
    ("config-ecm-bool", ["-n", "2", "--config", "{cfg}"], {"{cfg}": _config("ecm: true\n")},
     2, "run.yaml: key 'ecm'"),
    ("config-seed-float", ["-n", "2", "--config", "{cfg}"], {"{cfg}": _config("seed: 1.5\n")},
     2, "run.yaml: key 'seed'"),
    ("config-duplicate-key", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("seed: 1\nseed: 2\n")}, 2, "given twice"),
    ("config-binary", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config(bytes(range(256)))}, 2, "not UTF-8"),
    ("config-deeply-nested", ["-n", "2", "--config", "{cfg}"], {"{cfg}": _config(DEEP_YAML)},
     2, "run.yaml"),
    ("config-too-large", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("# x\n" * 300_000)}, 2, "at most"),
    ("config-alias-bomb", ["-n", "2", "--config", "{cfg}"], {"{cfg}": _config(LAUGHS)}, 2,
     "run.yaml: key 'pythia'"),
    ("config-seed-disagrees", ["-n", "2", "--seed", "6", "--config", "{cfg}"],
     {"{cfg}": _config("seed: 5\n")}, 2, "gives seed 6 but the configuration"),
    ("config-set-seed-disagrees", ["-n", "2", "--set", "seed=6", "--config", "{cfg}"],
     {"{cfg}": _config("seed: 5\n")}, 2, "disagrees with the seed 5"),
    ("config-cluster-negative", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("cluster:\n  ClMaxLight: -1\n")}, 2, "run.yaml: key 'cluster'"),
    ("config-cluster-list", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("cluster: [1, 2]\n")}, 2, "run.yaml: key 'cluster'"),
    ("config-pythia-not-strings", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("pythia:\n  - {a: 1}\n")}, 2, "run.yaml: key 'pythia'"),
    ("config-pythia-refused", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("pythia: ['HadronLevel:all = on']\n")}, 2,
     "run.yaml: key 'pythia': pythia setting"),
    ("config-model-without-ml", ["-n", "2", "--config", "{cfg}"],
     {"{cfg}": _config("device: cpu\n")}, 2, "only apply to hadronization"),
    # tune files
    ("tune-unknown-name", ["-n", "2", "--tune", "atlas"], {}, 2, "neither one of"),
    ("tune-unknown-key", ["-n", "2", "--tune", "{tune}"], {"{tune}": _tune("ecm: 91\n")}, 2,
     "tune.yaml: key 'ecm' is not allowed"),
    ("tune-pt-min-negative", ["-n", "2", "--tune", "{tune}"],
     {"{tune}": _tune("shower_pt_min: -1\n")}, 2, "tune.yaml: key 'shower_pt_min'"),
    ("tune-unknown-parameter", ["-n", "2", "--tune", "{tune}"],
     {"{tune}": _tune("cluster: {NoSuch: 1}\n")}, 2, "tune.yaml: key 'cluster.NoSuch'"),
    ("tune-parameter-string", ["-n", "2", "--tune", "{tune}"],
     {"{tune}": _tune("cluster: {ClMaxLight: abc}\n")}, 2, "tune.yaml: key 'cluster'"),
    ("tune-parameter-out-of-range", ["-n", "2", "--tune", "{tune}"],
     {"{tune}": _tune("cluster: {ClMaxLight: 0}\n")}, 2,
     "tune.yaml: key 'cluster.ClMaxLight'"),
    ("tune-directory", ["-n", "2", "--tune", "{dir}"], {}, 2, "is not a file"),
    ("tune-not-a-mapping", ["-n", "2", "--tune", "{tune}"], {"{tune}": _tune("[1]\n")}, 2,
     "must hold a mapping"),
    # output paths
    ("out-is-directory", ["-n", "2", "--out", "{dir}/sub"], {}, 2, "is a directory"),
    ("out-dir-missing", ["-n", "2", "--out", "{dir}/none/ev.hepmc"], {}, 2,
     "does not exist"),
    ("out-dev-full", ["-n", "2", "--out", "/dev/full"], {}, 2, "not a regular file"),
    ("out-empty-name", ["-n", "2", "--out", ""], {}, 2, "does not name a file"),
    ("out-trailing-slash", ["-n", "2", "--out", "{dir}/ev.hepmc/"], {}, 2,
     "does not name a file"),
    ("out-zstd", ["-n", "2", "--out", "{dir}/ev.hepmc.zst"], {}, 2, "not supported"),
    ("out-equals-clusters", ["-n", "2", "--out", "{out}", "--clusters", "{out}"], {}, 2,
     "name the same file"),
    ("clusters-is-directory", ["-n", "2", "--out", "{out}", "--clusters", "{dir}/sub"], {},
     2, "is a directory"),
    ("clusters-dir-missing", ["-n", "2", "--clusters", "{dir}/none/c.parquet"], {}, 2,
     "does not exist"),
    # models (crafted ONNX contents are covered by tests/test_onnx_shim.py)
    ("model-missing", ["-n", "2", "--hadronization", "ml", "--model", "{dir}/none.onnx"], {},
     2, "does not exist"),
    ("model-directory", ["-n", "2", "--hadronization", "ml", "--model", "{dir}/sub"], {}, 2,
     "is a directory"),
    ("model-fifo", ["-n", "2", "--hadronization", "ml", "--model", "{fifo}"],
     {"{fifo}": lambda tmp: (os.mkfifo(tmp / "m.onnx"), str(tmp / "m.onnx"))[1]}, 2,
     "is not a regular file"),
    ("model-empty", ["-n", "2", "--hadronization", "ml", "--model", "{model}"],
     {"{model}": _model(b"")}, 2, "model.onnx"),
    ("model-text", ["-n", "2", "--hadronization", "ml", "--model", "{model}"],
     {"{model}": _model(b"this is not an ONNX model\n" * 10)}, 2, "model.onnx"),
    ("model-truncated", ["-n", "2", "--hadronization", "ml", "--model", "{model}"],
     {"{model}": lambda tmp: _write(tmp / "model.onnx",
                                    default_model_path().read_bytes()[:4000])}, 2,
     "model.onnx"),
]


@pytest.mark.parametrize("argv, files, status, phrase",
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_is_refused_and_the_old_output_survives(tmp_path, capsys, argv, files,
                                                          status, phrase):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "keep.txt").write_bytes(OLD)
    out = tmp_path / "ev.hepmc"
    out.write_bytes(OLD)
    values = {"{dir}": str(tmp_path), "{out}": str(out)}
    values.update({key: make(tmp_path) for key, make in files.items()})
    args = []
    for a in argv:
        for key, value in values.items():
            a = a.replace(key, value)
        args.append(a)
    if "--out" not in args:
        args += ["--out", str(out)]
    rc, err = _run(["generate", *args, "--no-progress"], capsys)
    assert rc == status, err
    assert phrase in err
    assert "Traceback" not in err
    assert out.read_bytes() == OLD
    assert (tmp_path / "sub" / "keep.txt").read_bytes() == OLD
    assert not (tmp_path / "ev.hepmc.partial").exists()
    assert _leftovers(tmp_path) == []


def test_the_suite_is_large_enough():
    assert len(CASES) >= 45


def test_jobs_above_the_cores_are_capped_with_a_note(tmp_path, capsys):
    out = tmp_path / "ev.hepmc"
    cores = os.cpu_count() or 1
    rc, err = _run(["generate", "-n", "3", "--jobs", str(cores + 3), "--out", str(out),
                    "--no-progress"], capsys)
    assert rc == 0
    assert f"using {cores}" in err and "--force-jobs" in err
    with pyhepmc.open(str(out)) as f:
        assert sum(1 for _ in f) == 3


# -- failed writes ---------------------------------------------------------------------------
@contextlib.contextmanager
def _small_tmpfs(path: Path, size: str):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def _generate_cli(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    # cwd: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH.
    kwargs.setdefault("cwd", PACKAGE_ROOT)
    return subprocess.run([sys.executable, "-m", "hadml", "generate", *args, "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120, **kwargs)


@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_full_disk_fails_naming_the_file_and_keeps_the_old_one(tmp_path, how):
    if how == "tmpfs":
        ctx = _small_tmpfs(tmp_path / "disk", "200k")
        limit = None
    else:
        ctx = contextlib.nullcontext(tmp_path)
        limit = 150_000  # bytes: RLIMIT_FSIZE makes writes past it fail with EFBIG

    def small_files() -> None:  # runs in the child
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with ctx as disk:
        out = disk / "ev.hepmc"
        out.write_bytes(OLD)
        r = _generate_cli(["-n", "200", "--out", str(out)],
                          preexec_fn=small_files if limit else None)
        assert r.returncode == 1, r.stderr
        assert f"writing {out} failed" in r.stderr
        assert "Traceback" not in r.stderr
        assert "events written" not in r.stdout
        assert out.read_bytes() == OLD
        assert _leftovers(disk) == []


def test_a_failed_write_of_the_cluster_table_keeps_the_old_files(tmp_path):
    out, table = tmp_path / "ev.hepmc", tmp_path / "cl.parquet"
    out.write_bytes(OLD)
    table.write_bytes(OLD)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    r = _generate_cli(["-n", "300", "--out", str(out), "--clusters", str(table)],
                      preexec_fn=small_files)
    assert r.returncode == 1 and "failed" in r.stderr and "Traceback" not in r.stderr
    assert out.read_bytes() == OLD and table.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


# -- interrupts ------------------------------------------------------------------------------
def _wait_for_events(directory: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the run has written its first block."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tmp = [p for p in directory.iterdir() if p.name.startswith(".ev.hepmc.")]
        if tmp and tmp[0].stat().st_size > 2_000_000:  # block 0 (about 1.2 MB) done
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no events written in time")


@pytest.mark.parametrize("sig, status, jobs", [(signal.SIGINT, 130, 1),
                                               (signal.SIGTERM, 143, 1),
                                               (signal.SIGINT, 130, 2)])
def test_interrupt_keeps_old_file_and_marks_the_partial_one(tmp_path, sig, status, jobs):
    out, table = tmp_path / "ev.hepmc", tmp_path / "cl.parquet"
    out.write_bytes(OLD)
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hadml", "generate", "-n", "100000", "--out", str(out),
         "--clusters", str(table), "--jobs", str(jobs), "--force-jobs", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PACKAGE_ROOT)
    try:
        _wait_for_events(tmp_path, proc)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    assert f"interrupted ({name})" in stderr
    assert out.read_bytes() == OLD
    assert not table.exists()
    partial = tmp_path / "ev.hepmc.partial"
    with pyhepmc.open(str(partial)) as f:
        n = sum(1 for _ in f)
    assert n >= 100
    assert f"{partial} ({n} events)" in stderr
    kept = cluster_table.read(tmp_path / "cl.parquet.partial")
    assert set(np.unique(kept.column("event").to_numpy())) <= set(range(n))
    assert cluster_table.info(kept)["complete"] is False
    assert _leftovers(tmp_path) == []


def test_conservation_violation_keeps_the_partial_file(tmp_path, monkeypatch):
    # A bug that shows in block 3 of 4: the run stops naming event and seed, the blocks
    # before are kept under the partial name, the old file stays.
    out = tmp_path / "ev.hepmc"
    out.write_bytes(OLD)
    original = Generator.run_block

    def run_block_with_a_bug(self, block, n_events, first_number, *args, **kwargs):
        result = original(self, block, n_events, first_number, *args, **kwargs)
        if block == 3:
            # Event 160 as made, then a lost MeV, through the event loop's own check.
            event = original(self, block, n_events, first_number).events[160 - first_number]
            made = SimpleNamespace(p=event.p[event.final].sum(axis=0, keepdims=True),
                                   other_p=np.zeros((0, 4)), beams=event.p[:2])
            event.p[np.flatnonzero(event.final)[0], 3] += 1e-3
            self._check(event, made, event.number, block)
        return result

    monkeypatch.setattr(Generator, "run_block", run_block_with_a_bug)
    with pytest.raises(RunStopped) as info:
        hadml.generate(200, seed=4, block_size=50, hepmc=out, keep_events=False)
    err = info.value
    assert isinstance(err.__cause__, generator_module.ConservationError)
    assert "event 160 (seed 4, block 3)" in str(err)
    assert err.n_events == 150
    assert out.read_bytes() == OLD
    with pyhepmc.open(str(tmp_path / "ev.hepmc.partial")) as f:
        assert [e.event_number for e in f] == list(range(150))
    assert _leftovers(tmp_path) == []
