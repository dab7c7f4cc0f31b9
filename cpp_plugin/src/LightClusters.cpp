// STUB: to be implemented (see ClusterSteps.h)
#include "hadml/ClusterSteps.h"
namespace hadml {} 
namespace hadml { void decayLightClusters(std::vector<Cluster>&, const HadronSpectrum&, std::vector<Hadron>&, Random&) { throw HadronizationError("not implemented"); } }
