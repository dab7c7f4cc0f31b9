// Step 5: fission of heavy clusters, Herwig 7.3 ClusterFissioner (fission, cut, cutTwo,
// drawNewMasses, drawChildMass, calculateKinematics, isHeavy) for two-component clusters
// without beam remnants (so always the power-law "hard" child-mass distribution). hadml
// options beyond 7.3: FissionPtSigma (a k_T of the popped pair) and FissionMassSampler
// (uniform or phase-space child masses, after the MassSampler of later Herwig versions).
//
// A child below its two-hadron threshold: with a hadron spectrum and BelowThreshold = 1
// (Herwig 7.3) it becomes one hadron inside fission, C -> H + C', as in Herwig's cutTwo
// (HadronSelector::chooseSingleHadron, the hadron at its nominal mass, moving along the
// child's direction). Without a spectrum, or with BelowThreshold = 0 (hadml's earlier
// behaviour), it stays a light cluster and step 6 turns it into one hadron.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "hadml/ClusterSteps.h"
#include "hadml/Kinematics.h"
#include "hadml/Variations.h"

namespace hadml {

namespace {

bool hasQuark(int id, int q) {
  const int a = std::abs(id);
  if (a <= 6) return a == q;
  if (isDiquark(id)) return a / 1000 == q || (a / 100) % 10 == q;
  return false;
}

// Flavour class as in ClusterFissioner::isHeavy / drawNewMasses: bottom before charm.
enum class Flavour { Light, Charm, Bottom };
Flavour flavourOf(int id) {
  if (hasQuark(id, 5)) return Flavour::Bottom;
  if (hasQuark(id, 4)) return Flavour::Charm;
  return Flavour::Light;
}
Flavour flavourOf(const Cluster& c) {
  const Flavour a = flavourOf(c.constituents[0].id), b = flavourOf(c.constituents[1].id);
  return static_cast<int>(a) > static_cast<int>(b) ? a : b;
}

double clMax(const ClusterParams& p, Flavour f) {
  return f == Flavour::Bottom ? p.ClMaxBottom : f == Flavour::Charm ? p.ClMaxCharm : p.ClMaxLight;
}
double clPow(const ClusterParams& p, Flavour f) {
  return f == Flavour::Bottom ? p.ClPowBottom : f == Flavour::Charm ? p.ClPowCharm : p.ClPowLight;
}
double pSplit(const ClusterParams& p, Flavour f) {
  return f == Flavour::Bottom ? p.PSplitBottom
         : f == Flavour::Charm ? p.PSplitCharm
                               : p.PSplitLight;
}

// ClusterFissioner::ProbablityFunction: smooth step 1/(1 + |(threshold - shift)/scale|^a).
double smoothThreshold(double scale, double threshold, const ClusterParams& p) {
  const double x = std::abs((threshold - p.ProbabilityShift) / scale);
  return 1.0 / (1.0 + std::pow(x, p.ProbabilityPowerFactor));
}

// The two heaviness tests of ClusterFissioner::isHeavy for parameters p: M^P against
// ClMax^P + (m1+m2)^P, and M against m1 + m2 + 2 m_d. Static: 0 or 1; dynamic: the
// probabilities to pass.
struct HeavyTests {
  double above, canSplit;
};
HeavyTests heavyTests(const Cluster& c, const ClusterParams& p) {
  const Flavour f = flavourOf(c);
  const double pw = clPow(p, f), cm = clMax(p, f);
  const double M = c.mass();
  // Constituent masses are not reweightable, so sumM is the same at every varied point.
  const double sumM =
      p.constituentMass(c.constituents[0].id) + p.constituentMass(c.constituents[1].id);
  const double minPair = 2.0 * p.DownMass;  // lightest popped pair, as in Herwig
  if (p.DynamicThreshold == 0)
    return {std::pow(M, pw) > std::pow(cm, pw) + std::pow(sumM, pw) ? 1.0 : 0.0,
            M > sumM + minPair ? 1.0 : 0.0};
  return {smoothThreshold(std::pow(M, pw), std::pow(cm, pw) + std::pow(sumM, pw), p),
          smoothThreshold(M, sumM + minPair, p)};
}

// ClusterFissioner::isHeavy. Static: M^P > ClMax^P + (m1+m2)^P and M > m1 + m2 + 2 m_d.
// Dynamic (KinematicThreshold Dynamic, the 7.3 default): both smooth-step draws must pass
// (both are drawn, as in Herwig; each is one Bernoulli trial of the weights).
bool isHeavy(const Cluster& c, const ClusterParams& p, Random& rng, WeightRecorder* weights) {
  const HeavyTests t = heavyTests(c, p);
  bool above = t.above > 0.5, canSplit = t.canSplit > 0.5;
  if (p.DynamicThreshold != 0) {
    above = t.above > rng.flat();
    canSplit = t.canSplit > rng.flat();
  }
  if (weights && weights->wants(kVaryHeavy)) {
    weights->bernoulli(kVaryHeavy, above, t.above,
                       [&](const Variation& v) { return heavyTests(c, v.params).above; });
    weights->bernoulli(kVaryHeavy, canSplit, t.canSplit,
                       [&](const Variation& v) { return heavyTests(c, v.params).canSplit; });
  }
  return above && canSplit;
}

// ClusterFissioner::drawNewFlavour (FissionCluster 1): u : d : s = FissionPwt{U,D,S}quark.
double poppedProbability(const ClusterParams& p, int q) {
  const double w = q == 2 ? p.FissionPwtUquark : q == 1 ? p.FissionPwtDquark : p.FissionPwtSquark;
  return w / (p.FissionPwtUquark + p.FissionPwtDquark + p.FissionPwtSquark);
}

int drawPoppedFlavour(const ClusterParams& p, Random& rng, WeightRecorder* weights) {
  const double wu = p.FissionPwtUquark, wd = p.FissionPwtDquark, ws = p.FissionPwtSquark;
  const double r = rng.flat() * (wu + wd + ws);
  const int q = r < wu ? 2 : r < wu + wd ? 1 : 3;
  if (weights && weights->wants(kVaryFissionFlavour))
    weights->ratio(kVaryFissionFlavour, poppedProbability(p, q),
                   [&](const Variation& v) { return poppedProbability(v.params, q); });
  return q;
}

// ClusterFissioner::drawChildMass (hard branch): (M_i - m_i)^P uniform between m^P and
// A^P, A = M - m1 - m2 - m, i.e. M_i = m_i + [A^P + r (m^P - A^P)]^(1/P).
double drawChildMass(double M, double mi, double mj, double m, double P, Random& rng) {
  const double a = std::pow(M - mi - mj - m, P);
  const double b = std::pow(m, P);
  return mi + std::pow(a + rng.flat() * (b - a), 1.0 / P);
}

// Density of that child mass: y = M_i - m_i in [m, A] has density P y^(P-1) / (A^P - m^P).
double childMassDensity(double y, double A, double m, double P) {
  return P * std::pow(y, P - 1.0) / (std::pow(A, P) - std::pow(m, P));
}

// --- FissionMassSampler 1 and 2 (hadml options after Herwig's MassSampler Uniform and
// FlatPhaseSpace of MatrixElementClusterFissioner, Hoang, Jaskiewicz, Plaetzer, Samitz,
// arXiv:2404.09856). Both live on the triangle of open child masses
// M1 >= m1 + m, M2 >= m2 + m, M1 + M2 <= M (m: the popped quark's constituent mass).
struct ChildMasses {
  double M1, M2;
};

// Uniform on the triangle. Two flat numbers on the unit square; a point above the
// diagonal u + v = 1 is reflected through the square's centre (u, v) -> (1 - u, 1 - v),
// a map of the upper onto the lower triangle with unit Jacobian, so no draw is rejected.
ChildMasses drawUniformMasses(double M, double m1, double m2, double m, Random& rng) {
  const double room = M - m1 - m2 - 2.0 * m;  // >= 0: the caller checked M >= m1 + m2 + 2m
  double u = rng.flat(), v = rng.flat();
  if (u + v > 1.0) {
    u = 1.0 - u;
    v = 1.0 - v;
  }
  return {m1 + m + room * u, m2 + m + room * v};
}

// Flat phase space of C -> C1 C2 followed by C_i -> (its two constituents): each two-body
// phase space is proportional to p*/M_parent, and dM_i^2 = 2 M_i dM_i cancels the 1/M_i of
// the child's own decay, so the density in (M1, M2) on the triangle is proportional to
//   w = p*(M; M1, M2) p*(M1; m1, m) p*(M2; m2, m)
// (PDG kinematics review, recursive n-body phase space; Herwig's FlatPhaseSpace in 4
// dimensions).
double phaseSpaceWeight(double M, double M1, double M2, double m1, double m2, double m) {
  return openTwoBodyMomentum(M, M1, M2) * openTwoBodyMomentum(M1, m1, m) *
         openTwoBodyMomentum(M2, m2, m);
}

// An upper bound of w on the triangle, the smaller of two:
// (a) M^3 / (48 sqrt 3): p*(M_i; m_i, m) <= M_i / 2, and with a = M1/M, b = M2/M,
//     (M1 M2 / 4) p*(M; M1, M2) = M^3 a b sqrt((1-(a+b)^2)(1-(a-b)^2)) / 8, whose maximum
//     over a + b <= 1 is at a = b (both factors grow as a - b -> 0 at fixed a + b) and
//     then a^2 = 1/6: a b sqrt(...) <= 1/sqrt(108) = 1/(6 sqrt 3);
// (b) the product of each factor's own maximum: p*(M; M1, M2) falls as M1 or M2 grows
//     (largest at the corner M_i = m_i + m), p*(M_i; m_i, m) rises with M_i (largest at
//     M_i = M - m_j - m). (b) is the tighter one near threshold, (a) for heavy clusters.
double phaseSpaceBound(double M, double m1, double m2, double m) {
  const double a = M * M * M / (48.0 * std::sqrt(3.0));
  const double b = openTwoBodyMomentum(M, m1 + m, m2 + m) *
                   openTwoBodyMomentum(M - m2 - m, m1, m) *
                   openTwoBodyMomentum(M - m1 - m, m2, m);
  return std::min(a, b);
}

// Proposals (uniform on the triangle) per fission try before the try counts as failed;
// the acceptance is above a few per cent for every cluster mass and flavour.
constexpr int kPhaseSpaceProposals = 1000;

// Accept-reject: a uniform proposal is kept with probability w / bound. False when every
// proposal was rejected.
bool drawPhaseSpaceMasses(double M, double m1, double m2, double m, Random& rng,
                          ChildMasses& out) {
  const double bound = phaseSpaceBound(M, m1, m2, m);
  if (!(bound > 0.0)) return false;
  for (int k = 0; k < kPhaseSpaceProposals; ++k) {
    const ChildMasses c = drawUniformMasses(M, m1, m2, m, rng);
    if (rng.flat() * bound < phaseSpaceWeight(M, c.M1, c.M2, m1, m2, m)) {
      out = c;
      return true;
    }
  }
  return false;
}

// Direction of child 1 in the parent frame when the popped q qbar pair gets a transverse
// momentum k_T relative to the axis u (FissionPtSigma = sigma > 0): each component of k_T
// Gaussian with variance sigma^2 / 2, i.e. k_T^2 exponential with mean sigma^2, truncated
// to k_T < p* (the children's momentum) and drawn by inverting its distribution function
// (one number, never a loop); azimuth uniform. Child 1 carries +k_T, child 2 -k_T. The
// density of k_T given the masses does not involve any parameter the exact variation
// weights vary, so their weights stay exact; FissionPtSigma itself is not variable by
// weights (docs/variations.md).
ThreeVector tiltedDirection(const ThreeVector& u, double pStar, double sigma, Random& rng) {
  if (!(pStar > 0.0)) return u;
  const double s2 = sigma * sigma;
  const double kept = -std::expm1(-pStar * pStar / s2);  // P(k_T^2 < p*^2), untruncated
  const double kt2 = std::min(-s2 * std::log1p(-rng.flat() * kept), pStar * pStar);
  const double phi = 2.0 * M_PI * rng.flat();
  // Any fixed orthonormal pair e1, e2 perpendicular to u (the azimuth is uniform).
  const ThreeVector ref = std::abs(u.z) < 0.9 ? ThreeVector{0.0, 0.0, 1.0}
                                              : ThreeVector{1.0, 0.0, 0.0};
  const ThreeVector e1 = ref.cross(u).unit();
  const ThreeVector e2 = u.cross(e1);
  const double kt = std::sqrt(kt2), kl = std::sqrt(pStar * pStar - kt2);
  return (u * kl + e1 * (kt * std::cos(phi)) + e2 * (kt * std::sin(phi))) * (1.0 / pStar);
}

// A fission child that is one hadron: the hadron's momentum is shared by the two
// constituents in proportion to their constituent masses (collinear; they are not on
// shell, the hadron can be lighter than they are). Only the record uses them.
void makeHadronChild(Cluster& c, int hadronId, const LorentzVector& p, double mA, double mB) {
  const double f = mA / (mA + mB);
  c.constituents[0].p = p * f;
  c.constituents[1].p = p - c.constituents[0].p;
  c.p = p;
  c.fate = ClusterFate::SingleHadron;
  c.children = {hadronId, -1};  // placeholder: the hadron id until the hadron is appended
}

// Momenta of a fission child carrying p: a hadron (hadronId != 0), else a cluster whose two
// constituents of masses mA, mB fly apart along u in its rest frame.
void setChildMomenta(Cluster& c, int hadronId, const LorentzVector& p, double mA, double mB,
                     const ThreeVector& u) {
  if (hadronId) {
    makeHadronChild(c, hadronId, p, mA, mB);
    return;
  }
  const TwoBodyDecay inner = decayTwoBody(p, mA, mB, u);
  c.constituents[0].p = inner.p1;
  c.constituents[1].p = inner.p2;
  c.p = c.constituents[0].p + c.constituents[1].p;
}

// One fission C(Q1 Q2) -> C1(Q1 qbar) + C2(q Q2). Returns false when no acceptable masses
// were found in FissionMaxTries attempts (Herwig: the cluster is left unsplit).
// With `spectrum` (BelowThreshold = 1) a child below its two-hadron threshold is made a
// hadron: its Cluster gets fate SingleHadron and children[0] = the hadron's PDG id.
bool cutTwo(const Cluster& parent, const ClusterParams& p, const HadronSpectrum* spectrum,
            Random& rng, WeightRecorder* weights, Cluster& c1, Cluster& c2) {
  const Constituent& Q1 = parent.constituents[0];
  const Constituent& Q2 = parent.constituents[1];
  const double M = parent.mass();
  const double m1 = p.constituentMass(Q1.id), m2 = p.constituentMass(Q2.id);
  // PSplit follows each child's own original constituent (ClusterFissioner::drawNewMasses).
  const double exp1 = pSplit(p, flavourOf(Q1.id)), exp2 = pSplit(p, flavourOf(Q2.id));
  const int maxTries = static_cast<int>(p.FissionMaxTries);
  double M1 = 0.0, M2 = 0.0, m = 0.0;
  int q = 0, h1 = 0, h2 = 0;
  bool ok = false;
  for (int tries = 0; tries < maxTries && !ok; ++tries) {
    q = drawPoppedFlavour(p, rng, weights);
    m = p.constituentMass(q);
    if (M < m1 + m2 + 2.0 * m) continue;
    if (p.FissionMassSampler == 1) {
      const ChildMasses c = drawUniformMasses(M, m1, m2, m, rng);
      M1 = c.M1;
      M2 = c.M2;
    } else if (p.FissionMassSampler == 2) {
      ChildMasses c{};
      if (!drawPhaseSpaceMasses(M, m1, m2, m, rng, c)) continue;
      M1 = c.M1;
      M2 = c.M2;
    } else {
      M1 = drawChildMass(M, m1, m2, m, exp1, rng);
      M2 = drawChildMass(M, m2, m1, m, exp2, rng);
    }
    const double A = M - m1 - m2 - m;
    // The uniform and phase-space samplers do not depend on PSplit (weight 1 exactly).
    if (p.FissionMassSampler == 0 && weights && weights->wants(kVaryFissionMass) && A > m) {
      // Both child masses, each with its own constituent's PSplit (a rejected try below
      // keeps its factor: every try is part of the path).
      const double y1 = M1 - m1, y2 = M2 - m2;
      weights->ratio(kVaryFissionMass,
                     childMassDensity(y1, A, m, exp1) * childMassDensity(y2, A, m, exp2),
                     [&](const Variation& v) {
                       return childMassDensity(y1, A, m, pSplit(v.params, flavourOf(Q1.id))) *
                              childMassDensity(y2, A, m, pSplit(v.params, flavourOf(Q2.id)));
                     });
    }
    if (p.DynamicThreshold == 0) {
      if (M1 < m1 + m || M2 < m2 + m || M1 + M2 > M) continue;
    } else {
      const double shift = p.KinematicThresholdShift;
      if (M1 * M1 < m1 * m1 + m * m + shift || M2 * M2 < m2 * m2 + m * m + shift ||
          M1 * M1 + M2 * M2 > M * M)
        continue;
    }
    h1 = h2 = 0;
    if (spectrum) {
      // ClusterFissioner::cutTwo: a child below its pair threshold becomes a hadron of
      // nominal mass; if the two no longer fit, the other child may become one too.
      h1 = spectrum->chooseSingleHadron(M1, Q1.id, -q, rng, weights);
      if (h1) M1 = spectrum->mass(h1);
      h2 = spectrum->chooseSingleHadron(M2, q, Q2.id, rng, weights);
      if (h2) M2 = spectrum->mass(h2);
      if (M1 + M2 > M) {
        if (!h1) {
          h1 = spectrum->chooseSingleHadron(M - M2, Q1.id, -q, rng, weights);
          if (h1) M1 = spectrum->mass(h1);
        } else if (!h2) {
          h2 = spectrum->chooseSingleHadron(M - M1, q, Q2.id, rng, weights);
          if (h2) M2 = spectrum->mass(h2);
        }
      }
    }
    ok = M >= M1 + M2;
  }
  if (!ok) return false;

  // ClusterFissioner::calculateKinematics: in the parent frame C1, its Q1 and its qbar
  // move along the direction u of Q1 before the fission; C2 and its constituents opposite.
  // With FissionPtSigma > 0 (hadml option) C1 is tilted off u by the pair's k_T; inside
  // each child's rest frame its two constituents still lie along u (setChildMomenta below).
  const ThreeVector u = Q1.p.boosted(-parent.p.boostVector()).vect().unit();
  const ThreeVector dir1 = p.FissionPtSigma > 0.0
                               ? tiltedDirection(u, twoBodyMomentum(M, M1, M2),
                                                 p.FissionPtSigma, rng)
                               : u;
  const TwoBodyDecay kids = decayTwoBody(parent.p, M1, M2, dir1);

  Constituent popped;
  popped.perturbative = false;
  popped.parton = -1;
  popped.origin = -1;

  c1 = Cluster();
  c1.constituents[0] = Q1;
  c1.constituents[1] = popped;
  // The partner of a colour triplet is an antiquark: -q next to a quark or antidiquark.
  c1.constituents[1].id = -q;
  setChildMomenta(c1, h1, kids.p1, m1, m, u);

  c2 = Cluster();
  c2.constituents[0] = popped;
  c2.constituents[0].id = q;
  c2.constituents[1] = Q2;
  setChildMomenta(c2, h2, kids.p2, m, m2, u);
  return true;
}

void fission(std::vector<Cluster>& clusters, const ClusterParams& params,
             const HadronSpectrum* spectrum, std::vector<Hadron>* hadrons, Random& rng,
             WeightRecorder* weights) {
  // Depth-first over a stack, as ClusterFissioner::cut: children that are still heavy are
  // split in their turn.
  std::vector<std::size_t> stack;
  for (std::size_t i = 0; i < clusters.size(); ++i)
    if (clusters[i].fate == ClusterFate::Active && isHeavy(clusters[i], params, rng, weights))
      stack.push_back(i);
  while (!stack.empty()) {
    const std::size_t i = stack.back();
    stack.pop_back();
    Cluster c1, c2;
    if (!cutTwo(clusters[i], params, spectrum, rng, weights, c1, c2)) continue;
    const int parent = static_cast<int>(i);
    c1.parent = c2.parent = parent;
    const std::size_t i1 = clusters.size();
    clusters.push_back(c1);
    clusters.push_back(c2);
    clusters[i].fate = ClusterFate::Fissioned;
    clusters[i].children = {static_cast<int>(i1), static_cast<int>(i1 + 1)};
    for (std::size_t k = i1; k < i1 + 2; ++k) {
      Cluster& c = clusters[k];
      if (c.fate == ClusterFate::SingleHadron) {
        hadrons->push_back(Hadron{c.children[0], c.p, static_cast<int>(k),
                                  spectrum->mass(c.children[0])});
        c.children = {static_cast<int>(hadrons->size()) - 1, -1};
      } else if (isHeavy(c, params, rng, weights)) {
        stack.push_back(k);
      }
    }
  }
}

}  // namespace

void fissionClusters(std::vector<Cluster>& clusters, const ClusterParams& params,
                     Random& rng, WeightRecorder* weights) {
  fission(clusters, params, nullptr, nullptr, rng, weights);
}

void fissionClusters(std::vector<Cluster>& clusters, const ClusterParams& params,
                     const HadronSpectrum& spectrum, std::vector<Hadron>& hadrons,
                     Random& rng, WeightRecorder* weights) {
  const bool hadronsInFission = spectrum.belowThresholdAll();
  fission(clusters, params, hadronsInFission ? &spectrum : nullptr, &hadrons, rng,
          weights);
}

}  // namespace hadml
