#include "templates/text_template.h"

#include <charconv>

namespace reach::templates {

namespace json = boost::json;

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Splits and checks a dotted path. Returns false when malformed.
bool SplitPath(std::string_view s, std::vector<std::string>* out) {
  out->clear();
  if (s == ".") {
    out->emplace_back(".");
    return true;
  }
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view seg = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (seg.empty()) return false;
    for (char c : seg) {
      if (!IsNameChar(c)) return false;
    }
    out->emplace_back(seg);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// Parses `"text"` or `'text'` (backslash escapes \" \' \\) filling `out`; the whole of `s`.
bool ParseQuoted(std::string_view s, std::string* out) {
  if (s.size() < 2) return false;
  char q = s.front();
  if ((q != '"' && q != '\'') || s.back() != q) return false;
  out->clear();
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 2 < s.size()) {
      out->push_back(s[++i]);
    } else if (c == q) {
      return false;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

Status ParseError(size_t offset, const std::string& what) {
  return Status::InvalidArgument(what + " at offset " + std::to_string(offset));
}

const json::value* Lookup(const std::vector<std::string>& path, const Scope& scope,
                          const json::value* const* stack, int depth) {
  if (path.size() == 1 && path[0] == ".") return depth > 0 ? stack[depth - 1] : nullptr;
  const json::value* v = nullptr;
  const std::string& first = path[0];
  for (int d = depth - 1; d >= 0 && v == nullptr; --d) {
    if (const json::object* o = stack[d]->if_object()) v = o->if_contains(first);
  }
  if (v == nullptr && scope.vars != nullptr) v = scope.vars->if_contains(first);
  if (v == nullptr && scope.defaults != nullptr) v = scope.defaults->if_contains(first);
  for (size_t i = 1; i < path.size() && v != nullptr; ++i) {
    if (const json::object* o = v->if_object()) {
      v = o->if_contains(path[i]);
    } else if (const json::array* a = v->if_array()) {
      size_t idx = 0;
      const std::string& seg = path[i];
      auto [p, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
      v = (ec == std::errc() && p == seg.data() + seg.size() && idx < a->size()) ? &(*a)[idx]
                                                                                 : nullptr;
    } else {
      v = nullptr;
    }
  }
  return v;
}

}  // namespace

Result<TextTemplate> TextTemplate::Parse(std::string_view source) {
  TextTemplate t;
  t.source_ = std::string(source);
  std::string pending;  // literal text not yet emitted
  struct Open {
    uint32_t op;
    std::string path;
    bool inverted;
  };
  std::vector<Open> open;
  size_t pos = 0;
  size_t last_tag_end = 0;
  std::vector<std::string> path;

  auto flush = [&t, &pending] {
    if (pending.empty()) return;
    Op op;
    op.kind = kText;
    op.a = static_cast<uint32_t>(t.text_.size());
    op.b = static_cast<uint32_t>(pending.size());
    t.text_ += pending;
    t.ops_.push_back(op);
    pending.clear();
  };
  auto enclosing = [&open] {
    std::vector<std::string> e;
    for (const auto& o : open) {
      if (!o.inverted) e.push_back(o.path);
    }
    return e;
  };

  while (pos < source.size()) {
    size_t tag = source.find("{{", pos);
    if (tag == std::string_view::npos) {
      pending.append(source.substr(pos));
      break;
    }
    pending.append(source.substr(pos, tag - pos));
    bool triple = tag + 2 < source.size() && source[tag + 2] == '{';
    size_t close = source.find(triple ? "}}}" : "}}", tag + (triple ? 3 : 2));
    if (close == std::string_view::npos) return ParseError(tag, "unclosed tag");
    size_t tag_end = close + (triple ? 3 : 2);
    std::string_view body =
        Trim(source.substr(tag + (triple ? 3 : 2), close - tag - (triple ? 3 : 2)));
    char sigil = triple ? '{' : (body.empty() ? '\0' : body.front());
    if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!' || sigil == '&') {
      body = Trim(body.substr(1));
    }

    // Standalone rule for section/close/comment tags alone on a line.
    if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!') {
      size_t line_start = 0;
      if (tag > 0) {
        size_t nl = source.rfind('\n', tag - 1);
        line_start = nl == std::string_view::npos ? 0 : nl + 1;
      }
      bool before_blank = line_start >= last_tag_end;
      for (size_t i = line_start; before_blank && i < tag; ++i) {
        before_blank = source[i] == ' ' || source[i] == '\t';
      }
      size_t after = tag_end;
      while (after < source.size() && (source[after] == ' ' || source[after] == '\t')) ++after;
      bool after_blank =
          after == source.size() || source[after] == '\n' ||
          (source[after] == '\r' && after + 1 < source.size() && source[after + 1] == '\n');
      if (before_blank && after_blank) {
        pending.resize(pending.size() - (tag - line_start));
        if (after < source.size()) after += source[after] == '\r' ? 2 : 1;
        tag_end = after;
      }
    }

    switch (sigil) {
      case '!':
        break;
      case '>':
        return ParseError(tag, "partials ({{>name}}) are not supported");
      case '=':
        return ParseError(tag, "delimiter changes ({{=...=}}) are not supported");
      case '#':
      case '^': {
        if (!SplitPath(body, &path)) {
          return ParseError(tag, "bad section name '" + std::string(body) + "'");
        }
        if (open.size() >= static_cast<size_t>(kMaxDepth)) {
          return ParseError(tag, "sections nested deeper than " + std::to_string(kMaxDepth));
        }
        flush();
        VarRef ref;
        ref.path = std::string(body);
        ref.enclosing = enclosing();
        ref.section = true;
        ref.inverted = sigil == '^';
        t.refs_.push_back(std::move(ref));
        Op op;
        op.kind = kSection;
        op.inverted = sigil == '^';
        op.a = static_cast<uint32_t>(t.paths_.size());
        t.paths_.push_back(path);
        open.push_back({static_cast<uint32_t>(t.ops_.size()), std::string(body), sigil == '^'});
        t.ops_.push_back(op);
        break;
      }
      case '/': {
        if (open.empty()) return ParseError(tag, "'{{/" + std::string(body) + "}}' closes nothing");
        if (open.back().path != body) {
          return ParseError(tag, "'{{/" + std::string(body) + "}}' does not match '{{#" +
                                     open.back().path + "}}'");
        }
        flush();
        t.ops_[open.back().op].b = static_cast<uint32_t>(t.ops_.size());
        open.pop_back();
        break;
      }
      default: {  // variable: plain, '&' or triple
        bool raw = sigil == '{' || sigil == '&';
        std::string_view name = body;
        std::string def;
        bool has_default = false;
        if (size_t bar = body.find('|'); bar != std::string_view::npos) {
          name = Trim(body.substr(0, bar));
          std::string_view filter = Trim(body.substr(bar + 1));
          if (filter.substr(0, 7) != "default") {
            return ParseError(tag, "unknown filter '" + std::string(filter) + "'");
          }
          filter = Trim(filter.substr(7));
          if (filter.empty() || filter.front() != ':' ||
              !ParseQuoted(Trim(filter.substr(1)), &def)) {
            return ParseError(tag, "default filter needs a quoted value: default:\"text\"");
          }
          has_default = true;
        }
        if (!SplitPath(name, &path)) {
          return ParseError(tag, "bad variable name '" + std::string(name) + "'");
        }
        flush();
        VarRef ref;
        ref.path = std::string(name);
        ref.enclosing = enclosing();
        ref.raw = raw;
        ref.has_default = has_default;
        ref.default_text = def;
        t.refs_.push_back(std::move(ref));
        Op op;
        op.kind = kVar;
        op.raw = raw;
        op.a = static_cast<uint32_t>(t.paths_.size());
        t.paths_.push_back(path);
        if (has_default) {
          t.defaults_.push_back(std::move(def));
          op.b = static_cast<uint32_t>(t.defaults_.size());
        }
        t.ops_.push_back(op);
        break;
      }
    }
    pos = tag_end;
    last_tag_end = tag_end;
  }
  if (!open.empty()) {
    return Status::InvalidArgument("section '{{#" + open.back().path + "}}' is not closed");
  }
  flush();
  return t;
}

const std::vector<std::string>* TextTemplate::SoleRawPath() const {
  if (ops_.size() == 1 && ops_[0].kind == kVar && ops_[0].raw && ops_[0].b == 0) {
    return &paths_[ops_[0].a];
  }
  return nullptr;
}

void TextTemplate::Render(const Scope& scope, Escape escape, std::string* out) const {
  const json::value* stack[kMaxDepth];
  RenderRange(0, static_cast<uint32_t>(ops_.size()), scope, escape, stack, 0, out);
}

void TextTemplate::RenderRange(uint32_t begin, uint32_t end, const Scope& scope, Escape escape,
                               const json::value** stack, int depth, std::string* out) const {
  uint32_t i = begin;
  while (i < end) {
    const Op& op = ops_[i];
    switch (op.kind) {
      case kText:
        out->append(text_, op.a, op.b);
        ++i;
        break;
      case kVar: {
        const json::value* v = Lookup(paths_[op.a], scope, stack, depth);
        Escape e = op.raw ? Escape::kNone : escape;
        bool empty = v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty());
        if (empty && op.b != 0) {
          AppendEscaped(defaults_[op.b - 1], e, out);
        } else if (v != nullptr) {
          AppendValue(*v, e, out);
        }
        ++i;
        break;
      }
      case kSection: {
        const json::value* v = Lookup(paths_[op.a], scope, stack, depth);
        bool truthy = v != nullptr && Truthy(*v);
        if (op.inverted) {
          if (!truthy) RenderRange(i + 1, op.b, scope, escape, stack, depth, out);
        } else if (truthy) {
          if (const json::array* a = v->if_array()) {
            for (const json::value& item : *a) {
              stack[depth] = &item;
              RenderRange(i + 1, op.b, scope, escape, stack, depth + 1, out);
            }
          } else {
            stack[depth] = v;
            RenderRange(i + 1, op.b, scope, escape, stack, depth + 1, out);
          }
        }
        i = op.b;
        break;
      }
    }
  }
}

