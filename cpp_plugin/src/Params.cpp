#include "hadml/Params.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace hadml {
namespace {

struct Entry {
  const char* name;
  double ClusterParams::*dbl;
  int ClusterParams::*integer;
};

#define HADML_D(n) Entry{#n, &ClusterParams::n, nullptr}
#define HADML_I(n) Entry{#n, nullptr, &ClusterParams::n}

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = {
      HADML_D(GluonMass), HADML_D(DownMass), HADML_D(UpMass), HADML_D(StrangeMass),
      HADML_D(CharmMass), HADML_D(BottomMass), HADML_D(DiquarkLightMass),
      HADML_D(DiquarkStrangeMass), HADML_D(DiquarkSSMass),
      HADML_D(SplitPwtUquark), HADML_D(SplitPwtDquark), HADML_D(SplitPwtSquark),
      HADML_I(ColourReconnection), HADML_D(ReconnectionProbability),
      HADML_D(ReconnectionProbabilityBaryonic), HADML_I(OctetTreatment), HADML_I(StageTries),
      HADML_D(ClMaxLight), HADML_D(ClPowLight), HADML_D(PSplitLight),
      HADML_D(ClMaxCharm), HADML_D(ClPowCharm), HADML_D(PSplitCharm),
      HADML_D(ClMaxBottom), HADML_D(ClPowBottom), HADML_D(PSplitBottom),
      HADML_D(FissionPwtUquark), HADML_D(FissionPwtDquark), HADML_D(FissionPwtSquark),
      HADML_I(DynamicThreshold), HADML_D(ProbabilityPowerFactor), HADML_D(ProbabilityShift),
      HADML_D(KinematicThresholdShift), HADML_D(FissionMaxTries), HADML_D(FissionPtSigma),
      HADML_I(FissionMassSampler),
      HADML_D(PwtDquark), HADML_D(PwtUquark), HADML_D(PwtSquark), HADML_D(PwtDIquark),
      HADML_D(SngWt), HADML_D(DecWt), HADML_D(EtaMixAngle), HADML_D(PhiMixAngle),
      HADML_I(ClDirLight), HADML_I(ClDirCharm), HADML_I(ClDirBottom),
      HADML_D(ClSmrLight), HADML_D(ClSmrCharm), HADML_D(ClSmrBottom),
      // Hadron spectrum and masses (issue 10, 1b-1e).
      HADML_I(HadronTable), HADML_I(SelectorWeights), HADML_I(BelowThreshold),
      HADML_I(OnShell), HADML_D(MassTry),
  };
  return entries;
}

#undef HADML_D
#undef HADML_I

const Entry& find(const std::string& name) {
  for (const auto& e : table())
    if (name == e.name) return e;
  std::ostringstream msg;
  msg << "unknown cluster parameter '" << name << "'; known parameters:";
  for (const auto& e : table()) msg << ' ' << e.name;
  throw std::invalid_argument(msg.str());
}

}  // namespace

void ClusterParams::set(const std::string& name, double value) {
  const Entry& e = find(name);
  if (e.dbl) {
    this->*(e.dbl) = value;
  } else {
    if (value != static_cast<double>(static_cast<int>(value)))
      throw std::invalid_argument("cluster parameter '" + name + "' takes an integer, got " +
                                  std::to_string(value));
    this->*(e.integer) = static_cast<int>(value);
  }
}

double ClusterParams::get(const std::string& name) const {
  const Entry& e = find(name);
  return e.dbl ? this->*(e.dbl) : static_cast<double>(this->*(e.integer));
}

std::vector<std::string> ClusterParams::names() {
  std::vector<std::string> out;
  for (const auto& e : table()) out.emplace_back(e.name);
  return out;
}

