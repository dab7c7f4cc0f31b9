// Herwig 7's "Hwpp" species selection (HadronSelector / HwppSelector::chooseHadronPair):
// a cluster (T, A) pops a pair (a, -a); hadron 1 = (T, a), hadron 2 = (-a, A). Each open
// channel has weight Pwt(a) * w(H1) * w(H2) * p*(M; m1, m2), with
// w(H) = (2J+1) x flavour-mixing probability x baryon factor (SngWt / DecWt).
// The baryon branch (a = diquark) is taken with probability PwtDIquark / (1 + PwtDIquark)
// when it is open (DESIGN.md section 3, item 7).
#include "hadml/HadronSpectrum.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "hadml/Kinematics.h"
#include "hadml/Particles.h"

namespace hadml {

namespace {

constexpr int kMaxQuark = 5;

std::string pairName(int a, int b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }

}  // namespace

// Canonical flavour key of a constituent: quark q -> +-q; diquark (q1 >= q2) -> +-(10 q1 + q2).
int HadronSpectrum::flavourKey(int id) {
  const int a = std::abs(id);
  const int s = id < 0 ? -1 : 1;
  if (a >= 1 && a <= kMaxQuark) return id;
  if (isDiquark(id)) {
    const int q1 = a / 1000, q2 = (a / 100) % 10;
    return s * (10 * std::max(q1, q2) + std::min(q1, q2));
  }
  throw HadronizationError("HadronSpectrum: constituent " + std::to_string(id) +
                           " is neither a quark (1-5) nor a diquark");
}

// All hadrons (signed id, weight) made of the colour triplet key t and antitriplet key a.
std::vector<std::pair<int, double>> HadronSpectrum::hadronsOf(int t, int a) const {
  std::vector<std::pair<int, double>> out;
  const bool tq = std::abs(t) < 10, aq = std::abs(a) < 10;
  if (tq && aq) {
    if (!(t > 0 && a < 0)) return out;
    const int q = t, qb = -a;  // quark q, antiquark qb
    for (const auto& h : table_.entries()) {
      const PdgDigits d = pdgDigits(h.id);
      if (d.nq1 != 0 || d.nq2 == 0 || d.nq3 == 0) continue;  // mesons only
      if (q == qb) {
        if (d.nq2 != d.nq3) continue;
        const double mix = mixing(h.id, q);
        if (mix > 0.0) out.emplace_back(h.id, mix * h.spinMultiplicity);
      } else {
        if (d.nq2 != std::max(q, qb) || d.nq3 != std::min(q, qb)) continue;
        // PDG: a positive meson holds the heavier flavour h as a quark if h is up-type (even),
        // as an antiquark if h is down-type (odd).
        const int h2 = d.nq2;
        const bool positive = (h2 % 2 == 0) ? (q == h2) : (qb == h2);
        out.emplace_back(positive ? h.id : -h.id, double(h.spinMultiplicity));
      }
    }
    return out;
  }
  // Baryons: quark + diquark (positive) or antiquark + antidiquark (negative).
  int sign = 0, q = 0, dq = 0;
  if (tq && t > 0 && a > 10) { sign = 1; q = t; dq = a; }
  else if (aq && a < 0 && t < -10) { sign = -1; q = -a; dq = -t; }
  else return out;
  int want[3] = {q, dq / 10, dq % 10};
  std::sort(want, want + 3);
  for (const auto& h : table_.entries()) {
    const PdgDigits d = pdgDigits(h.id);
    if (d.nq1 == 0) continue;
    int have[3] = {d.nq1, d.nq2, d.nq3};
    std::sort(have, have + 3);
    if (!std::equal(have, have + 3, want)) continue;
    double w = h.spinMultiplicity;
    if (d.nJ == 4) w *= decWt_;                              // decuplet
    else if (d.nJ == 2 && d.nq2 < d.nq3) w *= sngWt_;        // Lambda-type singlet
    out.emplace_back(sign * h.id, w);
  }
  return out;
}

// Probability that a flavour-diagonal meson (nq2 == nq3) holds the q qbar component.
// Octet-singlet mixing: X = cos(t) X8 - sin(t) X1, X' = sin(t) X8 + cos(t) X1 with
// X8 = (uu+dd-2ss)/sqrt6, X1 = (uu+dd+ss)/sqrt3 (PDG quark-model review, eq. 15.x);
// eta (221) / eta' (331) with EtaMixAngle, phi (333) / omega (223) with PhiMixAngle.
// Other multiplets are ideally mixed.
double HadronSpectrum::mixing(int id, int q) const {
  const PdgDigits d = pdgDigits(id);
  const int f = d.nq2;
  if (f >= 4) return q == f ? 1.0 : 0.0;
  if (q >= 4) return 0.0;
  if (f == 1) return q == 3 ? 0.0 : 0.5;  // I = 1 member (pi0, rho0, ...)
  const bool light = q <= 2;
  auto octSing = [&](double th, bool primed) {
    const double c = std::cos(th), s = std::sin(th);
    const double s6 = std::sqrt(6.0), s3 = std::sqrt(3.0);
    const double cl = primed ? s / s6 + c / s3 : c / s6 - s / s3;
    const double cs = primed ? -2.0 * s / s6 + c / s3 : -2.0 * c / s6 - s / s3;
    return light ? cl * cl : cs * cs;
  };
  const int a = std::abs(id);
  if (a == 221) return octSing(etaMix_, false);
  if (a == 331) return octSing(etaMix_, true);
  if (a == 333) return octSing(phiMix_, false);
  if (a == 223) return octSing(phiMix_, true);
  if (f == 2) return light ? 0.5 : 0.0;
  return light ? 0.0 : 1.0;  // f == 3: pure s sbar
}

HadronSpectrum::HadronSpectrum(HadronTable table, const ClusterParams& params)
    : table_(std::move(table)),
      sngWt_(params.SngWt),
      decWt_(params.DecWt),
      etaMix_(params.EtaMixAngle * M_PI / 180.0),
      phiMix_(params.PhiMixAngle * M_PI / 180.0),
      pBaryon_(params.PwtDIquark / (1.0 + params.PwtDIquark)) {
  const double pwt[4] = {0.0, params.PwtDquark, params.PwtUquark, params.PwtSquark};
  std::vector<int> trip, anti;
  for (int q = 1; q <= kMaxQuark; ++q) { trip.push_back(q); anti.push_back(-q); }
  for (int q1 = 1; q1 <= kMaxQuark; ++q1)
    for (int q2 = 1; q2 <= q1; ++q2) { trip.push_back(-(10 * q1 + q2)); anti.push_back(10 * q1 + q2); }
  // Popped antitriplets: light antiquarks (meson branch) and light diquarks (baryon branch).
  std::vector<std::pair<int, double>> popped;
  for (int q = 1; q <= 3; ++q) popped.emplace_back(-q, pwt[q]);
  for (int q1 = 1; q1 <= 3; ++q1)
    for (int q2 = 1; q2 <= q1; ++q2)
      // Herwig's HadronSelector halves the weight of a diquark of two different flavours
      // (pwt[2101] = 0.5 PwtDIquark Pwt_u Pwt_d, pwt[1103] = PwtDIquark Pwt_d^2); the common
      // PwtDIquark factor cancels inside the baryon branch.
      popped.emplace_back(10 * q1 + q2, (q1 == q2 ? 1.0 : 0.5) * pwt[q1] * pwt[q2]);
  for (int t : trip)
    for (int a : anti) {
      FlavourPair fp;
      const auto single = hadronsOf(t, a);
      double mmin = std::numeric_limits<double>::infinity();
      for (const auto& h : single)
        if (table_.mass(h.first) < mmin) { mmin = table_.mass(h.first); fp.lightest = h.first; }
      for (const auto& [x, pw] : popped) {
        const auto h1s = hadronsOf(t, x), h2s = hadronsOf(-x, a);
        const bool baryonBranch = std::abs(x) > 10;
        auto& list = baryonBranch ? fp.baryon : fp.meson;
        for (const auto& h1 : h1s)
          for (const auto& h2 : h2s) {
            Channel c{h1.first, h2.first, table_.mass(h1.first), table_.mass(h2.first),
                      pw * h1.second * h2.second};
            if (c.weight <= 0.0) continue;
            list.push_back(c);
            double& thr = baryonBranch ? fp.baryonThreshold : fp.mesonThreshold;
            thr = std::min(thr, c.m1 + c.m2);
          }
      }
      if (fp.lightest == 0 && fp.meson.empty() && fp.baryon.empty()) continue;
      pairs_.emplace(key(t, a), std::move(fp));
    }
}

const HadronSpectrum::FlavourPair& HadronSpectrum::pair(int id1, int id2) const {
  const auto it = pairs_.find(key(flavourKey(id1), flavourKey(id2)));
  if (it == pairs_.end())
    throw HadronizationError("HadronSpectrum: no hadron can be made of the cluster constituents " +
                             pairName(id1, id2) +
                             " (first must be a quark or antidiquark, second an antiquark or diquark)");
  return it->second;
}

int HadronSpectrum::lightestHadron(int id1, int id2) const {
  const FlavourPair& fp = pair(id1, id2);
  if (fp.lightest == 0)
    throw HadronizationError("HadronSpectrum: the hadron table has no hadron with flavours " +
                             pairName(id1, id2));
  return fp.lightest;
}

double HadronSpectrum::lightestPairMass(int id1, int id2) const {
  const FlavourPair& fp = pair(id1, id2);
  const double m = std::min(fp.mesonThreshold, fp.baryonThreshold);
  if (!std::isfinite(m))
    throw HadronizationError("HadronSpectrum: no hadron pair for the cluster " + pairName(id1, id2));
  return m;
}

std::pair<int, int> HadronSpectrum::chooseHadronPair(double M, int id1, int id2,
                                                     Random& rng) const {
  const FlavourPair& fp = pair(id1, id2);
  const bool mesonOpen = M > fp.mesonThreshold, baryonOpen = M > fp.baryonThreshold;
  if (!mesonOpen && !baryonOpen)
    throw HadronizationError("HadronSpectrum: cluster " + pairName(id1, id2) + " of mass " +
                             std::to_string(M) + " GeV is below every hadron pair (lightest " +
                             std::to_string(std::min(fp.mesonThreshold, fp.baryonThreshold)) +
                             " GeV); it should have been treated as a light cluster");
  bool baryon = baryonOpen;
  if (mesonOpen && baryonOpen) baryon = rng.flat() < pBaryon_;
  const auto& list = baryon ? fp.baryon : fp.meson;
  // Weights with the exact two-body momentum; closed channels get zero.
  thread_local std::vector<double> cum;
  cum.resize(list.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Channel& c = list[i];
    if (M > c.m1 + c.m2) sum += c.weight * twoBodyMomentum(M, c.m1, c.m2);
    cum[i] = sum;
  }
  const double r = rng.flat() * sum;
  const auto it = std::upper_bound(cum.begin(), cum.end(), r);
  std::size_t i = static_cast<std::size_t>(it - cum.begin());
  if (i >= list.size()) i = list.size() - 1;
  while (i > 0 && !(M > list[i].m1 + list[i].m2)) --i;  // guards r == sum rounding
  return {list[i].id1, list[i].id2};
}

}  // namespace hadml
