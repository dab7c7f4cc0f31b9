// STUB: to be implemented (see ClusterSteps.h)
#include "hadml/ClusterSteps.h"
namespace hadml {} 
namespace hadml { std::vector<Cluster> findClusters(const std::vector<Parton>&) { throw HadronizationError("not implemented"); } }
