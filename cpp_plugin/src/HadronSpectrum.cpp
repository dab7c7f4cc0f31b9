// Herwig 7's "Hwpp" species selection (HadronSelector / HwppSelector::chooseHadronPair):
// a cluster (T, A) pops a pair (a, -a); hadron 1 = (T, a), hadron 2 = (-a, A). Each open
// channel has weight Pwt(a) * w(H1) * w(H2) * p*(M; m1, m2), with
// w(H) = (2J+1) x flavour-mixing probability x baryon factor (HwppSelector::baryonWeight:
// SngWt^2 for Lambda-like, DecWt^2 for decuplets, x 1.5 for a qqq decuplet, which enters
// Herwig's table only once instead of once per quark-diquark split).
// The baryon branch (a = diquark) is taken with probability PwtDIquark / (1 + PwtDIquark)
// when it is open (DESIGN.md section 3, item 7).
#include "hadml/HadronSpectrum.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>

#include "hadml/Kinematics.h"
#include "hadml/Particles.h"
#include "hadml/Variations.h"

namespace hadml {

namespace {

constexpr int kMaxQuark = 5;

std::string pairName(int a, int b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }

std::uint64_t nextSpectrumSerial() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

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

namespace {

// Valid hadron code with quark digits u..b and a spin digit (no K0_S/K0_L-like codes).
bool ordinaryHadron(const PdgDigits& d) {
  if (d.nJ == 0 || d.nq2 == 0 || d.nq3 == 0) return false;
  return std::max({d.nq1, d.nq2, d.nq3}) <= kMaxQuark;
}

}  // namespace

bool HadronSpectrum::herwigCandidate(int id) {
  const int a = std::abs(id);
  const PdgDigits d = pdgDigits(a);
  if (!ordinaryHadron(d) || a == 130 || a == 310) return false;
  // HadronSelector:Forbidden in Herwig 7.3's Decays.in: sigma (f0(500)), kappa.
  if (a == 9000221 || a == 9000311 || a == 9000321) return false;
  if (d.nq1 == 0) return true;  // every other meson: radial/orbital excitations included
  // Baryons: Herwig's only excited baryons are all in the Forbidden list, so the
  // selector sees the ground-state multiplets: J = 1/2 and the symmetric J = 3/2 codes
  // (digits q1 >= q2 >= q3; 4124 Lambda_c(2625) is an excited state), and no triply heavy
  // baryon (Herwig defines none).
  if (a >= 10000 || (d.nJ != 2 && d.nJ != 4)) return false;
  if (d.nJ == 4 && !(d.nq1 >= d.nq2 && d.nq2 >= d.nq3)) return false;
  return (d.nq1 >= 4) + (d.nq2 >= 4) + (d.nq3 >= 4) < 3;
}

bool HadronSpectrum::lowestMultipletCandidate(int id) {
  const int a = std::abs(id);
  const PdgDigits d = pdgDigits(a);
  if (!ordinaryHadron(d) || a == 130 || a == 310 || a >= 30000) return false;
  return d.nq1 == 0 || a < 10000;
}

bool HadronSpectrum::selects(int id) const {
  return herwigTable_ ? herwigCandidate(id) : lowestMultipletCandidate(id);
}

// HwppSelector::baryonWeight (squared weights) or its linear form (SelectorWeights = 0).
double HadronSpectrum::baryonWeight(const PdgDigits& d) const {
  if (d.nJ == 4) {
    if (!squaredWeights_) return decWt_;
    // HadronSelector::insertThreeHalf: a qqq decuplet (Delta++, Delta-, Omega-) gets 1.5.
    const double qqq = (d.nq1 == d.nq2 && d.nq2 == d.nq3) ? 1.5 : 1.0;
    return decWt_ * decWt_ * qqq;
  }
  if (d.nJ == 2 && d.nq2 < d.nq3) return squaredWeights_ ? sngWt_ * sngWt_ : sngWt_;
  return 1.0;
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
      if (d.nq1 != 0 || d.nq2 == 0 || d.nq3 == 0 || !selects(h.id)) continue;  // mesons only
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
    if (d.nq1 == 0 || !selects(h.id)) continue;
    int have[3] = {d.nq1, d.nq2, d.nq3};
    std::sort(have, have + 3);
    if (!std::equal(have, have + 3, want)) continue;
    out.emplace_back(sign * h.id, h.spinMultiplicity * baryonWeight(d));
  }
  return out;
}

// Probability that a flavour-diagonal meson (nq2 == nq3) holds the q qbar component
// (HadronSelector::insertMeson / mixingStateWeight). I = 1 members (pi0, rho0, a0(980)0,
// ...): u ubar or d dbar, 1/2 each. I = 0 members of a nonet mix octet and singlet with
// angle theta: each of u ubar and d dbar has probability w, s sbar 1 - 2w, where
// w = cos^2(theta + atan sqrt2) / 2 for the mostly-s sbar member and sin^2(...) / 2 for
// its partner (the ideal angle atan(1/sqrt2) gives pure s sbar and (u ubar + d dbar)).
// Angles are Herwig 7.3's: EtaMixAngle, PhiMixAngle, 26 degrees for f2/f'2, 28 for the
// 3D3 pair, ideal otherwise; an I = 0 meson outside these pairs (e.g. f0(980)) gets 1/3
// per flavour. Heavy quarkonia are pure. HadronTable = 0 keeps hadml's earlier mixing:
// only eta-eta' and phi-omega mixed, every other nonet ideally mixed.
double HadronSpectrum::mixing(int id, int q) const {
  const PdgDigits d = pdgDigits(id);
  const int f = d.nq2;
  if (f >= 4) return q == f ? 1.0 : 0.0;
  if (q >= 4) return 0.0;
  if (f == 1) return q == 3 ? 0.0 : 0.5;
  const double ideal = std::atan(std::sqrt(0.5));
  struct Member { int id; double angle; bool mostlyStrange; };
  const Member members[] = {
      {221, etaMix_, true},   {331, etaMix_, false},   {333, phiMix_, true},
      {223, phiMix_, false},  {10333, ideal, true},    {10223, ideal, false},
      {10331, ideal, true},   {10221, ideal, false},   {20333, ideal, true},
      {20223, ideal, false},  {335, 26.0 * M_PI / 180.0, true},
      {225, 26.0 * M_PI / 180.0, false},               {10335, ideal, true},
      {10225, ideal, false},  {30333, ideal, true},    {30223, ideal, false},
      {337, 28.0 * M_PI / 180.0, true},                {227, 28.0 * M_PI / 180.0, false},
      {100331, ideal, true},  {100221, ideal, false},  {100333, ideal, true},
      {100223, ideal, false}};
  const int a = std::abs(id);
  if (!herwigTable_ && a != 221 && a != 331 && a != 333 && a != 223)
    return (f == 2) == (q <= 2) ? (f == 2 ? 0.5 : 1.0) : 0.0;  // hadml's earlier: ideal
  double w = 1.0 / 3.0;
  for (const Member& m : members) {
    if (m.id != a) continue;
    const double x = m.angle + std::atan(std::sqrt(2.0));
    w = 0.5 * (m.mostlyStrange ? std::cos(x) * std::cos(x) : std::sin(x) * std::sin(x));
  }
  return q <= 2 ? w : std::max(0.0, 1.0 - 2.0 * w);
}

HadronSpectrum::HadronSpectrum(HadronTable table, const ClusterParams& params)
    : table_(std::move(table)),
      sngWt_(params.SngWt),
      decWt_(params.DecWt),
      etaMix_(params.EtaMixAngle * M_PI / 180.0),
      phiMix_(params.PhiMixAngle * M_PI / 180.0),
      pBaryon_(params.PwtDIquark / (1.0 + params.PwtDIquark)),
      herwigTable_(params.HadronTable == 1),
      squaredWeights_(params.SelectorWeights == 1),
      belowAll_(params.BelowThreshold == 1),
      onShell_(params.OnShell == 1),
      massTry_(static_cast<int>(params.MassTry)),
      serial_(nextSpectrumSerial()) {
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
      fp.singles = hadronsOf(t, a);
      // By mass (then id, for a reproducible order), as Herwig's HadronTable entries.
      std::sort(fp.singles.begin(), fp.singles.end(), [&](const auto& x, const auto& y) {
        const double mx = table_.mass(x.first), my = table_.mass(y.first);
        return mx != my ? mx < my : std::abs(x.first) < std::abs(y.first);
      });
      if (!fp.singles.empty()) fp.lightest = fp.singles.front().first;
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
      if (fp.singles.empty() && fp.meson.empty() && fp.baryon.empty()) continue;
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

std::pair<int, int> HadronSpectrum::chooseHadronPair(double M, int id1, int id2, Random& rng,
                                                     WeightRecorder* weights) const {
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
  thread_local std::vector<double> cum, pstar;
  cum.resize(list.size());
  pstar.resize(list.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Channel& c = list[i];
    pstar[i] = M > c.m1 + c.m2 ? twoBodyMomentum(M, c.m1, c.m2) : 0.0;
    sum += c.weight * pstar[i];
    cum[i] = sum;
  }
  const double r = rng.flat() * sum;
  const auto it = std::upper_bound(cum.begin(), cum.end(), r);
  std::size_t i = static_cast<std::size_t>(it - cum.begin());
  if (i >= list.size()) i = list.size() - 1;
  while (i > 0 && !(M > list[i].m1 + list[i].m2)) --i;  // guards r == sum rounding
  if (weights && weights->wants(kVarySpecies)) {
    const bool both = mesonOpen && baryonOpen;
    weights->ratio(kVarySpecies, channelProbability(fp, both, baryon, i, pstar),
                   [&](const Variation& v) {
                     const HadronSpectrum& s = *v.spectrum;
                     return s.channelProbability(s.pair(id1, id2), both, baryon, i, pstar);
                   });
  }
  return {list[i].id1, list[i].id2};
}

std::vector<HadronSpectrum::PairChannel> HadronSpectrum::pairChannels(int id1, int id2) const {
  const FlavourPair& fp = pair(id1, id2);
  std::vector<PairChannel> out;
  out.reserve(fp.meson.size() + fp.baryon.size());
  for (const auto* list : {&fp.meson, &fp.baryon})
    for (const Channel& c : *list) out.push_back({c.id1, c.id2, c.m1, c.m2});
  // By threshold, then ids (a reproducible order); one entry per ordered pair.
  std::sort(out.begin(), out.end(), [](const PairChannel& a, const PairChannel& b) {
    const double ta = a.m1 + a.m2, tb = b.m1 + b.m2;
    if (ta != tb) return ta < tb;
    return a.id1 != b.id1 ? a.id1 < b.id1 : a.id2 < b.id2;
  });
  out.erase(std::unique(out.begin(), out.end(), [](const PairChannel& a, const PairChannel& b) {
              return a.id1 == b.id1 && a.id2 == b.id2;
            }), out.end());
  return out;
}

double HadronSpectrum::channelProbability(const FlavourPair& fp, bool bothOpen, bool baryon,
                                          std::size_t i, const std::vector<double>& pstar) const {
  const auto& list = baryon ? fp.baryon : fp.meson;
  double sum = 0.0;
  for (std::size_t j = 0; j < list.size(); ++j) sum += list[j].weight * pstar[j];
  const double branch = bothOpen ? (baryon ? pBaryon_ : 1.0 - pBaryon_) : 1.0;
  return sum > 0.0 ? branch * list[i].weight * pstar[i] / sum : 0.0;
}

bool HadronSpectrum::sameChannels(const HadronSpectrum& other) const {
  if (pairs_.size() != other.pairs_.size()) return false;
  for (const auto& [k, fp] : pairs_) {
    const auto it = other.pairs_.find(k);
    if (it == other.pairs_.end()) return false;
    const FlavourPair& o = it->second;
    if (fp.meson.size() != o.meson.size() || fp.baryon.size() != o.baryon.size() ||
        fp.singles.size() != o.singles.size() || fp.mesonThreshold != o.mesonThreshold ||
        fp.baryonThreshold != o.baryonThreshold)
      return false;
    for (std::size_t i = 0; i < fp.singles.size(); ++i)
      if (fp.singles[i].first != o.singles[i].first) return false;
    for (std::size_t i = 0; i < fp.meson.size(); ++i)
      if (fp.meson[i].id1 != o.meson[i].id1 || fp.meson[i].id2 != o.meson[i].id2) return false;
    for (std::size_t i = 0; i < fp.baryon.size(); ++i)
      if (fp.baryon[i].id1 != o.baryon[i].id1 || fp.baryon[i].id2 != o.baryon[i].id2)
        return false;
  }
  return true;
}

const std::vector<std::pair<int, double>>& HadronSpectrum::singleHadrons(int id1, int id2) const {
  return pair(id1, id2).singles;
}

int HadronSpectrum::chooseSingleHadron(double M, int id1, int id2, Random& rng,
                                       WeightRecorder* weights) const {
  const FlavourPair& fp = pair(id1, id2);
  const double threshold = std::min(fp.mesonThreshold, fp.baryonThreshold);
  if (M >= threshold) return 0;
  if (fp.lightest == 0)
    throw HadronizationError("HadronSpectrum: the hadron table has no hadron with flavours " +
                             pairName(id1, id2));
  if (!belowAll_) return fp.lightest;
  // HadronSelector::hadronsBelowThreshold: the hadrons lighter than the pair threshold,
  // drawn by their table weight; none (a threshold below the lightest hadron) -> lightest.
  double sum = 0.0;
  std::size_t n = 0;
  while (n < fp.singles.size() && table_.mass(fp.singles[n].first) < threshold)
    sum += fp.singles[n++].second;
  if (n <= 1) return fp.lightest;
  double r = rng.flat() * sum;
  std::size_t chosen = n - 1;  // r == sum up to rounding
  for (std::size_t i = 0; i < n; ++i) {
    if (r < fp.singles[i].second) {
      chosen = i;
      break;
    }
    r -= fp.singles[i].second;
  }
  if (weights && weights->wants(kVarySpecies)) {
    // The same n hadrons in the varied spectrum (sameChannels), other weights.
    weights->ratio(kVarySpecies, fp.singles[chosen].second / sum, [&](const Variation& v) {
      const auto& singles = v.spectrum->pair(id1, id2).singles;
      double s = 0.0;
      for (std::size_t i = 0; i < n; ++i) s += singles[i].second;
      return singles[chosen].second / s;
    });
  }
  return fp.singles[chosen].first;
}

double HadronSpectrum::generateMass(int id, Random& rng) const {
  const HadronInfo& h = table_.info(id);
  if (onShell_ || !(h.width > 0.0) || !(h.massMax > h.massMin)) return h.mass;
  // m^2 = m0^2 + m0 G tan(theta), theta uniform between the images of the range ends:
  // density in m^2 proportional to 1 / ((m^2 - m0^2)^2 + m0^2 G^2) (fixed-width
  // relativistic Breit-Wigner, ThePEG's UseRandom::rndRelBW within its mass cuts).
  const double m2 = h.mass * h.mass, mg = h.mass * h.width;
  const double lo = std::atan((h.massMin * h.massMin - m2) / mg);
  const double hi = std::atan((h.massMax * h.massMax - m2) / mg);
  const double s = m2 + mg * std::tan(lo + (hi - lo) * rng.flat());
  return std::clamp(std::sqrt(std::max(s, 0.0)), h.massMin, h.massMax);
}

std::pair<double, double> HadronSpectrum::decayMasses(double M, int id1, int id2,
                                                      Random& rng) const {
  const double n1 = table_.mass(id1), n2 = table_.mass(id2);
  if (onShell_) return {n1, n2};
  for (int k = 0; k < massTry_; ++k) {
    const double m1 = generateMass(id1, rng), m2 = generateMass(id2, rng);
    if (m1 + m2 < M) return {m1, m2};
  }
  return {n1, n2};  // Herwig falls back to the nominal masses too
}

}  // namespace hadml
