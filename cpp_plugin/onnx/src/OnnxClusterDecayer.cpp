// ONNX Runtime implementation of the ML cluster decayer (docs/model-contract.md, v1).
#include "hadml/OnnxClusterDecayer.h"

#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "hadml/ClassicClusterDecayer.h"
#include "hadml/Kinematics.h"

namespace hadml {

namespace {

constexpr int kFormatVersion = 1;
const char* const kInputCondition = "condition";
const char* const kInputNoise = "noise";
const char* const kOutputAngles = "angles";
const char* const kFrame = "cluster_rest_z_constituent1";
const char* const kOutput = "cos_theta,phi";
constexpr double kAngleTolerance = 1e-4;

const std::vector<std::string>& knownFeatures() {
  static const std::vector<std::string> names{
      "cluster_mass",    "hadron1_mass", "hadron2_mass", "c1_perturbative",
      "c2_perturbative", "c1_flavour",   "c2_flavour",   "pstar"};
  return names;
}

// --- A minimal JSON reader: just what the metadata needs (strings, numbers, lists,
// objects). Throws std::invalid_argument on malformed input.
struct Json {
  enum class Kind { Null, Number, String, List, Object, Bool } kind = Kind::Null;
  double number = 0.0;
  std::string str;
  std::vector<Json> list;
  std::map<std::string, Json> object;
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  Json parse() {
    Json v = value();
    skip();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  void fail(const char* what) const {
    throw std::invalid_argument(std::string("malformed JSON (") + what + " at offset " +
                                std::to_string(i_) + ")");
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char peek() {
    skip();
    if (i_ >= s_.size()) fail("unexpected end");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++i_;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') break;
      if (c == '\\') {
        if (i_ >= s_.size()) fail("bad escape");
        const char e = s_[i_++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'u': i_ += 4; out += '?'; break;  // non-ASCII never matters here
          default: out += e;
        }
      } else {
        out += c;
      }
    }
    return out;
  }
  Json value() {
    Json v;
    const char c = peek();
    if (c == '"') {
      v.kind = Json::Kind::String;
      v.str = string();
    } else if (c == '[') {
      v.kind = Json::Kind::List;
      ++i_;
      if (peek() == ']') { ++i_; return v; }
      while (true) {
        v.list.push_back(value());
        const char d = peek();
        ++i_;
        if (d == ']') break;
        if (d != ',') fail("expected , or ]");
      }
    } else if (c == '{') {
      v.kind = Json::Kind::Object;
      ++i_;
      if (peek() == '}') { ++i_; return v; }
      while (true) {
        std::string k = string();
        expect(':');
        v.object[k] = value();
        const char d = peek();
        ++i_;
        if (d == '}') break;
        if (d != ',') fail("expected , or }");
      }
    } else if (s_.compare(i_, 4, "true") == 0 || s_.compare(i_, 5, "false") == 0) {
      v.kind = Json::Kind::Bool;
      v.number = s_[i_] == 't' ? 1.0 : 0.0;
      i_ += s_[i_] == 't' ? 4 : 5;
    } else if (s_.compare(i_, 4, "null") == 0) {
      i_ += 4;
    } else if (s_.compare(i_, 3, "NaN") == 0) {
      v.kind = Json::Kind::Number;
      v.number = std::nan("");
      i_ += 3;
    } else {
      const char* begin = s_.c_str() + i_;
      char* end = nullptr;
      v.number = std::strtod(begin, &end);
      if (end == begin) fail("expected a value");
      v.kind = Json::Kind::Number;
      i_ += static_cast<std::size_t>(end - begin);
    }
    return v;
  }
  const std::string& s_;
  std::size_t i_ = 0;
};

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

}  // namespace

struct OnnxClusterDecayer::Impl {
  OnnxDecayerOptions options;
  OnnxModelInfo info;
  Ort::Env env{ORT_LOGGING_LEVEL_ERROR, "hadml"};
  std::unique_ptr<Ort::Session> session;
  Ort::MemoryInfo memInfo = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  enum class FeatureId { ClusterMass, M1, M2, P1, P2, F1, F2, PStar };
  std::vector<FeatureId> featureIds;
  std::unique_ptr<ClassicClusterDecayer> classic;
  std::atomic<std::uint64_t> decayed{0}, fallbacks{0};

  [[noreturn]] void bad(const std::string& what) const {
    throw std::invalid_argument("ONNX cluster-decay model '" + options.modelPath + "': " + what +
                                " (see docs/model-contract.md)");
  }

