// Step 4: colour reconnection, Herwig 7.3's ColourReconnector (rearrange) with the
// algorithms Plain and Baryonic; ColourReconnection = 0 switches it off.
//
// Plain (_doRecoPlain, _findRecoPartner): visit the clusters in a random order; for
// cluster A find the partner B with the smallest m(qA qbarB) + m(qB qbarA) below
// m_A + m_B; swap the antitriplets with probability ReconnectionProbability.
//
// Baryonic (Herwig 7.3's default; _doRecoBaryonic, _findPartnerBaryonic,
// calculateRapidityRF, _makeBaryonicClusters): again in a random order, each mesonic
// cluster A looks at the other mesonic clusters in its own rest frame, measuring the
// rapidity of their quark (y_q) and antiquark (y_qbar) along the direction of A's
// antiquark:
//  - y_q > 0 > y_qbar (B's quark next to A's antiquark and B's antiquark next to A's
//    quark): a mesonic candidate; the one with the largest |y_q| + |y_qbar| is kept;
//  - y_q < 0 < y_qbar (B's quark next to A's quark, antiquark next to antiquark): a
//    baryonic candidate; the two with the largest sums (Herwig's bookkeeping, quirks
//    included: the running maxima are shared between both kinds) are kept.
// With two baryonic candidates (and no mesonic one found after them) the three clusters
// become a baryonic (q q q) and an antibaryonic (qbar qbar qbar) cluster with probability
// ReconnectionProbabilityBaryonic; otherwise a mesonic candidate swaps antitriplets with A
// with probability ReconnectionProbability. Clusters with a diquark and the new baryonic
// clusters take no further part. Each three-quark cluster is then reduced to a
// (quark, diquark) cluster (ClusterFinder::reduceToTwoComponents, see ClusterFinder.cpp).
//
// Colour octets (ColourReconnector::_isColour8): a (triplet, antitriplet) pair that is in
// a colour-octet state never forms a cluster. OctetTreatment Final (0) only knows the q
// qbar of one non-perturbatively split gluon; All (1, Herwig 7.3's default) follows the
// shower history: the pair is an octet if a colour octet of the history carried exactly
// the triplet's colour line and the antitriplet's anticolour line. Colour tags are unique
// per line (Pythia's convention), so that is a look-up of (col, acol) in the octets of
// the history.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "hadml/ClusterSteps.h"
#include "hadml/Variations.h"

namespace hadml {

namespace {

class OctetVeto {
 public:
  OctetVeto(const ClusterParams& params, const OctetHistory& octets)
      : all_(params.OctetTreatment == 1), octets_(octets) {
    std::sort(octets_.begin(), octets_.end());
  }

  // Would (triplet, antitriplet) be a colour octet?
  bool operator()(const Constituent& triplet, const Constituent& antitriplet) const {
    if (triplet.origin >= 0 && triplet.origin == antitriplet.origin) return true;
    if (!all_ || triplet.colour == 0 || antitriplet.colour == 0) return false;
    return std::binary_search(octets_.begin(), octets_.end(),
                              std::array<int, 2>{triplet.colour, antitriplet.colour});
  }
  // Would swapping the antitriplets of A and B make an octet?
  bool forbidsSwap(const Cluster& A, const Cluster& B) const {
    return (*this)(A.constituents[0], B.constituents[1]) ||
           (*this)(B.constituents[0], A.constituents[1]);
  }

 private:
  bool all_;
  OctetHistory octets_;
};

bool hasDiquark(const Cluster& c) {
  return isDiquark(c.constituents[0].id) || isDiquark(c.constituents[1].id);
}

// Indices of the primary, undecayed clusters in a random order (Fisher-Yates), which
// avoids a bias from the input order (Herwig shuffles its cluster vector).
std::vector<std::size_t> shuffledPrimaries(const std::vector<Cluster>& clusters, Random& rng) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < clusters.size(); ++i)
    if (clusters[i].fate == ClusterFate::Active && clusters[i].parent < 0) order.push_back(i);
  for (std::size_t i = order.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.flat() * static_cast<double>(i));
    std::swap(order[i - 1], order[j < i ? j : i - 1]);
  }
  return order;
}

