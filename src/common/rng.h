// Injected randomness: one seeded generator passed to whoever needs it, so a run is a pure
// function of its inputs and seed. Not thread-safe; give each thread its own.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace cnet {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  double Uniform(double lo, double hi);       // [lo, hi)
  int64_t UniformInt(int64_t lo, int64_t hi);  // [lo, hi] inclusive
  double Exponential(double rate);            // mean 1/rate
  bool Bernoulli(double p);
  // Index drawn with the given (non-negative, not all zero) weights.
  size_t Weighted(const std::vector<double>& weights);
  template <typename T>
  void Shuffle(std::vector<T>& v) { std::shuffle(v.begin(), v.end(), gen_); }

 private:
  std::mt19937_64 gen_;
};

}  // namespace cnet
