// STUB: to be implemented (see ClusterSteps.h)
#include "hadml/ClusterSteps.h"
namespace hadml {} 
namespace hadml { void splitGluons(std::vector<Parton>&, const ClusterParams&, Random&) { throw HadronizationError("not implemented"); } }
