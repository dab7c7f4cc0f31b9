// Generator-agnostic re-decay of an already decayed two-hadron cluster vertex.
// A generator adapter (the Herwig step handler in cpp_plugin/herwig) copies one cluster
// vertex of its event record into a RedecayVertex, asks planRedecay() whether it may be
// re-decayed and how (which child carries constituent 0's flavour), hands the request to
// any hadml::ClusterDecayer and writes childMomenta() back. Species and masses stay the
// generator's; only the decay direction changes.
#pragma once

#include <array>
#include <vector>

#include "hadml/ClusterDecayer.h"
#include "hadml/Kinematics.h"
#include "hadml/Particles.h"

namespace hadml {

struct RedecayChild {
  int id = 0;
  LorentzVector p;
  double mass = 0.0;       // the generator's (possibly off-shell) mass, kept as is
  bool isCluster = false;  // a cluster child (e.g. Herwig id 81) is never re-decayed
  bool hasChildren = false;
};

struct RedecayVertex {
  LorentzVector cluster;                    // cluster 4-momentum
  int nComponents = 2;                      // constituents of the cluster (Herwig allows 3)
  // In the generator's order (child i made from constituent i, as Herwig's ClusterDecayer
  // does); planRedecay puts the triplet first and keeps that pairing for
  // flavour-symmetric children.
  std::array<Constituent, 2> constituents;
  int nChildren = 2;
  std::array<RedecayChild, 2> children;
};

enum class RedecayStatus {
  Eligible = 0,
  NotTwoChildren = 1,
  ChildIsCluster = 2,
  ChildHasChildren = 3,
  NotTwoComponents = 4,
  FlavourMismatch = 5,   // the children's quark content does not match the constituents
  BelowThreshold = 6,    // cluster mass below m1 + m2 (cannot happen for a real decay)
};
const char* toString(RedecayStatus status);

// Signed quark content from the PDG code (PDG Monte Carlo numbering scheme, review ch. 45):
// quarks {q}, antiquarks {-q}, diquarks {qa, qb} with the code's sign, mesons {q, -q'}
// (the heavier digit is the quark when it is up-type, the antiquark when down-type for
// a positive code), baryons {q, q, q} with the code's sign. Empty for anything else.
std::vector<int> signedQuarkContent(int pdg);

// Does hadron `hadronId` contain the flavour of constituent `constituentId`? Light
// flavour-diagonal mesons (pi0, eta, eta', rho0, omega, phi, ...) are mixtures, so they
// count as carrying any light quark (or antiquark).
bool carriesFlavour(int hadronId, int constituentId);

// True for the colour triplet of a cluster: a quark or an antidiquark.
bool isColourTriplet(int id);

struct RedecayPlan {
  RedecayStatus status = RedecayStatus::NotTwoChildren;
  // true when children[1] is hadron 1: it carries the triplet's flavour and children[0]
  // does not, or both orders fit and the record lists the triplet second
  bool swapped = false;
  ClusterDecayRequest request;  // valid only when status == Eligible
};

// Eligibility (exactly two children, neither a cluster nor decayed further, a
// two-component cluster, flavours matching, above threshold) and the decay request:
// constituents[0] the triplet, hadron 1 = the child carrying its flavour.
RedecayPlan planRedecay(const RedecayVertex& vertex);

// The new momenta of vertex.children[0] and [1] (original order) from the decayer output.
std::array<LorentzVector, 2> childMomenta(const RedecayPlan& plan, const TwoBodyDecay& decay);

}  // namespace hadml
