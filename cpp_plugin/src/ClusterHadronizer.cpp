#include "hadml/ClusterHadronizer.h"

#include <cmath>
#include <sstream>
#include <tuple>

#include "hadml/ClusterSteps.h"

namespace hadml {

ClusterHadronizer::ClusterHadronizer(const ClusterParams& params, HadronTable table,
                                     std::shared_ptr<ClusterDecayer> decayer)
    : params_(params), spectrum_((params.validate(), std::move(table)), params) {
  setDecayer(std::move(decayer));
}

void ClusterHadronizer::setDecayer(std::shared_ptr<ClusterDecayer> decayer) {
  if (!decayer) throw std::invalid_argument("ClusterHadronizer: decayer must not be null");
  decayer_ = std::move(decayer);
}

namespace {
// A decayer that chooses the species itself (model contract v2) draws them from its own
// distribution, which the hadron-species parameters do not enter.
std::string speciesRefusal(const std::string& decayer) {
  return "hadron-species variations (Pwt*, SngWt, DecWt, mixing angles) reweight the species "
         "choice of the cluster stage; the cluster decayer '" + decayer +
         "' chooses the species itself (model format 2)";
}
}  // namespace

void ClusterHadronizer::setVariations(
    const std::vector<std::pair<std::string, std::map<std::string, double>>>& variations) {
  if (variations.empty()) {
    variations_.reset();
    return;
  }
  auto set = std::make_shared<const VariationSet>(params_, spectrum_.table(), variations);
  if ((set->groups() & kVarySpecies) && decayer_->choosesSpecies())
    throw std::invalid_argument(speciesRefusal(decayer_->name()));
  variations_ = std::move(set);
}

void ClusterHadronizer::prepare(HadronizedEvent& event, const ShowerEvent& input, Random& rng,
                                std::vector<ClusterDecayRequest>& requests,
                                std::vector<int>& requestCluster) {
  event.partons = input.partons;
  std::unique_ptr<WeightRecorder> recorder;
  if (variations_) recorder = std::make_unique<WeightRecorder>(*variations_);
  WeightRecorder* weights = recorder.get();
  reshuffleToConstituentMasses(event.partons, params_);
  splitGluons(event.partons, params_, rng, weights);
  // The final gluons are octets of the history too (when the caller passes no history).
  OctetHistory octets = input.octets;
  for (const Parton& q : event.partons)
    if (q.split) octets.push_back({q.col, q.acol});
  const std::vector<Cluster> primary = findClusters(event.partons);
  for (int tries = 1;; ++tries) {
    event.stageTries = tries;
    event.clusters = primary;
    event.hadrons.clear();
    try {
      // A failed try keeps its probability ratios: the retries are a veto loop.
      reconnectColours(event.clusters, params_, rng, octets, weights);
      fissionClusters(event.clusters, params_, spectrum_, event.hadrons, rng, weights);
      decayLightClusters(event.clusters, spectrum_, event.hadrons, rng, weights);
      break;
    } catch (const HadronizationError& e) {
      if (tries >= params_.StageTries)
        throw HadronizationError(std::string(e.what()) + " [in each of " +
                                 std::to_string(tries) + " tries on the same partons]");
    }
  }
  for (std::size_t i = 0; i < event.clusters.size(); ++i) {
    const Cluster& c = event.clusters[i];
    if (c.fate != ClusterFate::Active) continue;
    ClusterDecayRequest r;
    r.constituents = c.constituents;
    r.p = c.p;
    if (!decayer_->choosesSpecies()) {  // else the decayer chooses (model contract v2)
      const auto species =
          spectrum_.chooseHadronPair(c.mass(), c.constituents[0].id, c.constituents[1].id, rng,
                                     weights);
      r.id1 = species.first;
      r.id2 = species.second;
      std::tie(r.m1, r.m2) = spectrum_.decayMasses(c.mass(), r.id1, r.id2, rng);
    }
    requests.push_back(r);
    requestCluster.push_back(static_cast<int>(i));
  }
  if (recorder) event.weights = recorder->weights();
}

// The classic decay's direction of hadron 1 in the cluster rest frame, as a density under
// each direction variation (ClassicClusterDecayer: smeared around a constituent, or flat).
void ClusterHadronizer::addDirectionWeights(HadronizedEvent& event,
                                            const ClusterDecayRequest& request,
                                            const TwoBodyDecay& decay) const {
  const ThreeVector dir = decay.p1.boosted(-request.p.boostVector()).vect().unit();
  const double nominal = classicDirectionDensity(request, dir, params_);
  if (!(nominal > 0.0) || !std::isfinite(nominal)) return;  // flagged hard boundary
  const VariationSet& set = *variations_;
  for (std::size_t i = 0; i < set.size(); ++i)
    if (set[i].groups & kVaryDirection)
      event.weights[i] *= classicDirectionDensity(request, dir, set[i].params) / nominal;
}

void ClusterHadronizer::check(const HadronizedEvent& event,
                              const std::vector<Parton>& input) const {
  LorentzVector pIn, pOut;
  int chargeIn = 0, baryonIn = 0, chargeOut = 0, baryonOut = 0;
  for (const Parton& p : input) {
    pIn += p.p;
    chargeIn += partonCharge3(p.id);
    baryonIn += partonBaryon3(p.id);
  }
  for (const Hadron& h : event.hadrons) {
    pOut += h.p;
    chargeOut += spectrum_.table().charge3(h.id);
    baryonOut += hadronBaryon3(h.id);
  }
  const LorentzVector d = pOut - pIn;
  const double tol = 1e-9 * std::abs(pIn.e);
  if (std::abs(d.px) > tol || std::abs(d.py) > tol || std::abs(d.pz) > tol ||
      std::abs(d.e) > tol) {
    std::ostringstream msg;
    msg.precision(12);
    msg << "4-momentum not conserved by the cluster stage: hadrons - partons = (" << d.px
        << ", " << d.py << ", " << d.pz << ", " << d.e << ") GeV";
    throw HadronizationError(msg.str());
  }
  if (chargeIn != chargeOut)
    throw HadronizationError("charge not conserved by the cluster stage: 3Q in " +
                             std::to_string(chargeIn) + ", out " + std::to_string(chargeOut));
  if (baryonIn != baryonOut)
    throw HadronizationError("baryon number not conserved by the cluster stage: 3B in " +
                             std::to_string(baryonIn) + ", out " + std::to_string(baryonOut));
}

std::vector<HadronizedEvent> ClusterHadronizer::hadronize(const std::vector<ShowerEvent>& events,
                                                         Random& rng, Random& decayRng) {
  std::vector<HadronizedEvent> out(events.size());
  std::vector<ClusterDecayRequest> requests;
  std::vector<int> requestCluster;
  std::vector<std::size_t> eventFirstRequest(events.size() + 1, 0);
  for (std::size_t iev = 0; iev < events.size(); ++iev) {
    const std::size_t before = requests.size();
    try {
      prepare(out[iev], events[iev], rng, requests, requestCluster);
    } catch (const std::exception& e) {
      out[iev].error = e.what();
      requests.resize(before);
      requestCluster.resize(before);
    }
    eventFirstRequest[iev + 1] = requests.size();
  }

  const bool directionWeights = variations_ && (variations_->groups() & kVaryDirection);
  if (directionWeights && decayer_->name() != "classic")
    throw std::invalid_argument(
        "ClSmr/ClDir variations reweight the classic cluster decay; the cluster decayer is '" +
        decayer_->name() + "'");
  if (variations_ && (variations_->groups() & kVarySpecies) && decayer_->choosesSpecies())
    throw std::invalid_argument(speciesRefusal(decayer_->name()));
  std::vector<TwoBodyDecay> decays;
  if (decayer_->choosesSpecies()) decayer_->chooseSpecies(requests, spectrum_, decayRng);
  decayer_->decay(requests, decayRng, decays);
  if (decays.size() != requests.size())
    throw std::logic_error("cluster decayer '" + decayer_->name() + "' returned " +
                           std::to_string(decays.size()) + " decays for " +
                           std::to_string(requests.size()) + " clusters");

  for (std::size_t iev = 0; iev < events.size(); ++iev) {
    HadronizedEvent& ev = out[iev];
    if (!ev.ok()) continue;
    for (std::size_t k = eventFirstRequest[iev]; k < eventFirstRequest[iev + 1]; ++k) {
      Cluster& c = ev.clusters[requestCluster[k]];
      const int first = static_cast<int>(ev.hadrons.size());
      ev.hadrons.push_back({requests[k].id1, decays[k].p1, requestCluster[k], requests[k].m1});
      ev.hadrons.push_back({requests[k].id2, decays[k].p2, requestCluster[k], requests[k].m2});
      c.children = {first, first + 1};
      c.fate = ClusterFate::Decayed;
      if (directionWeights) addDirectionWeights(ev, requests[k], decays[k]);
    }
    try {
      check(ev, events[iev].partons);
    } catch (const std::exception& e) {
      ev.error = e.what();
      ev.conservationViolated = true;
    }
  }
  return out;
}

}  // namespace hadml
