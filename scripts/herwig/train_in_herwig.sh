#!/bin/bash
# The HADML workflow inside a real Herwig 7.3 (docs/herwig-workflow.md, issue 17 item 5):
#   1. dump Herwig's two-hadron cluster decays with the adapter (dump mode): N_TRAIN + N_TEST
#      events; the first N_TRAIN are the training data, the last N_TEST (never trained on) are
#      the sample "Herwig classic B" of the closure
#   2. train the `cluster_mle` recipe on the training events with `hadml train`, export ONNX
#   3. run Herwig classic (seed A) and Herwig+ML (seed ML, Policy Error), N_TEST events each,
#      with HepMC output and a dump of the clusters (in the ML run: before and after the
#      re-decay)
#   4. calibrated closure of the decay angles per cluster class (scripts/herwig/herwig_closure.py)
#   5. the LEP analyses on the two HepMC files against data (scripts/herwig/compare_lep.py)
#   6. Herwig+ML against Herwig classic in the same analyses (scripts/herwig/mc_vs_mc.py)
#
# usage: HERWIG_PREFIX=/path/to/herwig PLUGIN_DIR=build/herwig/cpp_plugin/herwig \
#        scripts/herwig/train_in_herwig.sh OUTDIR
# Environment (defaults): N_TRAIN (100000) training events, N_TEST (20000) events of each
# comparison sample, SEED_TRAIN (1001, the dump run), SEED_A (2001), SEED_ML (2003),
# BLOCKS (10, of the closure), TRAIN_ARGS (extra `hadml train` overrides, e.g.
# max_epochs=2 for a quick check), PYTHON (python3; needs hadml's dependencies and torch),
# HADML_SHARED (folder holding refdata/, for the LEP analyses), FSR_ALPHAS (alpha_s input of
# the final-state shower, AlphaQCDFSR:AlphaIn, for every run; unset: Herwig 7.3.0's default
# 0.102337; 0.1186 brings LEP to the data, docs/validation.md section 12.3), DUMP_HEPMC (0: the
# dump run also writes HepMC3 for its first DUMP_HEPMC events, a classic LEP sample with
# the dump's seed: the second classic run of step 5 and a LEP peer, at no extra Herwig time),
# CLASSIC_FROM_DUMP (0; 1: no separate classic run: the dump's last 2 N_TEST events are
# classic A and classic B of the closure, the first N_TEST and the next N_TEST events of its
# HepMC (DUMP_HEPMC >= 2 N_TEST) classic A and classic B of the LEP analyses; saves one
# Herwig run), LEP_HALVES (1: also the LEP analyses of the first halves), NULL_SEEDS and
# ML_SEEDS_EXTRA (space-separated seeds: step 7, more classic and Herwig+ML runs for the null
# of the LEP criterion).
# A step whose output exists is not run again (delete it to redo), so a dump run stopped
# early (SIGTERM: ThePEG finishes the run cleanly) can be used as it is: its last N_TEST
# events are classic B, the rest the training data. Every run is at nice 10, one at a time,
# torch on one thread. Times (user+sys CPU and wall, /usr/bin/time) go to OUTDIR/times.txt.
set -euo pipefail
OUT=${1:?output folder}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
P=${HERWIG_PREFIX:?set HERWIG_PREFIX (the prefix holding bin/Herwig)}
L=$(cd "${PLUGIN_DIR:?set PLUGIN_DIR (the folder of HwMLCluster.so)}" && pwd)
N_TRAIN=${N_TRAIN:-100000}; N_TEST=${N_TEST:-20000}
SEED_TRAIN=${SEED_TRAIN:-1001}; SEED_A=${SEED_A:-2001}; SEED_ML=${SEED_ML:-2003}; BLOCKS=${BLOCKS:-10}
PY=${PYTHON:-python3}
CLASSIC_FROM_DUMP=${CLASSIC_FROM_DUMP:-0}; LEP_HALVES=${LEP_HALVES:-1}
HELD_OUT=$N_TEST; if [ "$CLASSIC_FROM_DUMP" = 1 ]; then HELD_OUT=$((2 * N_TEST)); fi
export PATH=$P/bin:$PATH PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); cd "$OUT"
MODEL=$OUT/herwig_cluster_mle.onnx

