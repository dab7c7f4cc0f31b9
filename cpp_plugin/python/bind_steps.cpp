// Bindings of the individual cluster-stage steps (for physics unit tests).
#include "convert.h"

namespace hadml::bindings {
namespace py = pybind11;
void bindSteps(py::module_& /*m*/) {}
}  // namespace hadml::bindings
