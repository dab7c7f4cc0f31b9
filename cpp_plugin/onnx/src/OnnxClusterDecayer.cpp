// ONNX Runtime implementation of the ML cluster decayer (docs/model-contract.md, formats
// 1 and 2).
#include "hadml/OnnxClusterDecayer.h"

#include <nlohmann/json.hpp>
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <tuple>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "hadml/ClassicClusterDecayer.h"
#include "hadml/HadronSpectrum.h"
#include "hadml/Kinematics.h"

namespace hadml {

namespace {

constexpr int kFormatVersion = 1;
constexpr int kFormatVersionSpecies = 2;  // the model chooses the species too
const char* const kInputCondition = "condition";
const char* const kInputNoise = "noise";
const char* const kOutputAngles = "angles";
const char* const kInputSpecies = "species_condition";
const char* const kOutputSpecies = "species_logits";
// P(pair) proportional to exp(l1[h1] + l2[h2]) p*(M; m1, m2) over the open allowed pairs.
const char* const kSpeciesChoice = "softmax_logits_pstar";
// Species list: at most this many hadrons (the Herwig 7.3 table selects about 350).
constexpr std::size_t kMaxSpecies = 4096;
// Species-head rows per Session::Run: bounds the logits buffer (n x 2S floats).
constexpr std::size_t kSpeciesChunk = 1024;
const char* const kFrame = "cluster_rest_z_constituent1";
const char* const kOutput = "cos_theta,phi";
constexpr double kAngleTolerance = 1e-4;

// Limits on what a model file may put into its metadata, so that no crafted file can
// exhaust memory or the stack of the process that loads it (issue 11). The shipped model's
// largest value (hadml.provenance) is about 1.3 kB and nests 4 levels.
constexpr std::size_t kMaxMetadataValueBytes = std::size_t{1} << 20;  // 1 MiB per value
constexpr int kMaxJsonDepth = 64;
// Noise dimension: the training recipes use Z = 4 or 8; a batch allocates n * Z floats.
constexpr long kMaxNoiseDim = 1024;
constexpr int kMaxThreads = 256;  // as the Herwig adapter's Threads interface
// Input scaling: features are O(0.1-100) GeV or flags, stored as float32. A scale below
// 1e-6 turns float32 rounding of a GeV-sized feature (~1e-7) into O(1) model inputs, and
// (x - offset) / 1e-300 overflows float32 to inf; training writes the standard deviation,
// or 1 for a constant column (hadml/data/features.py, Scaling.fit).
constexpr double kMinScale = 1e-6;
constexpr double kMaxScaleOrOffset = 1e6;

// A metadata value quoted for an error message, cut to a readable length.
std::string shownValue(const std::string& s) {
  constexpr std::size_t kShown = 60;
  if (s.size() <= kShown) return "'" + s + "'";
  return "'" + s.substr(0, kShown) + "...' (" + std::to_string(s.size()) + " bytes)";
}

// Thrown by the parser callback when the input nests deeper than kMaxJsonDepth.
struct JsonTooDeep : std::runtime_error {
  JsonTooDeep() : std::runtime_error("too deep") {}
};

// Parses one metadata value with nlohmann/json. Rejects deep nesting while parsing (the
// callback sees each object/array start with its depth, before the tree grows further),
// so the size of the tree stays bounded by the 1 MiB value limit times a small factor.
// Returns the error text (empty on success) instead of throwing nlohmann's exceptions.
std::string parseJsonLimited(const std::string& text, nlohmann::json& out) {
  if (text.size() > kMaxMetadataValueBytes)
    return "value of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
           std::to_string(kMaxMetadataValueBytes) + " bytes";
  const nlohmann::json::parser_callback_t limitDepth =
      [](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start) &&
            depth >= kMaxJsonDepth)
          throw JsonTooDeep();
        return true;
      };
  try {
    out = nlohmann::json::parse(text, limitDepth);
  } catch (const JsonTooDeep&) {
    return "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
  } catch (const nlohmann::json::exception& e) {
    std::string msg = std::string("malformed JSON (") + e.what() + ")";
    if (text.find("NaN") != std::string::npos || text.find("Infinity") != std::string::npos)
      msg += "; NaN and Infinity are not JSON numbers";
    return msg;
  }
  return {};
}

std::string typeName(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "float64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
    default: return "type " + std::to_string(static_cast<int>(t));
  }
}