void AppendEscaped(std::string_view s, Escape escape, std::string* out) {
  if (escape == Escape::kNone) {
    out->append(s);
    return;
  }
  size_t run = 0;  // start of the current unescaped run
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    const char* rep = nullptr;
    char buf[8];
    if (escape == Escape::kHtml) {
      switch (c) {
        case '&':
          rep = "&amp;";
          break;
        case '<':
          rep = "&lt;";
          break;
        case '>':
          rep = "&gt;";
          break;
        case '"':
          rep = "&quot;";
          break;
        case '\'':
          rep = "&#39;";
          break;
        default:
          break;
      }
    } else {
      switch (c) {
        case '"':
          rep = "\\\"";
          break;
        case '\\':
          rep = "\\\\";
          break;
        case '\n':
          rep = "\\n";
          break;
        case '\r':
          rep = "\\r";
          break;
        case '\t':
          rep = "\\t";
          break;
        case '\b':
          rep = "\\b";
          break;
        case '\f':
          rep = "\\f";
          break;
        default:
          if (c < 0x20) {
            static constexpr char kHex[] = "0123456789abcdef";
            buf[0] = '\\';
            buf[1] = 'u';
            buf[2] = '0';
            buf[3] = '0';
            buf[4] = kHex[c >> 4];
            buf[5] = kHex[c & 15];
            buf[6] = '\0';
            rep = buf;
          }
          break;
      }
    }
    if (rep != nullptr) {
      out->append(s.data() + run, i - run);
      out->append(rep);
      run = i + 1;
    }
  }
  out->append(s.data() + run, s.size() - run);
}

