// Bindings of hadml/Redecay.h for tests (the Herwig adapter's generator-agnostic part).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "hadml/ClassicClusterDecayer.h"
#include "hadml/Redecay.h"

namespace py = pybind11;

namespace hadml::bindings {
namespace {

using P4 = std::array<double, 4>;  // (px, py, pz, E)
using ConstituentT = std::tuple<int, P4, bool>;                // id, p, perturbative
using ChildT = std::tuple<int, P4, double, bool, bool>;        // id, p, mass, cluster, kids

LorentzVector lv(const P4& p) { return {p[0], p[1], p[2], p[3]}; }
P4 arr(const LorentzVector& p) { return {p.px, p.py, p.pz, p.e}; }

RedecayVertex makeVertex(const P4& cluster, const std::vector<ConstituentT>& constituents,
                         const std::vector<ChildT>& children, int nComponents) {
  if (constituents.size() != 2) throw std::invalid_argument("pass exactly two constituents");
  RedecayVertex v;
  v.cluster = lv(cluster);
  v.nComponents = nComponents;
  v.nChildren = static_cast<int>(children.size());
  for (std::size_t i = 0; i < 2; ++i) {
    v.constituents[i].id = std::get<0>(constituents[i]);
    v.constituents[i].p = lv(std::get<1>(constituents[i]));
    v.constituents[i].perturbative = std::get<2>(constituents[i]);
  }
  for (std::size_t i = 0; i < children.size() && i < 2; ++i) {
    auto& c = v.children[i];
    std::tie(c.id, std::ignore, c.mass, c.isCluster, c.hasChildren) = children[i];
    c.p = lv(std::get<1>(children[i]));
  }
  return v;
}

// Test-only decayer: hadron 1 along a fixed rest-frame direction.
class FixedDirectionDecayer : public ClusterDecayer {
 public:
  explicit FixedDirectionDecayer(const ThreeVector& dir) : dir_(dir.unit()) {}
  void decay(const std::vector<ClusterDecayRequest>& requests, Random&,
             std::vector<TwoBodyDecay>& out) override {
    out.clear();
    for (const auto& r : requests) out.push_back(decayTwoBody(r.p, r.m1, r.m2, dir_));
  }
  std::string name() const override { return "fixed-direction"; }

 private:
  ThreeVector dir_;
};

py::dict planDict(const RedecayPlan& plan) {
  py::dict d;
  d["status"] = static_cast<int>(plan.status);
  d["reason"] = std::string(toString(plan.status));
  d["swapped"] = plan.swapped;
  d["id1"] = plan.request.id1;
  d["id2"] = plan.request.id2;
  d["m1"] = plan.request.m1;
  d["m2"] = plan.request.m2;
  d["constituent_ids"] = std::make_tuple(plan.request.constituents[0].id,
                                         plan.request.constituents[1].id);
  return d;
}

}  // namespace

void bindRedecay(py::module_& m) {
  m.def("signed_quark_content", &signedQuarkContent, py::arg("pdg"));
  m.def("carries_flavour", &carriesFlavour, py::arg("hadron_id"), py::arg("constituent_id"));
  m.def(
      "redecay_plan",
      [](const P4& cluster, const std::vector<ConstituentT>& constituents,
         const std::vector<ChildT>& children, int nComponents) {
        return planDict(planRedecay(makeVertex(cluster, constituents, children, nComponents)));
      },
      py::arg("cluster"), py::arg("constituents"), py::arg("children"),
      py::arg("n_components") = 2,
      "Eligibility and decay request of a cluster vertex; constituents are (id, p4, pert), "
      "children (id, p4, mass, is_cluster, has_children), p4 = (px, py, pz, E).");
  m.def(
      "redecay_vertex",
      [](const P4& cluster, const std::vector<ConstituentT>& constituents,
         const std::vector<ChildT>& children, const std::string& decayer,
         const std::array<double, 3>& direction, std::uint64_t seed) {
        const RedecayPlan plan = planRedecay(makeVertex(cluster, constituents, children, 2));
        if (plan.status != RedecayStatus::Eligible)
          throw std::invalid_argument(std::string("vertex not eligible: ") + toString(plan.status));
        std::unique_ptr<ClusterDecayer> d;
        if (decayer == "classic")
          d = std::make_unique<ClassicClusterDecayer>(ClusterParams{});
        else if (decayer == "direction")
          d = std::make_unique<FixedDirectionDecayer>(
              ThreeVector{direction[0], direction[1], direction[2]});
        else
          throw std::invalid_argument("decayer must be 'classic' or 'direction'");
        Random rng(seed);
        std::vector<TwoBodyDecay> out;
        d->decay({plan.request}, rng, out);
        const auto p = childMomenta(plan, out.at(0));
        return std::make_pair(arr(p[0]), arr(p[1]));
      },
      py::arg("cluster"), py::arg("constituents"), py::arg("children"),
      py::arg("decayer") = "classic", py::arg("direction") = std::array<double, 3>{0, 0, 1},
      py::arg("seed") = 1,
      "New momenta of the two children, in the children's order.");
}

}  // namespace hadml::bindings
