// Operator tools over a loaded catalog: lint, preview, describe.
#include <string>

#include "templates/catalog.h"
#include "templates/sms_segments.h"

namespace reach::templates {

namespace json = boost::json;

namespace {

void Pretty(const json::value& v, int indent, std::string* out) {
  auto pad = [out](int n) { out->append(static_cast<size_t>(n) * 2, ' '); };
  switch (v.kind()) {
    case json::kind::object: {
      const json::object& o = v.get_object();
      if (o.empty()) {
        out->append("{}");
        return;
      }
      out->append("{\n");
      size_t i = 0;
      for (const auto& kv : o) {
        pad(indent + 1);
        out->append(json::serialize(json::string(kv.key())));
        out->append(": ");
        Pretty(kv.value(), indent + 1, out);
        out->append(++i < o.size() ? ",\n" : "\n");
      }
      pad(indent);
      out->push_back('}');
      return;
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        out->append("[]");
        return;
      }
      out->append("[\n");
      for (size_t i = 0; i < a.size(); ++i) {
        pad(indent + 1);
        Pretty(a[i], indent + 1, out);
        out->append(i + 1 < a.size() ? ",\n" : "\n");
      }
      pad(indent);
      out->push_back(']');
      return;
    }
    default:
      out->append(json::serialize(v));
  }
}

std::string SmsLine(std::string_view text) {
  SmsCount c = CountSms(text);
  return std::to_string(c.chars) + " chars, " + SmsEncodingName(c.encoding) + ", " +
         std::to_string(c.units) + " units, " + std::to_string(c.segments) +
         (c.segments == 1 ? " segment" : " segments");
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::string PrettyJson(const json::value& v) {
  std::string out;
  Pretty(v, 0, &out);
  out.push_back('\n');
  return out;
}

std::vector<std::string> LintDir(const std::string& dir, const config::TemplatesConfig& config) {
  std::vector<std::string> errors;
  auto loaded = Catalog::LoadDir(dir, config, &errors);
  if (!loaded.ok() && errors.empty()) errors.push_back(loaded.status().ToString());
  return errors;
}

Result<std::string> RenderPreview(const Catalog& catalog, std::string_view name,
                                  std::string_view channel, std::string_view locale,
                                  const json::object& vars) {
  const Template* t = catalog.Find(name);
  if (t == nullptr) return Status::NotFound("no template " + std::string(name));
  auto rendered = t->Render(channel, locale, vars);
  if (!rendered.ok()) return rendered.status();
  const json::object& c = rendered.value();
  std::string out = "template: " + t->name() + " (version " + t->version() + ", " + t->category() +
                    ")\nchannel: " + std::string(channel) +
                    "\nlocale: " + t->SelectLocale(channel, locale) + "\n";
  if (channel == "email") {
    out += "subject: " + Str(c, "subject") + "\n";
    if (c.contains("text")) out += "--- text ---\n" + Str(c, "text") + "\n";
    if (c.contains("html")) out += "--- html ---\n" + Str(c, "html") + "\n";
    return out;
  }
  if (channel == "sms") {
    std::string text = Str(c, "text");
    out += "text: " + text + "\nlength: " + SmsLine(text) + "\n";
    if (const json::value* p = c.if_contains("providers")) out += "providers: " + PrettyJson(*p);
    return out;
  }
  if (channel == "rcs") {
    json::object rest = c;
    std::string fallback = Str(c, "fallback_sms");
    rest.erase("fallback_sms");
    out += PrettyJson(rest);
    out += "fallback_sms: " + fallback + "\nfallback length: " + SmsLine(fallback) + "\n";
    return out;
  }
  if (channel == "push") {
    out += "title: " + Str(c, "title") + "\nbody: " + Str(c, "body") + "\n";
  }
  out += PrettyJson(c);
  return out;
}

json::object DescribeTemplate(const Template& t) {
  json::object o;
  o["name"] = t.name();
  o["description"] = t.description();
  o["category"] = t.category();
  o["version"] = t.version();
  o["locale"] = t.default_locale();
  json::array vars;
  for (const VariableSpec& v : t.variables()) {
    json::object d;
    d["name"] = v.name;
    d["type"] = v.type;
    d["required"] = v.required;
    if (v.has_default) d["default"] = v.default_value;
    if (v.max_length > 0) d["max_length"] = v.max_length;
    if (!v.description.empty()) d["description"] = v.description;
    vars.push_back(std::move(d));
  }
  o["variables"] = std::move(vars);
  json::array channels;
  json::object variants;
  for (const auto& c : t.channels()) {
    channels.push_back(json::string(c));
    json::array locs;
    for (const auto& l : t.locales(c)) locs.push_back(json::string(l));
    variants[c] = std::move(locs);
  }
  o["channels"] = std::move(channels);
  json::array locales;
  for (const auto& l : t.locales()) locales.push_back(json::string(l));
  o["locales"] = std::move(locales);
  o["variants"] = std::move(variants);
  return o;
}

json::array DescribeCatalog(const Catalog& catalog) {
  json::array out;
  for (const auto& t : catalog.All()) out.push_back(DescribeTemplate(*t));
  return out;
}

}  // namespace reach::templates
