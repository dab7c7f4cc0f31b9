// Step 4: Herwig 7.3 ColourReconnector, Algorithm Plain (_doRecoPlain, _findRecoPartner):
// visit the clusters in a random order; for cluster A find the partner B with the smallest
// m(qA qbarB) + m(qB qbarA) below m_A + m_B; swap the antitriplets with probability
// ReconnectionProbability. Pairs that would form a colour octet (the q and qbar of one
// split gluon; Herwig's _isColour8, OctetTreatment Final) are not considered.
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "hadml/ClusterSteps.h"

namespace hadml {

namespace {

bool isOctet(const Constituent& triplet, const Constituent& antitriplet) {
  return triplet.origin >= 0 && triplet.origin == antitriplet.origin;
}

}  // namespace

void reconnectColours(std::vector<Cluster>& clusters, const ClusterParams& params,
                      Random& rng) {
  if (params.ColourReconnection == 0 || clusters.size() < 2) return;
  // Only primary, undecayed clusters take part (Herwig reconnects before fission).
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < clusters.size(); ++i)
    if (clusters[i].fate == ClusterFate::Active && clusters[i].parent < 0) order.push_back(i);
  // Fisher-Yates shuffle: random visiting order avoids a bias from the input order.
  for (std::size_t i = order.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.flat() * static_cast<double>(i));
    std::swap(order[i - 1], order[j < i ? j : i - 1]);
  }
  for (const std::size_t a : order) {
    Cluster& A = clusters[a];
    std::size_t best = a;
    double minMass = std::numeric_limits<double>::infinity();
    for (const std::size_t b : order) {
      if (b == a) continue;
      const Cluster& B = clusters[b];
      if (isOctet(A.constituents[0], B.constituents[1]) ||
          isOctet(B.constituents[0], A.constituents[1]))
        continue;
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
    if (rng.flat() < params.ReconnectionProbability) {
      Cluster& B = clusters[best];
      std::swap(A.constituents[1], B.constituents[1]);
      A.p = A.constituents[0].p + A.constituents[1].p;
      B.p = B.constituents[0].p + B.constituents[1].p;
      A.reconnected = true;
      B.reconnected = true;
    }
  }
}

}  // namespace hadml
