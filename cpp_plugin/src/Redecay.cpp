#include "hadml/Redecay.h"

#include <algorithm>
#include <cstdlib>

namespace hadml {

const char* toString(RedecayStatus status) {
  switch (status) {
    case RedecayStatus::Eligible: return "eligible";
    case RedecayStatus::NotTwoChildren: return "not two children";
    case RedecayStatus::ChildIsCluster: return "a child is a cluster";
    case RedecayStatus::ChildHasChildren: return "a child has children";
    case RedecayStatus::NotTwoComponents: return "not a two-component cluster";
    case RedecayStatus::FlavourMismatch: return "children do not match the constituents' flavours";
    case RedecayStatus::BelowThreshold: return "cluster mass below m1 + m2";
  }
  return "unknown";
}

namespace {

// isQuark/isDiquark come from hadml/Particles.h.

// Light flavour-diagonal mesons are u/d/s superpositions (pi0, eta, eta', rho0, omega, phi);
// the PDG digits only name one component, so any light flavour may sit in them.
bool isLightDiagonalMeson(int id) {
  const int a = std::abs(id) % 10000;
  const int nq1 = (a / 1000) % 10, nq2 = (a / 100) % 10, nq3 = (a / 10) % 10;
  return nq1 == 0 && nq2 == nq3 && nq2 >= 1 && nq2 <= 3;
}

bool isKShortLong(int id) { return id == 130 || id == 310; }

}  // namespace

bool isColourTriplet(int id) {
  return (isQuark(id) && id > 0) || (isDiquark(id) && id < 0);
}

std::vector<int> signedQuarkContent(int pdg) {
  const int sign = pdg < 0 ? -1 : 1;
  if (isQuark(pdg)) return {pdg};
  if (isDiquark(pdg)) {
    const int a = std::abs(pdg);
    return {sign * ((a / 1000) % 10), sign * ((a / 100) % 10)};
  }
  if (isKShortLong(pdg)) return {1, -3};  // one of its components; see carriesFlavour
  const int a = std::abs(pdg) % 10000;  // drop the radial/orbital excitation digits
  const int nq1 = (a / 1000) % 10, nq2 = (a / 100) % 10, nq3 = (a / 10) % 10;
  if (nq2 == 0 || nq3 == 0) return {};
  if (nq1 != 0) return {sign * nq1, sign * nq2, sign * nq3};  // baryon
  if (nq2 == nq3) return {nq2, -nq2};
  // Meson: for a positive code the heavier quark is a quark if up-type, else an antiquark.
  const bool heavyIsQuark = (nq2 % 2 == 0);
  const int heavy = heavyIsQuark ? nq2 : -nq2;
  return {sign * heavy, -sign * (heavyIsQuark ? nq3 : -nq3)};
}

bool carriesFlavour(int hadronId, int constituentId) {
  const std::vector<int> want = signedQuarkContent(constituentId);
  if (want.empty()) return false;
  if (want.size() == 1 && std::abs(want[0]) <= 3 && isLightDiagonalMeson(hadronId)) return true;
  if (want.size() == 1 && isKShortLong(hadronId))
    return std::abs(want[0]) == 1 || std::abs(want[0]) == 3;
  std::vector<int> have = signedQuarkContent(hadronId);
  for (const int q : want) {
    const auto it = std::find(have.begin(), have.end(), q);
    if (it == have.end()) return false;
    have.erase(it);  // multiset: a uu diquark needs two u quarks
  }
  return true;
}

RedecayPlan planRedecay(const RedecayVertex& v) {
  RedecayPlan plan;
  if (v.nChildren != 2) {
    plan.status = RedecayStatus::NotTwoChildren;
    return plan;
  }
  if (v.children[0].isCluster || v.children[1].isCluster) {
    plan.status = RedecayStatus::ChildIsCluster;
    return plan;
  }
  if (v.children[0].hasChildren || v.children[1].hasChildren) {
    plan.status = RedecayStatus::ChildHasChildren;
    return plan;
  }
  if (v.nComponents != 2) {
    plan.status = RedecayStatus::NotTwoComponents;
    return plan;
  }
  // The request wants the colour triplet first (model frame z axis, docs/model-contract.md).
  std::array<Constituent, 2> con = v.constituents;
  const bool tripletSecond = !isColourTriplet(con[0].id) && isColourTriplet(con[1].id);
  if (tripletSecond) std::swap(con[0], con[1]);

  const auto& c = v.children;
  const bool straight = carriesFlavour(c[0].id, con[0].id) && carriesFlavour(c[1].id, con[1].id);
  const bool crossed = carriesFlavour(c[1].id, con[0].id) && carriesFlavour(c[0].id, con[1].id);
  if (!straight && !crossed) {
    plan.status = RedecayStatus::FlavourMismatch;
    return plan;
  }
  // Both orders fit for flavour-symmetric pairs (u ubar -> pi0 pi0, u dbar -> pi+ pi0, ...).
  // Then keep the record's pairing, child i made from constituent i: Herwig 7.3's
  // ClusterDecayer::decayIntoTwoHadrons takes hadron i from
  // HadronSelector::chooseHadronPair(mass, particle(0), particle(1)), adds it as child i,
  // and sends the hadron made from the perturbative constituent along that constituent.
  // Pairing by the triplet-first order instead gave, for clusters that Herwig lists
  // antitriplet first, hadron 1 = the antitriplet's hadron: a backward peak in the decay
  // angle (docs/herwig-workflow.md, "The tie bug").
  plan.swapped = (straight && crossed) ? tripletSecond : !straight;
  const RedecayChild& h1 = plan.swapped ? c[1] : c[0];
  const RedecayChild& h2 = plan.swapped ? c[0] : c[1];
  if (v.cluster.m() < h1.mass + h2.mass) {
    plan.status = RedecayStatus::BelowThreshold;
    return plan;
  }
  plan.request.constituents = con;
  plan.request.p = v.cluster;
  plan.request.id1 = h1.id;
  plan.request.id2 = h2.id;
  plan.request.m1 = h1.mass;
  plan.request.m2 = h2.mass;
  plan.status = RedecayStatus::Eligible;
  return plan;
}

std::array<LorentzVector, 2> childMomenta(const RedecayPlan& plan, const TwoBodyDecay& decay) {
  if (plan.swapped) return {decay.p2, decay.p1};
  return {decay.p1, decay.p2};
}

}  // namespace hadml
