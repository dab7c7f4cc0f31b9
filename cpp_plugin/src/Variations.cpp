// Parameter variations of the cluster stage: which random choice reads which parameter,
// and what cannot be reweighted (Variations.h).
#include "hadml/Variations.h"

#include <set>
#include <stdexcept>

namespace hadml {

namespace {

struct Reweightable {
  const char* name;
  unsigned group;
};

// Every parameter that only changes the probability of a random choice, by the choice
// that reads it. Anything else (masses, thresholds of kinematic checks, switches between
// algorithms) changes what an outcome means and has no exact weight.
const Reweightable kReweightable[] = {
    {"SplitPwtUquark", kVarySplit},
    {"SplitPwtDquark", kVarySplit},
    {"SplitPwtSquark", kVarySplit},
    {"ReconnectionProbability", kVaryReconnection},
    {"ReconnectionProbabilityBaryonic", kVaryReconnection},
    {"ClMaxLight", kVaryHeavy},
    {"ClMaxCharm", kVaryHeavy},
    {"ClMaxBottom", kVaryHeavy},
    {"ClPowLight", kVaryHeavy},
    {"ClPowCharm", kVaryHeavy},
    {"ClPowBottom", kVaryHeavy},
    {"ProbabilityPowerFactor", kVaryHeavy},
    {"ProbabilityShift", kVaryHeavy},
    {"PSplitLight", kVaryFissionMass},
    {"PSplitCharm", kVaryFissionMass},
    {"PSplitBottom", kVaryFissionMass},
    {"FissionPwtUquark", kVaryFissionFlavour},
    {"FissionPwtDquark", kVaryFissionFlavour},
    {"FissionPwtSquark", kVaryFissionFlavour},
    {"PwtDquark", kVarySpecies},
    {"PwtUquark", kVarySpecies},
    {"PwtSquark", kVarySpecies},
    {"PwtDIquark", kVarySpecies},
    {"SngWt", kVarySpecies},
    {"DecWt", kVarySpecies},
    {"EtaMixAngle", kVarySpecies},
    {"PhiMixAngle", kVarySpecies},
    {"ClDirLight", kVaryDirection},
    {"ClDirCharm", kVaryDirection},
    {"ClDirBottom", kVaryDirection},
    {"ClSmrLight", kVaryDirection},
    {"ClSmrCharm", kVaryDirection},
    {"ClSmrBottom", kVaryDirection},
};

const Reweightable* findReweightable(const std::string& name) {
  for (const auto& r : kReweightable)
    if (name == r.name) return &r;
  return nullptr;
}

// A weight that is zero nominally but not in the variation: outcomes the nominal run never
// generates (the support grows), which no weight can bring back.
void checkSupport(const std::string& name, double nominal, double varied,
                  std::vector<std::string>& hard) {
  if (nominal == 0.0 && varied != 0.0)
    hard.push_back(name + " is 0 at the nominal point: the nominal run never makes the "
                          "outcomes it opens");
}

}  // namespace

VariationSet::VariationSet(
    const ClusterParams& nominal, const HadronTable& table,
    const std::vector<std::pair<std::string, std::map<std::string, double>>>& overrides)
    : nominal_(nominal) {
  std::set<std::string> names;
  std::unique_ptr<HadronSpectrum> nominalSpectrum;
  for (const auto& [name, values] : overrides) {
    if (name.empty()) throw std::invalid_argument("a variation needs a non-empty name");
    if (!names.insert(name).second)
      throw std::invalid_argument("variation name '" + name + "' is used twice");
    Variation v;
    v.name = name;
    v.params = nominal;
    for (const auto& [param, value] : values) {
      v.params.set(param, value);  // unknown names throw, listing the known ones
      if (v.params.get(param) == nominal.get(param)) continue;
      const Reweightable* r = findReweightable(param);
      if (!r)
        throw std::invalid_argument(
            "variation '" + name + "': parameter '" + param +
            "' cannot be reweighted exactly (it changes kinematics, a kinematic threshold or "
            "the algorithm, not the probability of a random choice); generate the varied "
            "point directly or use neural reweighting");
      v.groups |= r->group;
    }
    try {
      v.params.validate();
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("variation '" + name + "': " + e.what());
    }
    const ClusterParams& a = nominal;
    const ClusterParams& b = v.params;
    if ((v.groups & kVaryHeavy) && a.DynamicThreshold == 0)
      v.hardBoundaries.push_back(
          "ClMax/ClPow with the static fission threshold (DynamicThreshold 0) move a hard "
          "boundary: whether a cluster fissions is a step function of them");
    if (v.groups & kVaryDirection) {
      const double sa[3] = {a.ClSmrLight, a.ClSmrCharm, a.ClSmrBottom};
      const double sb[3] = {b.ClSmrLight, b.ClSmrCharm, b.ClSmrBottom};
      for (int k = 0; k < 3; ++k)
        if (sa[k] != sb[k] && (sa[k] <= 0.001 || sb[k] <= 0.001))
          v.hardBoundaries.push_back(
              "ClSmr <= 0.001 switches the direction smearing off (a delta function)");
    }
    if (v.groups & kVaryReconnection) {
      if (a.ReconnectionProbability != b.ReconnectionProbability &&
          (a.ReconnectionProbability == 0.0 || a.ReconnectionProbability == 1.0))
        v.hardBoundaries.push_back(
            "ReconnectionProbability is 0 or 1 at the nominal point: one outcome is never "
            "generated");
      if (a.ReconnectionProbabilityBaryonic != b.ReconnectionProbabilityBaryonic &&
          (a.ReconnectionProbabilityBaryonic == 0.0 || a.ReconnectionProbabilityBaryonic == 1.0))
        v.hardBoundaries.push_back(
            "ReconnectionProbabilityBaryonic is 0 or 1 at the nominal point: one outcome is "
            "never generated");
    }
    checkSupport("SplitPwtUquark", a.SplitPwtUquark, b.SplitPwtUquark, v.hardBoundaries);
    checkSupport("SplitPwtDquark", a.SplitPwtDquark, b.SplitPwtDquark, v.hardBoundaries);
    checkSupport("SplitPwtSquark", a.SplitPwtSquark, b.SplitPwtSquark, v.hardBoundaries);
    checkSupport("FissionPwtUquark", a.FissionPwtUquark, b.FissionPwtUquark, v.hardBoundaries);
    checkSupport("FissionPwtDquark", a.FissionPwtDquark, b.FissionPwtDquark, v.hardBoundaries);
    checkSupport("FissionPwtSquark", a.FissionPwtSquark, b.FissionPwtSquark, v.hardBoundaries);
    if (v.groups & kVarySpecies) {
      if (!nominalSpectrum) nominalSpectrum = std::make_unique<HadronSpectrum>(table, nominal);
      v.spectrum = std::make_unique<HadronSpectrum>(table, v.params);
      if (!nominalSpectrum->sameChannels(*v.spectrum))
        throw std::invalid_argument(
            "variation '" + name +
            "' opens or closes hadron channels (a selection weight becomes zero or stops "
            "being zero): the species choice cannot be reweighted exactly");
      if (a.PwtDIquark != b.PwtDIquark && a.PwtDIquark == 0.0)
        v.hardBoundaries.push_back(
            "PwtDIquark is 0 at the nominal point: the nominal run makes no baryon pair");
    }
    groups_ |= v.groups;
    vars_.push_back(std::move(v));
  }
}

}  // namespace hadml
