// STUB: to be implemented
#include "hadml/ClassicClusterDecayer.h"
namespace hadml {
ClassicClusterDecayer::ClassicClusterDecayer(const ClusterParams& p) : params_(p) {}
void ClassicClusterDecayer::decay(const std::vector<ClusterDecayRequest>& r, Random& rng, std::vector<TwoBodyDecay>& out) {
  out.clear(); for (const auto& x : r) out.push_back(decayOne(x, rng)); }
TwoBodyDecay ClassicClusterDecayer::decayOne(const ClusterDecayRequest&, Random&) const { throw HadronizationError("not implemented"); }
}
