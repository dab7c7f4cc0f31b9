// Herwig 7 adapter: re-decays Herwig's two-hadron cluster decays with a hadml ML decayer.
// Runs as a ThePEG post-hadronization step handler (after ClusterHadronizationHandler,
// before the decay handler). Herwig::ClusterDecayer::decay/decayIntoTwoHadrons are not
// virtual, so instead of replacing the decayer we keep Herwig's species and masses and
// regenerate only the decay direction of each eligible cluster, in place.
// No ONNX Runtime header is included here (hadml::OnnxClusterDecayer is a pimpl).
#ifndef HADML_HERWIG_MLClusterRedecayer_H
#define HADML_HERWIG_MLClusterRedecayer_H

#include <fstream>
#include <memory>
#include <string>

// ThePEG first: Herwig's forward-declaration header needs ThePEG's configuration.
#include "ThePEG/Handlers/StepHandler.h"
#include "Herwig/Hadronization/ClusterDecayer.fh"

namespace hadml {
class ClusterDecayer;
struct ClusterParams;
}

namespace Herwig {

using namespace ThePEG;

class MLClusterRedecayer : public StepHandler {
 public:
  MLClusterRedecayer();
  ~MLClusterRedecayer() override;
  MLClusterRedecayer(const MLClusterRedecayer&);  // copies the settings only
  MLClusterRedecayer& operator=(const MLClusterRedecayer&) = delete;

  // Collects the eligible clusters of the current step, decays them in ONE batched call
  // and writes the children's momenta back (set5Momentum keeps their masses).
  void handle(EventHandler& eh, const tPVector& tagged, const Hint& hint) override;

  void persistentOutput(PersistentOStream& os) const;
  void persistentInput(PersistentIStream& is, int version);
  static void Init();

  long nEligible() const { return nEligible_; }
  long nSkipped() const { return nSkipped_; }

 protected:
  IBPtr clone() const override;
  IBPtr fullclone() const override;
  void doinitrun() override;
  void dofinish() override;

 private:
  std::string modelFile_;
  std::string device_ = "cpu";
  int threads_ = 1;
  int policy_ = 0;  // 0: error on invalid model output, 1: classic fallback
  // The Herwig ClusterDecayer whose ClDir*/ClSmr* parameters the classic fallback uses.
  // Unset: the ClusterDecayer of the event handler's hadronization handler.
  ClusterDecayerPtr herwigDecayer_;
  // Dump file: Herwig's eligible cluster decays (before any re-decay) in the HADML text
  // format `q1;q2;cluster;h1;h2;` per cluster, `|` between clusters, one event a line
  // (read by hadml/io/herwig_dump.py); the constituent entries q1, q2 carry a sixth field,
  // their perturbative flag. With no ModelFile the handler only dumps.
  std::string dumpFile_;
  std::ofstream dump_;
  // Hadronization record for the parity harness (docs/herwig.md): per event one JSON line
  // with the partons entering Herwig's hadronization (the previous step's coloured final
  // state: id, momentum, mass, colour and anticolour line numbers) and every cluster of the
  // hadronization step (mass, parent cluster, children's ids), written before any re-decay;
  // each line starts with ThePEG's event number.
  std::string hadronizationFile_;
  std::ofstream hadronization_;
  // Created in doinitrun, not persistent (the model is re-read from modelFile_).
  std::shared_ptr<hadml::ClusterDecayer> decayer_;
  // Run counters, reported by dofinish. Eligible clusters are the ones dumped and (with a
  // model) re-decayed; the decayer's stats() split them into model and classic fallback.
  long nEvents_ = 0;
  long nEligible_ = 0;
  long nSkipped_ = 0;

  // Herwig's ClusterDecayer (herwigDecayer_, else found through the event handler) and
  // the hadml parameters read from its interfaces, for the classic fallback.
  ClusterDecayerPtr findHerwigDecayer() const;
  hadml::ClusterParams fallbackParams(const ClusterDecayerPtr& decayer) const;
  void writeHadronizationRecord(const Step& step, long eventNumber);
};

}  // namespace Herwig

#endif
