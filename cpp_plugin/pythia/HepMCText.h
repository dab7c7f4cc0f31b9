// HepMC3 Asciiv3 text of hadml's event records, written by HepMC3's own WriterAscii.
#pragma once

#include <cstdint>
#include <string>

#include "EventLoop.h"

namespace hadml {

// The file header (version line, "HepMC::Asciiv3-START_EVENT_LISTING") and footer that
// HepMC3's WriterAscii writes around the events.
const std::string& hepmcHeader();
const std::string& hepmcFooter();

// Appends the Asciiv3 text of events k0 .. k1-1 of `rec` to `out`. Each event is a GenEvent
// (GeV, mm) with one vertex per distinct parent range, in record order, so that parents are
// written before their children; particles keep the record's order, status and mass.
void appendHepMC(const EventRecords& rec, std::size_t k0, std::size_t k1, std::string& out);

}  // namespace hadml
