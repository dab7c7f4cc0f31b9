#include "MLClusterRedecayer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "Herwig/Hadronization/Cluster.h"
#include "Herwig/Hadronization/ClusterDecayer.h"
#include "ThePEG/EventRecord/ColourLine.h"
#include "ThePEG/EventRecord/Collision.h"
#include "ThePEG/EventRecord/Event.h"
#include "ThePEG/EventRecord/Particle.h"
#include "ThePEG/EventRecord/Step.h"
#include "ThePEG/Handlers/EventHandler.h"
#include "ThePEG/Interface/ClassDocumentation.h"
#include "ThePEG/Interface/Parameter.h"
#include "ThePEG/Interface/Reference.h"
#include "ThePEG/Interface/Switch.h"
#include "ThePEG/Persistency/PersistentIStream.h"
#include "ThePEG/Persistency/PersistentOStream.h"
#include "ThePEG/Repository/BaseRepository.h"
#include "ThePEG/Repository/EventGenerator.h"
#include "ThePEG/Repository/UseRandom.h"
#include "ThePEG/PDT/ParticleData.h"
#include "ThePEG/Utilities/DescribeClass.h"
#include "hadml/HadronSpectrum.h"
#include "hadml/HadronTable.h"
#include "hadml/OnnxClusterDecayer.h"
#include "hadml/Params.h"
#include "hadml/Random.h"
#include "hadml/Redecay.h"

using namespace Herwig;

namespace {

constexpr long ClusterId = 81;  // ThePEG::ParticleID::Cluster

hadml::LorentzVector toHadml(const Lorentz5Momentum& p) {
  return {p.x() / GeV, p.y() / GeV, p.z() / GeV, p.e() / GeV};
}

// A 64-bit seed from Herwig's own random stream, so the Herwig seed reproduces the ML noise.
std::uint64_t seedFromHerwig() {
  const auto hi = static_cast<std::uint64_t>(UseRandom::rnd() * 4294967296.0);
  const auto lo = static_cast<std::uint64_t>(UseRandom::rnd() * 4294967296.0);
  return (hi << 32) | lo;
}

// The object that interface `name` of `object` points to (a ThePEG Reference), or null.
IBPtr referenced(const IBPtr& object, const std::string& name) {
  if (!object) return IBPtr();
  const auto* ref = dynamic_cast<const ReferenceBase*>(BaseRepository::FindInterface(object, name));
  return ref ? ref->get(*object) : IBPtr();
}

// Herwig::ClusterDecayer keeps ClDir*/ClSmr* private and has no getters: they are read
// through its ThePEG interfaces (Switch<ClusterDecayer,bool> ClDirLight/Charm/Bottom and
// Parameter<ClusterDecayer,double> ClSmrLight/Charm/Bottom, Herwig 7.3
// src/Hadronization/ClusterDecayer.cc, Init()).
long switchValue(const IBPtr& object, const std::string& name) {
  const auto* sw = dynamic_cast<const SwitchBase*>(BaseRepository::FindInterface(object, name));
  if (!sw)
    throw Exception() << "MLClusterRedecayer: " << object->fullName() << " has no switch "
                      << name << " (not a Herwig 7 ClusterDecayer?)" << Exception::runerror;
  return sw->get(*object);
}

// The value of Parameter<..., T> `name` of `object` (T = double for ClSmr*, unsigned int
// for MassTry).
template <class T>
T parameterValue(const IBPtr& object, const std::string& name) {
  const auto* par =
      dynamic_cast<const ParameterTBase<T>*>(BaseRepository::FindInterface(object, name));
  if (!par)
    throw Exception() << "MLClusterRedecayer: " << object->fullName() << " has no parameter "
                      << name << " (not a Herwig 7 ClusterDecayer?)" << Exception::runerror;
  return par->tget(*object);
}

// Net number of quarks minus antiquarks of each flavour (index 1..5) of a quark, diquark
// or hadron code (hadml::signedQuarkContent); flavour-diagonal mesons count zero.
std::array<int, 6> netFlavour(int id) {
  std::array<int, 6> n{};
  for (const int q : hadml::signedQuarkContent(id))
    if (std::abs(q) >= 1 && std::abs(q) <= 5) n[std::abs(q)] += q > 0 ? 1 : -1;
  return n;
}

// Whether hadrons (h1, h2) carry exactly the flavour of the constituents (c1, c2): every
// quark flavour's net number, hence charge and baryon number too.
bool conservesFlavour(int c1, int c2, int h1, int h2) {
  const auto a = netFlavour(c1), b = netFlavour(c2), x = netFlavour(h1), y = netFlavour(h2);
  for (std::size_t q = 1; q < a.size(); ++q)
    if (a[q] + b[q] != x[q] + y[q]) return false;
  return !hadml::signedQuarkContent(h1).empty() && !hadml::signedQuarkContent(h2).empty();
}

}  // namespace

