#include "HadronizationReseeder.h"

#include "ThePEG/EventRecord/Event.h"
#include "ThePEG/EventRecord/Particle.h"
#include "ThePEG/EventRecord/Step.h"
#include "ThePEG/Handlers/EventHandler.h"
#include "ThePEG/Interface/ClassDocumentation.h"
#include "ThePEG/Interface/Parameter.h"
#include "ThePEG/Persistency/PersistentIStream.h"
#include "ThePEG/Persistency/PersistentOStream.h"
#include "ThePEG/Repository/EventGenerator.h"
#include "ThePEG/Repository/RandomGenerator.h"
#include "ThePEG/Repository/UseRandom.h"
#include "ThePEG/Utilities/DescribeClass.h"

using namespace Herwig;

namespace {
// RANMAR (ThePEG::StandardRandom::setSeed) maps seed = 30082 ij + kl with ij < 31329 and
// kl < 30082 to distinct states; stay well inside.
constexpr long SeedRange = 900000000;

std::uint64_t splitmix64(std::uint64_t x) {  // Steele, Lea, Flood (2014), finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool hasColouredFinalState(const Step& step) {
  for (const tPPtr& p : step.particles())
    if (p->coloured()) return true;
  return false;
}
}  // namespace

long HadronizationReseeder::mixSeed(long key, long eventNumber, Stream stream) {
  std::uint64_t h = splitmix64(static_cast<std::uint64_t>(stream));
  h = splitmix64(h ^ static_cast<std::uint64_t>(key));
  h = splitmix64(h ^ static_cast<std::uint64_t>(eventNumber));
  return static_cast<long>(h % static_cast<std::uint64_t>(SeedRange));
}

void HadronizationReseeder::doinitrun() {
  StepHandler::doinitrun();
  pending_ = haveRunKey_ = false;
  nReseeded_ = nResumed_ = nUnresumed_ = 0;
}

void HadronizationReseeder::handle(EventHandler& eh, const tPVector&, const Hint&) {
  const tStepPtr step = eh.currentStep();
  const tEventPtr event = eh.currentEvent();
  if (!step || !event) return;
  RandomGenerator& random = UseRandom::current();
  if (hasColouredFinalState(*step)) {
    if (pending_) ++nUnresumed_;
    if (!haveRunKey_) {  // the main stream is the same in all runs of one run seed here
      runKey_ = static_cast<long>(random.rnd() * static_cast<double>(SeedRange));
      haveRunKey_ = true;
    }
    random.setSeed(mixSeed(hadronizationSeed_, event->number(), Stream::Hadronization));
    random.flush();  // StandardRandom::setSeed flushes; other generators may not
    pending_ = true;
    ++nReseeded_;
  } else if (pending_) {
    random.setSeed(mixSeed(runKey_, event->number(), Stream::Resume));
    random.flush();
    pending_ = false;
    ++nResumed_;
  }
}

void HadronizationReseeder::dofinish() {
  StepHandler::dofinish();
  if (generator())
    generator()->log() << "HadronizationReseeder: HadronizationSeed " << hadronizationSeed_
                       << ", " << nReseeded_ << " hadronizations reseeded, " << nResumed_
                       << " main-stream resumes after decays, " << nUnresumed_
                       << " events not resumed (vetoed or failed after hadronization)\n";
}

void HadronizationReseeder::persistentOutput(PersistentOStream& os) const {
  os << hadronizationSeed_;
}

void HadronizationReseeder::persistentInput(PersistentIStream& is, int) {
  is >> hadronizationSeed_;
}

namespace {
DescribeClass<HadronizationReseeder, StepHandler> describeHerwigHadronizationReseeder(
    "Herwig::HadronizationReseeder", "HwMLCluster.so");
}

void HadronizationReseeder::Init() {
  static ClassDocumentation<HadronizationReseeder> documentation(
      "Gives hadronization and decays their own random stream per event (from the event "
      "number and HadronizationSeed) and resumes the main stream afterwards, so that runs "
      "with one run seed and different HadronizationSeed values share their partons. "
      "Insert the same object in PreHadronizationHandlers and PostDecayHandlers.");
  static Parameter<HadronizationReseeder, long> interfaceSeed(
      "HadronizationSeed", "Seed of the per-event hadronization streams.",
      &HadronizationReseeder::hadronizationSeed_, 1, 0, 0, false, false, Interface::lowerlim);
}
