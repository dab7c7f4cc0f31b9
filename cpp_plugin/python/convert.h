// numpy <-> hadml record conversions shared by the binding files.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "hadml/ClusterDecayer.h"
#include "hadml/ClusterHadronizer.h"
#include "hadml/Variations.h"
#include "hadml/HadronTable.h"
#include "hadml/Params.h"
#include "hadml/Particles.h"

namespace hadml::py_convert {

namespace py = pybind11;
using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;
using I32 = py::array_t<int, py::array::c_style | py::array::forcecast>;
using B8 = py::array_t<bool, py::array::c_style | py::array::forcecast>;

// Checks shape (n) or (n, 4) and throws ValueError naming the field.
void requireShape(const py::array& a, const char* name, py::ssize_t n, int width);

LorentzVector row4(const F64& a, py::ssize_t i);
void setRow4(double* data, py::ssize_t i, const LorentzVector& p);

// Partons of one event from arrays id[n], col[n], acol[n], p[n,4] (px, py, pz, E).
std::vector<Parton> partonsFromArrays(const I32& id, const I32& col, const I32& acol,
                                      const F64& p);
// Colour octets of the shower history from a (k, 2) array of (col, acol).
OctetHistory octetsFromArray(const I32& octets);

// Decay requests from a dict of arrays: c1_id, c2_id, c1_p, c2_p, c1_pert, c2_pert, p,
// id1, id2, m1, m2 (see docs/architecture.md).
std::vector<ClusterDecayRequest> requestsFromDict(const py::dict& d);
py::dict decaysToDict(const std::vector<TwoBodyDecay>& decays);

// One hadronized event as a dict of numpy arrays (see hadml/_core.pyi).
py::dict eventToDict(const HadronizedEvent& ev);

// Per variation of `set` (may be null: an empty list): name, the parameter groups it
// reweights, and why its weights are unreliable (empty: exact).
py::list variationInfoList(const VariationSet* set);

HadronTable tableFromDict(const py::dict& d);

// Cluster parameters: Herwig 7.3 defaults with the dict's {name: value} applied, validated
// (unknown names and out-of-range values throw std::invalid_argument -> ValueError).
ClusterParams paramsFromDict(const py::dict& d);

}  // namespace hadml::py_convert