void AppendValue(const json::value& v, Escape escape, std::string* out) {
  char buf[32];
  switch (v.kind()) {
    case json::kind::string: {
      const json::string& s = v.get_string();
      AppendEscaped(std::string_view(s.data(), s.size()), escape, out);
      return;
    }
    case json::kind::int64: {
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_int64());
      out->append(buf, r.ptr);
      return;
    }
    case json::kind::uint64: {
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_uint64());
      out->append(buf, r.ptr);
      return;
    }
    case json::kind::double_: {
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_double());
      out->append(buf, r.ptr);
      return;
    }
    case json::kind::bool_:
      out->append(v.get_bool() ? "true" : "false");
      return;
    case json::kind::null:
      return;
    case json::kind::object:
    case json::kind::array:
      AppendEscaped(json::serialize(v), escape, out);
      return;
  }
}

bool Truthy(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return false;
    case json::kind::bool_:
      return v.get_bool();
    case json::kind::string:
      return !v.get_string().empty();
    case json::kind::array:
      return !v.get_array().empty();
    case json::kind::int64:
      return v.get_int64() != 0;
    case json::kind::uint64:
      return v.get_uint64() != 0;
    case json::kind::double_:
      return v.get_double() != 0.0;
    case json::kind::object:
      return true;
  }
  return false;
}

uint32_t NextCodePoint(std::string_view s, size_t* i) {
  auto byte = [&s](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(*i);
  if (c < 0x80) {
    ++*i;
    return c;
  }
  int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || *i + len > s.size()) {
    ++*i;
    return 0xFFFD;
  }
  uint32_t cp = c & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    unsigned char cc = byte(*i + k);
    if ((cc & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  *i += len;
  return cp;
}

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    NextCodePoint(s, &i);
    ++n;
  }
  return n;
}

size_t Utf16Units(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) n += NextCodePoint(s, &i) >= 0x10000 ? 2 : 1;
  return n;
}

}  // namespace reach::templates
