#include "common/rng.h"

#include <algorithm>
#include <cassert>

namespace cnet {

double Rng::Uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(gen_);
}

int64_t Rng::UniformInt(int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
}

double Rng::Exponential(double rate) { return std::exponential_distribution<double>(rate)(gen_); }

bool Rng::Bernoulli(double p) { return Uniform(0.0, 1.0) < p; }

size_t Rng::Weighted(const std::vector<double>& weights) {
  assert(!weights.empty());
  double total = 0;
  for (double w : weights) total += w;
  double r = Uniform(0.0, total);
  for (size_t i = 0; i < weights.size(); ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return weights.size() - 1;
}

}  // namespace cnet
