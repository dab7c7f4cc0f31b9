// STUB: to be implemented (see ClusterSteps.h)
#include "hadml/ClusterSteps.h"
namespace hadml {} 
namespace hadml { void fissionClusters(std::vector<Cluster>&, const ClusterParams&, Random&) { throw HadronizationError("not implemented"); } }
