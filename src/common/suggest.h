// "Did you mean": the closest of a set of names to a misspelt one, for error messages.
#pragma once

#include <string>
#include <vector>

namespace cnet {

// The choice nearest to `word` by edit distance (case-insensitive, a transposition counts as one
// edit), if it is within max(1, len/3) edits of it; "" when none is that close.
std::string ClosestName(const std::string& word, const std::vector<std::string>& choices);

// " (did you mean 'x'?)" for ClosestName, else "".
std::string DidYouMean(const std::string& word, const std::vector<std::string>& choices);

}  // namespace cnet
