"""LEP comparisons: event shapes, spectra and multiplicities vs. Rivet reference data."""

from .compare import compare_events, compare_files
from .events import read_hepmc
from .observables import event_shapes, thrust_axis

__all__ = ["compare_events", "compare_files", "event_shapes", "read_hepmc", "thrust_axis"]
