// Step 6, Herwig 7 LightClusterDecayer: a cluster below the lightest two-hadron threshold
// of its flavours becomes the lightest hadron with these flavours. To put that hadron on
// its mass shell, 4-momentum is exchanged with the nearest other active cluster: in the
// rest frame of the pair both 3-momenta are rescaled to the two-body momentum for the
// masses (m_hadron, M_partner), so both stay on shell and the pair's total is conserved.
// Herwig picks the partner nearest in space-time; without vertices we take the smallest
// pair invariant mass among partners for which the exchange is kinematically possible.
#include <cmath>
#include <limits>
#include <string>

#include "hadml/ClusterSteps.h"
#include "hadml/Kinematics.h"

namespace hadml {

namespace {

// Moves every constituent with the cluster from momentum `from` to `to` (equal masses):
// boost to the old rest frame, then to the new lab momentum.
void moveCluster(Cluster& c, const LorentzVector& to) {
  const ThreeVector bOld = -c.p.boostVector(), bNew = to.boostVector();
  for (auto& k : c.constituents) k.p = k.p.boosted(bOld).boosted(bNew);
  c.p = to;
}

}  // namespace

void decayLightClusters(std::vector<Cluster>& clusters, const HadronSpectrum& spectrum,
                        std::vector<Hadron>& hadrons, Random& /*rng*/) {
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    Cluster& c = clusters[i];
    if (c.fate != ClusterFate::Active) continue;
    const int q1 = c.constituents[0].id, q2 = c.constituents[1].id;
    const double M = c.mass();
    if (M > spectrum.lightestPairMass(q1, q2)) continue;
    const int hid = spectrum.lightestHadron(q1, q2);
    const double mh = spectrum.mass(hid);
    std::size_t best = clusters.size();
    double bestM2 = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < clusters.size(); ++j) {
      if (j == i || clusters[j].fate != ClusterFate::Active) continue;
      const double s = (c.p + clusters[j].p).m2();
      const double mj = clusters[j].mass();
      if (s > (mh + mj) * (mh + mj) && s < bestM2) {
        bestM2 = s;
        best = j;
      }
    }
    LorentzVector ph;
    if (best == clusters.size()) {
      if (std::abs(M - mh) > 1e-9 * std::max(1.0, mh))
        throw HadronizationError(
            "LightClusters: cluster " + std::to_string(i) + " (" + std::to_string(q1) + ", " +
            std::to_string(q2) + ") of mass " + std::to_string(M) +
            " GeV must become hadron " + std::to_string(hid) + " (mass " + std::to_string(mh) +
            " GeV) but no other active cluster can absorb the momentum difference");
      ph = c.p;
    } else {
      Cluster& o = clusters[best];
      const LorentzVector tot = c.p + o.p;
      const double W = tot.m();
      const ThreeVector bIn = -tot.boostVector(), bOut = tot.boostVector();
      const ThreeVector dir = c.p.boosted(bIn).vect().unit();
      const TwoBodyDecay d = decayTwoBody(LorentzVector(0, 0, 0, W), mh, o.mass(), dir);
      ph = d.p1.boosted(bOut);
      // The partner gets exactly the rest, so the pair's total is conserved to rounding.
      moveCluster(o, tot - ph);
    }
    hadrons.push_back(Hadron{hid, ph, static_cast<int>(i)});
    c.fate = ClusterFate::SingleHadron;
    c.children = {static_cast<int>(hadrons.size()) - 1, -1};
  }
}

}  // namespace hadml
