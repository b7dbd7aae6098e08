// A small RFC-4180-ish CSV reader that keeps line numbers and header names, so every error can
// name the file, line and field. Quoted fields with commas and doubled quotes are supported.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/strings.h"  // Trim, ParseInt, ... lived here; kept for existing includers

namespace cnet {

class CsvTable {
 public:
  struct Row {
    int line = 0;  // 1-based line in the file
    std::vector<std::string> cells;
  };

  // Parses text; the first non-empty line is the header unless `header` is given.
  // `file` is only used in error messages.
  static Result<CsvTable> Parse(const std::string& text, const std::string& file,
                                std::vector<std::string> header = {});
  static Result<CsvTable> ReadFile(const std::string& path, std::vector<std::string> header = {});

  const std::string& file() const { return file_; }
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<Row>& rows() const { return rows_; }
  // Column index of a header name, or nullopt.
  std::optional<size_t> Column(const std::string& name) const;
  // Fails naming the missing columns.
  Status RequireColumns(const std::vector<std::string>& names) const;

  // Typed cell access; errors name file, line and column.
  Result<std::string> Str(const Row& r, size_t col) const;
  Result<double> Double(const Row& r, size_t col) const;
  Result<int64_t> Int(const Row& r, size_t col) const;

 private:
  std::string file_;
  std::vector<std::string> header_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<Row> rows_;
};

}  // namespace cnet
