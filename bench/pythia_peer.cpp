// The C++ peer of bench/bench_generate.py: Pythia 8 with its own (Lund string)
// hadronization and decays, each event written to HepMC3 by Pythia's HepMC3 interface
// (Pythia8Plugins/HepMC3.h, HepMC3's WriterAscii). Built from the same Pythia 8 as hadml
// (the pythia8mc wheel's library and the sdist's headers) and the same HepMC3.
//   hadml_pythia_peer XMLDIR SETTINGS_FILE N_EVENTS OUT.hepmc
// SETTINGS_FILE holds one Pythia setting a line (the bench writes hadml's peer settings).
// Prints "events N seconds S maxrss_kb R" (S: the event loop, after init and 50 warm-up
// events that are not written).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "Pythia8/Pythia.h"
#include "Pythia8Plugins/HepMC3.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " XMLDIR SETTINGS_FILE N_EVENTS OUT.hepmc\n";
    return 2;
  }
  Pythia8::Pythia pythia(argv[1], false);
  std::ifstream settings(argv[2]);
  if (!settings) {
    std::cerr << "cannot read " << argv[2] << "\n";
    return 2;
  }
  for (std::string line; std::getline(settings, line);)
    if (!line.empty() && !pythia.readString(line)) {
      std::cerr << "Pythia rejected the setting '" << line << "'\n";
      return 2;
    }
  if (!pythia.init()) {
    std::cerr << "Pythia initialisation failed\n";
    return 1;
  }
  const long n = std::stol(argv[3]);
  for (int i = 0; i < 50; ++i) pythia.next();
  Pythia8::Pythia8ToHepMC toHepMC(argv[4]);
  const auto start = std::chrono::steady_clock::now();
  long made = 0;
  while (made < n) {
    if (!pythia.next()) continue;
    toHepMC.writeNextEvent(pythia);
    ++made;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("events %ld seconds %.6f maxrss_kb %ld\n", made, seconds, usage.ru_maxrss);
  return 0;
}