void swapAntitriplets(Cluster& A, Cluster& B) {
  std::swap(A.constituents[1], B.constituents[1]);
  A.p = A.constituents[0].p + A.constituents[1].p;
  B.p = B.constituents[0].p + B.constituents[1].p;
  A.reconnected = true;
  B.reconnected = true;
}

// A reconnection accepted (or not) with probability ReconnectionProbability(Baryonic).
bool acceptReconnection(double p, bool baryonic, Random& rng, WeightRecorder* weights) {
  const bool accepted = rng.flat() < p;
  if (weights && weights->wants(kVaryReconnection))
    weights->bernoulli(kVaryReconnection, accepted, p, [&](const Variation& v) {
      return baryonic ? v.params.ReconnectionProbabilityBaryonic
                      : v.params.ReconnectionProbability;
    });
  return accepted;
}

void reconnectPlain(std::vector<Cluster>& clusters, const ClusterParams& params,
                    const OctetVeto& octet, Random& rng, WeightRecorder* weights) {
  const std::vector<std::size_t> order = shuffledPrimaries(clusters, rng);
  for (const std::size_t a : order) {
    Cluster& A = clusters[a];
    std::size_t best = a;
    double minMass = std::numeric_limits<double>::infinity();
    for (const std::size_t b : order) {
      if (b == a) continue;
      const Cluster& B = clusters[b];
      if (octet.forbidsSwap(A, B)) continue;
      const double oldMass = std::abs(A.p.m()) + std::abs(B.p.m());
      const double newMass =
          std::abs((A.constituents[0].p + B.constituents[1].p).m()) +
          std::abs((B.constituents[0].p + A.constituents[1].p).m());
      if (newMass < oldMass && newMass < minMass) {
        minMass = newMass;
        best = b;
      }
    }
    if (best == a) continue;
    if (acceptReconnection(params.ReconnectionProbability, false, rng, weights))
      swapAntitriplets(A, clusters[best]);
  }
}

// Signed rapidity of p along the direction of `axis` (both in the same frame), with the
// transverse mass from p's own mass: calculateRapidityRF.
double rapidityAlong(const ThreeVector& axis, const LorentzVector& p) {
  const double a2 = axis.mag2();
  if (a2 == 0.0) return 0.0;
  const ThreeVector u = axis * (1.0 / std::sqrt(a2));
  const ThreeVector v = p.vect();
  const double pz = v.dot(u);
  if (pz == 0.0) return 0.0;
  const double pt2 = std::max(v.mag2() - pz * pz, 0.0);
  const double mt = std::sqrt(std::max(p.m2(), 0.0) + pt2);
  const double y = std::log((p.e + std::abs(pz)) / mt);
  return pz < 0.0 ? -y : y;
}

struct BaryonicPartners {
  std::size_t mesonic;        // == the visited cluster when none was found
  bool baryonic = false;      // two baryonic partners found
  std::size_t baryonic1 = 0, baryonic2 = 0;
};

