// Herwig 7 adapter: a calibrated null for the parity harness (issue 17 item 3).
// Two Herwig runs with the same run seed and different HadronizationSeed values share every
// event's partons (hard process and shower) but hadronize them with independent random
// streams: inserted before hadronization and after decays, the handler reseeds ThePEG's
// random generator for the hadronization (from the event number and HadronizationSeed) and,
// after the decays, puts the main stream back on a state that does not depend on what the
// hadronization and decays consumed (docs/parity.md).
#ifndef HADML_HERWIG_HadronizationReseeder_H
#define HADML_HERWIG_HadronizationReseeder_H

#include <cstdint>

#include "ThePEG/Handlers/StepHandler.h"

namespace Herwig {

using namespace ThePEG;

class HadronizationReseeder : public StepHandler {
 public:
  // Before hadronization (the current step's final state has coloured partons): reseeds the
  // generator with mixSeed(HadronizationSeed, event number, Hadronization). After the decays
  // (no coloured parton left): reseeds it with mixSeed(run key, event number, Resume), the
  // run key being one number drawn from the main stream before the first hadronization
  // (the same in runs of one run seed). The next event thus starts from a state that
  // depends only on the run seed and the event number, also after an event that was
  // discarded in one run only. Insert the same object in PreHadronizationHandlers and
  // PostDecayHandlers.
  void handle(EventHandler& eh, const tPVector& tagged, const Hint& hint) override;

  enum class Stream : std::uint64_t { Hadronization = 1, Resume = 2 };
  // A RANMAR seed (ThePEG::StandardRandom accepts 0 <= seed < 900 000 000 without
  // collisions of its internal state) from a key, the event number and the stream:
  // splitmix64 finaliser of each, so nearby events get unrelated streams.
  static long mixSeed(long key, long eventNumber, Stream stream);

  void persistentOutput(PersistentOStream& os) const;
  void persistentInput(PersistentIStream& is, int version);
  static void Init();

 protected:
  IBPtr clone() const override { return new_ptr(*this); }
  IBPtr fullclone() const override { return new_ptr(*this); }
  void doinitrun() override;
  void dofinish() override;

 private:
  long hadronizationSeed_ = 1;
  // Run state (not persistent).
  bool pending_ = false;  // reseeded for hadronization, main stream not yet resumed
  bool haveRunKey_ = false;
  long runKey_ = 0;
  long nReseeded_ = 0;
  long nResumed_ = 0;
  // Events that reached hadronization again before the previous one was resumed (a vetoed
  // or failed event): their partons come from the hadronization stream and can differ
  // between the two runs; the harness drops events whose partons differ.
  long nUnresumed_ = 0;
};

}  // namespace Herwig

#endif
