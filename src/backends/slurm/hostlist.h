// Slurm host lists ("node[1-3,5],gpu01") and the bracket-aware split they need. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <vector>

namespace cnet::backends::slurm {

// Splits on `sep` outside (), [] and {}: "a[1,2],b" -> {"a[1,2]", "b"}.
std::vector<std::string> SplitTopLevel(const std::string& s, char sep);

// Expands Slurm host lists: "node[1-3,5],gpu01" -> node1 node2 node3 node5 gpu01. Ranges keep their
// zero padding ("n[01-10]"); "" and "(null)" give nothing; an item that is not a host-list
// expression, or would expand beyond 2^20 names, is kept literally as one name.
std::vector<std::string> ExpandHostList(const std::string& list);

}  // namespace cnet::backends::slurm
