// The event loop of one block: see EventLoop.h. The record layout and the checks are those
// hadml/generator.py documents; this file is their one C++ definition.
#include "EventLoop.h"

#include "HepMCText.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "Pythia8/Pythia.h"

namespace hadml {

namespace {

constexpr double kElectronMass = 0.000510999;  // the beams' mass in the record (GeV)

// Three times the baryon number from a PDG code (hadml.event.baryon_number3).
int baryon3(int pid) {
  const int a = pid < 0 ? -pid : pid;
  const bool isBaryon = (a / 1000) % 10 != 0 && a < 10'000'000 && a > 1000;
  return isBaryon ? (pid > 0 ? 3 : -3) : 0;
}

// The mass of a four-vector as hadml's Python layer computes it (numpy: E^2 - (px^2 + py^2
// + pz^2), clipped at 0): the cluster rows of the record and the cluster table.
double recordMass(const double* p) {
  const double m2 = p[3] * p[3] - (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
  return std::sqrt(m2 > 0.0 ? m2 : 0.0);
}

std::unique_ptr<Pythia8::Pythia> makePythia(const std::string& xmlDir,
                                            const std::vector<std::string>& settings,
                                            const char* what) {
  auto pythia = std::make_unique<Pythia8::Pythia>(xmlDir, false);
  for (const auto& s : settings)
    if (!pythia->readString(s))
      throw std::invalid_argument(std::string("Pythia (") + what + ") rejected the setting '" +
                                  s + "'");
  if (!pythia->init())
    throw std::runtime_error(std::string("Pythia (") + what + ") initialisation failed");
  return pythia;
}

void push4(std::vector<double>& v, double px, double py, double pz, double e) {
  v.push_back(px); v.push_back(py); v.push_back(pz); v.push_back(e);
}
void push4(std::vector<double>& v, const LorentzVector& p) { push4(v, p.px, p.py, p.pz, p.e); }

std::string formatDifference(const double d[4]) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "[%.17g, %.17g, %.17g, %.17g]", d[0], d[1], d[2], d[3]);
  return buf;
}

}  // namespace

std::string failureReason(const std::string& message) {
  return message.substr(0, std::min<std::size_t>(message.find(':'), 120));
}

// The perturbative stage's output for one event (hadml.pythia_stage.PartonEvent).
struct EventLoop::PartonLevel {
  ShowerEvent shower;           // final partons (mass = invariant mass) and colour octets
  double beams[2][4] = {};      // incoming e-, e+ (before any ISR)
  std::vector<int> otherId;     // final particles that are not partons (shower photons)
  std::vector<double> otherP, otherM;
  double start[4] = {};         // sum of the final partons' and photons' momenta
};

EventLoop::EventLoop(const EventLoopSettings& settings, const ClusterParams& params,
                     HadronTable table, std::shared_ptr<ClusterDecayer> decayer)
    : settings_(settings),
      partons_(makePythia(settings.xmlDir, settings.partonSettings, "perturbative stage")),
      decays_(settings.decayHadrons
                  ? makePythia(settings.xmlDir, settings.decaySettings, "hadron decays")
                  : nullptr),
      hz_(params, std::move(table), std::move(decayer)) {}

EventLoop::~EventLoop() = default;

int EventLoop::charge3(int pid) const {
  // Charges from the particle data of the Pythia that decays (or makes) the particles, as
  // hadml.pythia_stage.ChargeTable.
  Pythia8::Pythia& source = decays_ ? *decays_ : *partons_;
  return source.particleData.chargeType(pid);
}

void EventLoop::nextPartons(PartonLevel& out) {
  bool ok = false;
  for (int i = 0; i < 10 && !ok; ++i) ok = partons_->next();
  if (!ok)
    throw std::runtime_error("Pythia failed to generate a parton-level event 10 times in a row");
  const Pythia8::Event& event = partons_->event;
  out.shower.partons.clear();
  out.shower.octets.clear();
  out.otherId.clear();
  out.otherP.clear();
  out.otherM.clear();
  // Sums in the order numpy's row-wise reduction takes (partons, then photons, added).
  double partonSum[4] = {0, 0, 0, 0}, otherSum[4] = {0, 0, 0, 0};
  for (int i = 0; i < event.size(); ++i) {
    const Pythia8::Particle& part = event[i];
    if (part.isGluon()) out.shower.octets.push_back({part.col(), part.acol()});
    if (!part.isFinal()) continue;
    const double p[4] = {part.px(), part.py(), part.pz(), part.e()};
    if (part.isParton()) {
      Parton q;
      q.id = part.id();
      q.col = part.col();
      q.acol = part.acol();
      q.p = {p[0], p[1], p[2], p[3]};
      q.mass = q.p.m();
      out.shower.partons.push_back(q);
      for (int k = 0; k < 4; ++k) partonSum[k] += p[k];
    } else {
      // Photons of the QED shower (and of ISR when on) and any leptons: in the final
      // state, not in the cluster stage.
      out.otherId.push_back(part.id());
      push4(out.otherP, p[0], p[1], p[2], p[3]);
      out.otherM.push_back(part.m());
      for (int k = 0; k < 4; ++k) otherSum[k] += p[k];
    }
  }
  for (int b = 0; b < 2; ++b) {
    const Pythia8::Particle& beam = event[b + 1];
    const double p[4] = {beam.px(), beam.py(), beam.pz(), beam.e()};
    std::copy(p, p + 4, out.beams[b]);
  }
  for (int k = 0; k < 4; ++k) out.start[k] = partonSum[k] + otherSum[k];
}