MLClusterRedecayer::MLClusterRedecayer() = default;
MLClusterRedecayer::~MLClusterRedecayer() = default;
MLClusterRedecayer::MLClusterRedecayer(const MLClusterRedecayer& o)
    : StepHandler(o),
      modelFile_(o.modelFile_),
      device_(o.device_),
      threads_(o.threads_),
      policy_(o.policy_),
      herwigDecayer_(o.herwigDecayer_),
      dumpFile_(o.dumpFile_),
      hadronizationFile_(o.hadronizationFile_) {}

IBPtr MLClusterRedecayer::clone() const { return new_ptr(*this); }
IBPtr MLClusterRedecayer::fullclone() const { return new_ptr(*this); }

ClusterDecayerPtr MLClusterRedecayer::findHerwigDecayer() const {
  if (herwigDecayer_) return herwigDecayer_;
  // EventHandler:HadronizationHandler -> ClusterHadronizationHandler:ClusterDecayer
  const IBPtr eh = generator() ? IBPtr(generator()->eventHandler()) : IBPtr();
  const IBPtr decayer = referenced(referenced(eh, "HadronizationHandler"), "ClusterDecayer");
  return dynamic_ptr_cast<ClusterDecayerPtr>(decayer);
}

hadml::ClusterParams MLClusterRedecayer::fallbackParams(const ClusterDecayerPtr& decayer) const {
  const IBPtr obj = decayer;
  hadml::ClusterParams params;
  for (const char* flavour : {"Light", "Charm", "Bottom"}) {
    const std::string dir = std::string("ClDir") + flavour, smr = std::string("ClSmr") + flavour;
    params.set(dir, switchValue(obj, dir) != 0 ? 1.0 : 0.0);
    params.set(smr, parameterValue<double>(obj, smr));
  }
  return params;
}

std::unique_ptr<hadml::HadronSpectrum> MLClusterRedecayer::herwigSpectrum(
    const ClusterDecayerPtr& decayer) const {
  // Every hadron of Herwig's particle data that Herwig 7.3's selector can make
  // (hadml::HadronSpectrum::herwigCandidate), with Herwig's masses, widths and mass ranges:
  // the new children are Herwig's particles, which its decay handler then decays.
  hadml::HadronTable table;
  for (const auto& [id, pd] : generator()->particles()) {
    if (id <= 0 || id > 9999999 || !pd || !hadml::HadronSpectrum::herwigCandidate(int(id)))
      continue;
    hadml::HadronInfo h;
    h.id = static_cast<int>(id);
    h.name = pd->PDGName();
    h.mass = pd->mass() / GeV;
    h.width = pd->width() / GeV;
    if (pd->width() > ZERO && pd->massMax() > pd->massMin()) {
      h.massMin = pd->massMin() / GeV;
      h.massMax = pd->massMax() / GeV;
    }
    h.spinMultiplicity = static_cast<int>(pd->iSpin());
    h.charge3 = static_cast<int>(pd->iCharge());
    h.hasAnti = static_cast<bool>(pd->CC());
    table.add(h);
  }
  if (table.size() == 0)
    throw Exception() << "MLClusterRedecayer: Herwig's particle data holds no hadron the "
                         "cluster model can make" << Exception::runerror;
  // The choice is the model's; of the cluster parameters only the hadron set (Herwig 7.3's,
  // HadronTable 1) and the off-shell rule (the running ClusterDecayer's OnShell, MassTry)
  // matter here. hadml's selection weights are positive, so every pair Herwig's selector
  // could form is allowed.
  hadml::ClusterParams params;
  params.set("HadronTable", 1.0);
  params.set("OnShell", switchValue(IBPtr(decayer), "OnShell") != 0 ? 1.0 : 0.0);
  params.set("MassTry", parameterValue<unsigned int>(IBPtr(decayer), "MassTry"));
  return std::make_unique<hadml::HadronSpectrum>(std::move(table), params);
}

