#include "hadml/Kinematics.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "hadml/Particles.h"

namespace hadml {

double twoBodyMomentum(double M, double m1, double m2) {
  if (!(M >= m1 + m2))
    throw HadronizationError("two-body decay closed: M = " + std::to_string(M) +
                             " < m1 + m2 = " + std::to_string(m1 + m2));
  return openTwoBodyMomentum(M, m1, m2);
}

TwoBodyDecay decayTwoBody(const LorentzVector& parent, double m1, double m2,
                          const ThreeVector& dir1) {
  const double M = parent.m();
  const double pStar = twoBodyMomentum(M, m1, m2);
  const double e1 = (M * M + m1 * m1 - m2 * m2) / (2.0 * M);
  const double e2 = M - e1;
  const ThreeVector n = dir1.unit();
  const ThreeVector beta = parent.boostVector();
  TwoBodyDecay out;
  out.p1 = LorentzVector(n * pStar, e1).boosted(beta);
  // Daughter 2 takes what is left, so the pair sums to the parent exactly up to rounding.
  out.p2 = LorentzVector(n * (-pStar), e2).boosted(beta);
  return out;
}

ThreeVector unitFromAngles(double cosTheta, double phi) {
  const double c = std::clamp(cosTheta, -1.0, 1.0);
  const double s = std::sqrt(std::max(0.0, 1.0 - c * c));
  return {s * std::cos(phi), s * std::sin(phi), c};
}

ThreeVector ModelFrame::toRest(double cosTheta, double phi) const {
  const ThreeVector l = unitFromAngles(cosTheta, phi);
  return x * l.x + y * l.y + z * l.z;
}

void ModelFrame::toAngles(const ThreeVector& dirRest, double& cosTheta, double& phi) const {
  const ThreeVector d = dirRest.unit();
  cosTheta = std::clamp(d.dot(z), -1.0, 1.0);
  phi = std::atan2(d.dot(y), d.dot(x));
}

ModelFrame modelFrame(const LorentzVector& cluster, const LorentzVector& constituent) {
  ModelFrame f;
  const ThreeVector beta = cluster.boostVector();
  f.z = constituent.boosted(-beta).vect().unit();
  const ThreeVector ref = std::abs(f.z.z) > 0.99 ? ThreeVector{1.0, 0.0, 0.0}
                                                 : ThreeVector{0.0, 0.0, 1.0};
  f.x = (ref - f.z * ref.dot(f.z)).unit();
  f.y = f.z.cross(f.x);
  return f;
}

}  // namespace hadml