void EventLoop::setVariations(
    const std::vector<std::pair<std::string, std::map<std::string, double>>>& variations) {
  hz_.setVariations(variations);
  weightNames_.clear();
  if (variations.empty()) return;
  weightNames_.push_back("nominal");
  for (const auto& v : variations) weightNames_.push_back(v.first);
}

void EventLoop::runBlock(int block, const BlockSeeds& seeds, int nEvents,
                         std::int64_t firstNumber, bool keepEvents, bool keepClusters,
                         bool writeHepMC, BlockOutput& out) {
  partons_->rndm.init(seeds.pythiaPartons);
  if (decays_) decays_->rndm.init(seeds.pythiaDecays);
  rng_.seed(seeds.clusterStage);
  decayRng_.seed(seeds.clusterDecays);
  out = BlockOutput();

  // First pass over the block, then new events for the failed ones (same order of random
  // numbers as hadml 0.1's Python loop: all partons of a pass, then one cluster-stage call).
  std::vector<PartonLevel> good;
  std::vector<HadronizedEvent> goodRes;
  good.reserve(nEvents);
  goodRes.reserve(nEvents);
  long attempts = 0;
  std::vector<PartonLevel> batch;
  std::vector<ShowerEvent> showers;
  while (static_cast<int>(good.size()) < nEvents) {
    const int need = nEvents - static_cast<int>(good.size());
    attempts += need;
    if (attempts > static_cast<long>(settings_.maxAttemptsPerEvent) * nEvents) {
      std::ostringstream msg;
      msg << "block " << block << " (seed " << seeds.runSeed << "): more than "
          << settings_.maxAttemptsPerEvent << " attempts per event; failures so far: {";
      bool first = true;
      for (const auto& [reason, count] : out.failures) {
        msg << (first ? "" : ", ") << "'" << reason << "': " << count;
        first = false;
      }
      msg << "}";
      throw std::runtime_error(msg.str());
    }
    batch.assign(need, PartonLevel());
    showers.clear();
    for (auto& pe : batch) {
      nextPartons(pe);
      showers.push_back(pe.shower);
    }
    std::vector<HadronizedEvent> results = hz_.hadronize(showers, rng_, decayRng_);
    for (std::size_t k = 0; k < batch.size(); ++k) {
      HadronizedEvent& res = results[k];
      const std::int64_t number = firstNumber + static_cast<std::int64_t>(good.size());
      out.stageRetries += std::max(res.stageTries - 1, 0);
      if (res.conservationViolated)
        throw ConservationViolation("event " + std::to_string(number) + " (seed " +
                                    std::to_string(seeds.runSeed) + ", block " +
                                    std::to_string(block) + "): " + res.error);
      if (!res.ok()) {
        ++out.failures[failureReason(res.error)];
        continue;
      }
      good.push_back(std::move(batch[k]));
      goodRes.push_back(std::move(res));
    }
  }

  const std::size_t nVar = weightNames_.empty() ? 0 : weightNames_.size() - 1;
  out.nVariations = nVar;
  if (nVar) {
    out.weights.reserve(nVar * static_cast<std::size_t>(nEvents));
    for (const HadronizedEvent& res : goodRes) {
      if (res.weights.size() != nVar)
        throw std::logic_error("the cluster stage returned " +
                               std::to_string(res.weights.size()) + " variation weights, not " +
                               std::to_string(nVar));
      out.weights.insert(out.weights.end(), res.weights.begin(), res.weights.end());
    }
  }
  // The weights of the events from `first` on (HepMC3 text of a group of events).
  auto weightsFrom = [&](std::size_t first) {
    return nVar ? out.weights.data() + first * nVar : nullptr;
  };

  out.nCharged.resize(nEvents);
  out.stageDeviation.resize(nEvents);
  out.pythiaDeviation.resize(nEvents);
  // Without keepEvents the records pass through `scratch`, a few events at a time (HepMC3
  // text is written per group of events).
  constexpr std::size_t kScratchEvents = 64;
  EventRecords scratch;
  std::size_t scratchFirst = 0;  // the block index of scratch's first event
  for (int k = 0; k < nEvents; ++k) {
    const std::int64_t number = firstNumber + k;
    EventRecords& rec = keepEvents ? out.events : scratch;
    if (!keepEvents && scratch.number.size() == kScratchEvents) {
      if (writeHepMC)
        appendHepMC(scratch, 0, scratch.number.size(), out.hepmc, weightNames_,
                    weightsFrom(scratchFirst));
      scratch = EventRecords();
      scratchFirst = static_cast<std::size_t>(k);
    }
    const std::size_t row0 = rec.rows();
    assemble(number, good[k], goodRes[k], rec);
    const std::size_t row1 = rec.rows();
    const std::string where = "event " + std::to_string(number) + " (seed " +
                              std::to_string(seeds.runSeed) + ", block " +
                              std::to_string(block) + ")";
    double beams[4];
    for (int c = 0; c < 4; ++c) beams[c] = good[k].beams[0][c] + good[k].beams[1][c];
    const auto dev = check(rec, row0, row1, good[k].start, beams, where);
    out.stageDeviation[k] = dev.first;
    out.pythiaDeviation[k] = dev.second;
    std::int64_t charged = 0;
    for (std::size_t r = row0; r < row1; ++r)
      if (rec.status[r] == kStatusFinal && charge3(rec.pid[r]) != 0) ++charged;
    out.nCharged[k] = charged;
  }
  if (writeHepMC) {
    const EventRecords& rec = keepEvents ? out.events : scratch;
    appendHepMC(rec, 0, rec.number.size(), out.hepmc, weightNames_,
                weightsFrom(keepEvents ? 0 : scratchFirst));
  }

  if (keepClusters) {
    ClusterRows& t = out.clusters;
    for (int k = 0; k < nEvents; ++k) {
      const HadronizedEvent& res = goodRes[k];
      for (std::size_t i = 0; i < res.clusters.size(); ++i) {
        const Cluster& c = res.clusters[i];
        if (c.fate != ClusterFate::Decayed) continue;
        const Hadron& h1 = res.hadrons[c.children[0]];
        const Hadron& h2 = res.hadrons[c.children[1]];
        t.event.push_back(firstNumber + k);
        t.cluster.push_back(static_cast<int>(i));
        t.c1Id.push_back(c.constituents[0].id);
        t.c2Id.push_back(c.constituents[1].id);
        push4(t.c1P, c.constituents[0].p);
        push4(t.c2P, c.constituents[1].p);
        t.c1Pert.push_back(c.constituents[0].perturbative);
        t.c2Pert.push_back(c.constituents[1].perturbative);
        push4(t.p, c.p);
        t.mass.push_back(recordMass(t.p.data() + t.p.size() - 4));
        t.h1Id.push_back(h1.id);
        t.h2Id.push_back(h2.id);
        push4(t.h1P, h1.p);
        push4(t.h2P, h2.p);
        t.weights.insert(t.weights.end(), res.weights.begin(), res.weights.end());
      }
    }
  }
}

