// Bindings of the individual cluster-stage steps (for physics unit tests). Partons and
// clusters travel as dicts of numpy arrays so that each step can be run on its own:
//   partons:  id, col, acol (n,), p (n,4), and optionally mass, perturbative, split, source
//   clusters: c1_id, c2_id, c1_p, c2_p, c1_pert, c2_pert, c1_parton, c2_parton, c1_origin,
//             c2_origin, c1_colour, c2_colour, c1_parton2, c2_parton2, p, parent,
//             children (n,2), fate, reconnected
#include <pybind11/stl.h>

#include <string>

#include "convert.h"
#include "hadml/ClusterSteps.h"

namespace hadml::bindings {

using namespace hadml::py_convert;

namespace {

template <class A>
bool optionalField(const py::dict& d, const char* key, py::ssize_t n, A& out) {
  if (!d.contains(key)) return false;
  out = d[key].cast<A>();
  requireShape(out, key, n, 0);
  return true;
}

template <class A>
A requiredField(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw py::key_error(std::string("missing array '") + key + "'");
  return d[key].cast<A>();
}

std::vector<Parton> partonsFromDict(const py::dict& d) {
  std::vector<Parton> out =
      partonsFromArrays(requiredField<I32>(d, "id"), requiredField<I32>(d, "col"),
                        requiredField<I32>(d, "acol"), requiredField<F64>(d, "p"));
  const auto n = static_cast<py::ssize_t>(out.size());
  F64 mass;
  B8 pert, split;
  I32 source;
  const bool hasMass = optionalField(d, "mass", n, mass);
  const bool hasPert = optionalField(d, "perturbative", n, pert);
  const bool hasSplit = optionalField(d, "split", n, split);
  const bool hasSource = optionalField(d, "source", n, source);
  for (py::ssize_t i = 0; i < n; ++i) {
    if (hasMass) out[i].mass = mass.data()[i];
    if (hasPert) out[i].perturbative = pert.data()[i];
    if (hasSplit) out[i].split = split.data()[i];
    if (hasSource) out[i].source = source.data()[i];
  }
  return out;
}

py::dict partonsToDict(const std::vector<Parton>& partons) {
  const auto n = static_cast<py::ssize_t>(partons.size());
  I32 id(n), col(n), acol(n), source(n);
  F64 p({n, py::ssize_t(4)}), mass(n);
  B8 pert(n), split(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const Parton& q = partons[i];
    id.mutable_data()[i] = q.id;
    col.mutable_data()[i] = q.col;
    acol.mutable_data()[i] = q.acol;
    source.mutable_data()[i] = q.source;
    setRow4(p.mutable_data(), i, q.p);
    mass.mutable_data()[i] = q.mass;
    pert.mutable_data()[i] = q.perturbative;
    split.mutable_data()[i] = q.split;
  }
  py::dict d;
  d["id"] = id; d["col"] = col; d["acol"] = acol; d["p"] = p; d["mass"] = mass;
  d["perturbative"] = pert; d["split"] = split; d["source"] = source;
  return d;
}

std::vector<Cluster> clustersFromDict(const py::dict& d) {
  const auto p = requiredField<F64>(d, "p");
  if (p.ndim() != 2) throw py::value_error("array 'p' must have shape (n, 4)");
  const py::ssize_t n = p.shape(0);
  requireShape(p, "p", n, 4);
  std::vector<Cluster> out(static_cast<std::size_t>(n));
  for (int k = 0; k < 2; ++k) {
    const std::string pre = k == 0 ? "c1_" : "c2_";
    const auto id = requiredField<I32>(d, (pre + "id").c_str());
    const auto cp = requiredField<F64>(d, (pre + "p").c_str());
    requireShape(id, (pre + "id").c_str(), n, 0);
    requireShape(cp, (pre + "p").c_str(), n, 4);
    B8 pert;
    I32 parton, origin, colour, parton2;
    const bool hasPert = optionalField(d, (pre + "pert").c_str(), n, pert);
    const bool hasParton = optionalField(d, (pre + "parton").c_str(), n, parton);
    const bool hasOrigin = optionalField(d, (pre + "origin").c_str(), n, origin);
    const bool hasColour = optionalField(d, (pre + "colour").c_str(), n, colour);
    const bool hasParton2 = optionalField(d, (pre + "parton2").c_str(), n, parton2);
    for (py::ssize_t i = 0; i < n; ++i) {
      Constituent& c = out[i].constituents[k];
      c.id = id.data()[i];
      c.p = row4(cp, i);
      if (hasPert) c.perturbative = pert.data()[i];
      if (hasParton) c.parton = parton.data()[i];
      if (hasOrigin) c.origin = origin.data()[i];
      if (hasColour) c.colour = colour.data()[i];
      if (hasParton2) c.parton2 = parton2.data()[i];
    }
  }
  I32 parent, fate, children;
  B8 reco;
  const bool hasParent = optionalField(d, "parent", n, parent);
  const bool hasFate = optionalField(d, "fate", n, fate);
  const bool hasReco = optionalField(d, "reconnected", n, reco);
  const bool hasChildren = d.contains("children");
  if (hasChildren) {
    children = d["children"].cast<I32>();
    requireShape(children, "children", n, 2);
  }
  for (py::ssize_t i = 0; i < n; ++i) {
    Cluster& c = out[i];
    c.p = row4(p, i);
    if (hasParent) c.parent = parent.data()[i];
    if (hasFate) c.fate = static_cast<ClusterFate>(fate.data()[i]);
    if (hasReco) c.reconnected = reco.data()[i];
    if (hasChildren) c.children = {children.data()[2 * i], children.data()[2 * i + 1]};
  }
  return out;
}

py::dict clustersToDict(const std::vector<Cluster>& clusters) {
  const auto n = static_cast<py::ssize_t>(clusters.size());
  py::dict d;
  for (int k = 0; k < 2; ++k) {
    const std::string pre = k == 0 ? "c1_" : "c2_";
    I32 id(n), parton(n), origin(n), colour(n), parton2(n);
    F64 cp({n, py::ssize_t(4)});
    B8 pert(n);
    for (py::ssize_t i = 0; i < n; ++i) {
      const Constituent& c = clusters[i].constituents[k];
      id.mutable_data()[i] = c.id;
      parton.mutable_data()[i] = c.parton;
      origin.mutable_data()[i] = c.origin;
      colour.mutable_data()[i] = c.colour;
      parton2.mutable_data()[i] = c.parton2;
      setRow4(cp.mutable_data(), i, c.p);
      pert.mutable_data()[i] = c.perturbative;
    }
    d[py::str(pre + "id")] = id;
    d[py::str(pre + "p")] = cp;
    d[py::str(pre + "pert")] = pert;
    d[py::str(pre + "parton")] = parton;
    d[py::str(pre + "origin")] = origin;
    d[py::str(pre + "colour")] = colour;
    d[py::str(pre + "parton2")] = parton2;
  }
  F64 p({n, py::ssize_t(4)}), mass(n);
  I32 parent(n), fate(n), children({n, py::ssize_t(2)});
  B8 reco(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const Cluster& c = clusters[i];
    setRow4(p.mutable_data(), i, c.p);
    mass.mutable_data()[i] = c.mass();
    parent.mutable_data()[i] = c.parent;
    fate.mutable_data()[i] = static_cast<int>(c.fate);
    children.mutable_data()[2 * i] = c.children[0];
    children.mutable_data()[2 * i + 1] = c.children[1];
    reco.mutable_data()[i] = c.reconnected;
  }
  d["p"] = p; d["mass"] = mass; d["parent"] = parent; d["fate"] = fate;
  d["children"] = children; d["reconnected"] = reco;
  return d;
}

}  // namespace

void bindSteps(py::module_& m) {
  m.def("step_reshuffle", [](const py::dict& partons, const py::dict& params) {
        auto v = partonsFromDict(partons);
        reshuffleToConstituentMasses(v, paramsFromDict(params));
        return partonsToDict(v);
      }, py::arg("partons"), py::arg("params") = py::dict(),
      "Step 1: put the partons on their constituent mass shells (dict of arrays in/out).");
  m.def("step_split_gluons", [](const py::dict& partons, const py::dict& params,
                                std::uint64_t seed) {
        auto v = partonsFromDict(partons);
        Random rng(seed);
        splitGluons(v, paramsFromDict(params), rng);
        return partonsToDict(v);
      }, py::arg("partons"), py::arg("params") = py::dict(), py::arg("seed") = 1,
      "Step 2: split every gluon into q qbar; products appended, gluons marked split.");
  m.def("step_find_clusters", [](const py::dict& partons) {
        return clustersToDict(findClusters(partonsFromDict(partons)));
      }, py::arg("partons"), "Step 3: colour-singlet q qbar clusters from split partons.");
  m.def("step_reconnect", [](const py::dict& clusters, const py::dict& params,
                             std::uint64_t seed, const py::object& octets) {
        auto v = clustersFromDict(clusters);
        const OctetHistory hist =
            octets.is_none() ? OctetHistory{} : octetsFromArray(octets.cast<I32>());
        Random rng(seed);
        reconnectColours(v, paramsFromDict(params), rng, hist);
        return clustersToDict(v);
      }, py::arg("clusters"), py::arg("params") = py::dict(), py::arg("seed") = 1,
      py::arg("octets") = py::none(),
      "Step 4: colour reconnection (ColourReconnection 1 Plain, 2 Baryonic); octets: (k, 2)"
      " array of the (col, acol) tags of the colour octets of the shower history.");
  m.def("step_reduce_to_two_components", [](const py::array_t<int>& ids, const F64& p,
                                            std::uint64_t seed) {
        const I32 id = ids.cast<I32>();
        requireShape(id, "ids", 3, 0);
        requireShape(p, "p", 3, 4);
        std::array<Constituent, 3> three;
        for (int k = 0; k < 3; ++k) {
          three[k].id = id.data()[k];
          three[k].p = row4(p, k);
          three[k].parton = k;
        }
        Random rng(seed);
        std::vector<Cluster> one{reduceToTwoComponents(three, rng)};
        return clustersToDict(one);
      }, py::arg("ids"), py::arg("p"), py::arg("seed") = 1,
      "A three-quark (or three-antiquark) cluster reduced to a (quark, diquark) cluster;"
      " constituent parton indices 0-2 refer to the input order.");
  m.def("step_fission", [](const py::dict& clusters, const py::dict& params,
                           std::uint64_t seed) {
        auto v = clustersFromDict(clusters);
        Random rng(seed);
        fissionClusters(v, paramsFromDict(params), rng);
        return clustersToDict(v);
      }, py::arg("clusters"), py::arg("params") = py::dict(), py::arg("seed") = 1,
      "Step 5: recursive fission of heavy clusters; children appended.");
  m.def("step_fission_hadrons", [](const py::dict& clusters, const HadronSpectrum& spectrum,
                                   const py::dict& params, std::uint64_t seed) {
        auto v = clustersFromDict(clusters);
        Random rng(seed);
        std::vector<Hadron> hadrons;
        fissionClusters(v, paramsFromDict(params), spectrum, hadrons, rng);
        py::dict d = clustersToDict(v);
        const auto nh = static_cast<py::ssize_t>(hadrons.size());
        I32 hid(nh), hcl(nh);
        F64 hp({nh, py::ssize_t(4)});
        for (py::ssize_t i = 0; i < nh; ++i) {
          hid.mutable_data()[i] = hadrons[i].id;
          hcl.mutable_data()[i] = hadrons[i].cluster;
          setRow4(hp.mutable_data(), i, hadrons[i].p);
        }
        d["hadron_id"] = hid; d["hadron_p"] = hp; d["hadron_cluster"] = hcl;
        return d;
      }, py::arg("clusters"), py::arg("spectrum"), py::arg("params") = py::dict(),
      py::arg("seed") = 1,
      "Step 5 with the hadron spectrum: a child below its pair threshold may become a "
      "hadron inside fission (BelowThreshold = 1); hadron_* arrays list those hadrons.");
}

}  // namespace hadml::bindings
