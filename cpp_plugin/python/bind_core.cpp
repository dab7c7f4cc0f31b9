// Core bindings: parameters, hadron table, the decayer base class, the hadronizer.
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "hadml/ClassicClusterDecayer.h"
#include "hadml/ClusterHadronizer.h"
#include "hadml/Kinematics.h"

namespace hadml::bindings {

using namespace hadml::py_convert;

namespace {

// The hadronizer together with its two random engines (cluster stage; cluster decays):
// one object per generator instance, seeded explicitly.
class PyHadronizer {
 public:
  PyHadronizer(const py::dict& params, const py::dict& table,
               std::shared_ptr<ClusterDecayer> decayer, std::uint64_t seed,
               std::uint64_t decaySeed)
      : hz_(paramsFromDict(params), tableFromDict(table),
            decayer ? std::move(decayer)
                    : std::make_shared<ClassicClusterDecayer>(paramsFromDict(params))),
        rng_(seed),
        decayRng_(decaySeed) {}

  void seed(std::uint64_t s, std::uint64_t decaySeed) {
    rng_.seed(s);
    decayRng_.seed(decaySeed);
  }

  // events: list of (id, col, acol, p[, octets]) arrays, one tuple per event; octets is the
  // (k, 2) array of (col, acol) of every gluon of the shower history.
  py::list hadronize(const py::list& events) {
    std::vector<ShowerEvent> in;
    in.reserve(events.size());
    for (const auto& e : events) {
      const auto t = e.cast<py::tuple>();
      if (t.size() != 4 && t.size() != 5)
        throw py::value_error("each event must be a tuple (id, col, acol, p[, octets])");
      ShowerEvent ev;
      ev.partons = partonsFromArrays(t[0].cast<I32>(), t[1].cast<I32>(), t[2].cast<I32>(),
                                     t[3].cast<F64>());
      if (t.size() == 5) ev.octets = octetsFromArray(t[4].cast<I32>());
      in.push_back(std::move(ev));
    }
    std::vector<HadronizedEvent> out;
    {
      py::gil_scoped_release release;
      out = hz_.hadronize(in, rng_, decayRng_);
    }
    py::list result;
    for (const auto& ev : out) result.append(eventToDict(ev));
    return result;
  }

  // variations: [(name, {parameter: value}), ...]; empty clears them.
  void setVariations(
      const std::vector<std::pair<std::string, std::map<std::string, double>>>& variations) {
    hz_.setVariations(variations);
  }

  // Per variation: name, the parameter groups it reweights, and why its weights are
  // unreliable (empty: exact).
  py::list variationInfo() const { return variationInfoList(hz_.variations()); }

  std::shared_ptr<ClusterDecayer> decayer() { return decayerPtr(); }
  void setDecayer(std::shared_ptr<ClusterDecayer> d) {
    decayer_ = d;
    hz_.setDecayer(std::move(d));
  }

