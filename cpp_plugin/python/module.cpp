// hadml._core: the C++ cluster stage for Python. Each binding file registers one part.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace hadml::bindings {
void bindCore(py::module_& m);    // bind_core.cpp: params, tables, decayer base, hadronizer
void bindSteps(py::module_& m);   // bind_steps.cpp: the individual steps, for tests
void bindDecays(py::module_& m);  // bind_decays.cpp: spectrum and classic decayer
void bindRedecay(py::module_& m);  // bind_redecay.cpp: generator-record re-decay (Herwig adapter)
void bindEventLoop(py::module_& m);  // cpp_plugin/pythia/bind_eventloop.cpp: the event loop
#ifdef HADML_WITH_ONNX
void bindOnnx(py::module_& m);    // cpp_plugin/onnx/bind_onnx.cpp
#endif
}  // namespace hadml::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "hadml C++ cluster hadronization (Herwig 7 cluster model) and ML decay shim";
  hadml::bindings::bindCore(m);
  hadml::bindings::bindSteps(m);
  hadml::bindings::bindDecays(m);
  hadml::bindings::bindRedecay(m);
  hadml::bindings::bindEventLoop(m);
#ifdef HADML_WITH_ONNX
  hadml::bindings::bindOnnx(m);
  m.attr("HAS_ONNX") = true;
#else
  m.attr("HAS_ONNX") = false;
#endif
}
