#!/bin/bash
# One Herwig 7.3 LEP sample (HepMC3) for the comparisons of docs/validation.md and
# docs/herwig.md: run RUN (plain, isr or ml; see lep_input.sh) with N events and SEED.
#
# usage: HERWIG_PREFIX=/work/herwig-cache/install PLUGIN_DIR=build/herwig-tests/cpp_plugin/herwig \
#        scripts/herwig/lep_events.sh OUTDIR RUN N SEED
# Writes OUTDIR/RUN-S<SEED>.hepmc (.log, .out) and time.txt (user sys wall seconds); nice 10.
# FSR_ALPHAS=0.1186 sets the final-state shower coupling (lep_input.sh, docs/validation.md 9.3).
set -euo pipefail
OUT=${1:?output folder}; RUN=${2:?run: plain, isr or ml}; N=${3:?events}; SEED=${4:?seed}
HERE=$(cd "$(dirname "$0")" && pwd); REPO=$(cd "$HERE/../.." && pwd)
P=${HERWIG_PREFIX:?set HERWIG_PREFIX}; L=$(cd "${PLUGIN_DIR:?set PLUGIN_DIR}" && pwd)
MODEL=${MODEL:-$REPO/hadml/models/default_cluster_decay.onnx}
case $RUN in plain|isr|ml) ;; *) echo "error: RUN must be plain, isr or ml, not '$RUN'" >&2; exit 2;; esac
export PATH=$P/bin:$PATH
# shellcheck source=lep_input.sh
source "$HERE/lep_input.sh"
mkdir -p "$OUT" && cd "$OUT"
write_lep_input LEP-events.in "$N" "$MODEL"
nice -n 10 Herwig read -L "$L" LEP-events.in > read.log 2>&1
/usr/bin/time -f "%U %S %e" -o time.txt nice -n 10 Herwig run -L "$L" "$RUN.run" -N "$N" \
  -s "$SEED" -q > run.log 2>&1
# Herwig ends a run cleanly (exit 0, complete HepMC) when it gets SIGTERM/SIGINT, so a stopped
# run is recognised by its event count, not by its exit status.
made=$(grep -c '^E ' "$RUN-S$SEED.hepmc" || true)
echo "$RUN: seed $SEED: $made of $N events in $OUT/$RUN-S$SEED.hepmc," \
  "cpu $(awk '{print $1+$2}' time.txt) s, wall $(awk '{print $3}' time.txt) s"
if [ "$made" != "$N" ]; then
  echo "error: Herwig stopped after $made of $N events (see $OUT/$RUN-S$SEED.log)" >&2
  exit 1
fi
