// Step 1: reshuffle the partons onto their constituent mass shells.
// Herwig 7.3: ClusterHadronizationHandler::handle (global reshuffling, ReshuffleMode 0)
// calls Herwig::Reshuffler::reshuffle, which in the c.m. frame of the parton system scales
// all 3-momenta by one factor xi with sum_i sqrt(m_i^2 + xi^2 |p_i|^2) = Q. Herwig solves
// with a GSL bisection to 1e-10; we solve to full double precision (safeguarded Newton).
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "hadml/ClusterSteps.h"

namespace hadml {

namespace {

// f(xi) = sum_i sqrt(m_i^2 + xi^2 p2_i) - Q and f'(xi); f is increasing and convex in xi.
struct ReshuffleEquation {
  const std::vector<double>& m2;
  const std::vector<double>& p2;
  double Q;
  void eval(double xi, double& f, double& df) const {
    f = -Q;
    df = 0.0;
    for (std::size_t i = 0; i < m2.size(); ++i) {
      const double e = std::sqrt(m2[i] + xi * xi * p2[i]);
      f += e;
      if (e > 0.0) df += xi * p2[i] / e;
    }
  }
};

double solveXi(const ReshuffleEquation& eq) {
  double f = 0.0, df = 0.0;
  double lo = 0.0, hi = 1.0;
  eq.eval(hi, f, df);
  for (int k = 0; f < 0.0; ++k) {
    if (k > 200) throw HadronizationError("reshuffle: cannot bracket the scale factor xi");
    lo = hi;
    hi *= 2.0;
    eq.eval(hi, f, df);
  }
  // Newton from the upper end: for a convex increasing f it approaches the root from above
  // monotonically; bisection takes over if a step leaves the bracket.
  double xi = hi;
  for (int it = 0; it < 200; ++it) {
    eq.eval(xi, f, df);
    if (f == 0.0) return xi;
    if (f > 0.0) hi = xi; else lo = xi;
    double next = df > 0.0 ? xi - f / df : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (next == xi || hi - lo <= 4.0 * std::numeric_limits<double>::epsilon() * hi) {
      return next;
    }
    xi = next;
  }
  return xi;
}

}  // namespace

void reshuffleToConstituentMasses(std::vector<Parton>& partons, const ClusterParams& params) {
  if (partons.empty()) return;
  LorentzVector total;
  double sumMass = 0.0;
  std::vector<double> masses(partons.size());
  for (std::size_t i = 0; i < partons.size(); ++i) {
    total += partons[i].p;
    masses[i] = params.constituentMass(partons[i].id);
    sumMass += masses[i];
  }
  const double Q = total.m();
  if (!(Q > sumMass)) {
    std::ostringstream msg;
    msg << "reshuffle: parton system mass Q = " << Q
        << " GeV is below the sum of constituent masses " << sumMass << " GeV";
    throw HadronizationError(msg.str());
  }
  const ThreeVector beta = total.boostVector();
  std::vector<LorentzVector> cm(partons.size());
  std::vector<double> m2(partons.size()), p2(partons.size());
  for (std::size_t i = 0; i < partons.size(); ++i) {
    cm[i] = partons[i].p.boosted(-beta);
    m2[i] = masses[i] * masses[i];
    p2[i] = cm[i].p2();
  }
  const double xi = solveXi({m2, p2, Q});
  for (std::size_t i = 0; i < partons.size(); ++i) {
    const ThreeVector v = cm[i].vect() * xi;
    const LorentzVector q(v, std::sqrt(m2[i] + v.mag2()));
    partons[i].p = q.boosted(beta);
    partons[i].mass = masses[i];
  }
}

}  // namespace hadml
