// The template language: Mustache-style text templates compiled once, rendered many times.
//
// Syntax:
//   {{path}}                   value, escaped for the output context
//   {{path|default:"顾客"}}     value, or the literal when absent, null or ""
//   {{{path}}} / {{&path}}     raw value (no escaping); only where the operator asks for it
//   {{#path}}...{{/path}}      section: a list renders once per item (the item becomes the
//                              context), an object once with it as context, another truthy
//                              value once; falsy = absent, null, false, 0, "", []
//   {{^path}}...{{/path}}      inverted section: renders when the value is falsy
//   {{! comment }}             ignored
//   path = "." (the current item) or dotted names "order.no" (a digit segment indexes a list)
// A section, inverted or closing tag or comment alone on its line removes that whole line
// (Mustache "standalone" rule), so multi-line bodies stay tidy. Partials and delimiter changes
// are not supported (parse error).
//
// Thread-safety: a TextTemplate is immutable after Parse(); Render() is const and may run on
// any number of threads at once.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace reach::templates {

// How a value is escaped where it is inserted. Literal template text is never escaped.
enum class Escape : uint8_t {
  kNone,  // SMS, plain text, subjects
  kHtml,  // e-mail html: & < > " ' become entities
  kJson,  // inside a JSON string literal: " \ and control characters escaped
};

// The variables a render sees: the message's vars, then the declared defaults.
struct Scope {
  const boost::json::object* vars = nullptr;      // may be null
  const boost::json::object* defaults = nullptr;  // may be null
};

// One variable reference found in a template, for load-time validation.
struct VarRef {
  std::string path;  // "order.no", "." for the current item
  std::vector<std::string>
      enclosing;          // paths of the enclosing (non-inverted) sections, outer first
  bool section = false;   // the reference opens a section
  bool inverted = false;  // ... an inverted one
  bool raw = false;       // {{{x}}} / {{&x}}
  bool has_default = false;
  std::string default_text;
};

class TextTemplate {
 public:
  TextTemplate() = default;

  // Compiles `source`. Errors (unclosed tag, mismatched section, bad path, unknown filter,
  // nesting deeper than kMaxDepth) are InvalidArgument with the byte offset in the message.
  static Result<TextTemplate> Parse(std::string_view source);
  static constexpr int kMaxDepth = 16;

  // Appends the rendered text to `out`. Never fails: missing values render as "".
  void Render(const Scope& scope, Escape escape, std::string* out) const;

  const std::string& source() const { return source_; }
  const std::vector<VarRef>& refs() const { return refs_; }
  // True when there are no tags: the output is always literal_text().
  bool constant() const { return ops_.empty() || (ops_.size() == 1 && ops_[0].kind == kText); }
  // All literal text concatenated (used for length estimates and constant values).
  const std::string& literal_text() const { return text_; }
  // When the whole template is one raw tag ({{{x}}} or {{&x}}), its path; else nullptr.
  // JSON bodies use it to insert the variable's JSON value (number, object, list) as is.
  const std::vector<std::string>* SoleRawPath() const;

 private:
  enum Kind : uint8_t { kText, kVar, kSection };
  struct Op {
    Kind kind = kText;
    bool raw = false;       // kVar
    bool inverted = false;  // kSection
    uint32_t a = 0;         // kText: offset in text_; kVar/kSection: index into paths_
    uint32_t b = 0;         // kText: length; kVar: default index + 1 (0 = none); kSection: end op
  };
  void RenderRange(uint32_t begin, uint32_t end, const Scope& scope, Escape escape,
                   const boost::json::value** stack, int depth, std::string* out) const;

  std::string source_;
  std::string text_;                             // literal text pieces
  std::vector<std::vector<std::string>> paths_;  // {"."} for the current item
  std::vector<std::string> defaults_;
  std::vector<Op> ops_;
  std::vector<VarRef> refs_;
};

// Appends `s` to `out` escaped for `escape`.
void AppendEscaped(std::string_view s, Escape escape, std::string* out);
// Appends a JSON value as text: strings as is, numbers shortest round-trip, bools true/false,
// null nothing, objects and arrays as compact JSON. Escaped for `escape`.
void AppendValue(const boost::json::value& v, Escape escape, std::string* out);
// Truthiness used by sections.
bool Truthy(const boost::json::value& v);

// UTF-8 helpers (invalid bytes count as one character each).
size_t Utf8Chars(std::string_view s);
size_t Utf16Units(std::string_view s);
// Decodes one code point at s[*i], advancing *i; returns 0xFFFD for invalid bytes.
uint32_t NextCodePoint(std::string_view s, size_t* i);

}  // namespace reach::templates
