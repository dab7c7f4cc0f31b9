// Step 3: colour-singlet clusters (Herwig 7.3 ClusterFinder::formClusters for two-component
// clusters): after gluon splitting every colour line runs from one colour triplet (quark or
// antidiquark, carrying `col`) to one antitriplet (antiquark or diquark, carrying `acol`).
#include <map>
#include <sstream>

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

}  // namespace hadml
