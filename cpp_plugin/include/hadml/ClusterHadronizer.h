// The whole cluster stage for a batch of events: partons in, primary hadrons out.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hadml/ClusterDecayer.h"
#include "hadml/ClusterSteps.h"
#include "hadml/HadronSpectrum.h"
#include "hadml/HadronTable.h"
#include "hadml/Params.h"
#include "hadml/Particles.h"
#include "hadml/Random.h"
#include "hadml/Variations.h"

namespace hadml {

// One event's input: the final partons of the shower and the colour octets of its history
// (every gluon, intermediate or final, as (col, acol); may be empty: then OctetTreatment All
// knows only the final gluons).
struct ShowerEvent {
  std::vector<Parton> partons;
  OctetHistory octets;
};

struct HadronizedEvent {
  std::vector<Parton> partons;    // reshuffled input partons, then split-gluon products
  std::vector<Cluster> clusters;  // primary clusters, then fission children
  std::vector<Hadron> hadrons;    // primary hadrons
  std::string error;              // empty when the event is good; else why it failed
  // A violated conservation law is a bug, not an unlucky event: callers must stop.
  bool conservationViolated = false;
  // Tries of steps 4-6 (reconnection, fission, light clusters) on the same partons: 1 when
  // the first succeeded, params.StageTries when all failed, 0 when an earlier step failed.
  int stageTries = 0;
  // One weight per parameter variation (ClusterHadronizer::setVariations), in their order:
  // the product of the probability ratios of every choice made for this event, the failed
  // tries of steps 4-6 included. Empty without variations.
  std::vector<double> weights;
  bool ok() const { return error.empty(); }
};

class ClusterHadronizer {
 public:
  ClusterHadronizer(const ClusterParams& params, HadronTable table,
                    std::shared_ptr<ClusterDecayer> decayer);

  // Runs steps 1-6 on every event, then one decayer call for all clusters of the batch,
  // then checks each event: sum of hadron momenta equals sum of parton momenta (relative
  // 1e-9 of the total energy), and charge and baryon number are conserved. When step 4, 5
  // or 6 fails (HadronizationError), steps 4-6 are run again from the same primary clusters,
  // up to params.StageTries times in all, as Herwig's ClusterHadronizationHandler::handle.
  // An event that fails any step or check gets `error` set and no hadrons; the others are
  // unaffected.
  // Two random streams (docs/architecture.md, "Random streams"): `rng` drives steps 1-6
  // and the species choice, `decayRng` only the decayer (classic angles, ML noise and
  // fallbacks; a decayer that chooses species, model contract v2, draws them from it too). Runs sharing `rng` but not `decayRng` have the same partons, clusters and
  // species and independent decays, as the calibrated closure test needs.
  std::vector<HadronizedEvent> hadronize(const std::vector<ShowerEvent>& events, Random& rng,
                                         Random& decayRng);

  // Exact weights for parameter variations (Variations.h): every later event gets one
  // weight per variation. Throws std::invalid_argument for what cannot be reweighted.
  // Direction (ClSmr, ClDir) variations need the classic decayer: hadronize throws
  // std::invalid_argument if another decayer is set.
  void setVariations(
      const std::vector<std::pair<std::string, std::map<std::string, double>>>& variations);
  const VariationSet* variations() const { return variations_.get(); }

  const ClusterParams& params() const { return params_; }
  const HadronSpectrum& spectrum() const { return spectrum_; }
  ClusterDecayer& decayer() { return *decayer_; }
  void setDecayer(std::shared_ptr<ClusterDecayer> decayer);

 private:
  void prepare(HadronizedEvent& event, const ShowerEvent& input, Random& rng,
               std::vector<ClusterDecayRequest>& requests, std::vector<int>& requestCluster);
  void check(const HadronizedEvent& event, const std::vector<Parton>& input) const;
  void addDirectionWeights(HadronizedEvent& event, const ClusterDecayRequest& request,
                           const TwoBodyDecay& decay) const;

  ClusterParams params_;
  HadronSpectrum spectrum_;
  std::shared_ptr<ClusterDecayer> decayer_;
  std::shared_ptr<const VariationSet> variations_;
};

}  // namespace hadml
