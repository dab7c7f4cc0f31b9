// Exact parameter-variation weights of the cluster stage (issue 14, item 1).
//
// Method of Bierlich et al., arXiv:2308.13459 (Pythia's VariationFrag): every random choice
// of the cluster stage whose distribution depends on a parameter reports the probability
// (or density) of the outcome it drew, at the nominal and at each varied parameter point;
// a variation's event weight is the product over all choices of P(outcome | varied) /
// P(outcome | nominal). Accept/reject loops are products over their trials: a rejected
// trial contributes (1 - p') / (1 - p), the accepted one p' / p (the veto algorithm), and
// the tries of steps 4-6 that failed (StageTries) stay in the product too.
//
// Only parameters that change probabilities of discrete choices or densities of drawn
// continuous values can be reweighted; parameters that move kinematics (masses) or switch
// algorithms are refused. Parameters that move a hard boundary (a static fission threshold,
// a smearing switched off below ClSmr 0.001) give weights that are zero where the varied
// model forbids the nominal outcome and miss what the nominal model never generates:
// such variations are flagged (Variation::hardBoundaries) and must not be trusted.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hadml/ClusterDecayer.h"
#include "hadml/HadronSpectrum.h"
#include "hadml/Params.h"

namespace hadml {

// The groups of parameters, each read by one kind of random choice.
enum VariationGroup : unsigned {
  kVarySplit = 1u << 0,          // SplitPwt*: gluon-splitting flavour
  kVaryReconnection = 1u << 1,   // ReconnectionProbability*: accept a reconnection
  kVaryHeavy = 1u << 2,          // ClMax*, ClPow*, ProbabilityPowerFactor/Shift: fission?
  kVaryFissionMass = 1u << 3,    // PSplit*: child masses
  kVaryFissionFlavour = 1u << 4, // FissionPwt*: popped flavour in fission
  kVarySpecies = 1u << 5,        // Pwt*, SngWt, DecWt, mixing angles: hadron species
  kVaryDirection = 1u << 6,      // ClSmr*, ClDir*: classic cluster-decay direction
};

struct Variation {
  std::string name;
  ClusterParams params;
  unsigned groups = 0;                        // VariationGroup bits that differ from nominal
  std::unique_ptr<HadronSpectrum> spectrum;   // the varied spectrum (kVarySpecies)
  std::vector<std::string> hardBoundaries;    // why the weights are unreliable (empty: exact)
};

// The variations of one run, built once: which groups each changes, varied spectra.
class VariationSet {
 public:
  // overrides: (name, {parameter: value}) per variation, on top of `nominal`. Throws
  // std::invalid_argument for an unknown parameter, an unphysical value, a duplicate or
  // empty name, or a parameter that cannot be reweighted (the message says why).
  VariationSet(const ClusterParams& nominal, const HadronTable& table,
               const std::vector<std::pair<std::string, std::map<std::string, double>>>&
                   overrides);
  std::size_t size() const { return vars_.size(); }
  const Variation& operator[](std::size_t i) const { return vars_[i]; }
  unsigned groups() const { return groups_; }
  const ClusterParams& nominal() const { return nominal_; }

 private:
  ClusterParams nominal_;
  std::vector<Variation> vars_;
  unsigned groups_ = 0;
};

// The weights of one event, filled as its random choices are made. Steps take a nullable
// pointer: no recorder, no bookkeeping.
class WeightRecorder {
 public:
  explicit WeightRecorder(const VariationSet& set) : set_(&set), w_(set.size(), 1.0) {}
  bool wants(unsigned group) const { return (set_->groups() & group) != 0; }
  const VariationSet& set() const { return *set_; }
  const std::vector<double>& weights() const { return w_; }

  // An outcome of nominal probability (density) pNominal > 0: each variation changing
  // `group` multiplies its weight by pVaried(variation) / pNominal.
  template <class F>
  void ratio(unsigned group, double pNominal, F&& pVaried) {
    if (!(pNominal > 0.0)) return;  // cannot happen for a drawn outcome; keep weights finite
    for (std::size_t i = 0; i < w_.size(); ++i) {
      const Variation& v = (*set_)[i];
      if (v.groups & group) w_[i] *= pVaried(v) / pNominal;
    }
  }
  // A yes/no trial that passes with probability p (varied: pVaried(variation)).
  template <class F>
  void bernoulli(unsigned group, bool passed, double pNominal, F&& pVaried) {
    if (passed) {
      ratio(group, pNominal, pVaried);
    } else {
      ratio(group, 1.0 - pNominal, [&](const Variation& v) { return 1.0 - pVaried(v); });
    }
  }

 private:
  const VariationSet* set_;
  std::vector<double> w_;
};

// Density (per unit solid angle) of hadron 1's direction `dir` (unit, cluster rest frame)
// in ClassicClusterDecayer::decayOne for `request` with parameters p (the coin between two
// equal-priority constituents summed over). Infinite when the smearing is off
// (ClSmr <= 0.001 puts the direction exactly on the constituent's).
double classicDirectionDensity(const ClusterDecayRequest& request, const ThreeVector& dir,
                               const ClusterParams& p);

}  // namespace hadml
