// Herwig 7 ClusterDecayer::decayIntoTwoHadrons kinematics (see ClassicClusterDecayer.h).
#include "hadml/ClassicClusterDecayer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "hadml/Kinematics.h"
#include "hadml/Particles.h"
#include "hadml/Variations.h"

namespace hadml {

namespace {

// Heaviest quark flavour in a quark or diquark code.
int heaviestFlavour(int id) {
  const int a = std::abs(id);
  if (a <= 6) return a;
  return std::max((a / 1000) % 10, (a / 100) % 10);
}

// Direction smeared around `axis`: cos(theta) = 1 + S ln r, redrawn until >= -1
// (Herwig draws again rather than clamping); phi uniform.
ThreeVector smeared(const ThreeVector& axis, double S, Random& rng) {
  if (S <= 0.001) return axis;  // Herwig skips the smearing for tiny ClSmr
  double c;
  do c = 1.0 + S * std::log(rng.flatOpen());
  while (c < -1.0);
  const double phi = 2.0 * M_PI * rng.flat();
  // Orthonormal frame around the axis.
  const ThreeVector z = axis.unit();
  const ThreeVector ref = std::abs(z.z) > 0.99 ? ThreeVector(1, 0, 0) : ThreeVector(0, 0, 1);
  const ThreeVector x = (ref - z * ref.dot(z)).unit();
  const ThreeVector y = z.cross(x);
  const double s = std::sqrt(std::max(0.0, 1.0 - c * c));
  return z * c + x * (s * std::cos(phi)) + y * (s * std::sin(phi));
}

}  // namespace

ClassicClusterDecayer::ClassicClusterDecayer(const ClusterParams& p) : params_(p) {}

void ClassicClusterDecayer::decay(const std::vector<ClusterDecayRequest>& r, Random& rng,
                                  std::vector<TwoBodyDecay>& out) {
  out.clear();
  out.reserve(r.size());
  for (const auto& x : r) out.push_back(decayOne(x, rng));
  stats_.decayed += r.size();
}

namespace {

// Which hadron (if any) remembers its constituent's direction, as in Herwig's
// ClusterDecayer::decayIntoTwoHadrons: only a perturbative constituent with ClDir = 1
// for its flavour class qualifies; a charm/bottom one has priority over a light one,
// and between equal priorities a fair coin decides.
struct DirectionRule {
  int priority[2];
  double smear[2];
};
DirectionRule directionRule(const ClusterDecayRequest& req, const ClusterParams& params) {
  DirectionRule rule{};
  for (int k = 0; k < 2; ++k) {
    const Constituent& c = req.constituents[k];
    const int f = heaviestFlavour(c.id);
    int dir = params.ClDirLight;
    rule.smear[k] = params.ClSmrLight;
    if (f == 5) { dir = params.ClDirBottom; rule.smear[k] = params.ClSmrBottom; }
    else if (f == 4) { dir = params.ClDirCharm; rule.smear[k] = params.ClSmrCharm; }
    rule.priority[k] = (!c.perturbative || dir == 0) ? 0 : (f >= 4 ? 2 : 1);
  }
  return rule;
}

// Density per solid angle of a direction at 1 - cos = t from the axis when cos = 1 + S ln r
// is redrawn until >= -1: t is exponential of mean S truncated to [0, 2], phi flat.
double smearedDensity(double t, double S) {
  if (S <= 0.001) return std::numeric_limits<double>::infinity();  // no smearing: a delta
  t = std::clamp(t, 0.0, 2.0);  // rounding of cos at the ends
  return std::exp(-t / S) / (S * -std::expm1(-2.0 / S)) / (2.0 * M_PI);
}

}  // namespace

TwoBodyDecay ClassicClusterDecayer::decayOne(const ClusterDecayRequest& req, Random& rng) const {
  const DirectionRule rule = directionRule(req, params_);
  const int p1 = rule.priority[0];
  int p2 = rule.priority[1];
  if (p2 != 0 && p1 == p2 && rng.flat() < 0.5) p2 = 0;
  const ThreeVector b = -req.p.boostVector();
  ThreeVector dir;
  if (p1 != 0 || p2 != 0) {
    const bool second = !(p1 > p2);
    const Constituent& c = req.constituents[second ? 1 : 0];
    // Hadron 2 following constituent 2 means hadron 1 flies opposite to it.
    dir = smeared(c.p.boosted(b).vect().unit(), rule.smear[second ? 1 : 0], rng);
    if (second) dir = -dir;
  } else {
    const double c = 2.0 * rng.flat() - 1.0;
    const double phi = 2.0 * M_PI * rng.flat();
    dir = unitFromAngles(c, phi);
  }
  return decayTwoBody(req.p, req.m1, req.m2, dir);
}

double classicDirectionDensity(const ClusterDecayRequest& req, const ThreeVector& dir,
                               const ClusterParams& params) {
  const DirectionRule rule = directionRule(req, params);
  const int p1 = rule.priority[0], p2 = rule.priority[1];
  if (p1 == 0 && p2 == 0) return 1.0 / (4.0 * M_PI);
  const ThreeVector b = -req.p.boostVector();
  // Smeared around constituent k's direction (hadron 1 opposite to constituent 2's).
  auto around = [&](int k) {
    const ThreeVector axis = req.constituents[k].p.boosted(b).vect().unit();
    const double c = k == 0 ? dir.dot(axis) : -dir.dot(axis);
    return smearedDensity(1.0 - c, rule.smear[k]);
  };
  if (p1 == p2) return 0.5 * (around(0) + around(1));  // the fair coin
  return around(p1 > p2 ? 0 : 1);
}

}  // namespace hadml
