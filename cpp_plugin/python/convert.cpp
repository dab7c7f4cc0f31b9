#include "convert.h"

#include <pybind11/stl.h>

#include <string>

namespace hadml::py_convert {

void requireShape(const py::array& a, const char* name, py::ssize_t n, int width) {
  const bool ok = width == 0 ? (a.ndim() == 1 && a.shape(0) == n)
                             : (a.ndim() == 2 && a.shape(0) == n && a.shape(1) == width);
  if (!ok) {
    std::string got = "(";
    for (py::ssize_t k = 0; k < a.ndim(); ++k) got += (k ? ", " : "") + std::to_string(a.shape(k));
    got += ")";
    throw py::value_error(std::string("array '") + name + "' must have shape (" +
                          std::to_string(n) + (width ? ", " + std::to_string(width) : "") +
                          "), got " + got);
  }
}

LorentzVector row4(const F64& a, py::ssize_t i) {
  const double* d = a.data() + 4 * i;
  return {d[0], d[1], d[2], d[3]};
}

void setRow4(double* data, py::ssize_t i, const LorentzVector& p) {
  double* d = data + 4 * i;
  d[0] = p.px; d[1] = p.py; d[2] = p.pz; d[3] = p.e;
}

std::vector<Parton> partonsFromArrays(const I32& id, const I32& col, const I32& acol,
                                      const F64& p) {
  const py::ssize_t n = id.ndim() == 1 ? id.shape(0) : -1;
  requireShape(id, "id", n, 0);
  requireShape(col, "col", n, 0);
  requireShape(acol, "acol", n, 0);
  requireShape(p, "p", n, 4);
  std::vector<Parton> out(static_cast<std::size_t>(n));
  for (py::ssize_t i = 0; i < n; ++i) {
    Parton& q = out[i];
    q.id = id.data()[i];
    q.col = col.data()[i];
    q.acol = acol.data()[i];
    q.p = row4(p, i);
    q.mass = q.p.m();
  }
  return out;
}

OctetHistory octetsFromArray(const I32& octets) {
  const py::ssize_t k = octets.ndim() == 2 ? octets.shape(0) : -1;
  requireShape(octets, "octets", k, 2);
  OctetHistory out(static_cast<std::size_t>(k));
  for (py::ssize_t i = 0; i < k; ++i)
    out[i] = {octets.data()[2 * i], octets.data()[2 * i + 1]};
  return out;
}

namespace {
template <class A>
A field(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw py::key_error(std::string("missing array '") + key + "'");
  return d[key].cast<A>();
}
}  // namespace

std::vector<ClusterDecayRequest> requestsFromDict(const py::dict& d) {
  const auto p = field<F64>(d, "p");
  if (p.ndim() != 2) throw py::value_error("array 'p' must have shape (n, 4)");
  const py::ssize_t n = p.shape(0);
  const auto c1id = field<I32>(d, "c1_id"), c2id = field<I32>(d, "c2_id");
  const auto c1p = field<F64>(d, "c1_p"), c2p = field<F64>(d, "c2_p");
  const auto c1s = field<B8>(d, "c1_pert"), c2s = field<B8>(d, "c2_pert");
  const auto id1 = field<I32>(d, "id1"), id2 = field<I32>(d, "id2");
  const auto m1 = field<F64>(d, "m1"), m2 = field<F64>(d, "m2");
  requireShape(p, "p", n, 4);
  requireShape(c1id, "c1_id", n, 0); requireShape(c2id, "c2_id", n, 0);
  requireShape(c1p, "c1_p", n, 4);   requireShape(c2p, "c2_p", n, 4);
  requireShape(c1s, "c1_pert", n, 0); requireShape(c2s, "c2_pert", n, 0);
  requireShape(id1, "id1", n, 0);    requireShape(id2, "id2", n, 0);
  requireShape(m1, "m1", n, 0);      requireShape(m2, "m2", n, 0);
  std::vector<ClusterDecayRequest> out(static_cast<std::size_t>(n));
  for (py::ssize_t i = 0; i < n; ++i) {
    ClusterDecayRequest& r = out[i];
    r.constituents[0] = {c1id.data()[i], row4(c1p, i), c1s.data()[i], -1};
    r.constituents[1] = {c2id.data()[i], row4(c2p, i), c2s.data()[i], -1};
    r.p = row4(p, i);
    r.id1 = id1.data()[i];
    r.id2 = id2.data()[i];
    r.m1 = m1.data()[i];
    r.m2 = m2.data()[i];
  }
  return out;
}

py::dict decaysToDict(const std::vector<TwoBodyDecay>& decays) {
  const auto n = static_cast<py::ssize_t>(decays.size());
  F64 p1({n, py::ssize_t(4)}), p2({n, py::ssize_t(4)});
  for (py::ssize_t i = 0; i < n; ++i) {
    setRow4(p1.mutable_data(), i, decays[i].p1);
    setRow4(p2.mutable_data(), i, decays[i].p2);
  }
  py::dict out;
  out["p1"] = p1;
  out["p2"] = p2;
  return out;
}

py::list variationInfoList(const VariationSet* set) {
  py::list out;
  if (!set) return out;
  static const std::pair<unsigned, const char*> groupNames[] = {
      {kVarySplit, "gluon splitting"},      {kVaryReconnection, "colour reconnection"},
      {kVaryHeavy, "fission threshold"},   {kVaryFissionMass, "fission masses"},
      {kVaryFissionFlavour, "fission flavour"}, {kVarySpecies, "hadron species"},
      {kVaryDirection, "decay direction"}};
  for (std::size_t i = 0; i < set->size(); ++i) {
    const Variation& v = (*set)[i];
    py::dict d;
    d["name"] = v.name;
    py::list groups;
    for (const auto& [bit, label] : groupNames)
      if (v.groups & bit) groups.append(label);
    d["groups"] = groups;
    d["hard_boundaries"] = v.hardBoundaries;
    out.append(d);
  }
  return out;
}

py::dict eventToDict(const HadronizedEvent& ev) {
  py::dict out;
  const auto np = static_cast<py::ssize_t>(ev.partons.size());
  I32 pid(np), psrc(np);
  F64 pp({np, py::ssize_t(4)}), pm(np);
  B8 ppert(np), psplit(np);
  for (py::ssize_t i = 0; i < np; ++i) {
    const Parton& q = ev.partons[i];
    pid.mutable_data()[i] = q.id;
    psrc.mutable_data()[i] = q.source;
    setRow4(pp.mutable_data(), i, q.p);
    pm.mutable_data()[i] = q.mass;
    ppert.mutable_data()[i] = q.perturbative;
    psplit.mutable_data()[i] = q.split;
  }
  out["parton_id"] = pid; out["parton_p"] = pp; out["parton_mass"] = pm;
  out["parton_perturbative"] = ppert; out["parton_split"] = psplit; out["parton_source"] = psrc;

  const auto nc = static_cast<py::ssize_t>(ev.clusters.size());
  I32 c1id(nc), c2id(nc), c1par(nc), c2par(nc), c1par2(nc), c2par2(nc), parent(nc), fate(nc),
      exch(nc);
  I32 children({nc, py::ssize_t(2)});
  F64 c1p({nc, py::ssize_t(4)}), c2p({nc, py::ssize_t(4)}), cp({nc, py::ssize_t(4)});
  F64 cpin({nc, py::ssize_t(4)});
  B8 c1s(nc), c2s(nc), reco(nc);
  for (py::ssize_t i = 0; i < nc; ++i) {
    const Cluster& c = ev.clusters[i];
    c1id.mutable_data()[i] = c.constituents[0].id;
    c2id.mutable_data()[i] = c.constituents[1].id;
    c1par.mutable_data()[i] = c.constituents[0].parton;
    c2par.mutable_data()[i] = c.constituents[1].parton;
    c1par2.mutable_data()[i] = c.constituents[0].parton2;
    c2par2.mutable_data()[i] = c.constituents[1].parton2;
    setRow4(c1p.mutable_data(), i, c.constituents[0].p);
    setRow4(c2p.mutable_data(), i, c.constituents[1].p);
    c1s.mutable_data()[i] = c.constituents[0].perturbative;
    c2s.mutable_data()[i] = c.constituents[1].perturbative;
    setRow4(cp.mutable_data(), i, c.p);
    parent.mutable_data()[i] = c.parent;
    children.mutable_data()[2 * i] = c.children[0];
    children.mutable_data()[2 * i + 1] = c.children[1];
    fate.mutable_data()[i] = static_cast<int>(c.fate);
    reco.mutable_data()[i] = c.reconnected;
    exch.mutable_data()[i] = c.exchangePartner;
    setRow4(cpin.mutable_data(), i, c.exchangePartner >= 0 ? c.pBeforeExchange : c.p);
  }
  out["cluster_c1_id"] = c1id; out["cluster_c2_id"] = c2id;
  out["cluster_c1_parton"] = c1par; out["cluster_c2_parton"] = c2par;
  // The second parton of a diquark made in baryonic colour reconnection, else -1.
  out["cluster_c1_parton2"] = c1par2; out["cluster_c2_parton2"] = c2par2;
  out["cluster_c1_p"] = c1p; out["cluster_c2_p"] = c2p;
  out["cluster_c1_pert"] = c1s; out["cluster_c2_pert"] = c2s;
  out["cluster_p"] = cp; out["cluster_parent"] = parent; out["cluster_children"] = children;
  out["cluster_fate"] = fate; out["cluster_reconnected"] = reco;
  // cluster_p is the momentum at the cluster's decay; cluster_p_initial the momentum it was
  // formed with (they differ only for light-cluster exchange partners, cluster_exchange).
  out["cluster_exchange"] = exch; out["cluster_p_initial"] = cpin;

  const auto nh = static_cast<py::ssize_t>(ev.hadrons.size());
  I32 hid(nh), hcl(nh);
  F64 hp({nh, py::ssize_t(4)});
  for (py::ssize_t i = 0; i < nh; ++i) {
    hid.mutable_data()[i] = ev.hadrons[i].id;
    hcl.mutable_data()[i] = ev.hadrons[i].cluster;
    setRow4(hp.mutable_data(), i, ev.hadrons[i].p);
  }
  // The mass each hadron was given (nominal, or drawn from its Breit-Wigner when
  // OnShell = 0); the invariant mass of hadron_p up to rounding.
  F64 hm(nh);
  for (py::ssize_t i = 0; i < nh; ++i) hm.mutable_data()[i] = ev.hadrons[i].mass;
  out["hadron_id"] = hid; out["hadron_p"] = hp; out["hadron_cluster"] = hcl;
  out["hadron_mass"] = hm;
  out["conservation_violated"] = ev.conservationViolated;
  out["stage_tries"] = ev.stageTries;
  // Parameter-variation weights (ClusterHadronizer::setVariations): only when set.
  if (!ev.weights.empty()) {
    F64 w(static_cast<py::ssize_t>(ev.weights.size()));
    std::copy(ev.weights.begin(), ev.weights.end(), w.mutable_data());
    out["weights"] = w;
  }
  out["error"] = ev.error.empty() ? py::object(py::none()) : py::object(py::str(ev.error));
  return out;
}

ClusterParams paramsFromDict(const py::dict& d) {
  ClusterParams p;
  for (const auto& kv : d) p.set(kv.first.cast<std::string>(), kv.second.cast<double>());
  p.validate();
  return p;
}

HadronTable tableFromDict(const py::dict& d) {
  const auto id = field<I32>(d, "id");
  const py::ssize_t n = id.shape(0);
  const auto mass = field<F64>(d, "mass"), width = field<F64>(d, "width");
  const auto spin = field<I32>(d, "spin_multiplicity"), charge3 = field<I32>(d, "charge3");
  requireShape(mass, "mass", n, 0); requireShape(width, "width", n, 0);
  requireShape(spin, "spin_multiplicity", n, 0); requireShape(charge3, "charge3", n, 0);
  py::list names = d.contains("name") ? d["name"].cast<py::list>() : py::list();
  // Optional Breit-Wigner range (hadml.hadrons.hadron_table provides it).
  const bool hasRange = d.contains("mass_min") && d.contains("mass_max");
  F64 massMin, massMax;
  if (hasRange) {
    massMin = d["mass_min"].cast<F64>();
    massMax = d["mass_max"].cast<F64>();
    requireShape(massMin, "mass_min", n, 0);
    requireShape(massMax, "mass_max", n, 0);
  }
  HadronTable t;
  for (py::ssize_t i = 0; i < n; ++i) {
    HadronInfo h;
    h.id = id.data()[i];
    h.mass = mass.data()[i];
    h.width = width.data()[i];
    h.spinMultiplicity = spin.data()[i];
    h.charge3 = charge3.data()[i];
    if (static_cast<py::ssize_t>(names.size()) == n) h.name = names[i].cast<std::string>();
    if (hasRange) {
      h.massMin = massMin.data()[i];
      h.massMax = massMax.data()[i];
    }
    t.add(h);
  }
  return t;
}

}  // namespace hadml::py_convert
