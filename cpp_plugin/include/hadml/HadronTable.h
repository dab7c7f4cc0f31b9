// Hadron properties (mass, width, spin, charge) as delivered by a particle-data source:
// the Python layer fills this from Pythia 8's ParticleData, so that every hadron we make
// is one Pythia knows and can decay. Nothing here is typed in by hand.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace hadml {

struct HadronInfo {
  int id = 0;            // PDG id of the particle (positive); antiparticles are -id
  std::string name;
  double mass = 0.0;     // nominal (pole) mass, GeV
  double width = 0.0;    // GeV
  // Range of the Breit-Wigner mass (Pythia's mMin/mMax, the role of ThePEG's
  // massMin/massMax = mass -+ WidthLoCut/WidthUpCut); both 0 when there is none.
  double massMin = 0.0, massMax = 0.0;
  int spinMultiplicity = 1;  // 2J+1 (Pythia's spinType)
  int charge3 = 0;       // 3 x electric charge of the particle
  bool hasAnti = true;
};

class HadronTable {
 public:
  // Adds or replaces an entry; id must be a positive hadron code.
  void add(const HadronInfo& info);
  bool contains(int id) const;
  // Entry for |id|; throws std::out_of_range with the id when unknown.
  const HadronInfo& info(int id) const;
  double mass(int id) const { return info(id).mass; }
  // Charge of the (anti)particle with signed id, x3.
  int charge3(int id) const;
  const std::vector<HadronInfo>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<HadronInfo> entries_;
  std::unordered_map<int, std::size_t> index_;
};

// PDG-code helpers for hadrons (digits n_q1 n_q2 n_q3 n_J of the standard numbering).
// Three times the baryon number of a hadron with signed PDG id.
int hadronBaryon3(int id);
// Quark content of a hadron: {q1, q2, q3} digits of |id| (q3 = 0... for mesons q1 = 0).
struct PdgDigits {
  int nq1, nq2, nq3, nJ;
};
PdgDigits pdgDigits(int id);

}  // namespace hadml
