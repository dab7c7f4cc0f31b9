// Step 3: colour-singlet clusters (Herwig 7.3 ClusterFinder::formClusters for two-component
// clusters): after gluon splitting every colour line runs from one colour triplet (quark or
// antidiquark, carrying `col`) to one antitriplet (antiquark or diquark, carrying `acol`).
// Also the reduction of the three-quark clusters of baryonic colour reconnection to
// (quark, diquark) clusters (ClusterFinder::reduceToTwoComponents).
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>

#include "hadml/ClusterSteps.h"

namespace hadml {

std::vector<Cluster> findClusters(const std::vector<Parton>& partons) {
  std::map<int, int> triplet, antitriplet;  // colour tag -> parton index
  for (std::size_t i = 0; i < partons.size(); ++i) {
    const Parton& q = partons[i];
    if (q.split) continue;
    const int idx = static_cast<int>(i);
    if (q.col != 0 && q.acol != 0) {
      std::ostringstream msg;
      msg << "cluster finding: parton " << i << " (id " << q.id << ") carries colour " << q.col
          << " and anticolour " << q.acol << "; split the gluons before finding clusters";
      throw HadronizationError(msg.str());
    }
    if (q.col == 0 && q.acol == 0) {
      std::ostringstream msg;
      msg << "cluster finding: parton " << i << " (id " << q.id << ") has no colour";
      throw HadronizationError(msg.str());
    }
    auto& side = q.col != 0 ? triplet : antitriplet;
    const int tag = q.col != 0 ? q.col : q.acol;
    if (!side.emplace(tag, idx).second) {
      std::ostringstream msg;
      msg << "cluster finding: colour tag " << tag << " is carried by two "
          << (q.col != 0 ? "triplets" : "antitriplets") << " (partons " << side[tag]
          << " and " << i << ")";
      throw HadronizationError(msg.str());
    }
  }
  std::vector<Cluster> clusters;
  clusters.reserve(triplet.size());
  for (const auto& [tag, iq] : triplet) {
    const auto it = antitriplet.find(tag);
    if (it == antitriplet.end()) {
      std::ostringstream msg;
      msg << "cluster finding: broken colour line " << tag << ": triplet parton " << iq
          << " (id " << partons[iq].id << ") has no antitriplet partner";
      throw HadronizationError(msg.str());
    }
    const int iqbar = it->second;
    antitriplet.erase(it);
    Cluster c;
    for (int k = 0; k < 2; ++k) {
      const int ip = k == 0 ? iq : iqbar;
      const Parton& q = partons[ip];
      Constituent& con = c.constituents[k];
      con.id = q.id;
      con.p = q.p;
      con.perturbative = q.perturbative;
      con.parton = ip;
      con.origin = q.perturbative ? -1 : q.source;
      con.colour = k == 0 ? q.col : q.acol;
    }
    c.p = c.constituents[0].p + c.constituents[1].p;
    clusters.push_back(c);
  }
  if (!antitriplet.empty()) {
    const auto& [tag, ip] = *antitriplet.begin();
    std::ostringstream msg;
    msg << "cluster finding: broken colour line " << tag << ": antitriplet parton " << ip
        << " (id " << partons[ip].id << ") has no triplet partner";
    throw HadronizationError(msg.str());
  }
  return clusters;
}

// Herwig 7.3 defaults: HeavyDiquarks NoHeavy (keep c and b out of the diquark where a light
// pair exists; of two heavy quarks one goes into the diquark, chosen at random),
// DiQuarkSelection LowestMass (else the pair of smallest invariant mass forms the diquark),
// DiQuarkOnShell No (the diquark keeps the summed 4-momentum of its quarks). The diquark
// has spin 1 for equal flavours, else spin 0 (HadronSelector::makeDiquark).
Cluster reduceToTwoComponents(const std::array<Constituent, 3>& three, Random& rng) {
  const int sign = three[0].id > 0 ? 1 : -1;
  for (const Constituent& c : three)
    if (!isQuark(c.id) || (c.id > 0) != (sign > 0))
      throw HadronizationError("baryonic cluster: components " + std::to_string(three[0].id) +
                               ", " + std::to_string(three[1].id) + ", " +
                               std::to_string(three[2].id) +
                               " are not three quarks or three antiquarks");
  std::array<Constituent, 3> v = three;
  std::stable_sort(v.begin(), v.end(), [](const Constituent& a, const Constituent& b) {
    return std::abs(a.id) < std::abs(b.id);
  });
  auto heavy = [](const Constituent& c) { return std::abs(c.id) > 3; };
  bool chosen = false;
  if (heavy(v[1]) && !heavy(v[0])) {  // two heavy quarks: one of them joins the light one
    if (rng.flat() < 0.5) std::swap(v[1], v[2]);
    chosen = true;
  } else if (heavy(v[2]) && !heavy(v[1])) {  // one heavy quark: light diquark
    chosen = true;
  }
  if (!chosen) {
    const double m01 = (v[0].p + v[1].p).m(), m02 = (v[0].p + v[2].p).m(),
                 m12 = (v[1].p + v[2].p).m();
    if (m02 <= m01 && m02 <= m12) std::swap(v[2], v[1]);
    else if (m12 <= m01 && m12 <= m02) std::swap(v[2], v[0]);
  }
  const int qa = std::max(std::abs(v[0].id), std::abs(v[1].id));
  const int qb = std::min(std::abs(v[0].id), std::abs(v[1].id));
  Constituent diquark;
  diquark.id = sign * (1000 * qa + 100 * qb + (qa == qb ? 3 : 1));
  diquark.p = v[0].p + v[1].p;
  diquark.perturbative = false;
  diquark.parton = v[0].parton;
  diquark.parton2 = v[1].parton;
  Cluster c;
  // constituents[0] is the colour triplet: the quark of a baryonic cluster, the
  // antidiquark of an antibaryonic one.
  c.constituents = sign > 0 ? std::array<Constituent, 2>{v[2], diquark}
                            : std::array<Constituent, 2>{diquark, v[2]};
  c.p = c.constituents[0].p + c.constituents[1].p;
  return c;
}

}  // namespace hadml