std::string shapeString(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << '[';
  for (std::size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << (s[i] < 0 ? std::string("N") : std::to_string(s[i]));
  o << ']';
  return o.str();
}

// Heaviest quark flavour (1..5) of a quark or diquark PDG id: for a diquark the
// thousands digit holds the heavier quark (PDG numbering scheme, section 2).
int heaviestFlavour(int id) {
  const int a = std::abs(id);
  if (a < 10) return a;
  return std::max((a / 1000) % 10, (a / 100) % 10);
}

// Position in knownConditionFeatures().
enum class FeatureId { ClusterMass, M1, M2, P1, P2, F1, F2, PStar, D1, D2 };

bool isDiquarkCode(int id) {
  const int a = std::abs(id);
  return a >= 1000 && a < 10000 && (a / 10) % 10 == 0;
}

// The one definition of each condition feature (docs/model-contract.md): inference
// (OnnxClusterDecayer::features) and training (hadml/data/features.py, through
// conditionFeatures) both evaluate it here.
double featureValue(FeatureId id, const ClusterDecayRequest& r) {
  switch (id) {
    case FeatureId::ClusterMass: return r.mass();
    case FeatureId::M1: return r.m1;
    case FeatureId::M2: return r.m2;
    case FeatureId::P1: return r.constituents[0].perturbative ? 1.0 : 0.0;
    case FeatureId::P2: return r.constituents[1].perturbative ? 1.0 : 0.0;
    case FeatureId::F1: return heaviestFlavour(r.constituents[0].id);
    case FeatureId::F2: return heaviestFlavour(r.constituents[1].id);
    case FeatureId::PStar: {
      const double M = r.mass();
      return M > r.m1 + r.m2 ? twoBodyMomentum(M, r.m1, r.m2) : 0.0;
    }
    case FeatureId::D1: return isDiquarkCode(r.constituents[0].id) ? 1.0 : 0.0;
    case FeatureId::D2: return isDiquarkCode(r.constituents[1].id) ? 1.0 : 0.0;
  }
  throw std::logic_error("featureValue: unhandled feature id");
}

FeatureId featureId(const std::string& name) {
  const auto& known = knownConditionFeatures();
  const auto it = std::find(known.begin(), known.end(), name);
  if (it == known.end()) {
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw std::invalid_argument("unknown condition feature '" + name.substr(0, 60) +
                                "' (known: " + list + ")");
  }
  return static_cast<FeatureId>(it - known.begin());
}

}  // namespace

std::vector<double> conditionFeatures(const std::vector<ClusterDecayRequest>& requests,
                                      const std::vector<std::string>& names) {
  std::vector<FeatureId> ids;
  ids.reserve(names.size());
  for (const auto& n : names) ids.push_back(featureId(n));
  std::vector<double> x(requests.size() * ids.size());
  for (std::size_t i = 0; i < requests.size(); ++i)
    for (std::size_t j = 0; j < ids.size(); ++j) x[i * ids.size() + j] = featureValue(ids[j], requests[i]);
  return x;
}

const std::vector<std::string>& knownConditionFeatures() {
  // The one list of feature names (docs/model-contract.md); Python reads it from
  // hadml._core.KNOWN_CONDITION_FEATURES. The order matches FeatureId.
  static const std::vector<std::string> names{
      "cluster_mass",    "hadron1_mass", "hadron2_mass", "c1_perturbative",
      "c2_perturbative", "c1_flavour",   "c2_flavour",   "pstar",
      "c1_diquark",      "c2_diquark"};
  return names;
}

bool speciesIndependentFeature(const std::string& name) {
  return name != "hadron1_mass" && name != "hadron2_mass" && name != "pstar";
}

namespace {

// The format-2 mask of one flavour key (docs/model-contract.md, "The choice"): the pairs of
// HadronSpectrum::pairChannels whose two hadrons are in hadml.species, in its order (by
// threshold m1 + m2), as arrays for the per-cluster loop. Each hadron side keeps its
// distinct logit columns in order of first appearance, so that a cluster whose first `open`
// pairs are open needs the exponentials of only distinct1[open] + distinct2[open] columns
// (about 25 + 25 for a light cluster of the LEP tune, against 2 x 134 listed hadrons).
struct KeyMask {
  std::vector<int> id1, id2;            // signed PDG ids, per pair
  std::vector<double> m1, m2;           // nominal masses, per pair
  std::vector<double> threshold;        // m1 + m2, ascending: open = count below M
  std::vector<std::uint32_t> slot1, slot2;  // index into cols1 / cols2, per pair
  std::vector<int> cols1, cols2;        // distinct logit columns, by first appearance
  std::vector<std::uint32_t> distinct1, distinct2;  // [k]: distinct columns in pairs 0..k-1
};

// Every key's mask for one HadronSpectrum (HadronSpectrum::serial), built at the first
// cluster of that key and kept for every later batch. Keys are only added; a KeyMask never
// changes once built, so a batch may use the ones it looked up after releasing the lock.
struct SpeciesMask {
  std::uint64_t spectrumSerial = 0;
  std::unordered_map<std::int64_t, std::unique_ptr<const KeyMask>> keys;
};

}  // namespace

struct OnnxClusterDecayer::Impl {
  OnnxDecayerOptions options;
  OnnxModelInfo info;
  Ort::Env env{ORT_LOGGING_LEVEL_ERROR, "hadml"};
  std::unique_ptr<Ort::Session> session;
  Ort::MemoryInfo memInfo = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<FeatureId> featureIds;
  std::vector<FeatureId> speciesFeatureIds;  // format 2
  std::unordered_map<int, int> speciesIndex;  // |id| -> logit column (format 2)
  std::unique_ptr<ClassicClusterDecayer> classic;
  std::atomic<std::uint64_t> decayed{0}, fallbacks{0}, speciesFallbacks{0};
  // Format 2: the mask of the spectrum last used (a new spectrum replaces it; a batch still
  // running on the old one keeps its own reference).
  std::mutex maskMutex;
  std::shared_ptr<SpeciesMask> mask;
  const KeyMask& keyMask(SpeciesMask& m, std::int64_t key, int c1, int c2,
                         const HadronSpectrum& spectrum) const;
  // Runs the species head on `rows` scaled rows; the output's shape is checked.
  std::vector<Ort::Value> runSpeciesHead(std::vector<float>& scaledCondition,
                                         std::size_t rows) const;
  bool speciesModel() const { return info.formatVersion == kFormatVersionSpecies; }

