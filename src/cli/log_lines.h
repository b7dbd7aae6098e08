// Copying a job's log to the terminal for `cnet logs` and `submit --follow`. Raw by default
// (every byte as it arrives). In line mode a line is written whole: with --no-rank-prefix the
// local site's rank label of a gang's line ("[k] ", process_runner.h) is dropped, and with
// --merge the job's stdout and stderr share one output without a line of one inside a line of the
// other. Thread-safe when writers share the mutex (one writer per stream).
#pragma once

#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>

namespace cnet {

class LogWriter {
 public:
  // `strip_below`: drop a leading "[k] " with 0 <= k < strip_below (0: keep every label).
  // `shared`: a mutex guarding `out` across writers (nullptr: this writer alone); with it, or with
  // stripping, lines are written whole.
  LogWriter(std::FILE* out, int strip_below, std::mutex* shared);
  void Write(const char* data, size_t n);
  void Finish();  // a last line without its newline

 private:
  void Emit(const char* data, size_t n);
  std::FILE* out_;
  int strip_below_;
  std::mutex* shared_;
  std::string line_;
};

// Whether `line` starts with a rank label "[k] " (k < below); its length if so, else 0.
size_t RankLabelLength(const std::string& line, int below);

}  // namespace cnet