// _findPartnerBaryonic, including its bookkeeping: the running extremes maxrap/minrap are
// shared between the mesonic and baryonic tests, a later mesonic candidate clears the
// baryonic flag, and the runner-up sum is not raised when the leader is replaced.
BaryonicPartners findPartnersBaryonic(std::size_t a, const std::vector<std::size_t>& order,
                                      const std::vector<Cluster>& clusters,
                                      const std::vector<char>& excluded,
                                      const OctetVeto& octet) {
  const Cluster& A = clusters[a];
  const ThreeVector toRest = -A.p.boostVector();
  const ThreeVector axis = A.constituents[1].p.boosted(toRest).vect();
  BaryonicPartners out{a};
  double maxrap = 0, minrap = 0, maxrapNormal = 0, minrapNormal = 0, maxsumNormal = 0;
  double maxsum = 0, secondsum = 0;
  bool haveFirst = false;
  for (const std::size_t c : order) {
    if (c == a || excluded[c]) continue;
    const Cluster& C = clusters[c];
    if (hasDiquark(C) || octet.forbidsSwap(A, C)) continue;
    const double rapq = rapidityAlong(axis, C.constituents[0].p.boosted(toRest));
    const double rapqbar = rapidityAlong(axis, C.constituents[1].p.boosted(toRest));
    if (rapq > 0.0 && rapqbar < 0.0 && rapq > maxrap && rapqbar < minrap) {
      maxrap = rapq;
      minrap = rapqbar;
      const double sum = std::abs(rapq) + std::abs(rapqbar);
      if (sum > maxsumNormal) {
        maxsumNormal = sum;
        maxrapNormal = rapq;
        minrapNormal = rapqbar;
        out.baryonic = false;
        out.mesonic = c;
      }
    }
    if (rapq < 0.0 && rapqbar > 0.0 && rapqbar > maxrapNormal && rapq < minrapNormal) {
      maxrap = rapqbar;
      minrap = rapq;
      const double sum = std::abs(rapqbar) + std::abs(rapq);
      if (sum > maxsum) {
        if (haveFirst) {
          out.baryonic2 = out.baryonic1;
          out.baryonic1 = c;
          out.baryonic = true;
        } else {
          out.baryonic1 = c;
          haveFirst = true;
        }
        maxsum = sum;
      } else if (sum > secondsum && sum != maxsum) {
        secondsum = sum;
        out.baryonic = true;
        out.baryonic2 = c;
      }
    }
  }
  return out;
}

void reconnectBaryonic(std::vector<Cluster>& clusters, const ClusterParams& params,
                       const OctetVeto& octet, Random& rng, WeightRecorder* weights) {
  for (const Cluster& c : clusters)
    if (c.fate != ClusterFate::Active || c.parent >= 0)
      throw std::invalid_argument(
          "baryonic colour reconnection runs on the primary clusters before fission");
  const std::vector<std::size_t> order = shuffledPrimaries(clusters, rng);
  // excluded: clusters turned baryonic (both new ones and the one absorbed), which take no
  // further part; absorbed: the third cluster, removed at the end.
  std::vector<char> excluded(clusters.size(), 0), absorbed(clusters.size(), 0);
  std::vector<std::array<Constituent, 3>> three(clusters.size());
  for (const std::size_t a : order) {
    if (excluded[a] || hasDiquark(clusters[a])) continue;
    const BaryonicPartners found = findPartnersBaryonic(a, order, clusters, excluded, octet);
    if (found.baryonic) {
      if (acceptReconnection(params.ReconnectionProbabilityBaryonic, true, rng, weights)) {
        const Cluster &A = clusters[a], &B1 = clusters[found.baryonic1],
                      &B2 = clusters[found.baryonic2];
        three[a] = {A.constituents[0], B1.constituents[0], B2.constituents[0]};
        three[found.baryonic1] = {A.constituents[1], B1.constituents[1], B2.constituents[1]};
        excluded[a] = excluded[found.baryonic1] = excluded[found.baryonic2] = 1;
        absorbed[found.baryonic2] = 1;
      }
    } else if (found.mesonic != a &&
               acceptReconnection(params.ReconnectionProbability, false, rng, weights)) {
      swapAntitriplets(clusters[a], clusters[found.mesonic]);
    }
  }
  std::vector<Cluster> out;
  out.reserve(clusters.size());
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    if (absorbed[i]) continue;
    if (excluded[i]) {
      out.push_back(reduceToTwoComponents(three[i], rng));
      out.back().reconnected = true;
    } else {
      out.push_back(clusters[i]);
    }
  }
  clusters = std::move(out);
}

}  // namespace

void reconnectColours(std::vector<Cluster>& clusters, const ClusterParams& params,
                      Random& rng, const OctetHistory& octets, WeightRecorder* weights) {
  if (params.ColourReconnection == 0 || clusters.size() < 2) return;
  const OctetVeto octet(params, octets);
  if (params.ColourReconnection == 1) reconnectPlain(clusters, params, octet, rng, weights);
  else reconnectBaryonic(clusters, params, octet, rng, weights);
}

}  // namespace hadml
