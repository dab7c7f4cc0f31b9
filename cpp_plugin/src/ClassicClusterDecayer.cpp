// Herwig 7 ClusterDecayer::decayIntoTwoHadrons kinematics (see ClassicClusterDecayer.h).
#include "hadml/ClassicClusterDecayer.h"

#include <cmath>
#include <cstdlib>

#include "hadml/Kinematics.h"
#include "hadml/Particles.h"

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

TwoBodyDecay ClassicClusterDecayer::decayOne(const ClusterDecayRequest& req, Random& rng) const {
  // Which hadron (if any) remembers its constituent's direction, as in Herwig's
  // ClusterDecayer::decayIntoTwoHadrons: only a perturbative constituent with ClDir = 1
  // for its flavour class qualifies; a charm/bottom one has priority over a light one,
  // and between equal priorities a fair coin decides.
  auto priorityOf = [&](const Constituent& c, double& smr) {
    const int f = heaviestFlavour(c.id);
    int dir = params_.ClDirLight;
    smr = params_.ClSmrLight;
    if (f == 5) { dir = params_.ClDirBottom; smr = params_.ClSmrBottom; }
    else if (f == 4) { dir = params_.ClDirCharm; smr = params_.ClSmrCharm; }
    if (!c.perturbative || dir == 0) return 0;
    return f >= 4 ? 2 : 1;
  };
  double s1 = 0.0, s2 = 0.0;
  const int p1 = priorityOf(req.constituents[0], s1);
  int p2 = priorityOf(req.constituents[1], s2);
  if (p2 != 0 && p1 == p2 && rng.flat() < 0.5) p2 = 0;
  const ThreeVector b = -req.p.boostVector();
  ThreeVector dir;
  if (p1 != 0 || p2 != 0) {
    const bool second = !(p1 > p2);
    const Constituent& c = req.constituents[second ? 1 : 0];
    // Hadron 2 following constituent 2 means hadron 1 flies opposite to it.
    dir = smeared(c.p.boosted(b).vect().unit(), second ? s2 : s1, rng);
    if (second) dir = -dir;
  } else {
    const double c = 2.0 * rng.flat() - 1.0;
    const double phi = 2.0 * M_PI * rng.flat();
    dir = unitFromAngles(c, phi);
  }
  return decayTwoBody(req.p, req.m1, req.m2, dir);
}

}  // namespace hadml
