#include "cli/log_lines.h"

namespace cnet {

namespace {
constexpr size_t kMaxLine = 1 << 16;  // a longer line is written in pieces (only its first keeps a label)
}

size_t RankLabelLength(const std::string& line, int below) {
  if (line.size() < 4 || line[0] != '[') return 0;
  size_t i = 1;
  long k = 0;
  while (i < line.size() && i < 9 && line[i] >= '0' && line[i] <= '9') k = k * 10 + (line[i++] - '0');
  if (i == 1 || i + 1 >= line.size() || line[i] != ']' || line[i + 1] != ' ' || k >= below) return 0;
  return i + 2;
}

LogWriter::LogWriter(std::FILE* out, int strip_below, std::mutex* shared)
    : out_(out), strip_below_(strip_below), shared_(shared) {}

void LogWriter::Emit(const char* data, size_t n) {
  if (shared_) {
    std::lock_guard<std::mutex> lock(*shared_);
    std::fwrite(data, 1, n, out_);
    std::fflush(out_);
    return;
  }
  std::fwrite(data, 1, n, out_);
  std::fflush(out_);
}

void LogWriter::Write(const char* data, size_t n) {
  if (strip_below_ <= 0 && !shared_) return Emit(data, n);  // raw: as it arrives
  for (size_t i = 0; i < n; ++i) {
    line_.push_back(data[i]);
    if (data[i] == '\n' || line_.size() >= kMaxLine) {
      const size_t skip = strip_below_ > 0 ? RankLabelLength(line_, strip_below_) : 0;
      Emit(line_.data() + skip, line_.size() - skip);
      line_.clear();
    }
  }
}

void LogWriter::Finish() {
  if (line_.empty()) return;
  const size_t skip = strip_below_ > 0 ? RankLabelLength(line_, strip_below_) : 0;
  Emit(line_.data() + skip, line_.size() - skip);
  line_.clear();
}

}  // namespace cnet