void ClusterParams::validate() const {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("invalid cluster parameters: ") + what);
  };
  require(GluonMass > 2 * UpMass && GluonMass > 2 * DownMass,
          "GluonMass must exceed twice the light-quark mass so that g -> q qbar is open");
  require(DownMass > 0 && UpMass > 0 && StrangeMass > 0 && CharmMass > 0 && BottomMass > 0,
          "quark constituent masses must be positive");
  require(SplitPwtUquark >= 0 && SplitPwtDquark >= 0 && SplitPwtSquark >= 0 &&
              SplitPwtUquark + SplitPwtDquark + SplitPwtSquark > 0,
          "SplitPwt* must be non-negative and not all zero");
  require(FissionPwtUquark >= 0 && FissionPwtDquark >= 0 && FissionPwtSquark >= 0 &&
              FissionPwtUquark + FissionPwtDquark + FissionPwtSquark > 0,
          "FissionPwt* must be non-negative and not all zero");
  require(ColourReconnection >= 0 && ColourReconnection <= 2,
          "ColourReconnection must be 0 (off), 1 (Plain) or 2 (Baryonic)");
  require(ReconnectionProbability >= 0 && ReconnectionProbability <= 1,
          "ReconnectionProbability must lie in [0, 1]");
  require(ReconnectionProbabilityBaryonic >= 0 && ReconnectionProbabilityBaryonic <= 1,
          "ReconnectionProbabilityBaryonic must lie in [0, 1]");
  require(OctetTreatment == 0 || OctetTreatment == 1,
          "OctetTreatment must be 0 (Final) or 1 (All)");
  require(StageTries >= 1, "StageTries must be at least 1");
  require(ClMaxLight > 0 && ClMaxCharm > 0 && ClMaxBottom > 0, "ClMax* must be positive");
  require(ClPowLight > 0 && ClPowCharm > 0 && ClPowBottom > 0, "ClPow* must be positive");
  require(PSplitLight > 0 && PSplitCharm > 0 && PSplitBottom > 0, "PSplit* must be positive");
  require(PwtDquark >= 0 && PwtUquark >= 0 && PwtSquark >= 0 && PwtDIquark >= 0,
          "Pwt* must be non-negative");
  require(SngWt >= 0 && DecWt >= 0, "SngWt and DecWt must be non-negative");
  require(ClSmrLight > 0 && ClSmrCharm > 0 && ClSmrBottom > 0, "ClSmr* must be positive");
  require(FissionMaxTries >= 1, "FissionMaxTries must be at least 1");
  require(FissionPtSigma >= 0 && FissionPtSigma < 10,
          "FissionPtSigma must lie in [0, 10) GeV");
  require(FissionMassSampler >= 0 && FissionMassSampler <= 2,
          "FissionMassSampler must be 0 (power, Herwig 7.3), 1 (uniform) or 2 (phasespace)");
  // Hadron spectrum and masses (issue 10, 1b-1e).
  require(HadronTable == 0 || HadronTable == 1,
          "HadronTable must be 1 (Herwig's table) or 0 (lowest multiplets)");
  require(SelectorWeights == 0 || SelectorWeights == 1,
          "SelectorWeights must be 1 (Herwig 7.3, squared) or 0 (linear)");
  require(BelowThreshold == 0 || BelowThreshold == 1,
          "BelowThreshold must be 1 (All) or 0 (Lightest)");
  require(OnShell == 0 || OnShell == 1, "OnShell must be 0 (Breit-Wigner masses) or 1 (nominal)");
  require(MassTry >= 1 && MassTry == static_cast<double>(static_cast<int>(MassTry)),
          "MassTry must be a positive integer");
}

double ClusterParams::constituentMass(int pdgId) const {
  const int a = std::abs(pdgId);
  switch (a) {
    case 1: return DownMass;
    case 2: return UpMass;
    case 3: return StrangeMass;
    case 4: return CharmMass;
    case 5: return BottomMass;
    case 21: return GluonMass;
    default: break;
  }
  // Diquarks: PDG 1000*q1 + 100*q2 + 2S+1.
  if (a > 1000 && a < 6000 && (a / 10) % 10 == 0) {
    const int q1 = a / 1000, q2 = (a / 100) % 10;
    const int nStrange = (q1 == 3) + (q2 == 3);
    if (q1 >= 1 && q2 >= 1 && q1 <= 3 && q2 <= 3)
      return nStrange == 0 ? DiquarkLightMass
             : nStrange == 1 ? DiquarkStrangeMass
                             : DiquarkSSMass;
    // Heavy diquarks (only from baryonic colour reconnection): Herwig's diquarks.in gives
    // each the sum of its quarks' masses, a light quark counting DiquarkLightMass / 2 and a
    // strange one DiquarkSSMass / 2 (cd 1.925, cs 2.1, cc 3.2, bs 5.5, bc 6.6, bb 10 GeV).
    auto part = [this](int q) {
      return q == 4 ? CharmMass : q == 5 ? BottomMass
             : q == 3 ? 0.5 * DiquarkSSMass : 0.5 * DiquarkLightMass;
    };
    if (q1 >= 1 && q2 >= 1) return part(q1) + part(q2);
  }
  throw std::invalid_argument("no constituent mass for PDG id " + std::to_string(pdgId));
}

}  // namespace hadml