void MLClusterRedecayer::doinitrun() {
  StepHandler::doinitrun();
  nEvents_ = nEligible_ = nSkipped_ = 0;
  nSpeciesChosen_ = nSpeciesChanged_ = nSpeciesRefused_ = 0;
  spectrum_.reset();
  if (!dumpFile_.empty()) {
    dump_.open(dumpFile_);
    if (!dump_)
      throw Exception() << "MLClusterRedecayer: cannot write " << dumpFile_ << Exception::runerror;
    dump_.precision(10);
  }
  if (!hadronizationFile_.empty()) {
    hadronization_.open(hadronizationFile_);
    if (!hadronization_)
      throw Exception() << "MLClusterRedecayer: cannot write " << hadronizationFile_
                        << Exception::runerror;
    hadronization_.precision(12);
  }
  // dump-only mode: no model
  if (modelFile_.empty() && (!dumpFile_.empty() || !hadronizationFile_.empty())) return;
  if (modelFile_.empty())
    throw Exception() << "MLClusterRedecayer: set " << name()
                      << ":ModelFile to an ONNX cluster-decay model (docs/model-contract.md)"
                      << Exception::runerror;
  hadml::OnnxDecayerOptions options;
  options.modelPath = modelFile_;
  options.device = device_;
  options.intraOpThreads = threads_;
  options.policy =
      policy_ == 1 ? hadml::InvalidOutputPolicy::Fallback : hadml::InvalidOutputPolicy::Error;
  if (options.policy == hadml::InvalidOutputPolicy::Fallback) {
    // The classic fallback decays like the running Herwig: its ClusterDecayer's ClDir and
    // ClSmr settings, not hadml's defaults (species and masses stay Herwig's anyway).
    const ClusterDecayerPtr herwig = findHerwigDecayer();
    if (!herwig)
      throw Exception() << "MLClusterRedecayer: Policy Fallback needs Herwig's ClusterDecayer "
                        << "for the classic decay parameters; none was found through the event "
                        << "handler's HadronizationHandler. Set " << name()
                        << ":ClusterDecayer (e.g. /Herwig/Hadronization/ClusterDecayer)"
                        << Exception::runerror;
    options.classicParams = fallbackParams(herwig);
    if (generator()) {
      const hadml::ClusterParams& p = options.classicParams;
      generator()->log() << "MLClusterRedecayer: classic fallback uses " << herwig->fullName()
                         << ": ClDirLight " << p.ClDirLight << ", ClDirCharm " << p.ClDirCharm
                         << ", ClDirBottom " << p.ClDirBottom << ", ClSmrLight " << p.ClSmrLight
                         << ", ClSmrCharm " << p.ClSmrCharm << ", ClSmrBottom " << p.ClSmrBottom
                         << "\n";
    }
  }
  try {
    decayer_ = hadml::makeOnnxClusterDecayer(options);
  } catch (const std::exception& e) {
    throw Exception() << "MLClusterRedecayer: cannot load " << modelFile_ << ": " << e.what()
                      << Exception::runerror;
  }
  // A format-2 model chooses the hadron species too: the spectrum of Herwig's hadrons
  // gives each cluster's allowed pairs and the masses of the chosen ones.
  if (decayer_->choosesSpecies()) {
    const ClusterDecayerPtr herwig = findHerwigDecayer();
    if (!herwig)
      throw Exception() << "MLClusterRedecayer: " << modelFile_
                        << " is a format-2 model (it chooses the hadron species); the masses "
                           "of the new hadrons follow Herwig's ClusterDecayer (OnShell, "
                           "MassTry), and none was found through the event handler's "
                           "HadronizationHandler. Set "
                        << name() << ":ClusterDecayer (e.g. /Herwig/Hadronization/ClusterDecayer)"
                        << Exception::runerror;
    try {
      spectrum_ = herwigSpectrum(herwig);
    } catch (const std::exception& e) {
      throw Exception() << "MLClusterRedecayer: cannot build the hadron spectrum for the "
                           "format-2 model " << modelFile_ << ": " << e.what()
                        << Exception::runerror;
    }
    if (generator())
      generator()->log() << "MLClusterRedecayer: " << modelFile_
                         << " is a format-2 model: it re-chooses the species of each "
                            "eligible cluster's two hadrons among "
                         << spectrum_->table().size() << " hadrons of Herwig's particle data ("
                         << herwig->fullName() << ": OnShell " << spectrum_->onShell() << ")\n";
  }
}