// Full history: beams -> partons -> (split gluons ->) clusters -> hadrons -> decays.
// Partons are ordered cluster by cluster so that the constituents of a primary cluster are
// adjacent (a HEPEVT parent range); fissioned clusters come before the final ones (a parent
// row is above its children), and the two clusters of a light-cluster exchange are adjacent,
// so that the pair is the parent range of the vertex {light cluster, partner} -> {hadron,
// moved partner (an extra cluster row) or hadron}.
void EventLoop::assemble(std::int64_t number, const PartonLevel& pe, const HadronizedEvent& res,
                         EventRecords& rec) {
  const auto& P = res.partons;
  const auto& C = res.clusters;
  const auto& H = res.hadrons;
  const int nP = static_cast<int>(P.size()), nCl = static_cast<int>(C.size());
  const int nH = static_cast<int>(H.size());
  const int nOther = static_cast<int>(pe.otherId.size());
  const std::string event = "event " + std::to_string(number);

  std::vector<int> order;
  order.reserve(nP);
  for (int i = 0; i < nP; ++i)
    if (P[i].split) order.push_back(i);
  for (const Cluster& c : C) {
    if (c.parent >= 0) continue;
    for (int q : {c.constituents[0].parton, c.constituents[0].parton2, c.constituents[1].parton,
                  c.constituents[1].parton2})
      if (q >= 0) order.push_back(q);
  }
  std::vector<int> partonPos(nP, -1);
  bool oneToOne = static_cast<int>(order.size()) == nP;
  for (int k = 0; oneToOne && k < nP; ++k) {
    if (order[k] >= nP || partonPos[order[k]] >= 0) oneToOne = false;
    else partonPos[order[k]] = 2 + k;
  }
  if (!oneToOne)
    throw std::runtime_error(event + ": partons and cluster constituents do not match one "
                                     "to one");
  const int firstOther = 2 + nP;
  const int firstCluster = firstOther + nOther;

  std::vector<int> clOrder(nCl);
  std::iota(clOrder.begin(), clOrder.end(), 0);
  auto pairKey = [&](int i) { return C[i].exchangePartner >= 0 ? std::min(i, C[i].exchangePartner) : i; };
  std::stable_sort(clOrder.begin(), clOrder.end(), [&](int a, int b) {
    const bool fa = C[a].fate != ClusterFate::Fissioned, fb = C[b].fate != ClusterFate::Fissioned;
    if (fa != fb) return fb;  // fissioned (false) first
    return pairKey(a) < pairKey(b);  // ties: index order (stable)
  });
  std::vector<int> clusterPos(nCl);
  for (int k = 0; k < nCl; ++k) clusterPos[clOrder[k]] = firstCluster + k;
  std::vector<int> moved, movedPos(nCl, -1);
  for (int i = 0; i < nCl; ++i)
    if (C[i].exchangePartner >= 0 && C[i].fate == ClusterFate::Decayed) {
      movedPos[i] = firstCluster + nCl + static_cast<int>(moved.size());
      moved.push_back(i);
    }
  const int nMoved = static_cast<int>(moved.size());
  const int firstHadron = firstCluster + nCl + nMoved;
  const int nRows = firstHadron + nH;

  // Parent ranges (rows of this event).
  std::vector<std::array<int, 2>> par(nRows, {-1, -1});
  for (int k = 0; k < nP; ++k) {
    const int src = P[order[k]].source;
    par[2 + k] = src < 0 ? std::array<int, 2>{0, 1}
                         : std::array<int, 2>{partonPos[src], partonPos[src]};
  }
  for (int r = firstOther; r < firstCluster; ++r) par[r] = {0, 1};
  for (int i = 0; i < nCl; ++i) {
    const Cluster& c = C[i];
    if (c.parent < 0) {
      const int c1 = partonPos[c.constituents[0].parton];
      const int nParents = 2 + (c.constituents[0].parton2 >= 0) + (c.constituents[1].parton2 >= 0);
      par[clusterPos[i]] = {c1, c1 + nParents - 1};
    } else {
      par[clusterPos[i]] = {clusterPos[c.parent], clusterPos[c.parent]};
    }
  }
  // Products of each cluster: its own row, the exchange pair, or the moved-partner row.
  std::vector<std::array<int, 2>> productParent(nCl);
  for (int i = 0; i < nCl; ++i) {
    productParent[i] = {clusterPos[i], clusterPos[i]};
    if (C[i].exchangePartner >= 0) {
      const int lo = std::min(clusterPos[i], clusterPos[C[i].exchangePartner]);
      productParent[i] = {lo, lo + 1};
    }
  }
  for (int i : moved) {
    par[movedPos[i]] = productParent[i];
    productParent[i] = {movedPos[i], movedPos[i]};
  }
  for (int h = 0; h < nH; ++h) par[firstHadron + h] = productParent[H[h].cluster];

  // Rows.
  const std::size_t base = rec.rows();
  rec.number.push_back(number);
  auto row = [&](int pid, int status, double px, double py, double pz, double e, double m) {
    rec.pid.push_back(pid);
    rec.status.push_back(status);
    push4(rec.p, px, py, pz, e);
    rec.m.push_back(m);
  };
  for (int b = 0; b < 2; ++b)
    row(b == 0 ? 11 : -11, kStatusBeam, pe.beams[b][0], pe.beams[b][1], pe.beams[b][2],
        pe.beams[b][3], kElectronMass);
  for (int k = 0; k < nP; ++k) {
    const Parton& q = P[order[k]];
    row(q.id, q.split ? kStatusSplitGluon : kStatusParton, q.p.px, q.p.py, q.p.pz, q.p.e, q.mass);
  }
  for (int k = 0; k < nOther; ++k) {
    const double* p = &pe.otherP[4 * k];
    row(pe.otherId[k], kStatusFinal, p[0], p[1], p[2], p[3], pe.otherM[k]);
  }
  auto clusterRow = [&](const LorentzVector& v) {
    const double p[4] = {v.px, v.py, v.pz, v.e};
    row(kClusterPid, kStatusCluster, p[0], p[1], p[2], p[3], recordMass(p));
  };
  for (int i : clOrder)
    clusterRow(C[i].exchangePartner >= 0 ? C[i].pBeforeExchange : C[i].p);
  for (int i : moved) clusterRow(C[i].p);
  for (const Hadron& h : H) row(h.id, kStatusFinal, h.p.px, h.p.py, h.p.pz, h.p.e, h.mass);
  for (const auto& pr : par) {
    rec.parents.push_back(pr[0] < 0 ? -1 : pr[0]);
    rec.parents.push_back(pr[1] < 0 ? -1 : pr[1]);
  }

  // Pythia decays the primary hadrons: they enter a hand-filled record (status 81) behind
  // the system line that reset() leaves in entry 0; the decay products follow them.
  if (decays_ && nH) {
    Pythia8::Event& dec = decays_->event;
    dec.reset();
    for (const Hadron& h : H) dec.append(h.id, 81, 0, 0, h.p.px, h.p.py, h.p.pz, h.p.e, h.mass);
    if (!decays_->next()) throw std::runtime_error("Pythia failed to decay the primary hadrons");
    if (dec.size() < nH + 1)
      throw std::runtime_error(event + ": Pythia reordered the primary hadrons");
    for (int h = 0; h < nH; ++h) {
      if (dec[h + 1].id() != H[h].id)
        throw std::runtime_error(event + ": Pythia reordered the primary hadrons");
      rec.status[base + firstHadron + h] = dec[h + 1].isFinal() ? kStatusFinal : kStatusDecayed;
    }
    for (int k = nH + 1; k < dec.size(); ++k) {
      const Pythia8::Particle& part = dec[k];
      row(part.id(), part.isFinal() ? kStatusFinal : kStatusDecayed, part.px(), part.py(),
          part.pz(), part.e(), part.m());
      const int mother = part.mother1() - 1 + firstHadron;
      rec.parents.push_back(mother);
      rec.parents.push_back(mother);
    }
  }
  rec.offsets.push_back(static_cast<std::int64_t>(rec.rows()));
}