  void load();
  void validateGraph();
  void readMetadata();
};

void OnnxClusterDecayer::Impl::load() {
  const std::string& path = options.modelPath;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("ONNX cluster-decay model '" + path + "': cannot open the file");
  }
  if (options.intraOpThreads < 0)
    throw std::invalid_argument("OnnxClusterDecayer: threads must be >= 0 (0 = ORT default)");
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
                             "': ONNX Runtime cannot load it (truncated or not an ONNX file?): " +
                             e.what());
  }
  readMetadata();
  validateGraph();
  if (options.policy == InvalidOutputPolicy::Fallback)
    classic = std::make_unique<ClassicClusterDecayer>(options.classicParams);
}

void OnnxClusterDecayer::Impl::readMetadata() {
  Ort::AllocatorWithDefaultOptions alloc;
  const Ort::ModelMetadata md = session->GetModelMetadata();
  auto get = [&](const char* key) -> std::string {
    auto v = md.LookupCustomMetadataMapAllocated(key, alloc);
    if (!v) bad(std::string("missing metadata key '") + key + "'");
    return std::string(v.get());
  };
  auto parseJson = [&](const char* key, const std::string& text) {
    try {
      return JsonParser(text).parse();
    } catch (const std::invalid_argument& e) {
      bad(std::string("metadata '") + key + "': " + e.what());
    }
  };
  const std::string version = get("hadml.format_version");
  if (version != std::to_string(kFormatVersion))
    bad("unsupported hadml.format_version '" + version + "' (this shim reads version " +
        std::to_string(kFormatVersion) + ")");
  info.formatVersion = kFormatVersion;

  const Json feats = parseJson("hadml.condition_features", get("hadml.condition_features"));
  if (feats.kind != Json::Kind::List || feats.list.empty())
    bad("hadml.condition_features must be a non-empty JSON list of names");
  for (const Json& f : feats.list) {
    if (f.kind != Json::Kind::String) bad("hadml.condition_features must hold strings");
    const auto& known = knownFeatures();
    const auto it = std::find(known.begin(), known.end(), f.str);
    if (it == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      bad("unknown condition feature '" + f.str + "' (known: " + list + ")");
    }
    info.features.push_back(f.str);
    featureIds.push_back(static_cast<FeatureId>(it - known.begin()));
  }

  const std::string zs = get("hadml.noise_dim");
  char* end = nullptr;
  const long z = std::strtol(zs.c_str(), &end, 10);
  if (zs.empty() || *end != '\0' || z < 0 || z > 100000)
    bad("hadml.noise_dim must be a non-negative integer, got '" + zs + "'");
  info.noiseDim = static_cast<int>(z);
  info.noiseDistribution = get("hadml.noise_distribution");
  if (info.noiseDistribution != "normal" && info.noiseDistribution != "uniform")
    bad("hadml.noise_distribution must be 'normal' or 'uniform', got '" +
        info.noiseDistribution + "'");
  info.frame = get("hadml.frame");
  if (info.frame != kFrame) bad("hadml.frame '" + info.frame + "' is not '" + kFrame + "'");
  info.output = get("hadml.output");
  if (info.output != kOutput) bad("hadml.output '" + info.output + "' is not '" + kOutput + "'");

  const Json sc = parseJson("hadml.input_scaling", get("hadml.input_scaling"));
  if (sc.kind != Json::Kind::Object || !sc.object.count("offset") || !sc.object.count("scale"))
    bad("hadml.input_scaling must be a JSON object with 'offset' and 'scale' lists");
  const std::size_t c = info.features.size();
  for (const char* k : {"offset", "scale"}) {
    const Json& a = sc.object.at(k);
    if (a.kind != Json::Kind::List || a.list.size() != c)
      bad(std::string("hadml.input_scaling.") + k + " must be a list of " + std::to_string(c) +
          " numbers (one per condition feature), got " +
          (a.kind == Json::Kind::List ? std::to_string(a.list.size()) : std::string("no list")));
    std::vector<double>& dst = std::string(k) == "offset" ? info.offset : info.scale;
    for (std::size_t j = 0; j < c; ++j) {
      const Json& x = a.list[j];
      if (x.kind != Json::Kind::Number || !std::isfinite(x.number))
        bad(std::string("hadml.input_scaling.") + k + "[" + std::to_string(j) + "] is not a finite number");
      if (std::string(k) == "scale" && x.number == 0.0)
        bad("hadml.input_scaling.scale[" + std::to_string(j) + "] is zero");
      dst.push_back(x.number);
    }
  }
  info.provenance = get("hadml.provenance");
  parseJson("hadml.provenance", info.provenance);
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
  if (nIn != 2 || std::find(inNames.begin(), inNames.end(), kInputCondition) == inNames.end() ||
      std::find(inNames.begin(), inNames.end(), kInputNoise) == inNames.end())
    bad("graph inputs must be exactly 'condition' and 'noise', found " + join(inNames));
  if (std::find(outNames.begin(), outNames.end(), kOutputAngles) == outNames.end())
    bad("graph has no output 'angles' (outputs: " + join(outNames) + ")");

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
    if (shape[1] != width)
      bad("'" + name + "' has shape " + shapeString(shape) + ", expected [N, " +
          std::to_string(width) + "] (" +
          (name == kInputCondition ? "number of hadml.condition_features"
                                   : name == kInputNoise ? "hadml.noise_dim" : "cos_theta, phi") +
          ")");
  };
  for (std::size_t i = 0; i < nIn; ++i) {
    if (inNames[i] == kInputCondition) check(true, i, inNames[i], static_cast<int64_t>(info.features.size()));
    else check(true, i, inNames[i], info.noiseDim);
  }
  for (std::size_t i = 0; i < nOut; ++i)
    if (outNames[i] == kOutputAngles) check(false, i, outNames[i], 2);
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
  return s;
}

