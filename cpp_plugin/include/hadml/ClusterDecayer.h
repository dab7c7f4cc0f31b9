// The plug point of the cluster stage: a batch of clusters in, hadron pairs out.
// The classic Herwig decayer and the ONNX (ML) decayer both implement this, and a batch
// may hold the clusters of one event or of many events.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "hadml/Kinematics.h"
#include "hadml/Particles.h"
#include "hadml/Random.h"

namespace hadml {

class HadronSpectrum;

// Everything a decayer may look at for one cluster. Self-contained (copies, no pointers)
// so a batch can outlive the events it was built from.
struct ClusterDecayRequest {
  std::array<Constituent, 2> constituents;  // [0] colour triplet, [1] antitriplet
  LorentzVector p;                          // cluster 4-momentum
  int id1 = 0, id2 = 0;                     // species chosen by the selector:
  double m1 = 0.0, m2 = 0.0;                // hadron 1 carries constituents[0]'s flavour
  double mass() const { return p.m(); }
};

struct DecayerStats {
  std::uint64_t decayed = 0;    // clusters decayed by this decayer's own method
  std::uint64_t fallbacks = 0;  // clusters handed to the classic decayer (ML policy)
  // Species choice (model contract v2): clusters whose pair the classic selector chose
  // instead of the model (no pair of the model's list is open, or invalid model output
  // under the fallback policy).
  std::uint64_t speciesFallbacks = 0;
};

class ClusterDecayer {
 public:
  virtual ~ClusterDecayer() = default;
  // Decays every request: on return out.size() == requests.size() and out[i] holds the
  // momenta of hadrons id1 and id2 of request i, summing to requests[i].p.
  // All randomness is drawn from `rng`, in request order.
  virtual void decay(const std::vector<ClusterDecayRequest>& requests, Random& rng,
                     std::vector<TwoBodyDecay>& out) = 0;
  // Model contract v2: a decayer that chooses the species of the two hadrons itself. The
  // hadronizer then skips the classic selector (requests come with id1 = id2 = 0) and,
  // before decay(), calls chooseSpecies on the whole batch with the same engine.
  virtual bool choosesSpecies() const { return false; }
  // Sets id1, id2, m1, m2 of every request; the pair conserves the constituents' flavour
  // (spectrum.pairChannels) and the masses follow the classic off-shell rule
  // (spectrum.decayMasses). All randomness from rng, in request order.
  virtual void chooseSpecies(std::vector<ClusterDecayRequest>& /*requests*/,
                             const HadronSpectrum& /*spectrum*/, Random& /*rng*/) {
    throw std::logic_error("cluster decayer '" + name() + "' does not choose species");
  }
  virtual std::string name() const = 0;
  virtual DecayerStats stats() const { return {}; }
};

}  // namespace hadml
