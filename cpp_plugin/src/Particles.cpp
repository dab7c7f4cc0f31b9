#include "hadml/Particles.h"

#include <cstdlib>

namespace hadml {

namespace {
int quarkCharge3(int q) { return (q % 2 == 0) ? 2 : -1; }  // u-type +2/3, d-type -1/3
}  // namespace

int partonCharge3(int id) {
  const int a = std::abs(id);
  const int sign = id < 0 ? -1 : 1;
  if (a == 21) return 0;
  if (a >= 1 && a <= 6) return sign * quarkCharge3(a);
  if (isDiquark(id)) return sign * (quarkCharge3(a / 1000) + quarkCharge3((a / 100) % 10));
  throw std::invalid_argument("partonCharge3: not a parton: " + std::to_string(id));
}

int partonBaryon3(int id) {
  const int a = std::abs(id);
  const int sign = id < 0 ? -1 : 1;
  if (a == 21) return 0;
  if (a >= 1 && a <= 6) return sign;
  if (isDiquark(id)) return 2 * sign;
  throw std::invalid_argument("partonBaryon3: not a parton: " + std::to_string(id));
}

}  // namespace hadml