void MLClusterRedecayer::dofinish() {
  StepHandler::dofinish();
  bool dumpFailed = false;
  if (dump_.is_open()) {
    dump_.close();
    dumpFailed = dump_.fail();
  }
  bool hadronizationFailed = false;
  if (hadronization_.is_open()) {
    hadronization_.close();
    hadronizationFailed = hadronization_.fail();
  }
  if (generator()) {
    std::ostringstream line;
    line << "MLClusterRedecayer: " << nEvents_ << " events, " << nEligible_
         << " eligible two-hadron clusters, " << nSkipped_
         << " other clusters left as Herwig made them";
    if (!dumpFile_.empty()) line << "; dumped the eligible ones to " << dumpFile_;
    if (!hadronizationFile_.empty())
      line << "; partons and clusters of every event written to " << hadronizationFile_;
    if (decayer_) {
      const hadml::DecayerStats st = decayer_->stats();
      const std::uint64_t total = st.decayed + st.fallbacks;
      line << "; re-decayed " << total << ": " << st.decayed << " by the model, " << st.fallbacks
           << " by the classic fallback (Policy Fallback)";
      if (total > 0)
        line << " = " << std::fixed << std::setprecision(3)
             << 100.0 * static_cast<double>(st.fallbacks) / static_cast<double>(total) << "%";
      if (spectrum_)
        line << "; species re-chosen for " << nSpeciesChosen_ << " clusters (format-2 model; "
             << st.speciesFallbacks << " of them by hadml's classic selector: no pair of the "
             << "model's list open, or invalid logits under Policy Fallback), another pair "
             << "than Herwig's for " << nSpeciesChanged_ << ", " << nSpeciesRefused_
             << " refused and kept Herwig's pair (Policy Fallback)";
    } else {
      line << "; none re-decayed (dump only, no ModelFile)";
    }
    generator()->log() << line.str() << "\n";
  }
  if (dumpFailed)
    throw Exception() << "MLClusterRedecayer: writing the dump " << dumpFile_
                      << " failed (disk full?)" << Exception::runerror;
  if (hadronizationFailed)
    throw Exception() << "MLClusterRedecayer: writing " << hadronizationFile_
                      << " failed (disk full?)" << Exception::runerror;
}

namespace {
// Particles of a ThePEG step in the order they entered the event (Particle::number), not
// in the ParticleSet's pointer order: the same seed then gives the same order, whatever the
// memory layout.
tPVector byNumber(const ParticleSet& set) {
  tPVector out(set.begin(), set.end());
  std::sort(out.begin(), out.end(),
            [](tcPPtr a, tcPPtr b) { return a->number() < b->number(); });
  return out;
}
}  // namespace