std::pair<double, double> EventLoop::check(const EventRecords& rec, std::size_t row0,
                                           std::size_t row1, const double start[4],
                                           const double beams[4],
                                           const std::string& where) const {
  double total[4] = {0, 0, 0, 0};
  int charge = 0, baryon = 0;
  for (std::size_t r = row0; r < row1; ++r) {
    if (rec.status[r] != kStatusFinal) continue;
    for (int c = 0; c < 4; ++c) total[c] += rec.p[4 * r + c];
    charge += charge3(rec.pid[r]);
    baryon += baryon3(rec.pid[r]);
  }
  const double scale = beams[3];
  double deviations[2];
  struct Stage {
    const char* name;
    const double* got;
    const double* expected;
    double tol;
  };
  const Stage stages[2] = {
      {"hadml's cluster stage and hadron decays (final state - partons and photons)", total,
       start, settings_.stageTolerance},
      {"Pythia's perturbative stage (partons and photons - beams)", start, beams,
       settings_.pythiaTolerance}};
  for (int s = 0; s < 2; ++s) {
    double diff[4], deviation = 0.0;
    for (int c = 0; c < 4; ++c) {
      diff[c] = stages[s].got[c] - stages[s].expected[c];
      deviation += std::fabs(diff[c]);
    }
    deviations[s] = deviation;
    if (!(deviation <= stages[s].tol * scale)) {
      char buf[200];
      std::snprintf(buf, sizeof buf, " GeV, |dE|+|dp| = %.3g GeV > %g x sqrt(s) = %.3g GeV",
                    deviation, stages[s].tol, stages[s].tol * scale);
      throw ConservationViolation(where + ": 4-momentum not conserved by " + stages[s].name +
                                  ": difference " + formatDifference(diff) + buf);
    }
  }
  if (charge != 0)
    throw ConservationViolation(where + ": final-state charge is " + std::to_string(charge) +
                                "/3, not 0");
  if (baryon != 0)
    throw ConservationViolation(where + ": final-state baryon number is " +
                                std::to_string(baryon) + "/3, not 0");
  return {deviations[0], deviations[1]};
}

}  // namespace hadml
