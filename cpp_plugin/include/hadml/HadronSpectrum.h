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

class WeightRecorder;  // Variations.h

class HadronSpectrum {
 public:
  // Keeps its own copy of the table; params are read once here (weights, mixing angles,
  // HadronTable, SelectorWeights, BelowThreshold, OnShell, MassTry).
  HadronSpectrum(HadronTable table, const ClusterParams& params);

  // A number no other constructed spectrum of this process has (a copy keeps it: the
  // content is immutable after construction). Lets a user cache what it derives from a
  // spectrum (the format-2 species mask of OnnxClusterDecayer) without trusting addresses.
  std::uint64_t serial() const { return serial_; }

  // Whether hadron |id| takes part in species selection under HadronTable = 1 (Herwig 7.3:
  // every hadron except K0_S/K0_L, the Forbidden list of Herwig's Decays.in - sigma,
  // kappa, the excited baryons - and baryons Herwig does not define) or 0 (lowest
  // multiplets: |id| < 30000 mesons, ground-state baryons, as hadml had before).
  static bool herwigCandidate(int id);
  static bool lowestMultipletCandidate(int id);
  bool selects(int id) const;

  // Lightest hadron made of the constituents (id1, id2), e.g. (2, -1) -> 211; throws
  // HadronizationError when no hadron has these flavours.
  int lightestHadron(int id1, int id2) const;
  // Mass of the lightest hadron pair a cluster (id1, id2) can decay into.
  double lightestPairMass(int id1, int id2) const;
  // Herwig's species choice for a cluster of mass M made of (id1, id2): returns
  // (hadron containing id1, hadron containing id2). Throws HadronizationError if
  // M is below every open pair.
  // With `weights`, the choice's probability ratios of the species variations are recorded
  // (the branch and the channel, Variations.h).
  std::pair<int, int> chooseHadronPair(double M, int id1, int id2, Random& rng,
                                       WeightRecorder* weights = nullptr) const;
  // HadronSelector::chooseSingleHadron: 0 when M is at or above the lightest pair mass;
  // else the hadron the cluster becomes: BelowThreshold = 1 (All) draws it by weight
  // among the hadrons of these flavours lighter than that threshold, 0 takes the lightest.
  int chooseSingleHadron(double M, int id1, int id2, Random& rng,
                         WeightRecorder* weights = nullptr) const;
  // Whether `other` (the same table, other selection weights) has the same open channels
  // and single hadrons for every flavour pair, in the same order: then a channel index
  // means the same hadrons in both and probability ratios are defined.
  bool sameChannels(const HadronSpectrum& other) const;
  // Hadrons (signed id, selection weight) of flavours (id1, id2), by increasing mass.
  const std::vector<std::pair<int, double>>& singleHadrons(int id1, int id2) const;

  // One hadron pair a cluster can decay into, with the nominal masses.
  struct PairChannel {
    int id1, id2;   // hadron carrying id1's flavour, hadron carrying id2's
    double m1, m2;  // nominal masses; the channel is open when M > m1 + m2
  };
  // Every distinct hadron pair chooseHadronPair can return for a cluster (id1, id2) at some
  // mass (meson and baryon branches, by increasing m1 + m2): the flavour-, charge- and
  // baryon-number-conserving pairs of this hadron table. Model contract v2 builds its
  // mask from these (docs/model-contract.md). Throws like chooseHadronPair for impossible
  // constituents.
  std::vector<PairChannel> pairChannels(int id1, int id2) const;
  // The key under which clusters (id1, id2) share one channel list (diquark spin ignored).
  static std::int64_t flavourPairKey(int id1, int id2) {
    return key(flavourKey(id1), flavourKey(id2));
  }

  // Mass of one instance of hadron id: the nominal mass when OnShell = 1 or the hadron
  // has no width or mass range; otherwise drawn from a relativistic Breit-Wigner in m^2
  // with fixed width, truncated to [massMin, massMax] (ThePEG's BreitWignerMass).
  double generateMass(int id, Random& rng) const;
  // Masses of the two hadrons of a cluster decay (ClusterDecayer::decayIntoTwoHadrons):
  // up to MassTry draws until m1 + m2 < M, else the nominal masses.
  std::pair<double, double> decayMasses(double M, int id1, int id2, Random& rng) const;

  bool belowThresholdAll() const { return belowAll_; }
  bool onShell() const { return onShell_; }
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
    std::vector<std::pair<int, double>> singles;  // hadrons of this key, by mass
    std::vector<Channel> meson, baryon;
    double mesonThreshold = std::numeric_limits<double>::infinity();
    double baryonThreshold = std::numeric_limits<double>::infinity();
  };
  static int flavourKey(int id);
  static std::int64_t key(int t, int a) { return std::int64_t(t) * 1000 + a; }
  std::vector<std::pair<int, double>> hadronsOf(int t, int a) const;
  double mixing(int id, int q) const;
  double baryonWeight(const PdgDigits& d) const;
  // Probability of channel i of the meson (baryon) list with this spectrum's weights, given
  // which branches are open and the two-body momentum p* of each channel of that list.
  double channelProbability(const FlavourPair& fp, bool bothOpen, bool baryon, std::size_t i,
                            const std::vector<double>& pstar) const;
  const FlavourPair& pair(int id1, int id2) const;

  HadronTable table_;
  double sngWt_, decWt_, etaMix_, phiMix_, pBaryon_;
  bool herwigTable_, squaredWeights_, belowAll_, onShell_;
  int massTry_;
  std::unordered_map<std::int64_t, FlavourPair> pairs_;
  std::uint64_t serial_;
};

}  // namespace hadml