 private:
  std::shared_ptr<ClusterDecayer> decayerPtr() { return decayer_; }
  ClusterHadronizer hz_;
  Random rng_;
  Random decayRng_;
  std::shared_ptr<ClusterDecayer> decayer_;
};

}  // namespace

void bindCore(py::module_& m) {
  py::register_exception<HadronizationError>(m, "HadronizationError", PyExc_RuntimeError);

  m.def("default_params", [] {
        ClusterParams p;
        py::dict d;
        for (const auto& n : ClusterParams::names()) d[py::str(n)] = p.get(n);
        return d;
      }, "Herwig 7.3 default cluster parameters, by Herwig interface name.");
  m.def("validate_params", [](const py::dict& d) { paramsFromDict(d); },
        "Raise ValueError if a parameter name is unknown or a value unphysical.");

  py::class_<ClusterDecayer, std::shared_ptr<ClusterDecayer>>(m, "ClusterDecayer")
      .def_property_readonly("name", &ClusterDecayer::name)
      .def("stats", [](const ClusterDecayer& d) {
        const DecayerStats s = d.stats();
        py::dict out;
        out["decayed"] = s.decayed;
        out["fallbacks"] = s.fallbacks;
        out["species_fallbacks"] = s.speciesFallbacks;
        return out;
      })
      .def("decay_arrays", [](ClusterDecayer& d, const py::dict& requests, std::uint64_t seed) {
        const auto req = requestsFromDict(requests);
        std::vector<TwoBodyDecay> out;
        {
          py::gil_scoped_release release;
          Random rng(seed);
          d.decay(req, rng, out);
        }
        return decaysToDict(out);
      }, py::arg("requests"), py::arg("seed"),
      "Decay a batch given as a dict of arrays (c1_id, c2_id, c1_p, c2_p, c1_pert, c2_pert,"
      " p, id1, id2, m1, m2); returns {'p1': (n,4), 'p2': (n,4)}.");

  py::class_<ClassicClusterDecayer, ClusterDecayer, std::shared_ptr<ClassicClusterDecayer>>(
      m, "ClassicClusterDecayer")
      .def(py::init([](const py::dict& params) {
             return std::make_shared<ClassicClusterDecayer>(paramsFromDict(params));
           }), py::arg("params") = py::dict());

  py::class_<PyHadronizer>(m, "ClusterHadronizer")
      .def(py::init<const py::dict&, const py::dict&, std::shared_ptr<ClusterDecayer>,
                    std::uint64_t, std::uint64_t>(),
           py::arg("params"), py::arg("hadron_table"), py::arg("decayer") = nullptr,
           py::arg("seed") = 1, py::arg("decay_seed") = 2)
      .def("seed", &PyHadronizer::seed, py::arg("seed"), py::arg("decay_seed"),
           "Reseed the cluster-stage engine and the cluster-decay engine.")
      .def("hadronize", &PyHadronizer::hadronize, py::arg("events"),
           "Hadronize a batch of events; each event is (id, col, acol, p[n,4][, octets[k,2]]).")
      .def_property("decayer", &PyHadronizer::decayer, &PyHadronizer::setDecayer)
      .def("set_variations", &PyHadronizer::setVariations, py::arg("variations"),
           "Exact parameter-variation weights: [(name, {parameter: value}), ...] (empty "
           "clears); each later event's result gets 'weights' (one per variation). "
           "ValueError for what cannot be reweighted.")
      .def("variation_info", &PyHadronizer::variationInfo,
           "Per variation: name, reweighted parameter groups, hard boundaries (unreliable "
           "weights when not empty).");

  m.def("two_body_decay", [](const std::array<double, 4>& parent, double m1, double m2,
                             const std::array<double, 3>& dir) {
        const TwoBodyDecay d = decayTwoBody({parent[0], parent[1], parent[2], parent[3]}, m1,
                                            m2, {dir[0], dir[1], dir[2]});
        return py::make_tuple(std::array<double, 4>{d.p1.px, d.p1.py, d.p1.pz, d.p1.e},
                              std::array<double, 4>{d.p2.px, d.p2.py, d.p2.pz, d.p2.e});
      }, "Exact two-body decay of `parent` (px,py,pz,E) with hadron 1 along `dir` (rest frame).");
  m.def("model_frame_decay", [](const std::array<double, 4>& cluster,
                                const std::array<double, 4>& constituent, double m1, double m2,
                                double cosTheta, double phi) {
        const LorentzVector c{cluster[0], cluster[1], cluster[2], cluster[3]};
        const ModelFrame f = modelFrame(c, {constituent[0], constituent[1], constituent[2],
                                            constituent[3]});
        const TwoBodyDecay d = decayTwoBody(c, m1, m2, f.toRest(cosTheta, phi));
        return py::make_tuple(std::array<double, 4>{d.p1.px, d.p1.py, d.p1.pz, d.p1.e},
                              std::array<double, 4>{d.p2.px, d.p2.py, d.p2.pz, d.p2.e});
      }, "Decay with hadron 1 at (cos theta, phi) in the model frame (z along the constituent).");
}

}  // namespace hadml::bindings
