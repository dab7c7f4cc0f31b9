// HepMC3 Asciiv3 text of hadml's event records, written by HepMC3's own WriterAscii.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "EventLoop.h"

namespace hadml {

// The file header (version line, "HepMC::Asciiv3-START_EVENT_LISTING") and footer that
// HepMC3's WriterAscii writes around the events.
const std::string& hepmcHeader();
const std::string& hepmcFooter();
// The header of a file with named event weights (GenRunInfo weight names, nominal first):
// the plain header followed by the run information; the plain header if `weightNames` is
// empty.
std::string hepmcHeader(const std::vector<std::string>& weightNames);

// Appends the Asciiv3 text of events k0 .. k1-1 of `rec` to `out`. Each event is a GenEvent
// (GeV, mm) with one vertex per distinct parent range, in record order, so that parents are
// written before their children; particles keep the record's order, status and mass.
//
// With `weightNames` (nominal first) each event carries the run information and the weights
// 1 (nominal), then weights[(k - k0) * (n - 1) ...], n = weightNames.size(); without them
// the events have no weights (the text hadml writes for a run without variations).
void appendHepMC(const EventRecords& rec, std::size_t k0, std::size_t k1, std::string& out,
                 const std::vector<std::string>& weightNames = {},
                 const double* weights = nullptr);

}  // namespace hadml
