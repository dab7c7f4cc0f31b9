// Step 6, Herwig 7 LightClusterDecayer: a cluster below the lightest two-hadron threshold
// of its flavours becomes one hadron, chosen by HadronSelector::chooseSingleHadron
// (BelowThreshold All: drawn by weight among the hadrons below that threshold; Lightest:
// the lightest). Its mass is drawn from its Breit-Wigner unless OnShell (Herwig creates it
// with ParticleData::produceParticle, i.e. through the mass generator, for each partner it
// tries). To put that hadron on its mass shell, 4-momentum is exchanged with the nearest
// other active cluster: in the rest frame of the pair both 3-momenta are rescaled to the
// two-body momentum for the masses (m_hadron, M_partner), so both stay on shell and the
// pair's total is conserved. Herwig tries partners in order of space-time distance;
// without vertices we try them in order of the pair invariant mass (closest in momentum
// space) and take the first for which the exchange is kinematically possible.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "hadml/ClusterSteps.h"
#include "hadml/Kinematics.h"
#include "hadml/Variations.h"

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
                        std::vector<Hadron>& hadrons, Random& rng, WeightRecorder* weights) {
  // As in Herwig, a cluster that took part in one reshuffling (light cluster or partner)
  // is not used as a partner again within this step.
  std::vector<char> used(clusters.size(), 0);
  std::vector<std::pair<double, std::size_t>> candidates;
  auto makeHadron = [&](std::size_t k, int id, const LorentzVector& p, double m) {
    hadrons.push_back(Hadron{id, p, static_cast<int>(k), m});
    clusters[k].fate = ClusterFate::SingleHadron;
    clusters[k].children = {static_cast<int>(hadrons.size()) - 1, -1};
  };
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    Cluster& c = clusters[i];
    if (c.fate != ClusterFate::Active || used[i]) continue;
    const int q1 = c.constituents[0].id, q2 = c.constituents[1].id;
    const double M = c.mass();
    const int hid = spectrum.chooseSingleHadron(M, q1, q2, rng, weights);
    if (hid == 0) continue;
    const double mNominal = spectrum.mass(hid);
    candidates.clear();
    for (std::size_t j = 0; j < clusters.size(); ++j)
      if (j != i && clusters[j].fate == ClusterFate::Active && !used[j])
        candidates.emplace_back((c.p + clusters[j].p).m2(), j);
    std::sort(candidates.begin(), candidates.end());
    bool done = false;
    for (const auto& [s, j] : candidates) {
      const double mh = spectrum.generateMass(hid, rng);
      Cluster& o = clusters[j];
      const int o1 = o.constituents[0].id, o2 = o.constituents[1].id;
      double mo = o.mass();
      const double W = std::sqrt(std::max(s, 0.0));
      // Herwig's LightClusterDecayer::reshuffling: the partner stays a cluster if it stays
      // above its own two-hadron threshold; otherwise it becomes its lightest hadron too.
      bool partnerHadron = false;
      int oid = 0;
      if (!(W > mh + mo && mo > spectrum.lightestPairMass(o1, o2))) {
        oid = spectrum.lightestHadron(o1, o2);
        mo = spectrum.mass(oid);
        if (!(W > mh + mo)) continue;
        partnerHadron = true;
      }
      const LorentzVector tot = c.p + o.p;
      const ThreeVector bIn = -tot.boostVector(), bOut = tot.boostVector();
      const ThreeVector dir = c.p.boosted(bIn).vect().unit();
      const TwoBodyDecay d = decayTwoBody(LorentzVector(0, 0, 0, W), mh, mo, dir);
      const LorentzVector ph = d.p1.boosted(bOut);
      // The partner gets exactly the rest, so the pair's total is conserved to rounding.
      const LorentzVector po = tot - ph;
      c.exchangePartner = static_cast<int>(j);
      o.exchangePartner = static_cast<int>(i);
      c.pBeforeExchange = c.p;
      o.pBeforeExchange = o.p;
      makeHadron(i, hid, ph, mh);
      if (partnerHadron) makeHadron(j, oid, po, mo);
      else moveCluster(o, po);
      used[i] = used[j] = 1;
      done = true;
      break;
    }
    if (done) continue;
    if (std::abs(M - mNominal) <= 1e-9 * std::max(1.0, mNominal)) {
      makeHadron(i, hid, c.p, mNominal);  // already on the hadron's mass shell
      continue;
    }
    throw HadronizationError(
        "LightClusters: cluster " + std::to_string(i) + " (" + std::to_string(q1) + ", " +
        std::to_string(q2) + ") of mass " + std::to_string(M) + " GeV must become hadron " +
        std::to_string(hid) + " (mass " + std::to_string(mNominal) +
        " GeV) but no other active cluster can absorb the momentum difference; the event "
        "cannot be hadronized (retry it with another seed)");
  }
}

}  // namespace hadml