timed() {  # label command...: run at nice 10, append CPU and wall seconds to times.txt
  local label=$1; shift
  /usr/bin/time -f "%U %S %e" -o "$OUT/.time" nice -n 10 "$@"
  awk -v l="$label" '{printf "%s: cpu %.1f s, wall %.1f s\n", l, $1 + $2, $3}' "$OUT/.time" \
    | tee -a "$OUT/times.txt"
}

# One LEP input: 91.2 GeV e+e- -> q qbar, no QED ISR (as Herwig's own LEP validation,
# Tests/Rivet/Templates/EE.in, and hadml's Pythia peer); mode dump | classic | ml.
lep_input() {
  cat <<EOF
read snippets/EECollider.in
${FSR_ALPHAS:+set /Herwig/Shower/AlphaQCDFSR:AlphaIn $FSR_ALPHAS}
cd /Herwig/MatrixElements
insert SubProcess:MatrixElements 0 MEee2gZ2qq
set /Herwig/Particles/e-:PDF /Herwig/Partons/NoPDF
set /Herwig/Particles/e+:PDF /Herwig/Partons/NoPDF
cd /Herwig/Generators
set EventGenerator:EventHandler:LuminosityFunction:Energy 91.2
set EventGenerator:PrintEvent 0
EOF
  local hepmc_events=100000000
  if [ "$1" = dump ]; then hepmc_events=${DUMP_HEPMC:-0}; fi
  if [ "$hepmc_events" -gt 0 ]; then
    cat <<EOF
read snippets/HepMC.in
set /Herwig/Analysis/HepMC:Format GenEventHepMC3
set /Herwig/Analysis/HepMC:PrintEvent $hepmc_events
EOF
  fi
  echo "cd /Herwig/EventHandlers"
  if [ "$1" = ml ]; then
    # Herwig's decays of the clusters (before), the model's re-decay, the re-decayed clusters
    # (after); all three before SpinHadronizer.
    cat <<EOF
create Herwig::MLClusterRedecayer DumpBefore HwMLCluster.so
set DumpBefore:Dump before.dat
insert EventHandler:PostHadronizationHandlers 0 DumpBefore
create Herwig::MLClusterRedecayer MLRedecayer HwMLCluster.so
set MLRedecayer:ModelFile $MODEL
set MLRedecayer:Policy Error
insert EventHandler:PostHadronizationHandlers 1 MLRedecayer
create Herwig::MLClusterRedecayer DumpAfter HwMLCluster.so
set DumpAfter:Dump clusters.dat
insert EventHandler:PostHadronizationHandlers 2 DumpAfter
EOF
  else
    cat <<EOF
create Herwig::MLClusterRedecayer ClusterDumper HwMLCluster.so
set ClusterDumper:Dump clusters.dat
insert EventHandler:PostHadronizationHandlers 0 ClusterDumper
EOF
  fi
  printf 'cd /Herwig/Generators\nsaverun %s EventGenerator\n' "$1"
}

herwig_run() {  # mode dir events seed
  local mode=$1 dir=$2 n=$3 seed=$4
  [ -s "$dir/done" ] && return 0
  mkdir -p "$dir"
  lep_input "$mode" > "$dir/$mode.in"
  (cd "$dir" && Herwig read -L "$L" "$mode.in" > read.log 2>&1)
  (cd "$dir" && timed "herwig $mode $dir ($n events, seed $seed)" \
     Herwig run -L "$L" "$mode.run" -N "$n" -s "$seed" -q > run.log 2>&1)
  grep -h "MLClusterRedecayer:" "$dir/$mode-S$seed.log" | tee "$dir/done"
}

# HepMC events [START, STOP) of IN (HepMC3 ASCII) as a file of their own: header, events, footer
hepmc_slice() {  # in out start stop
  awk -v a="$3" -v b="$4" '
    /^E / { k++; if (k > b) exit }
    /^HepMC::Asciiv3-END_EVENT_LISTING/ { exit }
    k == 0 || k > a { print }
    END { print "HepMC::Asciiv3-END_EVENT_LISTING" }' "$1" > "$2.tmp" && mv "$2.tmp" "$2"
}

