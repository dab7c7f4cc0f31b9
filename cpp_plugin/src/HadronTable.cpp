#include "hadml/HadronTable.h"

#include <cstdlib>
#include <stdexcept>

namespace hadml {

void HadronTable::add(const HadronInfo& info) {
  if (info.id <= 0)
    throw std::invalid_argument("HadronTable::add: id must be positive, got " +
                                std::to_string(info.id));
  const auto it = index_.find(info.id);
  if (it != index_.end()) {
    entries_[it->second] = info;
  } else {
    index_.emplace(info.id, entries_.size());
    entries_.push_back(info);
  }
}

bool HadronTable::contains(int id) const { return index_.count(std::abs(id)) != 0; }

const HadronInfo& HadronTable::info(int id) const {
  const auto it = index_.find(std::abs(id));
  if (it == index_.end())
    throw std::out_of_range("hadron " + std::to_string(id) + " is not in the hadron table");
  return entries_[it->second];
}

int HadronTable::charge3(int id) const {
  const int c = info(id).charge3;
  return id < 0 ? -c : c;
}

PdgDigits pdgDigits(int id) {
  const int a = std::abs(id) % 10000;
  return {(a / 1000) % 10, (a / 100) % 10, (a / 10) % 10, a % 10};
}

int hadronBaryon3(int id) {
  const PdgDigits d = pdgDigits(id);
  const int b = d.nq1 != 0 ? 3 : 0;  // baryons have three quark digits
  return id < 0 ? -b : b;
}

}  // namespace hadml
