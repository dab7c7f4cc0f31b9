// Python binding of the ONNX cluster decayer: hadml._core.OnnxClusterDecayer, a subclass
// of ClusterDecayer (decay_arrays, stats and name are inherited).
#include <pybind11/stl.h>

#include <memory>

#include "convert.h"
#include "hadml/HadronSpectrum.h"
#include "hadml/OnnxClusterDecayer.h"

namespace hadml::bindings {

using namespace hadml::py_convert;
using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;

namespace {

InvalidOutputPolicy policyFromString(const std::string& s) {
  if (s == "error") return InvalidOutputPolicy::Error;
  if (s == "fallback") return InvalidOutputPolicy::Fallback;
  throw py::value_error("policy must be 'error' or 'fallback', got '" + s + "'");
}

F32 toArray(const std::vector<float>& v, py::ssize_t n, py::ssize_t w) {
  F32 a({n, w});
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

std::vector<float> fromArray(const F32& a, py::ssize_t w, const char* name) {
  if (a.ndim() != 2 || a.shape(1) != w)
    throw py::value_error(std::string(name) + " must have shape (n, " + std::to_string(w) + ")");
  return std::vector<float>(a.data(), a.data() + a.size());
}

}  // namespace

void bindOnnx(py::module_& m) {
  m.attr("KNOWN_CONDITION_FEATURES") = py::tuple(py::cast(knownConditionFeatures()));
  m.def("condition_features", [](const py::dict& requests, const std::vector<std::string>& names) {
        const auto req = requestsFromDict(requests);
        std::vector<double> x;
        {
          py::gil_scoped_release release;
          x = conditionFeatures(req, names);
        }
        F64 a({static_cast<py::ssize_t>(req.size()), static_cast<py::ssize_t>(names.size())});
        std::copy(x.begin(), x.end(), a.mutable_data());
        return a;
      }, py::arg("requests"), py::arg("names"),
      "Unscaled condition features (n, C) float64 of a request batch (keys as decay_arrays; "
      "id1/id2 unused): the definitions the ONNX shim feeds its model (as float32).");
  py::class_<OnnxClusterDecayer, ClusterDecayer, std::shared_ptr<OnnxClusterDecayer>>(
      m, "OnnxClusterDecayer",
      "ML cluster decayer (docs/model-contract.md). Thread-safe: decay may run from several "
      "threads at once.")
      .def(py::init([](const std::string& path, const std::string& device, int threads,
                       const std::string& policy, const py::dict& params) {
             OnnxDecayerOptions o;
             o.modelPath = path;
             o.device = device;
             o.intraOpThreads = threads;
             o.policy = policyFromString(policy);
             o.classicParams = paramsFromDict(params);
             py::gil_scoped_release release;
             return makeOnnxClusterDecayer(o);
           }),
           py::arg("path"), py::arg("device") = "cpu", py::arg("threads") = 1,
           py::arg("policy") = "error", py::arg("params") = py::dict())
      .def_property_readonly("path", [](const OnnxClusterDecayer& d) { return d.options().modelPath; })
      .def_property_readonly("device", [](const OnnxClusterDecayer& d) { return d.options().device; })
      .def_property_readonly("policy", [](const OnnxClusterDecayer& d) {
        return d.options().policy == InvalidOutputPolicy::Error ? "error" : "fallback";
      })
      .def_property_readonly("format_version", [](const OnnxClusterDecayer& d) { return d.info().formatVersion; })
      .def_property_readonly("features", [](const OnnxClusterDecayer& d) { return d.info().features; })
      .def_property_readonly("noise_dim", [](const OnnxClusterDecayer& d) { return d.info().noiseDim; })
      .def_property_readonly("noise_distribution", [](const OnnxClusterDecayer& d) { return d.info().noiseDistribution; })
      .def_property_readonly("frame", [](const OnnxClusterDecayer& d) { return d.info().frame; })
      .def_property_readonly("offset", [](const OnnxClusterDecayer& d) { return d.info().offset; })
      .def_property_readonly("scale", [](const OnnxClusterDecayer& d) { return d.info().scale; })
      .def_property_readonly("provenance", [](const OnnxClusterDecayer& d) { return d.info().provenance; })
      .def("features_of", [](const OnnxClusterDecayer& d, const py::dict& requests) {
             const auto req = requestsFromDict(requests);
             return toArray(d.features(req), static_cast<py::ssize_t>(req.size()),
                            static_cast<py::ssize_t>(d.info().features.size()));
           }, py::arg("requests"), "Unscaled condition features (n, C) of a request batch.")
      .def("draw_noise", [](const OnnxClusterDecayer& d, std::size_t n, std::uint64_t seed) {
             Random rng(seed);
             return toArray(d.drawNoise(n, rng), static_cast<py::ssize_t>(n), d.info().noiseDim);
           }, py::arg("n"), py::arg("seed"),
           "The noise (n, Z) that decay_arrays(requests of length n, seed) feeds the model.")
      .def("infer_angles", [](const OnnxClusterDecayer& d, const F32& condition, const F32& noise) {
             const auto c = fromArray(condition, static_cast<py::ssize_t>(d.info().features.size()), "condition");
             const auto z = fromArray(noise, d.info().noiseDim, "noise");
             const std::size_t n = static_cast<std::size_t>(condition.shape(0));
             if (noise.shape(0) != condition.shape(0))
               throw py::value_error("condition and noise must have the same number of rows");
             std::vector<float> a;
             {
               py::gil_scoped_release release;
               a = d.inferAngles(c, z, n);
             }
             return toArray(a, static_cast<py::ssize_t>(n), 2);
           }, py::arg("condition"), py::arg("noise"),
           "Run the model on unscaled condition (n, C) and noise (n, Z); returns angles (n, 2).")
      .def_property_readonly("chooses_species", &OnnxClusterDecayer::choosesSpecies,
                             "True for a format-2 model (it chooses the hadron species).")
      .def_property_readonly("species", [](const OnnxClusterDecayer& d) { return d.info().species; })
      .def_property_readonly("species_features", [](const OnnxClusterDecayer& d) { return d.info().speciesFeatures; })
      .def_property_readonly("species_offset", [](const OnnxClusterDecayer& d) { return d.info().speciesOffset; })
      .def_property_readonly("species_scale", [](const OnnxClusterDecayer& d) { return d.info().speciesScale; })
      .def("species_features_of", [](const OnnxClusterDecayer& d, const py::dict& requests) {
             const auto req = requestsFromDict(requests);
             return toArray(d.speciesFeatures(req), static_cast<py::ssize_t>(req.size()),
                            static_cast<py::ssize_t>(d.info().speciesFeatures.size()));
           }, py::arg("requests"), "Unscaled species-head features (n, Cs) of a request batch.")
      .def("infer_species_logits", [](const OnnxClusterDecayer& d, const F32& condition) {
             const auto w = static_cast<py::ssize_t>(d.info().speciesFeatures.size());
             const auto c = fromArray(condition, w, "species condition");
             const std::size_t n = static_cast<std::size_t>(condition.shape(0));
             std::vector<float> l;
             {
               py::gil_scoped_release release;
               l = d.inferSpeciesLogits(c, n);
             }
             return toArray(l, static_cast<py::ssize_t>(n),
                            2 * static_cast<py::ssize_t>(d.info().species.size()));
           }, py::arg("species_condition"),
           "Run the species head on unscaled features (n, Cs); returns logits (n, 2 S).")
      .def("choose_species", [](OnnxClusterDecayer& d, const py::dict& requests,
                                const HadronSpectrum& spectrum, std::uint64_t seed) {
             auto req = requestsFromDict(requests);
             {
               py::gil_scoped_release release;
               Random rng(seed);
               d.chooseSpecies(req, spectrum, rng);
             }
             const auto n = static_cast<py::ssize_t>(req.size());
             py::array_t<int> id1(n), id2(n);
             py::array_t<double> m1(n), m2(n);
             for (py::ssize_t i = 0; i < n; ++i) {
               id1.mutable_at(i) = req[i].id1;
               id2.mutable_at(i) = req[i].id2;
               m1.mutable_at(i) = req[i].m1;
               m2.mutable_at(i) = req[i].m2;
             }
             py::dict out;
             out["id1"] = id1;
             out["id2"] = id2;
             out["m1"] = m1;
             out["m2"] = m2;
             return out;
           }, py::arg("requests"), py::arg("spectrum"), py::arg("seed"),
           "Format 2: the species (id1, id2) and masses (m1, m2) the model chooses for a "
           "request batch (keys as decay_arrays; id1/id2/m1/m2 ignored), engine seeded with seed.");
}

}  // namespace hadml::bindings
