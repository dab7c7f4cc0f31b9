#!/bin/bash
# LEP runs of Herwig 7.3 with and without hadml's adapter (docs/herwig.md, issue 17):
# N events each of `plain` (no adapter), `ml` (shipped model, Policy Error, twice with the
# same seed) and `isr` (plain, with Herwig's default QED ISR); then the byte comparison,
# ThePEG's consistency warnings, the end-of-run lines and CPU time per event.
#
# usage: HERWIG_PREFIX=/work/herwig-cache/install PLUGIN_DIR=build/herwig-tests/cpp_plugin/herwig \
#        scripts/herwig/lep_benchmark.sh OUTDIR [N] [SEED]
# Runs one after the other at nice 10 (the machine is shared); CPU (user+sys) seconds per
# run from /usr/bin/time, init included: a 100-event run of each gives the init to subtract.
set -euo pipefail
OUT=${1:?output folder}; N=${2:-10000}; SEED=${3:-12345}
HERE=$(cd "$(dirname "$0")" && pwd); REPO=$(cd "$HERE/../.." && pwd)
P=${HERWIG_PREFIX:?set HERWIG_PREFIX}; L=$(cd "${PLUGIN_DIR:?set PLUGIN_DIR}" && pwd)
MODEL=${MODEL:-$REPO/hadml/models/default_cluster_decay.onnx}
export PATH=$P/bin:$PATH
# shellcheck source=lep_input.sh
source "$HERE/lep_input.sh"   # write_lep_input: the runs isr, plain and ml
mkdir -p "$OUT" && cd "$OUT"

write_lep_input LEP-bench.in "$N" "$MODEL"
nice -n 10 Herwig read -L "$L" LEP-bench.in > read.log 2>&1

run() {  # name tag events
  mkdir -p "$1-$2" && cp "$1.run" "$1-$2/" && cd "$1-$2"
  local rc=0
  /usr/bin/time -f "%U %S %e" -o time.txt nice -n 10 Herwig run -L "$L" "$1.run" -N "$3" \
    -s "$SEED" -q > run.log 2>&1 || rc=$?
  echo "$1-$2: exit $rc cpu $(awk '{print $1+$2}' time.txt) s wall $(awk '{print $3}' time.txt) s"
  cd ..
}
for name in plain ml; do run $name init 100; done
run plain a "$N"; run ml a "$N"; run ml b "$N"; run isr a "$N"

# `Herwig run -s SEED` names its files <run>-S<SEED>.*
H="S$SEED"
echo "ml a vs b: $(cmp -s ml-a/ml-$H.hepmc ml-b/ml-$H.hepmc && echo byte-identical || echo DIFFERENT)"
for d in plain-a ml-a ml-b isr-a; do
  # ThePEG's event checks (ConsistencyLevel PrintEveryStep) report failures as warnings
  n=$(cat $d/*.log $d/*.out | grep -c "non-conservation\|ConsistencyException" || true)
  # an event exception discards the event and ThePEG generates another (attempts > events)
  x=$(cat $d/*.log | grep -c "An event exception" || true)
  echo "$d: consistency failures $n, discarded events (event exceptions) $x," \
    "events $(grep -c '^E ' $d/*.hepmc || true), attempts" \
    "$(awk '/Total \(from generated events\)/ {print $6}' $d/*.out)"
  grep -h -A1 "An event exception" $d/*.log | grep -v "^--\|An event exception" | sed "s/^/  $d: /" || true
done
grep -h "MLClusterRedecayer:" ml-a/ml-$H.log
cpu() { awk '{print $1+$2}' "$1/time.txt"; }
python3 - "$N" "$(cpu plain-init)" "$(cpu ml-init)" "$(cpu plain-a)" "$(cpu ml-a)" <<'EOF'
import sys
n, pi, mi, pa, ma = int(sys.argv[1]), *map(float, sys.argv[2:])
plain = (pa - pi) / (n - 100) * 1e3
ml = (ma - mi) / (n - 100) * 1e3
print(f"CPU per event (init subtracted): plain {plain:.3f} ms, ml {ml:.3f} ms, "
      f"adapter {ml - plain:.3f} ms = {100 * (ml - plain) / plain:.1f}% of Herwig's time")
EOF
