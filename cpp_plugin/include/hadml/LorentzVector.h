// Minimal four-vector in (px, py, pz, E) with metric (+,-,-,-); units GeV.
#pragma once

#include <cmath>

namespace hadml {

struct ThreeVector {
  double x = 0.0, y = 0.0, z = 0.0;

  constexpr ThreeVector() = default;
  constexpr ThreeVector(double x_, double y_, double z_) : x(x_), y(y_), z(z_) {}
  ThreeVector operator+(const ThreeVector& o) const { return {x + o.x, y + o.y, z + o.z}; }
  ThreeVector operator-(const ThreeVector& o) const { return {x - o.x, y - o.y, z - o.z}; }
  ThreeVector operator*(double s) const { return {x * s, y * s, z * s}; }
  ThreeVector operator-() const { return {-x, -y, -z}; }
  double dot(const ThreeVector& o) const { return x * o.x + y * o.y + z * o.z; }
  ThreeVector cross(const ThreeVector& o) const {
    return {y * o.z - z * o.y, z * o.x - x * o.z, x * o.y - y * o.x};
  }
  double mag2() const { return x * x + y * y + z * z; }
  double mag() const { return std::sqrt(mag2()); }
  ThreeVector unit() const {
    const double m = mag();
    return m > 0.0 ? ThreeVector{x / m, y / m, z / m} : ThreeVector{0.0, 0.0, 1.0};
  }
};

struct LorentzVector {
  double px = 0.0, py = 0.0, pz = 0.0, e = 0.0;

  constexpr LorentzVector() = default;
  constexpr LorentzVector(double px_, double py_, double pz_, double e_)
      : px(px_), py(py_), pz(pz_), e(e_) {}
  LorentzVector(const ThreeVector& p, double e_) : px(p.x), py(p.y), pz(p.z), e(e_) {}

  LorentzVector operator+(const LorentzVector& o) const {
    return {px + o.px, py + o.py, pz + o.pz, e + o.e};
  }
  LorentzVector operator-(const LorentzVector& o) const {
    return {px - o.px, py - o.py, pz - o.pz, e - o.e};
  }
  LorentzVector operator*(double s) const { return {px * s, py * s, pz * s, e * s}; }
  LorentzVector& operator+=(const LorentzVector& o) {
    px += o.px; py += o.py; pz += o.pz; e += o.e;
    return *this;
  }
  LorentzVector& operator-=(const LorentzVector& o) {
    px -= o.px; py -= o.py; pz -= o.pz; e -= o.e;
    return *this;
  }

  ThreeVector vect() const { return {px, py, pz}; }
  double p2() const { return px * px + py * py + pz * pz; }
  double p() const { return std::sqrt(p2()); }
  double m2() const { return e * e - p2(); }
  // Signed mass: negative for space-like vectors so that rounding is visible.
  double m() const {
    const double mm = m2();
    return mm >= 0.0 ? std::sqrt(mm) : -std::sqrt(-mm);
  }
  double dot(const LorentzVector& o) const { return e * o.e - px * o.px - py * o.py - pz * o.pz; }
  // Velocity of the frame in which this vector is at rest.
  ThreeVector boostVector() const { return {px / e, py / e, pz / e}; }

  // Active Lorentz boost by velocity b (|b| < 1).
  LorentzVector boosted(const ThreeVector& b) const {
    const double b2 = b.mag2();
    if (b2 <= 0.0) return *this;
    const double gamma = 1.0 / std::sqrt(1.0 - b2);
    const double bp = b.x * px + b.y * py + b.z * pz;
    const double gamma2 = (gamma - 1.0) / b2;
    const double f = gamma2 * bp + gamma * e;
    return {px + f * b.x, py + f * b.y, pz + f * b.z, gamma * (e + bp)};
  }
};

}  // namespace hadml
