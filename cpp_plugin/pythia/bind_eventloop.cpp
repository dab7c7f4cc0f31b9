// hadml._core.EventLoop: one block of events made in C++ (EventLoop.h), handed to Python as
// flat numpy arrays (the event record and the cluster table's columns).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "EventLoop.h"
#include "HepMCText.h"
#include "convert.h"

namespace hadml::bindings {

namespace py = pybind11;
using namespace hadml::py_convert;

namespace {

template <class T>
py::array_t<T> toArray(const std::vector<T>& v, py::ssize_t width = 0) {
  const auto n = static_cast<py::ssize_t>(v.size()) / (width ? width : 1);
  py::array_t<T> a = width ? py::array_t<T>({n, width}) : py::array_t<T>(n);
  if (!v.empty()) std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::array_t<bool> toBoolArray(const std::vector<std::uint8_t>& v) {
  py::array_t<bool> a(static_cast<py::ssize_t>(v.size()));
  for (std::size_t i = 0; i < v.size(); ++i) a.mutable_data()[i] = v[i] != 0;
  return a;
}

py::dict recordsToDict(const EventRecords& r) {
  py::dict d;
  d["number"] = toArray(r.number);
  d["offsets"] = toArray(r.offsets);
  d["pid"] = toArray(r.pid);
  d["status"] = toArray(r.status);
  d["p"] = toArray(r.p, 4);
  d["m"] = toArray(r.m);
  d["parents"] = toArray(r.parents, 2);
  return d;
}

// Columns of hadml/io/cluster_table.py's schema (four-vectors split into components).
py::dict clustersToDict(const ClusterRows& t, std::size_t nVariations) {
  py::dict d;
  d["event"] = toArray(t.event);
  d["cluster"] = toArray(t.cluster);
  auto p4 = [&](const char* prefix, const std::vector<double>& v) {
    static const char* names[4] = {"px", "py", "pz", "e"};
    const auto a = toArray(v, 4);
    py::object col = py::module_::import("numpy").attr("ascontiguousarray");
    for (int k = 0; k < 4; ++k) {
      const std::string key = std::string(prefix) + names[k];
      d[py::str(key)] = col(a[py::make_tuple(py::slice(0, a.shape(0), 1), k)]);
    }
  };
  d["c1_id"] = toArray(t.c1Id);
  p4("c1_", t.c1P);
  d["c2_id"] = toArray(t.c2Id);
  p4("c2_", t.c2P);
  d["c1_pert"] = toBoolArray(t.c1Pert);
  d["c2_pert"] = toBoolArray(t.c2Pert);
  p4("", t.p);
  d["mass"] = toArray(t.mass);
  d["h1_id"] = toArray(t.h1Id);
  p4("h1_", t.h1P);
  d["h2_id"] = toArray(t.h2Id);
  p4("h2_", t.h2P);
  // Parameter-variation weights, (rows, variations): hadml/generator.py names the columns.
  if (nVariations) d["weights"] = toArray(t.weights, static_cast<py::ssize_t>(nVariations));
  return d;
}

}  // namespace

void bindEventLoop(py::module_& m) {
  py::register_exception<ConservationViolation>(m, "ConservationViolation", PyExc_RuntimeError);

  py::class_<EventLoop>(m, "EventLoop")
      .def(py::init([](const std::string& xmlDir, const std::vector<std::string>& partonSettings,
                       const std::vector<std::string>& decaySettings, bool decayHadrons,
                       const py::dict& params, const py::dict& table,
                       std::shared_ptr<ClusterDecayer> decayer, double stageTolerance,
                       double pythiaTolerance, int maxAttempts) {
             EventLoopSettings s;
             s.xmlDir = xmlDir;
             s.partonSettings = partonSettings;
             s.decaySettings = decaySettings;
             s.decayHadrons = decayHadrons;
             s.stageTolerance = stageTolerance;
             s.pythiaTolerance = pythiaTolerance;
             s.maxAttemptsPerEvent = maxAttempts;
             return std::make_unique<EventLoop>(s, paramsFromDict(params), tableFromDict(table),
                                                std::move(decayer));
           }),
           py::arg("xml_dir"), py::arg("parton_settings"), py::arg("decay_settings"),
           py::arg("decay_hadrons"), py::arg("params"), py::arg("hadron_table"),
           py::arg("decayer"), py::arg("stage_tolerance"), py::arg("pythia_tolerance"),
           py::arg("max_attempts_per_event"))
      .def("run_block",
           [](EventLoop& loop, int block, std::uint64_t runSeed, int pythiaPartons,
              int pythiaDecays, std::uint64_t clusterStage, std::uint64_t clusterDecays,
              int nEvents, std::int64_t firstNumber, bool keepEvents, bool keepClusters,
              bool keepHepMC) {
             if (nEvents < 1) throw py::value_error("n_events must be positive");
             BlockSeeds seeds{runSeed, pythiaPartons, pythiaDecays, clusterStage, clusterDecays};
             BlockOutput out;
             {
               py::gil_scoped_release release;
               loop.runBlock(block, seeds, nEvents, firstNumber, keepEvents, keepClusters, keepHepMC,
                            out);
             }
             py::dict d;
             if (keepEvents) d["events"] = recordsToDict(out.events);
             if (keepClusters) d["clusters"] = clustersToDict(out.clusters, out.nVariations);
             if (keepHepMC) d["hepmc"] = py::bytes(out.hepmc);
             d["n_charged"] = toArray(out.nCharged);
             d["stage_deviation"] = toArray(out.stageDeviation);
             d["pythia_deviation"] = toArray(out.pythiaDeviation);
             d["failures"] = out.failures;
             d["stage_retries"] = out.stageRetries;
             if (out.nVariations)
               d["weights"] = toArray(out.weights, static_cast<py::ssize_t>(out.nVariations));
             return d;
           },
           py::arg("block"), py::arg("run_seed"), py::arg("pythia_partons_seed"),
           py::arg("pythia_decays_seed"), py::arg("cluster_stage_seed"),
           py::arg("cluster_decays_seed"), py::arg("n_events"), py::arg("first_number"),
           py::arg("keep_events") = true, py::arg("keep_clusters") = false,
           py::arg("keep_hepmc") = false,
           "Make one block of events; a dict of flat arrays (see hadml/generator.py).")
      .def("check",
           [](const EventLoop& loop, const I32& pid, const I32& status, const F64& p,
              const std::array<double, 4>& start, const std::array<double, 4>& beams,
              const std::string& where) {
             const py::ssize_t n = pid.ndim() == 1 ? pid.shape(0) : -1;
             requireShape(pid, "pid", n, 0);
             requireShape(status, "status", n, 0);
             requireShape(p, "p", n, 4);
             EventRecords rec;
             rec.pid.assign(pid.data(), pid.data() + n);
             rec.status.assign(status.data(), status.data() + n);
             rec.p.assign(p.data(), p.data() + 4 * n);
             return loop.check(rec, 0, static_cast<std::size_t>(n), start.data(), beams.data(),
                               where);
           },
           py::arg("pid"), py::arg("status"), py::arg("p"), py::arg("start"), py::arg("beams"),
           py::arg("where"),
           "The conservation checks of one event; returns the two deviations (GeV) or raises "
           "ConservationViolation.")
      .def("charge3", &EventLoop::charge3, py::arg("pid"))
      .def("set_variations", &EventLoop::setVariations, py::arg("variations"),
           "Exact parameter-variation weights: [(name, {parameter: value}), ...] (empty "
           "clears); run_block then returns 'weights' (n_events, n_variations), the cluster "
           "columns 'weights' (rows, n_variations), and HepMC3 events with named weights. "
           "ValueError for what cannot be reweighted.")
      .def("variation_info",
           [](const EventLoop& loop) { return variationInfoList(loop.variations()); },
           "Per variation: name, reweighted parameter groups, hard boundaries.")
      .def_property_readonly("weight_names", &EventLoop::weightNames,
                             "HepMC3 weight names (nominal first); empty without variations.");

  m.def("hepmc3_header",
        [](const std::vector<std::string>& weightNames) {
          return py::bytes(hepmcHeader(weightNames));
        },
        py::arg("weight_names") = std::vector<std::string>(),
        "The header HepMC3's WriterAscii writes (version, START_EVENT_LISTING), followed by "
        "the run information (weight names, nominal first) when weight_names is not empty.");
  m.def("hepmc3_footer", [] { return py::bytes(hepmcFooter()); },
        "The footer HepMC3's WriterAscii writes (END_EVENT_LISTING).");
  m.def("hepmc3_events",
        [](const std::vector<std::int64_t>& numbers, const std::vector<std::int64_t>& offsets,
           const I32& pid, const I32& status, const F64& p, const F64& m, const I32& parents,
           const std::vector<std::string>& weightNames, const std::optional<F64>& weights) {
          const py::ssize_t n = pid.ndim() == 1 ? pid.shape(0) : -1;
          requireShape(pid, "pid", n, 0);
          requireShape(status, "status", n, 0);
          requireShape(p, "p", n, 4);
          requireShape(m, "m", n, 0);
          requireShape(parents, "parents", n, 2);
          if (offsets.size() != numbers.size() + 1 || offsets.front() != 0 || offsets.back() != n)
            throw py::value_error("offsets must run from 0 to the number of rows, one more "
                                  "than the event numbers");
          const std::size_t nVar = weightNames.empty() ? 0 : weightNames.size() - 1;
          if (nVar) {
            const auto nEv = static_cast<py::ssize_t>(numbers.size());
            if (!weights || weights->ndim() != 2 || weights->shape(0) != nEv ||
                weights->shape(1) != static_cast<py::ssize_t>(nVar))
              throw py::value_error("weights must be an array (events, " +
                                    std::to_string(nVar) +
                                    ") for the weight names after the nominal one");
          } else if (weights) {
            throw py::value_error("weights need weight_names (the nominal name first)");
          }
          EventRecords rec;
          rec.number = numbers;
          rec.offsets = offsets;
          rec.pid.assign(pid.data(), pid.data() + n);
          rec.status.assign(status.data(), status.data() + n);
          rec.p.assign(p.data(), p.data() + 4 * n);
          rec.m.assign(m.data(), m.data() + n);
          rec.parents.assign(parents.data(), parents.data() + 2 * n);
          std::string out;
          {
            py::gil_scoped_release release;
            appendHepMC(rec, 0, numbers.size(), out, weightNames,
                        nVar ? weights->data() : nullptr);
          }
          return py::bytes(out);
        },
        py::arg("numbers"), py::arg("offsets"), py::arg("pid"), py::arg("status"), py::arg("p"),
        py::arg("m"), py::arg("parents"),
        py::arg("weight_names") = std::vector<std::string>(), py::arg("weights") = py::none(),
        "HepMC3 Asciiv3 text (HepMC3's WriterAscii, no header or footer) of events given as "
        "flat arrays: event k is rows offsets[k] .. offsets[k+1]-1.");
}

}  // namespace hadml::bindings