void MLClusterRedecayer::writeHadronizationRecord(const Step& step, long eventNumber) {
  // The partons Herwig hadronized: the coloured final state of the step before this one
  // (the shower's), in event order; colour lines numbered from 1 in order of appearance.
  const tcCollPtr coll = step.collision();
  tcStepPtr previous;
  if (coll) {
    const StepVector& steps = coll->steps();
    for (std::size_t i = 1; i < steps.size(); ++i)
      if (&*steps[i] == &step) previous = steps[i - 1];
  }
  std::map<tcColinePtr, int> lines;
  const auto lineNumber = [&lines](tcColinePtr line) {
    if (!line) return 0;
    return lines.emplace(line, static_cast<int>(lines.size()) + 1).first->second;
  };
  // The event number first: an event discarded after hadronization (an event error in the
  // decays) is generated again under the same number, and only its last line counts.
  hadronization_ << "{\"event\":" << eventNumber << ",\"partons\":[";
  bool first = true;
  if (previous) {
    for (const tPPtr& p : byNumber(previous->particles())) {
      if (!p->coloured()) continue;
      const Lorentz5Momentum& q = p->momentum();
      const int col = lineNumber(p->colourLine());
      const int acol = lineNumber(p->antiColourLine());
      hadronization_ << (first ? "" : ",") << '[' << p->id() << ',' << q.x() / GeV << ','
                     << q.y() / GeV << ',' << q.z() / GeV << ',' << q.e() / GeV << ','
                     << q.mass() / GeV << ',' << col << ',' << acol << ']';
      first = false;
    }
  }
  // The colour octets of the partons' history, as (colour line, anticolour line) pairs of
  // the numbering above: every colour-octet ancestor on the first-parent chain of each
  // parton (the chain Herwig's ColourReconnector::_isColour8 follows with OctetTreatment
  // All) whose two lines both reach the partons; other octets cannot veto a cluster.
  std::set<std::pair<int, int>> octets;
  if (previous) {
    const auto known = [&lines](tcColinePtr line) {
      const auto it = line ? lines.find(line) : lines.end();
      return it == lines.end() ? 0 : it->second;
    };
    for (const tPPtr& p : byNumber(previous->particles())) {
      if (!p->coloured()) continue;
      for (tPPtr a = p->parents().empty() ? tPPtr() : p->parents()[0]; a;
           a = a->parents().empty() ? tPPtr() : a->parents()[0]) {
        if (a->data().iColour() != PDT::Colour8) continue;
        const int col = known(a->colourLine()), acol = known(a->antiColourLine());
        if (col && acol) octets.emplace(col, acol);
      }
    }
  }
  hadronization_ << "],\"octets\":[";
  first = true;
  for (const auto& [col, acol] : octets) {
    hadronization_ << (first ? "" : ",") << '[' << col << ',' << acol << ']';
    first = false;
  }
  // Every cluster of this step: [mass, index of the parent cluster or -1, [children's ids]]
  // (81 for a cluster child: fission; one hadron child: a single-hadron cluster).
  hadronization_ << "],\"clusters\":[";
  tPVector clusters;
  for (const tPPtr& p : byNumber(step.intermediates()))
    if (p->id() == ClusterId) clusters.push_back(p);
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    const tPPtr& c = clusters[i];
    long parent = -1;
    for (const tPPtr& m : c->parents()) {
      const auto it = std::find(clusters.begin(), clusters.end(), m);
      if (it != clusters.end()) parent = it - clusters.begin();
    }
    hadronization_ << (i ? "," : "") << '[' << c->mass() / GeV << ',' << parent << ",[";
    const ParticleVector& kids = c->children();
    for (std::size_t k = 0; k < kids.size(); ++k) hadronization_ << (k ? "," : "") << kids[k]->id();
    hadronization_ << "]]";
  }
  hadronization_ << "]}\n";
  if (!hadronization_)
    throw Exception() << "MLClusterRedecayer: writing " << hadronizationFile_
                      << " failed (disk full?)" << Exception::runerror;
}

