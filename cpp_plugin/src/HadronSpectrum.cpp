// STUB: to be implemented
#include "hadml/HadronSpectrum.h"
#include "hadml/Particles.h"
namespace hadml {
HadronSpectrum::HadronSpectrum(HadronTable table, const ClusterParams&) : table_(std::move(table)) {}
int HadronSpectrum::lightestHadron(int, int) const { throw HadronizationError("not implemented"); }
double HadronSpectrum::lightestPairMass(int, int) const { throw HadronizationError("not implemented"); }
std::pair<int, int> HadronSpectrum::chooseHadronPair(double, int, int, Random&) const { throw HadronizationError("not implemented"); }
}
