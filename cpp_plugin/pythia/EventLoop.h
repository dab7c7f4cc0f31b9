// The event loop of one block in C++: Pythia 8's perturbative stage, the cluster stage
// (classic or ML decays), Pythia 8's hadron decays, the conservation checks and the event
// record, with no Python per particle (docs/architecture.md, "The event loop").
//
// Compiled against Pythia 8.317's headers (from the pythia8mc sdist) and linked to the
// Pythia 8 inside the pythia8mc wheel's extension module: see CMakeLists.txt and
// docs/architecture.md ("Which Pythia the C++ event loop links").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hadml/ClusterDecayer.h"
#include "hadml/ClusterHadronizer.h"
#include "hadml/HadronTable.h"
#include "hadml/Params.h"
#include "hadml/Random.h"
#include "hadml/Variations.h"

namespace Pythia8 {
class Pythia;
}

namespace hadml {

// An event breaks 4-momentum, charge or baryon-number conservation: a bug, the run stops.
class ConservationViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Status codes and the cluster's PDG id of the event record (hadml/event.py documents them).
constexpr int kStatusBeam = 4, kStatusParton = 11, kStatusSplitGluon = 12, kStatusCluster = 13,
              kStatusDecayed = 2, kStatusFinal = 1, kClusterPid = 81;

struct EventLoopSettings {
  std::string xmlDir;                     // Pythia's xmldoc (the pythia8mc wheel's copy)
  std::vector<std::string> partonSettings;  // hadml.pythia_stage.perturbative_settings
  std::vector<std::string> decaySettings;   // hadml.pythia_stage.decay_settings; empty: no decays
  bool decayHadrons = true;
  double stageTolerance = 1e-9;   // hadml.generator.HADML_STAGE_TOLERANCE
  double pythiaTolerance = 1e-6;  // hadml.generator.PYTHIA_STAGE_TOLERANCE
  int maxAttemptsPerEvent = 10;   // hadml.generator.MAX_ATTEMPTS_PER_EVENT
};

// The seeds of one block (hadml.generator.derive_seed of the run seed and the block).
struct BlockSeeds {
  std::uint64_t runSeed = 0;        // named in messages only
  int pythiaPartons = 1;            // Pythia's Random:seed for the perturbative stage
  int pythiaDecays = 1;             // ... and for the hadron decays
  std::uint64_t clusterStage = 0;   // hadml::Random of steps 1-6
  std::uint64_t clusterDecays = 0;  // hadml::Random of the cluster decays
};

// The events of a block as flat arrays: event k is rows offsets[k] .. offsets[k+1]-1.
struct EventRecords {
  std::vector<std::int64_t> number, offsets{0};
  std::vector<int> pid, status, parents;  // parents: 2 per row (first, last; -1 none)
  std::vector<double> p, m;               // p: 4 per row (px, py, pz, E)
  std::size_t rows() const { return pid.size(); }
};

// The cluster table (hadml/io/cluster_table.py, schema v1): one row per cluster that decayed
// into two hadrons. Four-vectors are 4 doubles per row.
struct ClusterRows {
  std::vector<std::int64_t> event;
  std::vector<int> cluster, c1Id, c2Id, h1Id, h2Id;
  std::vector<double> c1P, c2P, p, mass, h1P, h2P;
  std::vector<std::uint8_t> c1Pert, c2Pert;
  // The event's parameter-variation weights, nVariations per row (empty without variations).
  std::vector<double> weights;
};

struct BlockOutput {
  EventRecords events;  // empty unless keepEvents
  ClusterRows clusters;  // empty unless keepClusters
  std::vector<std::int64_t> nCharged;  // charged final-state particles, per event
  // |dE|+|dpx|+|dpy|+|dpz| per event (GeV): hadml's stages (final state - partons and
  // photons) and Pythia's (partons and photons - beams).
  std::vector<double> stageDeviation, pythiaDeviation;
  std::string hepmc;  // HepMC3 Asciiv3 text of the events (no header, footer) if asked for
  std::map<std::string, int> failures;  // replaced events by reason
  int stageRetries = 0;
  // Parameter-variation weights (EventLoop::setVariations), nVariations per event.
  std::vector<double> weights;
  std::size_t nVariations = 0;
};

class EventLoop {
 public:
  EventLoop(const EventLoopSettings& settings, const ClusterParams& params, HadronTable table,
            std::shared_ptr<ClusterDecayer> decayer);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Makes nEvents good events numbered firstNumber...: failed events (cluster stage) are
  // replaced by new ones drawn after the block's first pass, as hadml.generator documents.
  // Throws ConservationViolation for a violated conservation law and std::runtime_error
  // when Pythia fails or too many events fail.
  void runBlock(int block, const BlockSeeds& seeds, int nEvents, std::int64_t firstNumber,
                bool keepEvents, bool keepClusters, bool writeHepMC, BlockOutput& out);

  // The conservation checks of one event (rows of `record` from `row0` to `row1`): final
  // state against `start` (partons and photons of Pythia's stage, summed) and `start`
  // against `beams` (summed), charge and baryon number. Returns the two deviations.
  std::pair<double, double> check(const EventRecords& record, std::size_t row0,
                                  std::size_t row1, const double start[4],
                                  const double beams[4], const std::string& where) const;

  int charge3(int pid) const;
  ClusterDecayer& decayer() { return hz_.decayer(); }

  // Exact parameter-variation weights of the cluster stage (Variations.h): every later
  // event gets one weight per variation, and its HepMC3 event the named weights
  // ("nominal" = 1 first, then the variations). Throws std::invalid_argument for what
  // cannot be reweighted; an empty list clears them.
  void setVariations(
      const std::vector<std::pair<std::string, std::map<std::string, double>>>& variations);
  const VariationSet* variations() const { return hz_.variations(); }
  // HepMC3 weight names of the run: empty without variations, else "nominal" and the
  // variations' names.
  const std::vector<std::string>& weightNames() const { return weightNames_; }

 private:
  struct PartonLevel;
  void nextPartons(PartonLevel& out);
  void assemble(std::int64_t number, const PartonLevel& pe, const HadronizedEvent& res,
                EventRecords& rec);

  EventLoopSettings settings_;
  std::unique_ptr<Pythia8::Pythia> partons_, decays_;
  ClusterHadronizer hz_;
  Random rng_, decayRng_;
  std::vector<std::string> weightNames_;
};

// Groups a failure message by its stable part (before the first ':', at most 120 chars).
std::string failureReason(const std::string& message);

}  // namespace hadml