  [[noreturn]] void bad(const std::string& what) const {
    throw std::invalid_argument("ONNX cluster-decay model '" + options.modelPath + "': " + what +
                                " (see docs/model-contract.md)");
  }

  void load();
  void validateGraph();
  void readMetadata();
  void trialRun() const;
  // Runs the graph; the head not asked for gets zero rows (its batch dimension is its own).
  std::vector<Ort::Value> run(const char* output, std::vector<float>& cond, std::size_t nCond,
                              std::vector<float>& noise, std::vector<float>& species,
                              std::size_t nSpecies) const;
};

void OnnxClusterDecayer::Impl::load() {
  const std::string& path = options.modelPath;
  {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw std::runtime_error("ONNX cluster-decay model '" + path + "': cannot open the file (" +
                               (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file") + ")");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("ONNX cluster-decay model '" + path + "': cannot open the file");
  }
  if (options.intraOpThreads < 0 || options.intraOpThreads > kMaxThreads)
    throw std::invalid_argument("OnnxClusterDecayer: threads must be from 0 to " +
                                std::to_string(kMaxThreads) + " (0 = ONNX Runtime's default), got " +
                                std::to_string(options.intraOpThreads));
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(options.intraOpThreads);
  so.SetInterOpNumThreads(1);
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  if (options.device == "cuda") {
    const auto providers = Ort::GetAvailableProviders();
    if (std::find(providers.begin(), providers.end(), "CUDAExecutionProvider") == providers.end())
      throw std::runtime_error(
          "OnnxClusterDecayer: device 'cuda' requested but this ONNX Runtime has no "
          "CUDAExecutionProvider (install onnxruntime-gpu, or use device='cpu')");
    OrtCUDAProviderOptions cuda{};
    try {
      so.AppendExecutionProvider_CUDA(cuda);
    } catch (const Ort::Exception& e) {
      throw std::runtime_error(std::string("OnnxClusterDecayer: cannot enable CUDA: ") + e.what());
    }
  } else if (options.device != "cpu") {
    throw std::invalid_argument("OnnxClusterDecayer: device must be 'cpu' or 'cuda', got '" +
                                options.device + "'");
  }
  try {
    session = std::make_unique<Ort::Session>(env, path.c_str(), so);
  } catch (const Ort::Exception& e) {
    throw std::runtime_error("ONNX cluster-decay model '" + path +
                             "': ONNX Runtime cannot load it (not an ONNX file, truncated, or an "
                             "operator or opset this ONNX Runtime lacks): " + e.what());
  }
  readMetadata();
  validateGraph();
  if (speciesModel()) trialRun();
  if (options.policy == InvalidOutputPolicy::Fallback)
    classic = std::make_unique<ClassicClusterDecayer>(options.classicParams);
}

void OnnxClusterDecayer::Impl::readMetadata() {
  Ort::AllocatorWithDefaultOptions alloc;
  const Ort::ModelMetadata md = session->GetModelMetadata();
  auto get = [&](const char* key) -> std::string {
    auto v = md.LookupCustomMetadataMapAllocated(key, alloc);
    if (!v) bad(std::string("missing metadata key '") + key + "'");
    std::string text(v.get());
    if (text.size() > kMaxMetadataValueBytes)
      bad(std::string("metadata '") + key + "' holds " + std::to_string(text.size()) +
          " bytes, more than the limit of " + std::to_string(kMaxMetadataValueBytes));
    return text;
  };
  auto parseJson = [&](const char* key, const std::string& text) {
    nlohmann::json value;
    const std::string error = parseJsonLimited(text, value);
    if (!error.empty()) bad(std::string("metadata '") + key + "': " + error);
    return value;
  };
  auto getJson = [&](const char* key) { return parseJson(key, get(key)); };
  const std::string version = get("hadml.format_version");
  if (version != std::to_string(kFormatVersion) && version != std::to_string(kFormatVersionSpecies))
    bad("unsupported hadml.format_version " + shownValue(version) + " (this shim reads versions " +
        std::to_string(kFormatVersion) + " and " + std::to_string(kFormatVersionSpecies) + ")");
  info.formatVersion = version == "1" ? kFormatVersion : kFormatVersionSpecies;

  auto readFeatures = [&](const char* key, std::vector<std::string>& names,
                          std::vector<FeatureId>& ids, bool speciesHead) {
    const nlohmann::json feats = getJson(key);
    if (!feats.is_array() || feats.empty())
      bad(std::string(key) + " must be a non-empty JSON list of names");
    const auto& known = knownConditionFeatures();
    for (const nlohmann::json& f : feats) {
      if (!f.is_string()) bad(std::string(key) + " must hold strings, found " + f.dump().substr(0, 60));
      const std::string name = f.get<std::string>();
      const auto it = std::find(known.begin(), known.end(), name);
      if (it == known.end()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        bad("unknown condition feature " + shownValue(name) + " (known: " + list + ")");
      }
      if (std::find(names.begin(), names.end(), name) != names.end())
        bad("condition feature '" + name + "' is listed twice in " + key);
      if (speciesHead && !speciesIndependentFeature(name))
        bad("hadml.species_features lists '" + name +
            "', which depends on the species the head is choosing");
      names.push_back(name);
      ids.push_back(static_cast<FeatureId>(it - known.begin()));
    }
  };
  readFeatures("hadml.condition_features", info.features, featureIds, false);

  const std::string zs = get("hadml.noise_dim");
  char* end = nullptr;
  errno = 0;
  const long z = std::strtol(zs.c_str(), &end, 10);
  if (zs.empty() || *end != '\0' || errno == ERANGE || z < 1 || z > kMaxNoiseDim)
    bad("hadml.noise_dim must be an integer from 1 to " + std::to_string(kMaxNoiseDim) +
        " (a generator needs noise), got " + shownValue(zs));
  info.noiseDim = static_cast<int>(z);
  info.noiseDistribution = get("hadml.noise_distribution");
  if (info.noiseDistribution != "normal" && info.noiseDistribution != "uniform")
    bad("hadml.noise_distribution must be 'normal' or 'uniform', got " +
        shownValue(info.noiseDistribution));
  info.frame = get("hadml.frame");
  if (info.frame != kFrame) bad("hadml.frame " + shownValue(info.frame) + " is not '" + kFrame + "'");
  info.output = get("hadml.output");
  if (info.output != kOutput) bad("hadml.output " + shownValue(info.output) + " is not '" + kOutput + "'");

  auto readScaling = [&](const char* key, const std::vector<std::string>& names,
                         std::vector<double>& offset, std::vector<double>& scale) {
    const std::string k0(key);
    const nlohmann::json sc = getJson(key);
    if (!sc.is_object() || !sc.contains("offset") || !sc.contains("scale"))
      bad(k0 + " must be a JSON object with 'offset' and 'scale' lists");
    const std::size_t c = names.size();
    for (const std::string k : {"offset", "scale"}) {
      const nlohmann::json& a = sc.at(k);
      if (!a.is_array() || a.size() != c)
        bad(k0 + "." + k + " must be a list of " + std::to_string(c) +
            " numbers (one per condition feature), got " +
            (a.is_array() ? std::to_string(a.size()) : std::string("no list")));
      std::vector<double>& dst = k == "offset" ? offset : scale;
      for (std::size_t j = 0; j < c; ++j) {
        const std::string where = k0 + "." + k + "[" + std::to_string(j) + "] (" + names[j] + ")";
        if (!a[j].is_number()) bad(where + " is not a number: " + a[j].dump().substr(0, 60));
        const double x = a[j].get<double>();
        if (!std::isfinite(x)) bad(where + " is not a finite number");
        if (k == "scale" && !(x >= kMinScale && x <= kMaxScaleOrOffset)) {
          std::ostringstream msg;
          msg << where << " is " << x << "; a scale must lie in [" << kMinScale << ", "
              << kMaxScaleOrOffset << "] (the model input is (x - offset) / scale in float32)";
          bad(msg.str());
        }
        if (k == "offset" && std::abs(x) > kMaxScaleOrOffset) {
          std::ostringstream msg;
          msg << where << " is " << x << "; |offset| must be at most " << kMaxScaleOrOffset;
          bad(msg.str());
        }
        dst.push_back(x);
      }
    }
  };
  readScaling("hadml.input_scaling", info.features, info.offset, info.scale);

  if (speciesModel()) {
    readFeatures("hadml.species_features", info.speciesFeatures, speciesFeatureIds, true);
    readScaling("hadml.species_scaling", info.speciesFeatures, info.speciesOffset,
                info.speciesScale);
    const nlohmann::json sp = getJson("hadml.species");
    if (!sp.is_array() || sp.empty() || sp.size() > kMaxSpecies)
      bad("hadml.species must be a JSON list of 1 to " + std::to_string(kMaxSpecies) +
          " hadron ids");
    for (const nlohmann::json& x : sp) {
      if (!x.is_number_integer() || x.get<long long>() <= 0 || x.get<long long>() >= 10000000)
        bad("hadml.species must hold positive PDG hadron ids (|id|), found " + x.dump().substr(0, 60));
      const int id = x.get<int>();
      if (!speciesIndex.emplace(id, static_cast<int>(info.species.size())).second)
        bad("hadron " + std::to_string(id) + " is listed twice in hadml.species");
      info.species.push_back(id);
    }
    info.speciesChoice = get("hadml.species_choice");
    if (info.speciesChoice != kSpeciesChoice)
      bad("hadml.species_choice " + shownValue(info.speciesChoice) + " is not '" +
          kSpeciesChoice + "'");
  }
  info.provenance = get("hadml.provenance");
  parseJson("hadml.provenance", info.provenance);  // must be valid JSON within the limits
}

void OnnxClusterDecayer::Impl::validateGraph() {
  Ort::AllocatorWithDefaultOptions alloc;
  const std::size_t nIn = session->GetInputCount(), nOut = session->GetOutputCount();
  std::vector<std::string> inNames, outNames;
  for (std::size_t i = 0; i < nIn; ++i) inNames.emplace_back(session->GetInputNameAllocated(i, alloc).get());
  for (std::size_t i = 0; i < nOut; ++i) outNames.emplace_back(session->GetOutputNameAllocated(i, alloc).get());
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "'" : ", '") + x + "'";
    return s.empty() ? std::string("none") : s;
  };
  const bool v2 = speciesModel();
  auto has = [](const std::vector<std::string>& v, const char* n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  if (nIn != (v2 ? 3u : 2u) || !has(inNames, kInputCondition) || !has(inNames, kInputNoise) ||
      (v2 && !has(inNames, kInputSpecies)))
    bad(std::string("graph inputs must be exactly ") +
        (v2 ? "'condition', 'noise' and 'species_condition' (format 2)"
            : "'condition' and 'noise'") +
        ", found " + join(inNames));
  if (!has(outNames, kOutputAngles))
    bad("graph has no output 'angles' (outputs: " + join(outNames) + ")");
  if (v2 && !has(outNames, kOutputSpecies))
    bad("format-2 graph has no output 'species_logits' (outputs: " + join(outNames) + ")");

  auto check = [&](bool input, std::size_t idx, const std::string& name, int64_t width) {
    const Ort::TypeInfo ti = input ? session->GetInputTypeInfo(idx) : session->GetOutputTypeInfo(idx);
    if (ti.GetONNXType() != ONNX_TYPE_TENSOR) bad("'" + name + "' is not a tensor");
    const auto tt = ti.GetTensorTypeAndShapeInfo();
    if (tt.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
      bad("'" + name + "' has dtype " + typeName(tt.GetElementType()) + ", expected float32");
    const auto shape = tt.GetShape();
    if (shape.size() != 2)
      bad("'" + name + "' has rank " + std::to_string(shape.size()) + " (shape " +
          shapeString(shape) + "), expected rank 2 [N, " + std::to_string(width) + "]");
    if (shape[0] >= 0)
      bad("'" + name + "' has shape " + shapeString(shape) +
          " with a fixed batch dimension; the first dimension must be dynamic (N)");
    if (shape[1] != width)
      bad("'" + name + "' has shape " + shapeString(shape) + ", expected [N, " +
          std::to_string(width) + "] (" +
          (name == kInputCondition ? "number of hadml.condition_features"
           : name == kInputNoise   ? "hadml.noise_dim"
           : name == kInputSpecies ? "number of hadml.species_features"
           : name == kOutputSpecies ? "2 x the length of hadml.species"
                                    : "cos_theta, phi") +
          ")");
  };
  for (std::size_t i = 0; i < nIn; ++i) {
    if (inNames[i] == kInputCondition) check(true, i, inNames[i], static_cast<int64_t>(info.features.size()));
    else if (inNames[i] == kInputSpecies)
      check(true, i, inNames[i], static_cast<int64_t>(info.speciesFeatures.size()));
    else check(true, i, inNames[i], info.noiseDim);
  }
  for (std::size_t i = 0; i < nOut; ++i) {
    if (outNames[i] == kOutputAngles) check(false, i, outNames[i], 2);
    if (v2 && outNames[i] == kOutputSpecies)
      check(false, i, outNames[i], 2 * static_cast<int64_t>(info.species.size()));
  }
}

std::vector<Ort::Value> OnnxClusterDecayer::Impl::run(const char* output, std::vector<float>& cond,
                                                      std::size_t nCond, std::vector<float>& noise,
                                                      std::vector<float>& species,
                                                      std::size_t nSpecies) const {
  const std::size_t c = info.features.size(), z = static_cast<std::size_t>(info.noiseDim);
  const std::array<int64_t, 2> cs{static_cast<int64_t>(nCond), static_cast<int64_t>(c)};
  const std::array<int64_t, 2> zs{static_cast<int64_t>(nCond), static_cast<int64_t>(z)};
  const std::array<int64_t, 2> ss{static_cast<int64_t>(nSpecies),
                                  static_cast<int64_t>(info.speciesFeatures.size())};
  std::vector<Ort::Value> inputs;
  inputs.push_back(Ort::Value::CreateTensor<float>(memInfo, cond.data(), cond.size(), cs.data(), 2));
  inputs.push_back(Ort::Value::CreateTensor<float>(memInfo, noise.data(), noise.size(), zs.data(), 2));
  std::vector<const char*> inNames{kInputCondition, kInputNoise};
  if (speciesModel()) {
    inputs.push_back(
        Ort::Value::CreateTensor<float>(memInfo, species.data(), species.size(), ss.data(), 2));
    inNames.push_back(kInputSpecies);
  }
  const char* outNames[] = {output};
  try {
    return session->Run(Ort::RunOptions{nullptr}, inNames.data(), inputs.data(), inputs.size(),
                        outNames, 1);
  } catch (const Ort::Exception& e) {
    throw std::runtime_error(
        "ONNX cluster-decay model '" + options.modelPath + "': inference failed" +
        (speciesModel() ? " (a format-2 graph must run its species head and its angle head "
                          "with independent batch sizes)"
                        : "") +
        ": " + e.what());
  }
}

// Format 2: one row through each head at load time, so that a graph whose heads share a
// batch dimension, or whose outputs do not have the declared widths, is refused on load.
void OnnxClusterDecayer::Impl::trialRun() const {
  std::vector<float> cond(info.features.size(), 0.0f), noise(info.noiseDim, 0.0f),
      species(info.speciesFeatures.size(), 0.0f), none;
  auto expect = [&](std::vector<Ort::Value> out, const char* name, int64_t width) {
    const auto shape = out.at(0).GetTensorTypeAndShapeInfo().GetShape();
    if (out.at(0).GetTensorTypeAndShapeInfo().GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT ||
        shape.size() != 2 || shape[0] != 1 || shape[1] != width)
      bad(std::string("output '") + name + "' has shape " + shapeString(shape) +
          " for one cluster, expected [1, " + std::to_string(width) + "] float32");
  };
  try {
    expect(run(kOutputAngles, cond, 1, noise, none, 0), kOutputAngles, 2);
    expect(run(kOutputSpecies, none, 0, none, species, 1), kOutputSpecies,
           2 * static_cast<int64_t>(info.species.size()));
  } catch (const std::runtime_error& e) {
    bad(std::string("trial run on one cluster failed: ") + e.what());
  }
}

OnnxClusterDecayer::OnnxClusterDecayer(const OnnxDecayerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->load();
}

OnnxClusterDecayer::~OnnxClusterDecayer() = default;

const OnnxModelInfo& OnnxClusterDecayer::info() const { return impl_->info; }
const OnnxDecayerOptions& OnnxClusterDecayer::options() const { return impl_->options; }

DecayerStats OnnxClusterDecayer::stats() const {
  DecayerStats s;
  s.decayed = impl_->decayed.load();
  s.fallbacks = impl_->fallbacks.load();
  s.speciesFallbacks = impl_->speciesFallbacks.load();
  return s;
}

std::vector<float> OnnxClusterDecayer::features(const std::vector<ClusterDecayRequest>& requests) const {
  const std::size_t c = impl_->featureIds.size();
  std::vector<float> x(requests.size() * c);
  for (std::size_t i = 0; i < requests.size(); ++i)
    for (std::size_t j = 0; j < c; ++j)
      x[i * c + j] = static_cast<float>(featureValue(impl_->featureIds[j], requests[i]));
  return x;
}

std::vector<float> OnnxClusterDecayer::drawNoise(std::size_t n, Random& rng) const {
  const std::size_t z = static_cast<std::size_t>(impl_->info.noiseDim);
  std::vector<float> noise(n * z);
  if (impl_->info.noiseDistribution == "normal")
    for (float& v : noise) v = static_cast<float>(rng.normal());
  else
    for (float& v : noise) v = static_cast<float>(rng.flat());
  return noise;
}

std::vector<float> OnnxClusterDecayer::inferAngles(const std::vector<float>& conditionUnscaled,
                                                   const std::vector<float>& noise,
                                                   std::size_t n) const {
  const Impl& im = *impl_;
  const std::size_t c = im.info.features.size(), z = static_cast<std::size_t>(im.info.noiseDim);
  if (conditionUnscaled.size() != n * c || noise.size() != n * z)
    throw std::invalid_argument("OnnxClusterDecayer::inferAngles: condition must be [n, " +
                                std::to_string(c) + "] and noise [n, " + std::to_string(z) + "]");
  if (n == 0) return {};
  std::vector<float> cond(conditionUnscaled.size());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < c; ++j)
      cond[i * c + j] = static_cast<float>((conditionUnscaled[i * c + j] - im.info.offset[j]) / im.info.scale[j]);
  std::vector<float> noiseCopy(noise), none;  // ORT wants non-const buffers
  std::vector<Ort::Value> outputs = im.run(kOutputAngles, cond, n, noiseCopy, none, 0);
  if (outputs.size() != 1 || !outputs[0].IsTensor() ||
      outputs[0].GetTensorTypeAndShapeInfo().GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
    throw std::runtime_error("ONNX cluster-decay model '" + im.options.modelPath +
                             "': output 'angles' is not a float32 tensor at run time");
  const auto shape = outputs[0].GetTensorTypeAndShapeInfo().GetShape();
  if (shape.size() != 2 || shape[0] != static_cast<int64_t>(n) || shape[1] != 2)
    throw std::runtime_error("ONNX cluster-decay model '" + im.options.modelPath +
                             "': output 'angles' has shape " + shapeString(shape) +
                             " for a batch of " + std::to_string(n) + ", expected [n, 2]");
  const float* a = outputs[0].GetTensorData<float>();
  return std::vector<float>(a, a + 2 * n);
}

bool OnnxClusterDecayer::choosesSpecies() const { return impl_->speciesModel(); }

std::vector<float> OnnxClusterDecayer::speciesFeatures(
    const std::vector<ClusterDecayRequest>& requests) const {
  const std::size_t c = impl_->speciesFeatureIds.size();
  std::vector<float> x(requests.size() * c);
  for (std::size_t i = 0; i < requests.size(); ++i)
    for (std::size_t j = 0; j < c; ++j)
      x[i * c + j] = static_cast<float>(featureValue(impl_->speciesFeatureIds[j], requests[i]));
  return x;
}

std::vector<Ort::Value> OnnxClusterDecayer::Impl::runSpeciesHead(std::vector<float>& scaledCondition,
                                                                 std::size_t rows) const {
  std::vector<float> none;
  std::vector<Ort::Value> out = run(kOutputSpecies, none, 0, none, scaledCondition, rows);
  const std::size_t w = 2 * info.species.size();
  const auto shapeInfo = out.at(0).GetTensorTypeAndShapeInfo();
  const auto shape = shapeInfo.GetShape();
  if (shapeInfo.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || shape.size() != 2 ||
      shape[0] != static_cast<int64_t>(rows) || shape[1] != static_cast<int64_t>(w))
    throw std::runtime_error("ONNX cluster-decay model '" + options.modelPath +
                             "': output 'species_logits' has shape " + shapeString(shape) +
                             " for a batch of " + std::to_string(rows) + ", expected [n, " +
                             std::to_string(w) + "] float32");
  return out;
}

namespace {

// Scaled species-head input of requests [first, first + rows) into `cond` (resized).
void scaledSpeciesRows(const std::vector<float>& unscaled, std::size_t first, std::size_t rows,
                       const OnnxModelInfo& info, std::vector<float>& cond) {
  const std::size_t c = info.speciesFeatures.size();
  cond.resize(rows * c);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < c; ++j)
      cond[i * c + j] = static_cast<float>(
          (unscaled[(first + i) * c + j] - info.speciesOffset[j]) / info.speciesScale[j]);
}

}  // namespace

