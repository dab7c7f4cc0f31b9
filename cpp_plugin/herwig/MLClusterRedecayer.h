// Herwig 7 adapter: re-decays Herwig's two-hadron cluster decays with a hadml ML decayer.
// Runs as a ThePEG post-hadronization step handler (after ClusterHadronizationHandler,
// before the decay handler). Herwig::ClusterDecayer::decay/decayIntoTwoHadrons are not
// virtual, so instead of replacing the decayer we regenerate each eligible cluster's decay
// in place: a format-1 model keeps Herwig's species and masses and changes only the decay
// direction; a format-2 model (model contract v2) re-chooses the species of the two
// children too (new hadrons of Herwig's particle data, masses by hadml's off-shell rule),
// from the pairs the cluster's constituents allow (docs/herwig.md, "Format-2 models").
// No ONNX Runtime header is included here (hadml::OnnxClusterDecayer is a pimpl).
#ifndef HADML_HERWIG_MLClusterRedecayer_H
#define HADML_HERWIG_MLClusterRedecayer_H

#include <fstream>
#include <memory>
#include <string>
#include <vector>

// ThePEG first: Herwig's forward-declaration header needs ThePEG's configuration.
#include "ThePEG/Handlers/StepHandler.h"
#include "Herwig/Hadronization/ClusterDecayer.fh"

namespace hadml {
class ClusterDecayer;
class HadronSpectrum;
class Random;
struct ClusterDecayRequest;
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
  // Format 2 only: hadml's species spectrum over the hadrons of Herwig's particle data
  // (the pairs each cluster allows, the off-shell masses), with the OnShell and MassTry of
  // Herwig's ClusterDecayer. Built in doinitrun.
  std::unique_ptr<hadml::HadronSpectrum> spectrum_;
  // Run counters, reported by dofinish. Eligible clusters are the ones dumped and (with a
  // model) re-decayed; the decayer's stats() split them into model and classic fallback.
  long nEvents_ = 0;
  long nEligible_ = 0;
  long nSkipped_ = 0;
  // Format 2: clusters whose species the model chose, of which with another hadron pair
  // than Herwig's, and (Policy Fallback) clusters whose chosen pair was refused and that
  // kept Herwig's species.
  long nSpeciesChosen_ = 0;
  long nSpeciesChanged_ = 0;
  long nSpeciesRefused_ = 0;

  // Herwig's ClusterDecayer (herwigDecayer_, else found through the event handler) and
  // the hadml parameters read from its interfaces, for the classic fallback.
  ClusterDecayerPtr findHerwigDecayer() const;
  hadml::ClusterParams fallbackParams(const ClusterDecayerPtr& decayer) const;
  // Format 2: the spectrum of Herwig's hadrons, with the decayer's OnShell and MassTry.
  std::unique_ptr<hadml::HadronSpectrum> herwigSpectrum(const ClusterDecayerPtr& decayer) const;
  // Format 2: the model's species for the requests (id1, id2, m1, m2 replaced); a pair
  // that is not compatible with the cluster's constituents, or that Herwig has no particle
  // for, is refused: Policy Error throws, Policy Fallback keeps Herwig's pair (`original`).
  void chooseSpecies(std::vector<hadml::ClusterDecayRequest>& requests,
                     const std::vector<hadml::ClusterDecayRequest>& original,
                     hadml::Random& rng);
  void writeHadronizationRecord(const Step& step, long eventNumber);
};

}  // namespace Herwig

#endif
