// The records that flow through the cluster stage: partons, clusters, hadrons.
#pragma once

#include <array>
#include <stdexcept>
#include <string>

#include "hadml/LorentzVector.h"

namespace hadml {

// Any failure of the cluster stage that makes an event unusable. The message names
// the step and the reason; the caller adds the event number and seed.
class HadronizationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A parton entering (or made inside) the cluster stage.
struct Parton {
  int id = 0;              // PDG id: quark (+-1..5), gluon 21, diquark (+-xx0y)
  int col = 0;             // colour tag (Pythia convention: quark carries col, antiquark acol)
  int acol = 0;
  LorentzVector p;         // after reshuffling: on the constituent mass shell
  double mass = 0.0;       // constituent mass (GeV)
  bool perturbative = true;  // false for the q qbar from a non-perturbative gluon split
  bool split = false;      // a gluon that has been split into q qbar (not a cluster constituent)
  int source = -1;         // input parton this came from (the gluon, for split products); -1: input
};

struct Constituent {
  int id = 0;
  LorentzVector p;
  bool perturbative = false;
  int parton = -1;  // index into the event's parton list; -1 for a quark popped in fission
  // A diquark made of two partons of a baryonic cluster (ClusterFinder's
  // reduceToTwoComponents after baryonic colour reconnection): `parton` is the first quark,
  // parton2 the second; -1 for every other constituent.
  int parton2 = -1;
  // The gluon whose non-perturbative split made this constituent (Parton::source), -1
  // otherwise. Colour reconnection uses it to forbid a colour-octet (q qbar of one gluon)
  // cluster, as Herwig's ColourReconnector::_isColour8 does.
  int origin = -1;
  // Colour-line tag: Parton::col of a triplet, Parton::acol of an antitriplet (0 when
  // unknown, e.g. a quark popped in fission). With OctetTreatment All, colour
  // reconnection forbids a (triplet, antitriplet) pair whose tags are the (col, acol) of a
  // colour octet of the shower history (ColourReconnector::_isColour8).
  int colour = 0;
};

enum class ClusterFate { Active = 0, Fissioned = 1, SingleHadron = 2, Decayed = 3 };

// A colour-singlet cluster. constituents[0] is the colour triplet (quark or antidiquark),
// constituents[1] the antitriplet (antiquark or diquark). The model frame of the ML decayer
// takes z along constituents[0] in the cluster rest frame.
struct Cluster {
  std::array<Constituent, 2> constituents;
  LorentzVector p;       // sum of the constituents' momenta (kept equal by every step)
  int parent = -1;       // cluster this came from in fission; -1 for a primary cluster
  // Fissioned: the two child clusters; SingleHadron: {hadron, -1}; Decayed: the two hadrons.
  std::array<int, 2> children{{-1, -1}};
  ClusterFate fate = ClusterFate::Active;
  bool reconnected = false;
  // Light-cluster step: the cluster that exchanged 4-momentum with this one (-1: none),
  // and this cluster's momentum before the exchange. The event record needs both to show
  // a momentum-conserving vertex {light cluster, partner} -> {hadron, moved partner}.
  int exchangePartner = -1;
  LorentzVector pBeforeExchange;

  double mass() const { return p.m(); }
};

// A primary hadron from a cluster (before Pythia decays it).
struct Hadron {
  int id = 0;
  LorentzVector p;
  int cluster = -1;  // index of the cluster it came from
  // The mass it was given: nominal, or drawn from its Breit-Wigner (ClusterParams::OnShell
  // = 0); p.m() equals it up to rounding. Kept exact so that an on-shell hadron reaches
  // the hadron decays with exactly its nominal mass.
  double mass = 0.0;
};

// Quark-level helpers (PDG conventions).
inline bool isQuark(int id) { return id != 0 && id >= -6 && id <= 6; }
inline bool isDiquark(int id) {
  const int a = id < 0 ? -id : id;
  return a > 1000 && a < 10000 && (a / 10) % 10 == 0;
}
// Three times the electric charge of a quark, antiquark, diquark or gluon.
int partonCharge3(int id);
// Three times the baryon number of a quark (+1), antiquark (-1), diquark (+2), gluon (0).
int partonBaryon3(int id);

}  // namespace hadml
