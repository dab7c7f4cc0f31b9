// Herwig 7's cluster decay kinematics (ClusterDecayer::decayIntoTwoHadrons): isotropic
// in the cluster rest frame, except that a hadron containing a perturbative constituent
// keeps close to that constituent's direction, cos(theta) = 1 + ClSmr * ln(r) (ClDir = 1).
#pragma once

#include "hadml/ClusterDecayer.h"
#include "hadml/Params.h"

namespace hadml {

class ClassicClusterDecayer : public ClusterDecayer {
 public:
  explicit ClassicClusterDecayer(const ClusterParams& params);
  // Stateless apart from counters; safe to use from several threads with separate Random
  // engines only if each thread owns its decayer (the counters are not atomic).
  void decay(const std::vector<ClusterDecayRequest>& requests, Random& rng,
             std::vector<TwoBodyDecay>& out) override;
  // One cluster (used by ML decayers as their fallback).
  TwoBodyDecay decayOne(const ClusterDecayRequest& request, Random& rng) const;
  std::string name() const override { return "classic"; }
  DecayerStats stats() const override { return stats_; }

 private:
  ClusterParams params_;
  DecayerStats stats_;
};

}  // namespace hadml
