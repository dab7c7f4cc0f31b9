// The steps of the cluster stage before the decays, in Herwig 7's order
// (ClusterHadronizationHandler::performHadronization). One source file per step.
#pragma once

#include <array>
#include <vector>

#include "hadml/HadronSpectrum.h"
#include "hadml/Params.h"
#include "hadml/Particles.h"
#include "hadml/Random.h"

namespace hadml {

// 1. Reshuffle.cpp: put every parton on its constituent mass shell (params.constituentMass)
// in the c.m. frame of the whole parton system: solve sum_i sqrt(m_i^2 + xi^2 |p_i|^2) = Q
// for one scale xi and boost back. Conserves the total 4-momentum exactly (up to rounding).
// Sets Parton::mass. Throws HadronizationError if sum m_i >= Q.
void reshuffleToConstituentMasses(std::vector<Parton>& partons, const ClusterParams& params);

// 2. GluonSplitting.cpp: every gluon -> q qbar, isotropic in the gluon rest frame, flavours
// u:d:s = SplitPwtUquark : SplitPwtDquark : SplitPwtSquark (only flavours with
// 2 m_q < m_g). The quark inherits the gluon's colour, the antiquark its anticolour;
// both get perturbative = false and source = gluon index; they are appended and the
// gluon is marked split = true (kept for history).
// Every step that draws a parameter-dependent choice takes an optional WeightRecorder
// (Variations.h) that gets the choice's probability ratios for parameter variations.
void splitGluons(std::vector<Parton>& partons, const ClusterParams& params, Random& rng,
                 WeightRecorder* weights = nullptr);

// 3. ClusterFinder.cpp: one colour-singlet cluster per (quark, antiquark) pair on the same
// colour line (quark.col == antiquark.acol). Split gluons are skipped. Sets each
// constituent's colour tag and origin. Throws HadronizationError when a colour line has no
// partner.
std::vector<Cluster> findClusters(const std::vector<Parton>& partons);

// ClusterFinder.cpp: a three-quark (or three-antiquark) cluster of baryonic colour
// reconnection becomes a (quark, diquark) (or (antidiquark, antiquark)) cluster, as
// Herwig 7.3's ClusterFinder::reduceToTwoComponents with its defaults: heavy quarks kept
// out of the diquark when possible, else the lowest-mass pair; the diquark carries the
// summed 4-momentum and records both partons (Constituent::parton, parton2).
Cluster reduceToTwoComponents(const std::array<Constituent, 3>& three, Random& rng);

// The colour octets of the shower history as (col, acol) tag pairs: every gluon of the
// perturbative stage, intermediate or final (OctetTreatment All).
using OctetHistory = std::vector<std::array<int, 2>>;

// 4. ColourReconnection.cpp: ColourReconnection = 1 is Herwig's "Plain" algorithm: in random
// order, for each cluster A try the partner B that minimises the summed mass of the
// swapped pairs (qA qbarB), (qB qbarA); accept with ReconnectionProbability if that sum is
// smaller than m_A + m_B. ColourReconnection = 2 is Herwig 7.3's default "Baryonic"
// algorithm: partners chosen by the rapidities of their constituents in A's rest frame;
// either a mesonic swap (ReconnectionProbability) or three mesonic clusters turned into a
// baryonic and an antibaryonic cluster (ReconnectionProbabilityBaryonic), which are reduced
// to two components at once; the absorbed third cluster is removed from `clusters`.
// Neither forms a colour-octet pair (OctetTreatment 0: the q qbar of one split gluon;
// 1: also any pair whose tags are an octet of `octets`). ColourReconnection = 0 leaves the
// clusters untouched. Baryonic needs primary clusters only (throws std::invalid_argument).
void reconnectColours(std::vector<Cluster>& clusters, const ClusterParams& params, Random& rng,
                      const OctetHistory& octets = {}, WeightRecorder* weights = nullptr);

// 5. ClusterFission.cpp: split heavy clusters (ClusterFissioner), recursively, appending the
// children to `clusters` and marking the parents Fissioned. Flavour-dependent ClMax/ClPow
// (the heaviest constituent flavour of the cluster decides) and PSplit (each child's own
// original constituent decides, as ClusterFissioner::drawNewMasses). DynamicThreshold = 1
// selects Herwig's KinematicThreshold Dynamic: the smooth heaviness test and the child-mass
// rejection M_i^2 >= m_i^2 + m^2 + KinematicThresholdShift; 0 the static versions.
// A cluster with no acceptable child masses in FissionMaxTries attempts stays unsplit.
void fissionClusters(std::vector<Cluster>& clusters, const ClusterParams& params, Random& rng,
                     WeightRecorder* weights = nullptr);
// The same with the hadron spectrum (the full stage). With BelowThreshold = 1 (Herwig 7.3)
// a child below its two-hadron threshold becomes one hadron inside fission (C -> H + C',
// ClusterFissioner::cutTwo with HadronSelector::chooseSingleHadron, nominal mass): its
// Cluster entry gets fate SingleHadron and children[0], the hadron is appended to
// `hadrons`. With BelowThreshold = 0 this is the function above.
void fissionClusters(std::vector<Cluster>& clusters, const ClusterParams& params,
                     const HadronSpectrum& spectrum, std::vector<Hadron>& hadrons,
                     Random& rng, WeightRecorder* weights = nullptr);

// 6. LightClusters.cpp: clusters below the lightest two-hadron threshold of their flavours
// become one hadron (HadronSpectrum::chooseSingleHadron, mass from
// HadronSpectrum::generateMass); the 4-momentum difference is taken
// from/given to the nearest other active cluster by a reshuffling that keeps both on
// shell (LightClusterDecayer). Appends to `hadrons`, sets fate SingleHadron and
// children[0].
void decayLightClusters(std::vector<Cluster>& clusters, const HadronSpectrum& spectrum,
                        std::vector<Hadron>& hadrons, Random& rng,
                        WeightRecorder* weights = nullptr);

}  // namespace hadml