# 1. the training dump; its last N_TEST events (lines) are classic B (with CLASSIC_FROM_DUMP,
# the N_TEST before them classic A)
herwig_run dump dump "$((N_TRAIN + HELD_OUT))" "$SEED_TRAIN"
if [ ! -s classicB/clusters.dat ]; then
  mkdir -p train classicA classicB
  n=$(wc -l < dump/clusters.dat)
  [ "$n" -gt "$HELD_OUT" ] || { echo "dump/clusters.dat has $n events, not more than $HELD_OUT" >&2; exit 1; }
  head -n "$((n - HELD_OUT))" dump/clusters.dat > train/clusters.dat
  if [ "$CLASSIC_FROM_DUMP" = 1 ]; then
    head -n "$((n - N_TEST))" dump/clusters.dat | tail -n "$N_TEST" > classicA/clusters.dat
  fi
  tail -n "$N_TEST" dump/clusters.dat > classicB/clusters.dat
  echo "training dump: $((n - HELD_OUT)) events for training, $HELD_OUT held out" | tee -a times.txt
fi

# 2. train (the shipped recipe) and export
if [ ! -s "$MODEL" ]; then
  timed "hadml train cluster_mle" "$PY" -m hadml train --config cluster_mle \
    data.source=herwig data.path="$OUT/train/clusters.dat" out_dir="$OUT/runs" \
    ${TRAIN_ARGS:-} --export "$MODEL" 2>&1 | tee train.log | grep -v "^Epoch" || true
  [ -s "$MODEL" ] || { echo "training did not export $MODEL (see train.log)" >&2; exit 1; }
fi

# 3. Herwig classic A (unless it comes from the dump), Herwig+ML
if [ "$CLASSIC_FROM_DUMP" = 1 ]; then
  HEPMC_A=dump/classicA.hepmc; HEPMC_B=dump/classicB.hepmc
  [ -s "$HEPMC_A" ] || hepmc_slice "dump/dump-S$SEED_TRAIN.hepmc" "$HEPMC_A" 0 "$N_TEST"
  [ -s "$HEPMC_B" ] || hepmc_slice "dump/dump-S$SEED_TRAIN.hepmc" "$HEPMC_B" "$N_TEST" "$((2 * N_TEST))"
  [ "$(grep -c '^E ' "$HEPMC_B")" = "$N_TEST" ] \
    || { echo "the dump's HepMC has fewer than 2 N_TEST events (set DUMP_HEPMC)" >&2; exit 1; }
else
  herwig_run classic classicA "$N_TEST" "$SEED_A"
  HEPMC_A=classicA/classic-S$SEED_A.hepmc; HEPMC_B=""
fi
herwig_run ml ml "$N_TEST" "$SEED_ML"

# 4. calibrated closure of the decay angles
if [ ! -s closure.json ]; then
  timed "closure" "$PY" "$REPO/scripts/herwig/herwig_closure.py" \
    --classic-a classicA/clusters.dat --classic-b classicB/clusters.dat \
    --ml ml/clusters.dat --paired ml/before.dat --blocks "$BLOCKS" --json closure.json \
    | tee closure.md
fi

# 5. LEP analyses: Herwig classic A, Herwig+ML, data (each also on its first half, to see
# how much chi2/ndf moves with the sample alone)
if [ ! -s lep/summary.json ]; then
  timed "LEP analyses" "$PY" "$REPO/scripts/herwig/compare_lep.py" --pythia 0 -o lep \
    --hepmc "Herwig classic A=$HEPMC_A" ${HEPMC_B:+--hepmc "Herwig classic B=$HEPMC_B"} \
    --hepmc "Herwig+ML=ml/ml-S$SEED_ML.hepmc" | tee lep.md
fi
if [ "$LEP_HALVES" = 1 ] && [ ! -s lep_half/summary.json ]; then
  timed "LEP analyses, first halves" "$PY" "$REPO/scripts/herwig/compare_lep.py" --pythia 0 \
    -o lep_half --max-events "$((N_TEST / 2))" \
    --hepmc "Herwig classic A=$HEPMC_A" \
    --hepmc "Herwig+ML=ml/ml-S$SEED_ML.hepmc" > lep_half.md
