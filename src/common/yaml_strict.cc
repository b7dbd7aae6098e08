#include "common/yaml_strict.h"

#include <libfyaml.h>

#include <algorithm>
#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace cnet {

namespace {

std::optional<YamlProblem> At(int line0, int col0, const std::string& what) {
  return YamlProblem{line0 + 1, col0 + 1, false, what};
}

// Where a token starts (0-based, as fy_mark).
std::pair<int, int> Start(fy_token* t) {
  const fy_mark* m = t ? fy_token_start_mark(t) : nullptr;
  return m ? std::make_pair(m->line, m->column) : std::make_pair(0, 0);
}

// The parser's first collected error (its diagnostics count from 1).
YamlProblem FirstDiagError(fy_diag* diag) {
  void* it = nullptr;
  if (fy_diag_error* e = fy_diag_errors_iterate(diag, &it))
    return YamlProblem{std::max(1, e->line), std::max(1, e->column), true, e->msg ? e->msg : "syntax error"};
  return YamlProblem{1, 1, true, "syntax error"};
}

// A mapping or sequence being read; for a mapping, whether the next node is a key.
struct Frame {
  bool map = false;
  bool is_key = false;  // this collection is itself a mapping key
  bool want_key = true;
  std::set<std::string> keys;
};

struct Deleters {
  void operator()(fy_parser* p) const { fy_parser_destroy(p); }
  void operator()(fy_diag* d) const { fy_diag_destroy(d); }
};

}  // namespace

std::optional<YamlProblem> FindYamlProblem(std::string_view text) {
  fy_diag_cfg dcfg;
  fy_diag_cfg_default(&dcfg);
  dcfg.fp = nullptr;
  std::unique_ptr<fy_diag, Deleters> diag(fy_diag_create(&dcfg));
  if (!diag) return YamlProblem{1, 1, false, "cannot create the libfyaml diagnostics object"};
  fy_diag_set_collect_errors(diag.get(), true);
  fy_parse_cfg cfg{};
  cfg.flags = static_cast<fy_parse_cfg_flags>(FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE);
  cfg.diag = diag.get();
  std::unique_ptr<fy_parser, Deleters> p(fy_parser_create(&cfg));
  if (!p || fy_parser_set_string(p.get(), text.data(), text.size()) != 0)
    return YamlProblem{1, 1, false, "cannot start the libfyaml parser"};

  std::vector<Frame> st;
  int documents = 0;
  // A node has been read: in a mapping, a value is followed by a key.
  auto node_done = [&st] {
    if (!st.empty() && st.back().map) st.back().want_key = true;
  };
  for (;;) {
    fy_event* e = fy_parser_parse(p.get());
    if (!e) break;
    const fy_mark* m = fy_event_start_mark(e);
    const int line = m ? m->line : 0, col = m ? m->column : 0;
    std::optional<YamlProblem> bad;
    const bool is_key = !st.empty() && st.back().map && st.back().want_key;
    switch (e->type) {
      case FYET_DOCUMENT_START:
        if (++documents > 1) bad = At(line, col, "a second document ('---'); give one document per file");
        break;
      case FYET_ALIAS: {
        auto [l, c] = Start(e->alias.anchor);
        bad = At(l, c > 0 ? c - 1 : c, "aliases (*name) are not supported; write the value out");  // the token is the name after '*'
        break;
      }
      case FYET_SCALAR:
      case FYET_MAPPING_START:
      case FYET_SEQUENCE_START:
        if (fy_token* anchor = fy_event_get_anchor_token(e)) {
          auto [l, c] = Start(anchor);
          bad = At(l, c > 0 ? c - 1 : c, "anchors (&name) are not supported; write the value out");
        } else if (e->type != FYET_SCALAR) {
          st.push_back(Frame{e->type == FYET_MAPPING_START, is_key, true, {}});
        } else if (is_key) {
          size_t len = 0;
          const char* s = fy_token_get_text(e->scalar.value, &len);
          std::string key(s ? s : "", s ? len : 0);
          if (!st.back().keys.insert(key).second) bad = At(line, col, "duplicate key '" + key + "'");
          st.back().want_key = false;
        } else {
          node_done();
        }
        break;
      case FYET_MAPPING_END:
      case FYET_SEQUENCE_END: {
        const bool was_key = !st.empty() && st.back().is_key;
        if (!st.empty()) st.pop_back();
        if (was_key && !st.empty()) st.back().want_key = false;  // its value follows
        else node_done();
        break;
      }
      default:
        break;
    }
    fy_parser_event_free(p.get(), e);
    if (bad) return bad;
  }
  if (fy_parser_get_stream_error(p.get())) return FirstDiagError(diag.get());
  return std::nullopt;
}

Status CheckStrictYaml(std::string_view text, const std::string& file) {
  auto pr = FindYamlProblem(text);
  if (!pr) return Status::Ok();
  return InvalidArgument(file + ":" + std::to_string(pr->line) + ":" + std::to_string(pr->column) +
                         (pr->syntax ? ": YAML syntax error: " : ": YAML: ") + pr->what);
}

}  // namespace cnet
