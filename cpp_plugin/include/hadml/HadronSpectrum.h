// Which hadrons a cluster of given flavours can become: Herwig 7's "Hwpp" hadron
// selector (HadronSelector / Hw64Selector) on top of the hadron table.
#pragma once

#include <cstdint>
#include <limits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hadml/HadronTable.h"
#include "hadml/Params.h"
#include "hadml/Random.h"

namespace hadml {

class HadronSpectrum {
 public:
  // Keeps its own copy of the table; params are read once here (weights, mixing angles).
  HadronSpectrum(HadronTable table, const ClusterParams& params);

  // Lightest hadron made of the constituents (id1, id2), e.g. (2, -1) -> 211; throws
  // HadronizationError when no hadron has these flavours.
  int lightestHadron(int id1, int id2) const;
  // Mass of the lightest hadron pair a cluster (id1, id2) can decay into.
  double lightestPairMass(int id1, int id2) const;
  // Herwig's species choice for a cluster of mass M made of (id1, id2): returns
  // (hadron containing id1, hadron containing id2). Throws HadronizationError if
  // M is below every open pair.
  std::pair<int, int> chooseHadronPair(double M, int id1, int id2, Random& rng) const;

  const HadronTable& table() const { return table_; }
  double mass(int id) const { return table_.mass(id); }

 private:
  // One decay channel of a flavour pair: weight without the phase-space factor p*.
  struct Channel {
    int id1, id2;
    double m1, m2, weight;
  };
  // Precomputed per (triplet, antitriplet) flavour key: both branches and thresholds.
  struct FlavourPair {
    int lightest = 0;
    std::vector<Channel> meson, baryon;
    double mesonThreshold = std::numeric_limits<double>::infinity();
    double baryonThreshold = std::numeric_limits<double>::infinity();
  };
  static int flavourKey(int id);
  static std::int64_t key(int t, int a) { return std::int64_t(t) * 1000 + a; }
  std::vector<std::pair<int, double>> hadronsOf(int t, int a) const;
  double mixing(int id, int q) const;
  const FlavourPair& pair(int id1, int id2) const;

  HadronTable table_;
  double sngWt_, decWt_, etaMix_, phiMix_, pBaryon_;
  std::unordered_map<std::int64_t, FlavourPair> pairs_;
};

}  // namespace hadml
