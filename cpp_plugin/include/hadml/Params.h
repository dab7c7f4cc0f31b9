// Parameters of the cluster stage. Defaults are Herwig 7.3's
// (src/defaults/Hadronization.in and the Hadronization/*.cc interfaces); names follow
// Herwig's interface names so that a Herwig user recognises them. All masses in GeV.
#pragma once

#include <string>
#include <vector>

namespace hadml {

enum class ColourReconnectionMode { None = 0, Plain = 1, Baryonic = 2 };

struct ClusterParams {
  // --- Constituent masses (Herwig's ParticleData for the cluster model) ---
  double GluonMass = 0.95;
  double DownMass = 0.325;
  double UpMass = 0.325;
  double StrangeMass = 0.45;
  double CharmMass = 1.6;
  double BottomMass = 5.0;
  double DiquarkLightMass = 0.65;    // ud, uu, dd
  double DiquarkStrangeMass = 0.825; // one s
  double DiquarkSSMass = 1.0;        // ss

  // --- Gluon splitting g -> q qbar (PartonSplitter) ---
  double SplitPwtUquark = 1.0;
  double SplitPwtDquark = 1.0;
  double SplitPwtSquark = 0.824135;

  // --- Colour reconnection (ColourReconnector) and retries of steps 4-6 ---
  // Algorithm: 0 = off, 1 = Plain, 2 = Baryonic (Herwig 7.3: Algorithm Baryonic).
  int ColourReconnection = 2;
  double ReconnectionProbability = 0.95;          // mesonic swaps (Plain and Baryonic)
  double ReconnectionProbabilityBaryonic = 0.7;   // 3 mesons -> baryon + antibaryon
  // Colour-octet veto: 0 = Final (q qbar of one split gluon), 1 = All (shower history).
  int OctetTreatment = 1;
  // Tries of reconnection, fission and light-cluster handling on the same partons before
  // the event is given up (ClusterHadronizationHandler::handle: 10).
  int StageTries = 10;

  // --- Cluster fission (ClusterFissioner) ---
  double ClMaxLight = 3.528693;
  double ClPowLight = 1.849375;
  double PSplitLight = 0.914156;
  double ClMaxCharm = 3.950;
  double ClPowCharm = 2.559;
  double PSplitCharm = 0.994;
  double ClMaxBottom = 3.757;
  double ClPowBottom = 0.547;
  double PSplitBottom = 0.625;
  // Flavour weights of the q qbar pair popped in fission.
  double FissionPwtUquark = 1.0;
  double FissionPwtDquark = 1.0;
  double FissionPwtSquark = 0.374094;
  // 1 = Herwig's dynamic (probabilistic) threshold, 0 = static threshold.
  int DynamicThreshold = 1;
  double ProbabilityPowerFactor = 6.486;
  double ProbabilityShift = -0.87875;
  // Extra offset in the child-mass check M_i^2 >= m_i^2 + m^2 + shift (GeV^2).
  double KinematicThresholdShift = 0.08844;
  double FissionMaxTries = 1000;
  // hadml option, not Herwig's (0 = Herwig 7.3: the children fly along the parent's
  // constituent axis). Width sigma (GeV) of a Gaussian transverse momentum of the popped
  // q qbar pair relative to that axis, as at a string break (Andersson et al., Phys. Rept.
  // 97 (1983) 31; Pythia's StringPT:sigma): child 1 gets k_T, child 2 -k_T, with
  // <k_T^2> = sigma^2, truncated at the children's two-body momentum. docs/tuning.md,
  // "Tune 5 / fission transverse momentum".
  double FissionPtSigma = 0.0;
  // hadml option modelled on the MassSampler switch of Herwig's MatrixElementClusterFissioner
  // (after 7.3; arXiv:2404.09856): how the two child masses of a fission are drawn.
  // 0 = power: Herwig 7.3's (M_i - m_i)^PSplit flat per child (byte-identical events);
  // 1 = uniform: (M1, M2) uniform on the open triangle M_i >= m_i + m, M1 + M2 <= M;
  // 2 = phasespace: on that triangle with density p*(M; M1, M2) p*(M1; m1, m) p*(M2; m2, m),
  //     flat two-body phase space of C -> C1 C2 and of each child into its constituents.
  // With 1 and 2 the PSplit* parameters are unused. docs/tuning.md, "Fission child-mass
  // sampling".
  int FissionMassSampler = 0;

  // --- Cluster decay (ClusterDecayer + Hwpp HadronSelector) ---
  double PwtDquark = 1.0;
  double PwtUquark = 1.0;
  double PwtSquark = 0.374094;
  double PwtDIquark = 0.33107;
  double SngWt = 0.89050;   // singlet (Lambda-like) baryon weight
  double DecWt = 0.41628;   // decuplet baryon weight
  double EtaMixAngle = -23.0;  // degrees, eta-eta' (pseudoscalar) mixing
  double PhiMixAngle = 36.0;   // degrees, omega-phi (vector) mixing
  int ClDirLight = 1;
  int ClDirCharm = 1;
  int ClDirBottom = 1;
  double ClSmrLight = 0.78;
  double ClSmrCharm = 0.163;
  double ClSmrBottom = 0.078;

  // --- Hadron spectrum and hadron masses (issue 10, items 1b-1e). Switches: the first
  // value named is Herwig 7.3's default, the other keeps hadml's earlier behaviour. ---
  // 1 = Herwig's table: every hadron of the particle data except those Herwig forbids
  // (K0_S/K0_L, sigma = f0(500), kappa, the excited baryons of Decays.in); 0 = only the
  // lowest meson multiplets (|id| < 30000) and ground-state baryons.
  int HadronTable = 1;
  // 1 = HwppSelector::baryonWeight: SngWt^2, DecWt^2 and the factor 1.5 of qqq decuplets
  // (HadronSelector::insertThreeHalf); 0 = SngWt, DecWt linear, no qqq factor.
  int SelectorWeights = 1;
  // HadronSelector:BelowThreshold. 1 = All: a cluster below its two-hadron threshold
  // becomes a hadron drawn by weight among all hadrons below the threshold, and a fission
  // child below threshold becomes that hadron inside fission (C -> H + C');
  // 0 = Lightest: the lightest hadron, fission children left to the light-cluster step.
  int BelowThreshold = 1;
  // ClusterDecayer:OnShell. 0 = No: hadron masses drawn from each hadron's Breit-Wigner
  // (cluster decays and light-cluster hadrons); 1 = Yes: nominal masses everywhere.
  int OnShell = 0;
  // ClusterDecayer:MassTry: attempts to draw two masses that fit the cluster mass before
  // falling back to the nominal masses.
  double MassTry = 20;

  // Set by name (Herwig interface name). Throws std::invalid_argument for an
  // unknown name, with the list of known names.
  void set(const std::string& name, double value);
  double get(const std::string& name) const;
  static std::vector<std::string> names();
  // Throws std::invalid_argument naming the first unphysical value.
  void validate() const;

  // Constituent mass of a quark, antiquark, gluon or diquark by PDG id (sign ignored).
  double constituentMass(int pdgId) const;
};

}  // namespace hadml
