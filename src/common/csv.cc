#include "common/csv.h"

namespace cnet {

namespace {

// Splits one logical record starting at `pos`; advances pos and the line counter.
Status SplitRecord(const std::string& text, size_t& pos, int& line, const std::string& file,
                   const std::vector<std::string>& header, std::vector<std::string>& out) {
  out.clear();
  std::string cell;
  bool quoted = false, in_quotes = false;
  int start_line = line;
  while (pos < text.size()) {
    char c = text[pos];
    if (in_quotes) {
      if (c == '"') {
        if (pos + 1 < text.size() && text[pos + 1] == '"') {
          cell += '"';
          pos += 2;
          continue;
        }
        in_quotes = false;
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      ++pos;
      continue;
    }
    if (c == '"' && Trim(cell).empty()) {
      in_quotes = quoted = true;
      cell.clear();
      ++pos;
      continue;
    }
    if (c == ',') {
      out.push_back(quoted ? cell : Trim(cell));
      cell.clear();
      quoted = false;
      ++pos;
      continue;
    }
    if (c == '\n' || c == '\r') {
      if (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
      ++pos;
      ++line;
      out.push_back(quoted ? cell : Trim(cell));
      return Status::Ok();
    }
    cell += c;
    ++pos;
  }
  if (in_quotes) {
    size_t col = out.size();
    return InputError(file, start_line,
                      col < header.size() ? header[col] : "column " + std::to_string(col + 1),
                      "unterminated quoted field");
  }
  out.push_back(quoted ? cell : Trim(cell));
  ++line;
  return Status::Ok();
}

}  // namespace

Result<CsvTable> CsvTable::Parse(const std::string& text, const std::string& file,
                                 std::vector<std::string> header) {
  CsvTable t;
  t.file_ = file;
  size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // skip a UTF-8 byte-order mark
  int line = 1;
  std::vector<std::string> rec;
  bool have_header = !header.empty();
  if (have_header) t.header_ = std::move(header);
  while (pos < text.size()) {
    int rec_line = line;
    CNET_RETURN_IF_ERROR(SplitRecord(text, pos, line, file, t.header_, rec));
    if (rec.size() == 1 && rec[0].empty()) continue;  // blank line
    if (!have_header) {
      t.header_ = rec;
      have_header = true;
      continue;
    }
    if (rec.size() != t.header_.size()) {
      return InputError(file, rec_line,
                        rec.size() < t.header_.size() ? t.header_[rec.size()]
                                                      : "column " + std::to_string(t.header_.size() + 1),
                        "expected " + std::to_string(t.header_.size()) + " columns (" +
                            std::to_string(t.header_.size()) + " in the header), found " +
                            std::to_string(rec.size()));
    }
    t.rows_.push_back(Row{rec_line, rec});
  }
  if (!have_header) return InputError(file, 1, "", "empty file: no header line");
  for (size_t i = 0; i < t.header_.size(); ++i)
    if (!t.index_.emplace(t.header_[i], i).second)
      return InputError(file, 1, t.header_[i], "column appears twice in the header");
  return t;
}

Result<CsvTable> CsvTable::ReadFile(const std::string& path, std::vector<std::string> header) {
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return Parse(text, path, std::move(header));
}

std::optional<size_t> CsvTable::Column(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

Status CsvTable::RequireColumns(const std::vector<std::string>& names) const {
  std::string missing, first;
  for (const auto& n : names)
    if (!Column(n)) {
      if (first.empty()) first = n;
      missing += (missing.empty() ? "" : ", ") + n;
    }
  if (!missing.empty()) return InputError(file_, 1, first, "missing column(s): " + missing);
  return Status::Ok();
}

Result<std::string> CsvTable::Str(const Row& r, size_t col) const {
  if (r.cells[col].empty()) return InputError(file_, r.line, header_[col], "empty value");
  return r.cells[col];
}

Result<double> CsvTable::Double(const Row& r, size_t col) const {
  auto v = ParseDouble(r.cells[col]);
  if (!v) return InputError(file_, r.line, header_[col], "not a number: '" + r.cells[col] + "'");
  return *v;
}

Result<int64_t> CsvTable::Int(const Row& r, size_t col) const {
  auto v = ParseInt(r.cells[col]);
  if (!v) return InputError(file_, r.line, header_[col], "not an integer: '" + r.cells[col] + "'");
  return *v;
}

}  // namespace cnet