void MLClusterRedecayer::handle(EventHandler& eh, const tPVector&, const Hint&) {
  if (!decayer_ && !dump_.is_open() && !hadronization_.is_open())
    throw Exception() << "MLClusterRedecayer used before doinitrun" << Exception::runerror;
  const tStepPtr step = eh.currentStep();
  if (!step) return;
  if (hadronization_.is_open())
    writeHadronizationRecord(*step, eh.currentEvent() ? eh.currentEvent()->number() : -1);

  std::vector<hadml::ClusterDecayRequest> requests;
  std::vector<hadml::RedecayPlan> plans;
  std::vector<std::array<tPPtr, 2>> targets;
  std::vector<tPPtr> parents;  // the cluster of each request
  for (const tPPtr& p : byNumber(step->intermediates())) {
    if (p->id() != ClusterId) continue;
    const tcClusterPtr cl = dynamic_ptr_cast<tcClusterPtr>(p);
    if (!cl) continue;
    const ParticleVector& kids = p->children();
    hadml::RedecayVertex v;
    v.cluster = toHadml(p->momentum());
    v.nComponents = static_cast<int>(cl->numComponents());
    v.nChildren = static_cast<int>(kids.size());
    if (v.nComponents == 2) {
      for (unsigned int i = 0; i < 2; ++i) {
        v.constituents[i].id = static_cast<int>(cl->particle(i)->id());
        v.constituents[i].p = toHadml(cl->particle(i)->momentum());
        v.constituents[i].perturbative = cl->isPerturbative(i);
      }
    }
    if (kids.size() == 2) {
      for (std::size_t i = 0; i < 2; ++i) {
        auto& c = v.children[i];
        c.id = static_cast<int>(kids[i]->id());
        c.p = toHadml(kids[i]->momentum());
        c.mass = kids[i]->mass() / GeV;
        c.isCluster = kids[i]->id() == ClusterId;
        c.hasChildren = !kids[i]->children().empty();
      }
    }
    hadml::RedecayPlan plan = hadml::planRedecay(v);
    if (plan.status != hadml::RedecayStatus::Eligible) {
      ++nSkipped_;
      continue;
    }
    ++nEligible_;
    requests.push_back(plan.request);
    plans.push_back(std::move(plan));
    targets.push_back({kids[0], kids[1]});
    parents.push_back(p);
  }
  ++nEvents_;
  if (dump_.is_open()) {
    const auto entry = [this](int id, const hadml::LorentzVector& p) {
      dump_ << id << ',' << p.e << ',' << p.px << ',' << p.py << ',' << p.pz << ';';
    };
    // Constituents: a sixth field, 1 if the constituent comes from the perturbative stage
    // (Cluster::isPerturbative), else 0; the model uses it as an input.
    const auto constituent = [this](const hadml::Constituent& c) {
      dump_ << c.id << ',' << c.p.e << ',' << c.p.px << ',' << c.p.py << ',' << c.p.pz << ','
            << (c.perturbative ? 1 : 0) << ';';
    };
    for (std::size_t i = 0; i < plans.size(); ++i) {
      const auto& r = plans[i].request;
      if (i > 0) dump_ << '|';
      constituent(r.constituents[0]);
      constituent(r.constituents[1]);
      entry(static_cast<int>(ClusterId), r.p);
      const tPPtr h1 = targets[i][plans[i].swapped ? 1 : 0];
      const tPPtr h2 = targets[i][plans[i].swapped ? 0 : 1];
      entry(r.id1, toHadml(h1->momentum()));
      entry(r.id2, toHadml(h2->momentum()));
    }
    dump_ << '\n';
    if (!dump_)
      throw Exception() << "MLClusterRedecayer: writing the dump " << dumpFile_
                        << " failed (disk full?)" << Exception::runerror;
  }
  if (requests.empty() || !decayer_) return;

  hadml::Random rng(seedFromHerwig());
  if (spectrum_) {  // format 2: the model chooses the species first, from the same engine
    const std::vector<hadml::ClusterDecayRequest> herwigSpecies = requests;
    chooseSpecies(requests, herwigSpecies, rng);
  }
  std::vector<hadml::TwoBodyDecay> out;
  decayer_->decay(requests, rng, out);  // one batched model call per event
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto p = hadml::childMomenta(plans[i], out[i]);
    const hadml::ClusterDecayRequest& r = requests[i];
    // Herwig's child k is hadron 1 of the request unless the plan swapped them.
    const int ids[2] = {plans[i].swapped ? r.id2 : r.id1, plans[i].swapped ? r.id1 : r.id2};
    const double masses[2] = {plans[i].swapped ? r.m2 : r.m1, plans[i].swapped ? r.m1 : r.m2};
    for (std::size_t k = 0; k < 2; ++k) {
      const tPPtr child = targets[i][k];
      if (!spectrum_) {
        // Keep the child's own (possibly off-shell) mass; only the 3-momentum direction moves.
        child->set5Momentum(Lorentz5Momentum(p[k].px * GeV, p[k].py * GeV, p[k].pz * GeV,
                                             p[k].e * GeV, child->mass()));
        continue;
      }
      const Lorentz5Momentum mom(p[k].px * GeV, p[k].py * GeV, p[k].pz * GeV, p[k].e * GeV,
                                 masses[k] * GeV);
      if (child->id() == ids[k]) {
        child->set5Momentum(mom);
        continue;
      }
      // Another species: a new particle of Herwig's particle data replaces the child as the
      // cluster's decay product (the old child has no children: planRedecay checked).
      const PPtr fresh = getParticleData(ids[k])->produceParticle(mom);
      fresh->setVertex(child->vertex());  // where Herwig placed the cluster's decay products
      if (!step->addDecayProduct(parents[i], fresh))
        throw Exception() << "MLClusterRedecayer: cannot add " << fresh->PDGName()
                          << " as a decay product of cluster " << parents[i]->number()
                          << Exception::runerror;
      step->removeParticle(child);
    }
  }
}