fi
"$PY" - lep/summary.json lep_half/summary.json <<'EOF' | tee lep_ratios.md
import json, os, sys
s = json.load(open(sys.argv[1]))
h = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else None
a, m, b = s["Herwig classic A"], s["Herwig+ML"], s.get("Herwig classic B")
cols = ["chi2/ndf classic A", "Herwig+ML", "ML / A"]
if b:
    cols += ["classic B", "ML / B", "B / A"]
if h:
    cols += ["first halves: ML / A"]
print("| analysis | " + " | ".join(cols) + " |")
print("|---" * (len(cols) + 1) + "|")
def row(name, va, vm, vb, half):
    cells = [f"{va:.3f}", f"{vm:.3f}", f"{vm / va:.3f}"]
    if b:
        cells += [f"{vb:.3f}", f"{vm / vb:.3f}", f"{vb / va:.3f}"]
    if h:
        cells += [f"{half:.3f}"]
    print(f"| {name} | " + " | ".join(cells) + " |")
for k in a["analyses"]:
    row(k, a["analyses"][k], m["analyses"][k], b["analyses"][k] if b else 0,
        h["Herwig+ML"]["analyses"][k] / h["Herwig classic A"]["analyses"][k] if h else 0)
row("all", a["chi2_ndf"], m["chi2_ndf"], b["chi2_ndf"] if b else 0,
    h["Herwig+ML"]["chi2_ndf"] / h["Herwig classic A"]["chi2_ndf"] if h else 0)
print(f"\n<n_ch>: classic A {a['n_ch']:.3f} +- {a['n_ch_err']:.3f}, "
      + (f"classic B {b['n_ch']:.3f} +- {b['n_ch_err']:.3f}, " if b else "")
      + f"Herwig+ML {m['n_ch']:.3f} +- {m['n_ch_err']:.3f}")
EOF

# 6. Herwig+ML against Herwig classic bin by bin (their statistical errors only)
{ "$PY" "$REPO/scripts/herwig/mc_vs_mc.py" "lep/Herwig_classic_A.yoda" "lep/Herwig_ML.yoda"
  if [ -n "$HEPMC_B" ]; then
    echo; echo "classic B against classic A:"
    "$PY" "$REPO/scripts/herwig/mc_vs_mc.py" "lep/Herwig_classic_A.yoda" "lep/Herwig_classic_B.yoda"
  fi; } | tee lep_mc_vs_mc.md

# 7. the null of the LEP criterion (docs/herwig-workflow.md "The LEP criterion calibrated"):
# NULL_SEEDS more Herwig classic runs and ML_SEEDS_EXTRA more Herwig+ML runs, N_TEST events
# each, through the same LEP analyses; scripts/herwig/lep_null.py then gives per analysis
# ML / mean classic, the classic-vs-classic spread and z (training/lep_criterion.py's
# definitions) over all classic samples of steps 5 and 7.
if [ -n "${NULL_SEEDS:-}${ML_SEEDS_EXTRA:-}" ]; then
  null_hepmc=()
  for s in ${NULL_SEEDS:-}; do
    herwig_run classic "null/classic-S$s" "$N_TEST" "$s"
    null_hepmc+=(--hepmc "Herwig classic S$s=null/classic-S$s/classic-S$s.hepmc")
  done
  for s in ${ML_SEEDS_EXTRA:-}; do
    herwig_run ml "null/ml-S$s" "$N_TEST" "$s"
    null_hepmc+=(--hepmc "Herwig+ML S$s=null/ml-S$s/ml-S$s.hepmc")
  done
  if [ ! -s lep_null/summary.json ]; then
    timed "LEP analyses, null" "$PY" "$REPO/scripts/herwig/compare_lep.py" --pythia 0 \
      -o lep_null "${null_hepmc[@]}" > lep_null_data.md
  fi
  "$PY" "$REPO/scripts/herwig/lep_null.py" lep/summary.json lep_null/summary.json \
    --json lep_null.json | tee lep_null.md
fi
