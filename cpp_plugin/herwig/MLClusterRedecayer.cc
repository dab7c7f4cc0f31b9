#include "MLClusterRedecayer.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "Herwig/Hadronization/Cluster.h"
#include "ThePEG/EventRecord/Event.h"
#include "ThePEG/EventRecord/Particle.h"
#include "ThePEG/EventRecord/Step.h"
#include "ThePEG/Handlers/EventHandler.h"
#include "ThePEG/Interface/ClassDocumentation.h"
#include "ThePEG/Interface/Parameter.h"
#include "ThePEG/Interface/Switch.h"
#include "ThePEG/Persistency/PersistentIStream.h"
#include "ThePEG/Persistency/PersistentOStream.h"
#include "ThePEG/Repository/EventGenerator.h"
#include "ThePEG/Repository/UseRandom.h"
#include "ThePEG/Utilities/DescribeClass.h"
#include "hadml/OnnxClusterDecayer.h"
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

}  // namespace

MLClusterRedecayer::MLClusterRedecayer() = default;
MLClusterRedecayer::~MLClusterRedecayer() = default;
MLClusterRedecayer::MLClusterRedecayer(const MLClusterRedecayer& o)
    : StepHandler(o),
      modelFile_(o.modelFile_),
      device_(o.device_),
      threads_(o.threads_),
      policy_(o.policy_),
      dumpFile_(o.dumpFile_) {}

IBPtr MLClusterRedecayer::clone() const { return new_ptr(*this); }
IBPtr MLClusterRedecayer::fullclone() const { return new_ptr(*this); }

void MLClusterRedecayer::doinitrun() {
  StepHandler::doinitrun();
  if (!dumpFile_.empty()) {
    dump_.open(dumpFile_);
    if (!dump_)
      throw Exception() << "MLClusterRedecayer: cannot write " << dumpFile_ << Exception::runerror;
    dump_.precision(10);
  }
  if (modelFile_.empty() && !dumpFile_.empty()) return;  // dump-only mode
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
  try {
    decayer_ = hadml::makeOnnxClusterDecayer(options);
  } catch (const std::exception& e) {
    throw Exception() << "MLClusterRedecayer: cannot load " << modelFile_ << ": " << e.what()
                      << Exception::runerror;
  }
}

void MLClusterRedecayer::dofinish() {
  StepHandler::dofinish();
  if (dump_.is_open()) dump_.close();
  if (generator())
    generator()->log() << "MLClusterRedecayer: re-decayed " << nRedecayed_
                       << " clusters, left " << nSkipped_ << " as Herwig made them\n";
}

void MLClusterRedecayer::handle(EventHandler& eh, const tPVector&, const Hint&) {
  if (!decayer_ && !dump_.is_open()) throw Exception() << "MLClusterRedecayer used before doinitrun" << Exception::runerror;
  const tStepPtr step = eh.currentStep();
  if (!step) return;

  std::vector<hadml::ClusterDecayRequest> requests;
  std::vector<hadml::RedecayPlan> plans;
  std::vector<std::array<tPPtr, 2>> targets;
  for (const PPtr& p : step->intermediates()) {
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
    requests.push_back(plan.request);
    plans.push_back(std::move(plan));
    targets.push_back({kids[0], kids[1]});
  }
  if (dump_.is_open()) {
    const auto entry = [this](int id, const hadml::LorentzVector& p) {
      dump_ << id << ',' << p.e << ',' << p.px << ',' << p.py << ',' << p.pz << ';';
    };
    for (std::size_t i = 0; i < plans.size(); ++i) {
      const auto& r = plans[i].request;
      if (i > 0) dump_ << '|';
      entry(r.constituents[0].id, r.constituents[0].p);
      entry(r.constituents[1].id, r.constituents[1].p);
      entry(static_cast<int>(ClusterId), r.p);
      const tPPtr h1 = targets[i][plans[i].swapped ? 1 : 0];
      const tPPtr h2 = targets[i][plans[i].swapped ? 0 : 1];
      entry(r.id1, toHadml(h1->momentum()));
      entry(r.id2, toHadml(h2->momentum()));
    }
    dump_ << '\n';
  }
  if (requests.empty() || !decayer_) return;

  hadml::Random rng(seedFromHerwig());
  std::vector<hadml::TwoBodyDecay> out;
  decayer_->decay(requests, rng, out);  // one batched model call per event
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto p = hadml::childMomenta(plans[i], out[i]);
    for (std::size_t k = 0; k < 2; ++k) {
      const tPPtr child = targets[i][k];
      // Keep the child's own (possibly off-shell) mass; only the 3-momentum direction moves.
      child->set5Momentum(Lorentz5Momentum(p[k].px * GeV, p[k].py * GeV, p[k].pz * GeV,
                                           p[k].e * GeV, child->mass()));
    }
  }
  nRedecayed_ += static_cast<long>(out.size());
}

void MLClusterRedecayer::persistentOutput(PersistentOStream& os) const {
  os << modelFile_ << device_ << threads_ << policy_ << dumpFile_;
}

void MLClusterRedecayer::persistentInput(PersistentIStream& is, int) {
  is >> modelFile_ >> device_ >> threads_ >> policy_ >> dumpFile_;
}

namespace {
DescribeClass<MLClusterRedecayer, StepHandler> describeHerwigMLClusterRedecayer(
    "Herwig::MLClusterRedecayer", "HwMLCluster.so");
}

void MLClusterRedecayer::Init() {
  static ClassDocumentation<MLClusterRedecayer> documentation(
      "Re-decays Herwig's two-hadron cluster decays with a hadml ONNX model, keeping "
      "Herwig's hadron species and masses.");
  static Parameter<MLClusterRedecayer, std::string> interfaceModelFile(
      "ModelFile", "Path of the ONNX cluster-decay model (hadml model contract v1).",
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
  static Switch<MLClusterRedecayer, int> interfacePolicy(
      "Policy", "What to do with invalid model output.", &MLClusterRedecayer::policy_, 0,
      false, false);
  static SwitchOption interfacePolicyError(interfacePolicy, "Error",
                                           "Abort the event with an error", 0);
  static SwitchOption interfacePolicyFallback(interfacePolicy, "Fallback",
                                              "Use the classic Herwig decay for that cluster", 1);
}