void MLClusterRedecayer::chooseSpecies(std::vector<hadml::ClusterDecayRequest>& requests,
                                       const std::vector<hadml::ClusterDecayRequest>& original,
                                       hadml::Random& rng) {
  const bool fallback = policy_ == 1;
  try {
    decayer_->chooseSpecies(requests, *spectrum_, rng);
  } catch (const std::exception& e) {
    // A cluster hadml's spectrum has no pair for (or invalid logits under Policy Error):
    // the whole event's choice is refused.
    if (!fallback)
      throw Exception() << "MLClusterRedecayer: the format-2 model " << modelFile_
                        << " cannot choose the species of this event's clusters: " << e.what()
                        << Exception::runerror;
    nSpeciesRefused_ += static_cast<long>(requests.size());
    requests = original;
    return;
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    hadml::ClusterDecayRequest& r = requests[i];
    const int c1 = r.constituents[0].id, c2 = r.constituents[1].id;
    // Compatible: the pair carries the constituents' flavour (conserved by the mask; this
    // checks it), and Herwig has both particles. Else refused, never silently changed.
    std::string why;
    if (!conservesFlavour(c1, c2, r.id1, r.id2))
      why = "does not carry the flavour of the constituents";
    else if (!getParticleData(r.id1) || !getParticleData(r.id2))
      why = "is not in Herwig's particle data";
    else if (!(r.m1 + r.m2 < r.mass()))
      why = "is above the cluster mass";
    if (why.empty()) {
      ++nSpeciesChosen_;
      if (r.id1 != original[i].id1 || r.id2 != original[i].id2) ++nSpeciesChanged_;
      continue;
    }
    if (!fallback)
      throw Exception() << "MLClusterRedecayer: the format-2 model " << modelFile_
                        << " chose the pair (" << r.id1 << ", " << r.id2 << ") for a cluster of "
                        << "constituents (" << c1 << ", " << c2 << ") and mass " << r.mass()
                        << " GeV, which " << why
                        << "; refused (Policy Fallback keeps Herwig's species)"
                        << Exception::runerror;
    ++nSpeciesRefused_;
    r = original[i];
  }
}

