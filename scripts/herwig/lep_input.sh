# Sourced by lep_benchmark.sh and lep_events.sh: the one Herwig input file of the LEP runs.
# write_lep_input FILE N_EVENTS MODEL writes it; `Herwig read FILE` then saves three runs:
#   isr   Herwig's default e+e- set-up at 91.2 GeV (QED ISR through the electron PDF)
#   plain the same without ISR, as Herwig's own LEP validation (Tests/Rivet/Templates/EE.in)
#         and hadml's Pythia peer
#   ml    plain with hadml's adapter (MODEL, Policy Error) first in PostHadronizationHandlers
# Every run checks every step (ConsistencyLevel PrintEveryStep) and writes HepMC (HepMC3
# ASCII; isr: HepMC2 ASCII, see below) for its first N_EVENTS events (HepMC:PrintEvent is
# fixed when the run is saved).
# FSR_ALPHAS (optional): alpha_s input of the final-state shower (AlphaQCDFSR:AlphaIn) for
# every run instead of Herwig 7.3.0's default 0.102337; 0.1186 brings LEP n_ch and event shapes
# to the data (docs/validation.md section 12.3).
write_lep_input() {
  local fsr=""
  if [ -n "${FSR_ALPHAS:-}" ]; then fsr="set /Herwig/Shower/AlphaQCDFSR:AlphaIn $FSR_ALPHAS"; fi
  cat > "$1" <<EOF
read snippets/EECollider.in
$fsr
cd /Herwig/MatrixElements
insert SubProcess:MatrixElements 0 MEee2gZ2qq
cd /Herwig/Generators
set EventGenerator:EventHandler:LuminosityFunction:Energy 91.2
set EventGenerator:PrintEvent 0
set EventGenerator:EventHandler:ConsistencyLevel PrintEveryStep
read snippets/HepMC.in
set /Herwig/Analysis/HepMC:Format GenEventHepMC3
set /Herwig/Analysis/HepMC:PrintEvent $2
# ISR events in HepMC3 ASCII declare one vertex more than they list (the electron PDF's
# remnant vertex has no outgoing particle), so HepMC3's reader (pyhepmc) rejects every one:
# the isr run writes HepMC2 ASCII (IO_GenEvent), which hadml reads as well
set /Herwig/Analysis/HepMC:Format GenEvent
saverun isr EventGenerator
set /Herwig/Analysis/HepMC:Format GenEventHepMC3
set /Herwig/Particles/e-:PDF /Herwig/Partons/NoPDF
set /Herwig/Particles/e+:PDF /Herwig/Partons/NoPDF
saverun plain EventGenerator
cd /Herwig/EventHandlers
create Herwig::MLClusterRedecayer MLRedecayer HwMLCluster.so
set MLRedecayer:ModelFile $3
set MLRedecayer:Policy Error
insert EventHandler:PostHadronizationHandlers 0 MLRedecayer
cd /Herwig/Generators
saverun ml EventGenerator
EOF
}