std::vector<float> OnnxClusterDecayer::features(const std::vector<ClusterDecayRequest>& requests) const {
  using F = Impl::FeatureId;
  const std::size_t c = impl_->featureIds.size();
  std::vector<float> x(requests.size() * c);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const ClusterDecayRequest& r = requests[i];
    for (std::size_t j = 0; j < c; ++j) {
      double v = 0.0;
      switch (impl_->featureIds[j]) {
        case F::ClusterMass: v = r.mass(); break;
        case F::M1: v = r.m1; break;
        case F::M2: v = r.m2; break;
        case F::P1: v = r.constituents[0].perturbative ? 1.0 : 0.0; break;
        case F::P2: v = r.constituents[1].perturbative ? 1.0 : 0.0; break;
        case F::F1: v = heaviestFlavour(r.constituents[0].id); break;
        case F::F2: v = heaviestFlavour(r.constituents[1].id); break;
        case F::PStar: {
          const double M = r.mass();
          v = M > r.m1 + r.m2 ? twoBodyMomentum(M, r.m1, r.m2) : 0.0;
          break;
        }
      }
      x[i * c + j] = static_cast<float>(v);
    }
  }
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
  std::vector<float> noiseCopy(noise);  // ORT wants non-const buffers
  const std::array<int64_t, 2> cs{static_cast<int64_t>(n), static_cast<int64_t>(c)};
  const std::array<int64_t, 2> zs{static_cast<int64_t>(n), static_cast<int64_t>(z)};
  std::array<Ort::Value, 2> inputs{
      Ort::Value::CreateTensor<float>(im.memInfo, cond.data(), cond.size(), cs.data(), 2),
      Ort::Value::CreateTensor<float>(im.memInfo, noiseCopy.data(), noiseCopy.size(), zs.data(), 2)};
  const char* inNames[] = {kInputCondition, kInputNoise};
  const char* outNames[] = {kOutputAngles};
  std::vector<Ort::Value> outputs;
  try {
    outputs = im.session->Run(Ort::RunOptions{nullptr}, inNames, inputs.data(), 2, outNames, 1);
  } catch (const Ort::Exception& e) {
    throw std::runtime_error("ONNX cluster-decay model '" + im.options.modelPath +
                             "': inference failed: " + e.what());
  }
  const auto shape = outputs[0].GetTensorTypeAndShapeInfo().GetShape();
  if (shape.size() != 2 || shape[0] != static_cast<int64_t>(n) || shape[1] != 2)
    throw std::runtime_error("ONNX cluster-decay model '" + im.options.modelPath +
                             "': output 'angles' has shape " + shapeString(shape) +
                             " for a batch of " + std::to_string(n) + ", expected [n, 2]");
  const float* a = outputs[0].GetTensorData<float>();
  return std::vector<float>(a, a + 2 * n);
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