void MLClusterRedecayer::persistentOutput(PersistentOStream& os) const {
  os << modelFile_ << device_ << threads_ << policy_ << dumpFile_ << herwigDecayer_
     << hadronizationFile_;
}

void MLClusterRedecayer::persistentInput(PersistentIStream& is, int version) {
  is >> modelFile_ >> device_ >> threads_ >> policy_ >> dumpFile_;
  if (version >= 1) is >> herwigDecayer_;  // class version 1 added the ClusterDecayer
  if (version >= 2) is >> hadronizationFile_;  // version 2: the hadronization record
}

namespace {
DescribeClass<MLClusterRedecayer, StepHandler> describeHerwigMLClusterRedecayer(
    "Herwig::MLClusterRedecayer", "HwMLCluster.so", 2);
}

void MLClusterRedecayer::Init() {
  static ClassDocumentation<MLClusterRedecayer> documentation(
      "Re-decays Herwig's two-hadron cluster decays with a hadml ONNX model: a format-1 "
      "model keeps Herwig's hadron species and masses; a format-2 model re-chooses the "
      "species (and masses) among the pairs the cluster's constituents allow.");
  static Parameter<MLClusterRedecayer, std::string> interfaceModelFile(
      "ModelFile", "Path of the ONNX cluster-decay model (hadml model contract v1 or v2).",
      &MLClusterRedecayer::modelFile_, "", false, false);
  static Parameter<MLClusterRedecayer, std::string> interfaceDevice(
      "Device", "ONNX Runtime device: cpu or cuda.", &MLClusterRedecayer::device_, "cpu",
      false, false);
  static Parameter<MLClusterRedecayer, int> interfaceThreads(
      "Threads", "ONNX Runtime intra-op threads.", &MLClusterRedecayer::threads_, 1, 1, 256,
      false, false, Interface::limited);
  static Parameter<MLClusterRedecayer, std::string> interfaceDump(
      "Dump", "If set, write Herwig's eligible two-hadron cluster decays to this file in the "
      "HADML text format (before re-decay); with no ModelFile the handler only dumps.",
      &MLClusterRedecayer::dumpFile_, "", false, false);
  static Parameter<MLClusterRedecayer, std::string> interfaceHadronizationDump(
      "HadronizationDump",
      "If set, write per event one JSON line with the partons entering Herwig's "
      "hadronization and the clusters it made (before re-decay), for the parity harness; "
      "with no ModelFile the handler only writes.",
      &MLClusterRedecayer::hadronizationFile_, "", false, false);
  static Switch<MLClusterRedecayer, int> interfacePolicy(
      "Policy", "What to do with invalid model output.", &MLClusterRedecayer::policy_, 0,
      false, false);
  static SwitchOption interfacePolicyError(interfacePolicy, "Error",
                                           "Abort the event with an error", 0);
  static SwitchOption interfacePolicyFallback(interfacePolicy, "Fallback",
                                              "Use the classic Herwig decay for that cluster", 1);
  static Reference<MLClusterRedecayer, ClusterDecayer> interfaceClusterDecayer(
      "ClusterDecayer",
      "Herwig's ClusterDecayer whose ClDir/ClSmr settings the classic fallback (Policy "
      "Fallback) uses. If unset, the ClusterDecayer of the event handler's "
      "HadronizationHandler.",
      &MLClusterRedecayer::herwigDecayer_, false, false, true, true, false);
}
