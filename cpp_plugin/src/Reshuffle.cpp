// STUB: to be implemented (see ClusterSteps.h)
#include "hadml/ClusterSteps.h"
namespace hadml {} 
namespace hadml { void reshuffleToConstituentMasses(std::vector<Parton>&, const ClusterParams&) { throw HadronizationError("reshuffle not implemented"); } }
