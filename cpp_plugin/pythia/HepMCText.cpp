#include "HepMCText.h"

#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "HepMC3/GenEvent.h"
#include "HepMC3/GenRunInfo.h"
#include "HepMC3/GenParticle.h"
#include "HepMC3/GenVertex.h"
#include "HepMC3/WriterAscii.h"

namespace hadml {

namespace {

// Header and footer: what WriterAscii writes for a file without events, split at the end
// of the start line.
const std::pair<std::string, std::string>& frame() {
  static const std::pair<std::string, std::string> parts = [] {
    std::ostringstream os;
    {
      HepMC3::WriterAscii writer(os);
      writer.close();
    }
    const std::string all = os.str();
    const std::string start = "HepMC::Asciiv3-START_EVENT_LISTING\n";
    const auto at = all.find(start);
    if (at == std::string::npos)
      throw std::runtime_error("HepMC3's WriterAscii wrote no START_EVENT_LISTING line");
    return std::make_pair(all.substr(0, at + start.size()), all.substr(at + start.size()));
  }();
  return parts;
}

// All particles enter the event first, in record order (their ids), then one vertex per
// distinct parent range, in the order of the ranges (pyhepmc's GenEvent.from_hepevt gives
// the same ids, so hadml's HepMC3 files keep their layout).
void fillEvent(const EventRecords& rec, std::size_t k, HepMC3::GenEvent& evt) {
  const auto row0 = static_cast<std::size_t>(rec.offsets[k]);
  const auto row1 = static_cast<std::size_t>(rec.offsets[k + 1]);
  evt.set_event_number(static_cast<int>(rec.number[k]));
  std::vector<HepMC3::GenParticlePtr> particles;
  particles.reserve(row1 - row0);
  std::map<std::pair<int, int>, std::vector<int>> children;
  for (std::size_t r = row0; r < row1; ++r) {
    const double* p = &rec.p[4 * r];
    auto part = std::make_shared<HepMC3::GenParticle>(HepMC3::FourVector(p[0], p[1], p[2], p[3]),
                                                      rec.pid[r], rec.status[r]);
    part->set_generated_mass(rec.m[r]);
    evt.add_particle(part);
    particles.push_back(std::move(part));
    const int first = rec.parents[2 * r], last = rec.parents[2 * r + 1];
    if (first < 0) continue;
    const auto local = static_cast<int>(r - row0);
    if (last < first || last >= local)
      throw std::runtime_error("event " + std::to_string(rec.number[k]) + ": row " +
                               std::to_string(local) + " has parents " + std::to_string(first) +
                               ".." + std::to_string(last) + " not above it");
    children[{first, last}].push_back(local);
  }
  for (const auto& [range, out] : children) {
    auto vertex = std::make_shared<HepMC3::GenVertex>();
    for (int q = range.first; q <= range.second; ++q) vertex->add_particle_in(particles[q]);
    for (int c : out) vertex->add_particle_out(particles[c]);
    evt.add_vertex(vertex);
  }
}

std::shared_ptr<HepMC3::GenRunInfo> runInfo(const std::vector<std::string>& weightNames) {
  if (weightNames.empty()) return nullptr;
  auto info = std::make_shared<HepMC3::GenRunInfo>();
  info->set_weight_names(weightNames);
  return info;
}

}  // namespace

const std::string& hepmcHeader() { return frame().first; }
const std::string& hepmcFooter() { return frame().second; }

std::string hepmcHeader(const std::vector<std::string>& weightNames) {
  if (weightNames.empty()) return hepmcHeader();
  // A writer given the run information writes it right after the START line.
  std::ostringstream os;
  {
    HepMC3::WriterAscii writer(os, runInfo(weightNames));
    writer.close();
  }
  const std::string all = os.str();
  const std::string& foot = hepmcFooter();
  if (all.size() < foot.size() || all.compare(all.size() - foot.size(), foot.size(), foot) != 0)
    throw std::runtime_error("HepMC3's WriterAscii output has an unexpected footer");
  return all.substr(0, all.size() - foot.size());
}

void appendHepMC(const EventRecords& rec, std::size_t k0, std::size_t k1, std::string& out,
                 const std::vector<std::string>& weightNames, const double* weights) {
  const auto info = runInfo(weightNames);
  const std::size_t nVar = weightNames.empty() ? 0 : weightNames.size() - 1;
  if (nVar && !weights) throw std::invalid_argument("appendHepMC: weight names without weights");
  std::ostringstream os;
  {
    HepMC3::WriterAscii writer(os, info);
    for (std::size_t k = k0; k < k1; ++k) {
      HepMC3::GenEvent evt(HepMC3::Units::GEV, HepMC3::Units::MM);
      fillEvent(rec, k, evt);
      if (info) {
        // The writer's own run information: it is not written again per event.
        evt.set_run_info(info);
        std::vector<double>& w = evt.weights();
        w.assign(1, 1.0);
        const double* wk = weights + (k - k0) * nVar;
        w.insert(w.end(), wk, wk + nVar);
      }
      writer.write_event(evt);
    }
    writer.close();
  }
  const std::string all = os.str();
  const std::string head = hepmcHeader(weightNames);
  const std::string& foot = hepmcFooter();
  if (all.size() < head.size() + foot.size() || all.compare(0, head.size(), head) != 0 ||
      all.compare(all.size() - foot.size(), foot.size(), foot) != 0)
    throw std::runtime_error("HepMC3's WriterAscii output has an unexpected header or footer");
  out.append(all, head.size(), all.size() - head.size() - foot.size());
}

}  // namespace hadml
