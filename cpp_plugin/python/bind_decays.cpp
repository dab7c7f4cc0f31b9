// Bindings of the hadron spectrum (species selection) and the light-cluster step.
#include <pybind11/stl.h>

#include "convert.h"
#include "hadml/ClusterSteps.h"
#include "hadml/HadronSpectrum.h"

namespace hadml::bindings {
namespace py = pybind11;
using namespace hadml::py_convert;

void bindDecays(py::module_& m) {
  py::class_<HadronSpectrum>(m, "HadronSpectrum")
      .def(py::init([](const py::dict& params, const py::dict& table) {
             return HadronSpectrum(tableFromDict(table), paramsFromDict(params));
           }),
           py::arg("params"), py::arg("table"))
      .def("lightest_hadron", &HadronSpectrum::lightestHadron)
      .def("lightest_pair_mass", &HadronSpectrum::lightestPairMass)
      .def("mass", &HadronSpectrum::mass)
      .def("choose_hadron_pair",
           [](const HadronSpectrum& s, double M, int id1, int id2, std::uint64_t seed) {
             Random rng(seed);
             return s.chooseHadronPair(M, id1, id2, rng);
           },
           py::arg("M"), py::arg("id1"), py::arg("id2"), py::arg("seed") = 1)
      .def("sample_pairs",
           [](const HadronSpectrum& s, double M, int id1, int id2, py::ssize_t n,
              std::uint64_t seed) {
             Random rng(seed);
             py::array_t<int> h1(n), h2(n);
             auto a = h1.mutable_unchecked<1>();
             auto b = h2.mutable_unchecked<1>();
             for (py::ssize_t i = 0; i < n; ++i) {
               const auto p = s.chooseHadronPair(M, id1, id2, rng);
               a(i) = p.first;
               b(i) = p.second;
             }
             return py::make_tuple(h1, h2);
           },
           py::arg("M"), py::arg("id1"), py::arg("id2"), py::arg("n"), py::arg("seed") = 1)
      .def("pair_channels",
           [](const HadronSpectrum& s, int id1, int id2) {
             const auto ch = s.pairChannels(id1, id2);
             const auto n = static_cast<py::ssize_t>(ch.size());
             py::array_t<int> a(n), b(n);
             py::array_t<double> m1(n), m2(n);
             for (py::ssize_t i = 0; i < n; ++i) {
               a.mutable_at(i) = ch[i].id1;
               b.mutable_at(i) = ch[i].id2;
               m1.mutable_at(i) = ch[i].m1;
               m2.mutable_at(i) = ch[i].m2;
             }
             return py::make_tuple(a, b, m1, m2);
           },
           py::arg("id1"), py::arg("id2"),
           "Every hadron pair (id1s, id2s, nominal m1s, m2s) the selector can choose for a "
           "cluster (id1, id2), by increasing m1 + m2 (the mask of model contract v2).")
      .def_static("flavour_pair_key", &HadronSpectrum::flavourPairKey, py::arg("id1"),
                  py::arg("id2"), "Clusters with equal keys share one channel list.")
      .def("selects", &HadronSpectrum::selects, py::arg("id"),
           "Whether hadron |id| takes part in species selection (parameter HadronTable).")
      .def("single_hadrons", &HadronSpectrum::singleHadrons, py::arg("id1"), py::arg("id2"),
           "Hadrons (signed id, weight) of flavours (id1, id2), by increasing mass.")
      .def("sample_single_hadrons",
           [](const HadronSpectrum& s, double M, int id1, int id2, py::ssize_t n,
              std::uint64_t seed) {
             Random rng(seed);
             py::array_t<int> h(n);
             auto a = h.mutable_unchecked<1>();
             for (py::ssize_t i = 0; i < n; ++i) a(i) = s.chooseSingleHadron(M, id1, id2, rng);
             return h;
           },
           py::arg("M"), py::arg("id1"), py::arg("id2"), py::arg("n"), py::arg("seed") = 1,
           "n draws of chooseSingleHadron (0: the cluster is not below its pair threshold).")
      .def("sample_masses",
           [](const HadronSpectrum& s, int id, py::ssize_t n, std::uint64_t seed) {
             Random rng(seed);
             py::array_t<double> m(n);
             auto a = m.mutable_unchecked<1>();
             for (py::ssize_t i = 0; i < n; ++i) a(i) = s.generateMass(id, rng);
             return m;
           },
           py::arg("id"), py::arg("n"), py::arg("seed") = 1,
           "n masses of hadron id as the cluster stage draws them (generateMass).")
      .def("decay_masses",
           [](const HadronSpectrum& s, double M, int id1, int id2, std::uint64_t seed) {
             Random rng(seed);
             return s.decayMasses(M, id1, id2, rng);
           },
           py::arg("M"), py::arg("id1"), py::arg("id2"), py::arg("seed") = 1);

  // Light clusters of one event: c1_id, c2_id [n], c1_p, c2_p [n, 4]. Returns the hadron
  // ids, momenta and source clusters, and the clusters' momenta and fates afterwards.
  m.def("decay_light_clusters",
        [](const HadronSpectrum& s, const I32& c1, const I32& c2, const F64& p1, const F64& p2,
           std::uint64_t seed) {
          const py::ssize_t n = c1.shape(0);
          requireShape(c2, "c2_id", n, 0);
          requireShape(p1, "c1_p", n, 4);
          requireShape(p2, "c2_p", n, 4);
          std::vector<Cluster> cl(n);
          for (py::ssize_t i = 0; i < n; ++i) {
            cl[i].constituents[0].id = c1.at(i);
            cl[i].constituents[1].id = c2.at(i);
            cl[i].constituents[0].p = row4(p1, i);
            cl[i].constituents[1].p = row4(p2, i);
            cl[i].p = cl[i].constituents[0].p + cl[i].constituents[1].p;
          }
          std::vector<Hadron> had;
          Random rng(seed);
          decayLightClusters(cl, s, had, rng);
          py::array_t<int> hid(had.size()), hcl(had.size()), fate(n);
          py::array_t<double> hp({static_cast<py::ssize_t>(had.size()), py::ssize_t(4)});
          py::array_t<double> cp({n, py::ssize_t(4)});
          for (std::size_t k = 0; k < had.size(); ++k) {
            hid.mutable_at(k) = had[k].id;
            hcl.mutable_at(k) = had[k].cluster;
            setRow4(hp.mutable_data(), k, had[k].p);
          }
          for (py::ssize_t i = 0; i < n; ++i) {
            fate.mutable_at(i) = static_cast<int>(cl[i].fate);
            setRow4(cp.mutable_data(), i, cl[i].p);
          }
          py::dict out;
          out["hadron_id"] = hid;
          out["hadron_p"] = hp;
          out["hadron_cluster"] = hcl;
          out["cluster_p"] = cp;
          out["fate"] = fate;
          return out;
        },
        py::arg("spectrum"), py::arg("c1_id"), py::arg("c2_id"), py::arg("c1_p"),
        py::arg("c2_p"), py::arg("seed") = 1);
}
}  // namespace hadml::bindings
