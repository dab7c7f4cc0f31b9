// Seeded, portable random engine. All randomness of the cluster stage (and the noise
// fed to ML decayers) comes from here, so one seed reproduces an event bit for bit.
// The distributions are written out by hand because std::uniform_real_distribution and
// std::normal_distribution are not specified bit-exactly across standard libraries.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace hadml {

class Random {
 public:
  explicit Random(std::uint64_t seed = 5489u) : engine_(seed) {}

  void seed(std::uint64_t s) {
    engine_.seed(s);
    haveSpareNormal_ = false;
  }

  // Uniform in [0, 1) with 53 random bits.
  double flat() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform in (0, 1]: safe for log().
  double flatOpen() { return 1.0 - flat(); }
  double uniform(double a, double b) { return a + (b - a) * flat(); }

  // Standard normal via the Box-Muller transform.
  double normal() {
    if (haveSpareNormal_) {
      haveSpareNormal_ = false;
      return spareNormal_;
    }
    const double r = std::sqrt(-2.0 * std::log(flatOpen()));
    const double phi = 2.0 * M_PI * flat();
    spareNormal_ = r * std::sin(phi);
    haveSpareNormal_ = true;
    return r * std::cos(phi);
  }

  std::uint64_t bits() { return engine_(); }

 private:
  std::mt19937_64 engine_;
  double spareNormal_ = 0.0;
  bool haveSpareNormal_ = false;
};

}  // namespace hadml
