// The ML cluster decayer: an ONNX model (docs/model-contract.md) predicts the direction of
// hadron 1 in the model frame; exact two-body kinematics give the momenta. A format-2
// model also chooses the species of the two hadrons (chooseSpecies).
// No ONNX Runtime header here (pimpl), so a Herwig plugin can include this file.
//
// Thread safety: decay() may be called from several threads at once on one object.
// Ort::Session::Run is thread-safe, the parsed contract is immutable after construction,
// the counters are atomic, and each call uses its own buffers and the caller's Random.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hadml/ClusterDecayer.h"
#include "hadml/Params.h"

namespace hadml {

enum class InvalidOutputPolicy { Error, Fallback };

// The condition feature names this shim can compute (docs/model-contract.md), in a fixed
// order. The one definition of the names: Python reads them from
// hadml._core.KNOWN_CONDITION_FEATURES (hadml/ml/contract.py).
const std::vector<std::string>& knownConditionFeatures();

// Unscaled condition features `names` of each request, row-major [n, names.size()], in
// double precision: the one definition of every feature. The shim feeds their float32
// rounding to the model; training computes them through hadml._core.condition_features
// (hadml/data/features.py). Throws std::invalid_argument for an unknown name.
std::vector<double> conditionFeatures(const std::vector<ClusterDecayRequest>& requests,
                                      const std::vector<std::string>& names);

struct OnnxDecayerOptions {
  std::string modelPath;
  std::string device = "cpu";  // "cpu" | "cuda" (CUDA execution provider)
  int intraOpThreads = 1;
  InvalidOutputPolicy policy = InvalidOutputPolicy::Error;
  ClusterParams classicParams;  // for the classic fallback
};

// Condition features that do not depend on the species of the two hadrons: the only ones
// a format-2 species head may read (it runs before the species are known).
bool speciesIndependentFeature(const std::string& name);

// The parsed, validated metadata of a model file.
struct OnnxModelInfo {
  int formatVersion = 0;
  std::vector<std::string> features;
  int noiseDim = 0;
  std::string noiseDistribution;  // "normal" | "uniform"
  std::string frame;
  std::string output;
  std::vector<double> offset, scale;
  std::string provenance;  // raw JSON
  // Format 2 only (empty for format 1): the species head.
  std::vector<int> species;                  // hadml.species: |PDG id| of each logit column
  std::vector<std::string> speciesFeatures;  // hadml.species_features
  std::vector<double> speciesOffset, speciesScale;
  std::string speciesChoice;                 // hadml.species_choice
};

class OnnxClusterDecayer : public ClusterDecayer {
 public:
  // Loads and validates the model; throws std::invalid_argument (contract violations,
  // naming the problem and the file) or std::runtime_error (unreadable file, no CUDA).
  // Metadata is parsed with limits (1 MiB per value, JSON depth 64), so no model file,
  // however crafted, can crash the process that loads it.
  explicit OnnxClusterDecayer(const OnnxDecayerOptions& options);
  ~OnnxClusterDecayer() override;
  OnnxClusterDecayer(const OnnxClusterDecayer&) = delete;
  OnnxClusterDecayer& operator=(const OnnxClusterDecayer&) = delete;

  // One session Run for the whole batch. Noise is drawn from rng in request order, row by
  // row (Z values per cluster), before inference.
  void decay(const std::vector<ClusterDecayRequest>& requests, Random& rng,
             std::vector<TwoBodyDecay>& out) override;
  // Format 2: the model chooses the species (id1, id2 and their masses) of each cluster:
  // a pair allowed by the constituents' flavours (spectrum.pairChannels) and open at the
  // cluster mass, drawn with probability proportional to exp(l1 + l2) p*(M; m1, m2) from
  // the species head's logits, by one flat number per cluster from rng (inverse CDF);
  // then the masses by spectrum.decayMasses. One species-head Run per 1024 clusters, the
  // pairs chosen from its output buffer. The mask (the allowed pairs of each flavour key,
  // with their distinct logit columns) is built at a key's first cluster and kept for
  // every later batch with the same spectrum (HadronSpectrum::serial); thread-safe.
  bool choosesSpecies() const override;
  void chooseSpecies(std::vector<ClusterDecayRequest>& requests, const HadronSpectrum& spectrum,
                     Random& rng) override;
  std::string name() const override { return "onnx"; }
  // decayed: clusters decayed with the model's output; fallbacks: clusters whose model
  // output was invalid and that were decayed classically (policy Fallback). Every cluster
  // handed to decay() is counted in exactly one of the two.
  DecayerStats stats() const override;

  const OnnxModelInfo& info() const;
  const OnnxDecayerOptions& options() const;

  // Unscaled condition features of each request, row-major [n, C] (the contract's formulas).
  std::vector<float> features(const std::vector<ClusterDecayRequest>& requests) const;
  // Runs the session on already-built arrays: condition (unscaled, [n, C]) and noise
  // ([n, Z]); returns angles [n, 2]. Scaling is applied here. For tests and tools.
  std::vector<float> inferAngles(const std::vector<float>& conditionUnscaled,
                                 const std::vector<float>& noise, std::size_t n) const;
  // Format 2: unscaled species-head features [n, Cs] and the head's logits [n, 2 S]
  // (scaling applied here): columns 0..S-1 score hadron 1, S..2S-1 hadron 2.
  std::vector<float> speciesFeatures(const std::vector<ClusterDecayRequest>& requests) const;
  std::vector<float> inferSpeciesLogits(const std::vector<float>& speciesConditionUnscaled,
                                        std::size_t n) const;
  // Noise for n clusters drawn from rng exactly as decay() draws it.
  std::vector<float> drawNoise(std::size_t n, Random& rng) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::shared_ptr<OnnxClusterDecayer> makeOnnxClusterDecayer(const OnnxDecayerOptions& options);

}  // namespace hadml
