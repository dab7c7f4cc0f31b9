// Bindings of the hadron spectrum (species selection) and the classic decayer.
#include "convert.h"

namespace hadml::bindings {
namespace py = pybind11;
void bindDecays(py::module_& /*m*/) {}
}  // namespace hadml::bindings