std::vector<float> OnnxClusterDecayer::inferSpeciesLogits(
    const std::vector<float>& speciesConditionUnscaled, std::size_t n) const {
  const Impl& im = *impl_;
  if (!im.speciesModel())
    throw std::logic_error("OnnxClusterDecayer::inferSpeciesLogits: '" + im.options.modelPath +
                           "' is a format-1 model (no species head)");
  const std::size_t c = im.info.speciesFeatures.size(), w = 2 * im.info.species.size();
  if (speciesConditionUnscaled.size() != n * c)
    throw std::invalid_argument("OnnxClusterDecayer::inferSpeciesLogits: species condition must be [n, " +
                                std::to_string(c) + "]");
  std::vector<float> logits(n * w), cond;
  for (std::size_t first = 0; first < n; first += kSpeciesChunk) {
    const std::size_t rows = std::min(kSpeciesChunk, n - first);
    scaledSpeciesRows(speciesConditionUnscaled, first, rows, im.info, cond);
    const std::vector<Ort::Value> out = im.runSpeciesHead(cond, rows);
    const float* a = out[0].GetTensorData<float>();
    std::copy(a, a + rows * w, logits.begin() + static_cast<std::ptrdiff_t>(first * w));
  }
  return logits;
}

const KeyMask& OnnxClusterDecayer::Impl::keyMask(SpeciesMask& m, std::int64_t key, int c1, int c2,
                                                 const HadronSpectrum& spectrum) const {
  auto it = m.keys.find(key);
  if (it != m.keys.end()) return *it->second;
  auto km = std::make_unique<KeyMask>();
  std::unordered_map<int, std::uint32_t> slotOf1, slotOf2;  // logit column -> slot
  const auto slot = [](std::unordered_map<int, std::uint32_t>& slotOf, std::vector<int>& cols,
                       int col) {
    const auto [pos, added] = slotOf.emplace(col, static_cast<std::uint32_t>(cols.size()));
    if (added) cols.push_back(col);
    return pos->second;
  };
  for (const auto& ch : spectrum.pairChannels(c1, c2)) {  // by threshold
    const auto k1 = speciesIndex.find(std::abs(ch.id1)), k2 = speciesIndex.find(std::abs(ch.id2));
    if (k1 == speciesIndex.end() || k2 == speciesIndex.end()) continue;
    km->id1.push_back(ch.id1);
    km->id2.push_back(ch.id2);
    km->m1.push_back(ch.m1);
    km->m2.push_back(ch.m2);
    km->threshold.push_back(ch.m1 + ch.m2);
    km->distinct1.push_back(static_cast<std::uint32_t>(km->cols1.size()));
    km->distinct2.push_back(static_cast<std::uint32_t>(km->cols2.size()));
    km->slot1.push_back(slot(slotOf1, km->cols1, k1->second));
    km->slot2.push_back(slot(slotOf2, km->cols2, k2->second));
  }
  km->distinct1.push_back(static_cast<std::uint32_t>(km->cols1.size()));
  km->distinct2.push_back(static_cast<std::uint32_t>(km->cols2.size()));
  return *m.keys.emplace(key, std::move(km)).first->second;
}

