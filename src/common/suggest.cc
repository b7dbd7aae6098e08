#include "common/suggest.h"

#include <algorithm>
#include <cctype>

namespace cnet {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::string ClosestName(const std::string& word, const std::vector<std::string>& choices) {
  if (word.size() > 128) return "";
  const std::string w = Lower(word);
  const size_t limit = std::max<size_t>(1, w.size() / 3);
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& c : choices) {
    const size_t d = Distance(w, Lower(c));
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& choices) {
  std::string c = ClosestName(word, choices);
  return c.empty() ? "" : " (did you mean '" + c + "'?)";
}

}  // namespace cnet
