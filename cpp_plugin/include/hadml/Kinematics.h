// Exact two-body decay kinematics and the model frame shared by every cluster decayer.
// The differentiable torch version in hadml/kinematics.py must give the same numbers
// (tests/test_kinematics_torch.py holds them equal).
#pragma once

#include <algorithm>
#include <cmath>

#include "hadml/LorentzVector.h"

namespace hadml {

struct TwoBodyDecay {
  LorentzVector p1, p2;
};

// Momentum of either daughter in the parent rest frame,
// p* = sqrt[(M^2 - (m1+m2)^2)(M^2 - (m1-m2)^2)] / (2M)  (PDG kinematics review, eq. 49.17).
// Throws HadronizationError when M < m1 + m2.
double twoBodyMomentum(double M, double m1, double m2);

// The same p* without the check, for hot loops whose channels are known open
// (M >= m1 + m2); twoBodyMomentum computes it by this one definition.
inline double openTwoBodyMomentum(double M, double m1, double m2) {
  const double s = M * M;
  const double lam = (s - (m1 + m2) * (m1 + m2)) * (s - (m1 - m2) * (m1 - m2));
  return std::sqrt(std::max(lam, 0.0)) / (2.0 * M);
}

// Decays `parent` (mass M = parent.m()) into masses m1, m2 with daughter 1 flying along
// the unit vector `dir1` given in the parent rest frame (axes parallel to the lab axes).
// E1* = (M^2 + m1^2 - m2^2)/(2M); general boost back to the lab. Exact 4-momentum
// conservation up to rounding.
TwoBodyDecay decayTwoBody(const LorentzVector& parent, double m1, double m2,
                          const ThreeVector& dir1);

// Orthonormal frame in the cluster rest frame: z along the boosted constituent direction,
// x in the plane of z and a reference lab axis (lab z, or lab x when |z_z| > 0.99),
// y = z cross x. The ML decay model predicts (cos theta, phi) of hadron 1 in this frame.
struct ModelFrame {
  ThreeVector x, y, z;
  ThreeVector toRest(double cosTheta, double phi) const;  // direction in rest-frame axes
  void toAngles(const ThreeVector& dirRest, double& cosTheta, double& phi) const;
};
ModelFrame modelFrame(const LorentzVector& cluster, const LorentzVector& constituent);

// Unit vector from polar and azimuthal angle (phi via atan2 conventions, full sphere).
ThreeVector unitFromAngles(double cosTheta, double phi);

}  // namespace hadml