void OnnxClusterDecayer::chooseSpecies(std::vector<ClusterDecayRequest>& requests,
                                       const HadronSpectrum& spectrum, Random& rng) {
  Impl& im = *impl_;
  if (!im.speciesModel())
    throw std::logic_error("OnnxClusterDecayer::chooseSpecies: '" + im.options.modelPath +
                           "' is a format-1 model; the classic selector chooses its species");
  const std::size_t n = requests.size();
  if (n == 0) return;
  const std::size_t S = im.info.species.size();
  // The mask of each request's flavour key, looked up (and built at a key's first cluster)
  // under the lock; the choice below reads only immutable KeyMasks.
  std::vector<const KeyMask*> masks(n);
  std::shared_ptr<SpeciesMask> mask;
  {
    const std::lock_guard<std::mutex> lock(im.maskMutex);
    if (!im.mask || im.mask->spectrumSerial != spectrum.serial()) {
      im.mask = std::make_shared<SpeciesMask>();
      im.mask->spectrumSerial = spectrum.serial();
    }
    mask = im.mask;
    const KeyMask* last = nullptr;
    std::int64_t lastKey = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int c1 = requests[i].constituents[0].id, c2 = requests[i].constituents[1].id;
      const std::int64_t key = HadronSpectrum::flavourPairKey(c1, c2);
      if (!last || key != lastKey) {
        last = &im.keyMask(*mask, key, c1, c2, spectrum);
        lastKey = key;
      }
      masks[i] = last;
    }
  }
  const std::vector<float> unscaled = speciesFeatures(requests);
  std::vector<float> cond;
  std::vector<double> cum, e1, e2;  // grown to the largest key, then reused
  std::uint64_t fell = 0;
  // The head runs once per kSpeciesChunk clusters; each chunk's pairs are chosen from the
  // session's output buffer directly (no copy of the n x 2S logits).
  for (std::size_t first = 0; first < n; first += kSpeciesChunk) {
    const std::size_t rows = std::min(kSpeciesChunk, n - first);
    scaledSpeciesRows(unscaled, first, rows, im.info, cond);
    const std::vector<Ort::Value> out = im.runSpeciesHead(cond, rows);
    const float* logits = out[0].GetTensorData<float>();
    for (std::size_t i = first; i < first + rows; ++i) {
      ClusterDecayRequest& r = requests[i];
      const KeyMask& km = *masks[i];
      const double M = r.mass();
      const float* l1 = logits + (i - first) * 2 * S;
      const float* l2 = l1 + S;
      // Open pairs are a prefix (ascending thresholds; M > m1 + m2, the classic rule).
      const std::size_t open = static_cast<std::size_t>(
          std::lower_bound(km.threshold.begin(), km.threshold.end(), M) - km.threshold.begin());
      const std::size_t n1 = km.distinct1[open], n2 = km.distinct2[open];
      // The weight of pair k is exp(l1 - max1) exp(l2 - max2) p*(M; m1, m2) in double
      // precision, the maxima over the hadrons of the open pairs: one exponential per
      // distinct hadron of each side, not per pair.
      double top1 = -std::numeric_limits<double>::infinity(), top2 = top1;
      bool finite = true;
      for (std::size_t j = 0; j < n1; ++j) {
        const double a = l1[km.cols1[j]];
        finite = finite && std::isfinite(a);
        top1 = std::max(top1, a);
      }
      for (std::size_t j = 0; j < n2; ++j) {
        const double b = l2[km.cols2[j]];
        finite = finite && std::isfinite(b);
        top2 = std::max(top2, b);
      }
      const double u = rng.flat();
      std::size_t chosen = open;  // none
      if (open > 0 && finite) {
        if (e1.size() < n1) e1.resize(km.cols1.size());
        if (e2.size() < n2) e2.resize(km.cols2.size());
        if (cum.size() < open) cum.resize(km.threshold.size());
        for (std::size_t j = 0; j < n1; ++j)
          e1[j] = std::exp(std::min(double(l1[km.cols1[j]]) - top1, 0.0));
        for (std::size_t j = 0; j < n2; ++j)
          e2[j] = std::exp(std::min(double(l2[km.cols2[j]]) - top2, 0.0));
        // p*(M; m1, m2) of Kinematics.h (every pair below `open` has M > m1 + m2).
        double sum = 0.0;
        for (std::size_t k = 0; k < open; ++k) {
          sum += e1[km.slot1[k]] * e2[km.slot2[k]] * openTwoBodyMomentum(M, km.m1[k], km.m2[k]);
          cum[k] = sum;
        }
        if (sum > 0.0 && std::isfinite(sum)) {
          const auto end = cum.begin() + static_cast<std::ptrdiff_t>(open);
          std::size_t k = std::min(static_cast<std::size_t>(std::upper_bound(cum.begin(), end, u * sum) - cum.begin()),
                                   open - 1);
          while (k > 0 && cum[k] == cum[k - 1]) --k;  // never a zero-weight pair
          chosen = k;
        }
      }
      if (chosen < open) {
        r.id1 = km.id1[chosen];
        r.id2 = km.id2[chosen];
      } else {
        if (open > 0 && im.options.policy == InvalidOutputPolicy::Error) {
          std::ostringstream msg;
          msg << "ONNX cluster-decay model '" << im.options.modelPath
              << "': invalid species logits at batch index " << i
              << " (non-finite, or every open pair of zero weight); use policy 'fallback' to "
                 "choose such species classically";
          throw std::runtime_error(msg.str());
        }
        // No pair of the model's list is open (or invalid logits under policy fallback):
        // the classic selector, from the same engine.
        const auto p = spectrum.chooseHadronPair(M, r.constituents[0].id, r.constituents[1].id, rng);
        r.id1 = p.first;
        r.id2 = p.second;
        ++fell;
      }
      std::tie(r.m1, r.m2) = spectrum.decayMasses(M, r.id1, r.id2, rng);
    }
  }
  im.speciesFallbacks += fell;
}

void OnnxClusterDecayer::decay(const std::vector<ClusterDecayRequest>& requests, Random& rng,
                               std::vector<TwoBodyDecay>& out) {
  const std::size_t n = requests.size();
  out.clear();
  if (n == 0) return;
  const std::vector<float> noise = drawNoise(n, rng);
  const std::vector<float> angles = inferAngles(features(requests), noise, n);
  out.resize(n);
  std::uint64_t fell = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double ct = angles[2 * i], phi = angles[2 * i + 1];
    const bool valid = std::isfinite(ct) && std::isfinite(phi) &&
                       std::abs(ct) <= 1.0 + kAngleTolerance &&
                       std::abs(phi) <= M_PI + kAngleTolerance;
    const ClusterDecayRequest& r = requests[i];
    if (!valid) {
      if (impl_->options.policy == InvalidOutputPolicy::Error) {
        std::ostringstream msg;
        msg << "ONNX cluster-decay model '" << impl_->options.modelPath
            << "': invalid output at batch index " << i << " (cos_theta=" << ct << ", phi=" << phi
            << "); use policy 'fallback' to decay such clusters classically";
        throw std::runtime_error(msg.str());
      }
      // Fallback draws from rng after all the noise, in request order.
      out[i] = impl_->classic->decayOne(r, rng);
      ++fell;
      continue;
    }
    ct = std::clamp(ct, -1.0, 1.0);
    const ModelFrame f = modelFrame(r.p, r.constituents[0].p);
    out[i] = decayTwoBody(r.p, r.m1, r.m2, f.toRest(ct, phi));
  }
  impl_->decayed += n - fell;
  impl_->fallbacks += fell;
}

std::shared_ptr<OnnxClusterDecayer> makeOnnxClusterDecayer(const OnnxDecayerOptions& options) {
  return std::make_shared<OnnxClusterDecayer>(options);
}

}  // namespace hadml
