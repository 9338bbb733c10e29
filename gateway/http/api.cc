#include "gateway/http/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/crypto.h"
#include "gateway/http/openapi_yaml.h"

namespace reach::http {
namespace {

namespace json = boost::json;

const std::set<std::string, std::less<>> kMessageKeys = {
    "template", "channels", "to",    "vars",     "locale",          "category",
    "priority", "send_at",  "ttl_s", "metadata", "idempotency_key", "callback_url"};
const std::set<std::string, std::less<>> kBatchKeys = {
    "template", "channels", "vars",     "locale",       "category", "priority",
    "send_at",  "ttl_s",    "metadata", "callback_url", "messages"};
const std::set<std::string, std::less<>> kToKeys = {
    "user_id",      "phone",      "email",     "wechat_openid",         "miniprogram_openid",
    "wecom_userid", "apns_token", "fcm_token", "jpush_registration_id", "webhook_url"};
const std::set<std::string, std::less<>> kChannels = {
    "sms",   "rcs",         "email", "wechat_template", "wechat_subscribe",
    "wecom", "wecom_robot", "push",  "webhook"};

constexpr size_t kMaxIdempotencyKey = 255;
constexpr size_t kMaxAddress = 512;

Status Invalid(std::string msg, std::string field) {
  return Status::InvalidArgument(std::move(msg), std::move(field));
}

bool IsHttpUrl(std::string_view s) {
  return (s.rfind("http://", 0) == 0 && s.size() > 7) ||
         (s.rfind("https://", 0) == 0 && s.size() > 8);
}

int HttpStatusFor(const Status& st, bool semantic) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return semantic ? 422 : 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string CodeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kConflict:
    case StatusCode::kFailedPrecondition:
      return "conflict";
    case StatusCode::kPayloadTooLarge:
      return "payload_too_large";
    case StatusCode::kUnavailable:
      return "unavailable";
    default:
      return "internal";
  }
}

json::object ErrorObject(const Status& st) {
  json::object err{{"code", CodeFor(st)}, {"message", st.message()}};
  if (!st.field().empty()) err["field"] = st.field();
  return err;
}

}  // namespace

std::optional<int64_t> ParseRfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto digits = [&](size_t pos, size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!digits(0, 4, &y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' ||
      !digits(8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, &h) ||
      s[13] != ':' || !digits(14, 2, &mi) || s[16] != ':' || !digits(17, 2, &sec)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(pos + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  // Calendar arithmetic (no time zone database, no lock): a day that does not exist, such as
  // February 30, is refused rather than rolled over into the next month.
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                        std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  const int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  const int64_t epoch = days * 86400 + h * 3600 + mi * 60 + sec;
  return (epoch - offset_s) * 1000 + frac_ms;
}

bool IsE164(std::string_view p) {
  if (p.size() < 8 || p.size() > 16 || p[0] != '+' || p[1] < '1' || p[1] > '9') return false;
  for (size_t i = 1; i < p.size(); ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
  }
  return true;
}

bool IsEmailAddress(std::string_view e) {
  if (e.size() < 3 || e.size() > 254) return false;
  size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || at != e.rfind('@') || at + 1 >= e.size()) {
    return false;
  }
  std::string_view domain = e.substr(at + 1);
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.') {
    return false;
  }
  for (unsigned char c : e) {
    if (c <= ' ' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' ||
        c == '"' || c == '\\' || c == 0x7f) {
      return false;
    }
  }
  return true;
}

Api::Api(store::Store& store, const config::Config& config, ApiHooks hooks, const Clock& clock,
         metrics::Registry& metrics)
    : store_(store),
      config_(config),
      hooks_(std::move(hooks)),
      clock_(clock),
      metrics_(metrics),
      accepted_(metrics.GetCounter("reach_api_messages_accepted_total",
                                   "Messages committed to the queue")),
      duplicates_(metrics.GetCounter("reach_api_messages_duplicate_total",
                                     "Sends answered from an earlier idempotency key")),
      rejected_(metrics.GetCounter("reach_api_messages_rejected_total",
                                   "Messages rejected by validation or an idempotency conflict")),
      batches_rejected_(metrics.GetCounter("reach_api_batches_rejected_total",
                                           "Whole batches rejected (body, messages, size)")) {}

Status Api::BuildMessage(const json::object& item, const std::string& prefix,
                         store::NewMessage* out, bool* semantic) const {
  if (semantic) *semantic = false;
  for (const auto& kv : item) {
    if (!kMessageKeys.count(kv.key())) {
      return Invalid("unknown field", prefix + std::string(kv.key()));
    }
  }
  // template
  auto tpl = item.find("template");
  if (tpl == item.end()) return Invalid("missing", prefix + "template");
  if (!tpl->value().is_string() || tpl->value().get_string().empty()) {
    return Invalid("must be a non-empty string", prefix + "template");
  }
  out->template_name = std::string(tpl->value().get_string());

  // channels
  auto ch = item.find("channels");
  if (ch == item.end()) return Invalid("missing", prefix + "channels");
  if (!ch->value().is_array() || ch->value().get_array().empty()) {
    return Invalid("must be a non-empty array of channel names", prefix + "channels");
  }
  out->channels.clear();
  for (size_t i = 0; i < ch->value().get_array().size(); ++i) {
    const auto& c = ch->value().get_array()[i];
    // The field's name is built only for an error: this runs for every message.
    auto field = [&] { return prefix + "channels[" + std::to_string(i) + "]"; };
    if (!c.is_string()) return Invalid("must be a string", field());
    std::string name(c.get_string());
    if (!kChannels.count(name)) return Invalid("unknown channel '" + name + "'", field());
    if (std::find(out->channels.begin(), out->channels.end(), name) != out->channels.end()) {
      return Invalid("channel listed twice", field());
    }
    out->channels.push_back(std::move(name));
  }

  // to
  auto to_it = item.find("to");
  if (to_it == item.end()) return Invalid("missing", prefix + "to");
  if (!to_it->value().is_object()) return Invalid("must be an object", prefix + "to");
  const json::object& to = to_it->value().get_object();
  for (const auto& kv : to) {
    auto field = [&] { return prefix + "to." + std::string(kv.key()); };
    if (!kToKeys.count(kv.key())) return Invalid("unknown address kind", field());
    if (!kv.value().is_string()) return Invalid("must be a string", field());
    if (kv.value().get_string().size() > kMaxAddress) return Invalid("too long", field());
  }
  auto to_str = [&](std::string_view key) -> std::string_view {
    auto it = to.find(key);
    return it == to.end() ? std::string_view() : std::string_view(it->value().get_string());
  };
  if (!to_str("phone").empty() && !IsE164(to_str("phone"))) {
    return Invalid("not an E.164 number", prefix + "to.phone");
  }
  if (!to_str("email").empty() && !IsEmailAddress(to_str("email"))) {
    return Invalid("not an e-mail address", prefix + "to.email");
  }
  if (!to_str("webhook_url").empty() && !IsHttpUrl(to_str("webhook_url"))) {
    return Invalid("must be an http:// or https:// URL", prefix + "to.webhook_url");
  }
  for (const std::string& c : out->channels) {
    const char* need = nullptr;
    if (c == "sms" || c == "rcs")
      need = "phone";
    else if (c == "email")
      need = "email";
    else if (c == "wechat_template")
      need = "wechat_openid";
    else if (c == "wechat_subscribe")
      need = "miniprogram_openid";
    else if (c == "wecom")
      need = "wecom_userid";
    if (need && to_str(need).empty()) {
      return Invalid("required for channel " + c, prefix + "to." + need);
    }
    if (c == "push" && to_str("apns_token").empty() && to_str("fcm_token").empty() &&
        to_str("jpush_registration_id").empty()) {
      return Invalid("channel push needs apns_token, fcm_token or jpush_registration_id",
                     prefix + "to");
    }
  }

  // vars (read in place: the payload below is serialized from the request's own values)
  static const json::object kNoVars;
  const json::object* vars = &kNoVars;
  if (auto v = item.find("vars"); v != item.end()) {
    if (!v->value().is_object()) return Invalid("must be an object", prefix + "vars");
    vars = &v->value().get_object();
  }

  // locale, category, priority
  std::string locale;
  if (auto v = item.find("locale"); v != item.end()) {
    if (!v->value().is_string() || v->value().get_string().size() > 35) {
      return Invalid("must be a language tag such as zh-CN", prefix + "locale");
    }
    locale = std::string(v->value().get_string());
  }
  std::string category;  // empty: the template's default
  if (auto v = item.find("category"); v != item.end()) {
    if (!v->value().is_string()) return Invalid("must be a string", prefix + "category");
    category = std::string(v->value().get_string());
    if (category != "otp" && category != "transactional" && category != "marketing") {
      return Invalid("must be one of otp, transactional, marketing", prefix + "category");
    }
  }
  std::optional<int> priority;  // empty: the category's default
  if (auto v = item.find("priority"); v != item.end()) {
    if (!v->value().is_int64() || v->value().get_int64() < 0 || v->value().get_int64() > 9) {
      return Invalid("must be an integer from 0 to 9", prefix + "priority");
    }
    priority = static_cast<int>(v->value().get_int64());
  }

  // send_at, ttl_s
  int64_t now = clock_.NowMs();
  out->due_at_ms = now;
  if (auto v = item.find("send_at"); v != item.end()) {
    if (!v->value().is_string()) return Invalid("must be an RFC 3339 time", prefix + "send_at");
    auto t = ParseRfc3339(v->value().get_string());
    if (!t) return Invalid("must be an RFC 3339 time", prefix + "send_at");
    out->due_at_ms = std::max(now, *t);
  }
  out->expires_at_ms.reset();
  if (auto v = item.find("ttl_s"); v != item.end()) {
    if (!v->value().is_int64() || v->value().get_int64() <= 0 ||
        v->value().get_int64() > 30LL * 86400) {
      return Invalid("must be an integer from 1 to 2592000", prefix + "ttl_s");
    }
    out->expires_at_ms = out->due_at_ms + v->value().get_int64() * 1000;
  }

  // idempotency_key, callback_url, metadata
  out->idempotency_key.clear();
  if (auto v = item.find("idempotency_key"); v != item.end()) {
    if (!v->value().is_string() || v->value().get_string().empty() ||
        v->value().get_string().size() > kMaxIdempotencyKey) {
      return Invalid("must be a string of 1 to 255 characters", prefix + "idempotency_key");
    }
    out->idempotency_key = std::string(v->value().get_string());
  }
  const json::value* callback_url = nullptr;
  if (auto v = item.find("callback_url"); v != item.end()) {
    if (!v->value().is_string() || !IsHttpUrl(v->value().get_string())) {
      return Invalid("must be an http:// or https:// URL", prefix + "callback_url");
    }
    callback_url = &v->value();
  }
  const json::value* metadata = nullptr;
  if (auto v = item.find("metadata"); v != item.end()) {
    if (!v->value().is_object()) return Invalid("must be an object", prefix + "metadata");
    for (const auto& kv : v->value().get_object()) {
      if (!kv.value().is_string()) {
        return Invalid("values must be strings", prefix + "metadata." + std::string(kv.key()));
      }
    }
    metadata = &v->value();
  }

  // The request is well-formed; now what this gateway can accept (422). These run last so that
  // a malformed request is always a 400 naming its field, whatever else is wrong with it.
  for (size_t i = 0; i < out->channels.size(); ++i) {
    const std::string& name = out->channels[i];
    if (hooks_.channel_configured && !hooks_.channel_configured(name)) {
      if (semantic) *semantic = true;
      return Invalid("channel '" + name + "' is not configured on this gateway",
                     prefix + "channels[" + std::to_string(i) + "]");
    }
  }
  ApiHooks::TemplateInfo info;
  if (hooks_.check_template) {
    Status st = hooks_.check_template(out->template_name, out->channels, *vars, &info);
    if (!st.ok()) {
      if (semantic) *semantic = true;
      return Status(st.code(), st.message(), prefix + st.field());
    }
  }
  out->template_version = info.version;
  if (category.empty()) category = info.category.empty() ? "transactional" : info.category;
  out->category = category;
  if (priority) {
    out->priority = *priority;
  } else if (category == "otp") {
    out->priority = config_.categories.otp_priority;
  } else if (category == "marketing") {
    out->priority = config_.categories.marketing_priority;
  } else {
    out->priority = config_.categories.transactional_priority;
  }

  // The stored payload: {"to":…,"vars":…[,"locale":…][,"callback_url":…][,"metadata":…]},
  // written out from the request's values (byte for byte what serializing an object with those
  // members gives, so idempotency hashes of earlier requests still match).
  std::string& payload = out->payload;
  payload.assign("{");
  auto member = [&payload](std::string_view name, const auto& value) {
    if (payload.size() > 1) payload += ',';
    payload.append("\"").append(name).append("\":").append(json::serialize(value));
  };
  member("to", to);
  member("vars", *vars);
  if (!locale.empty()) member("locale", json::value(locale));
  if (callback_url) member("callback_url", *callback_url);
  if (metadata) member("metadata", *metadata);
  payload += '}';
  if (!out->idempotency_key.empty()) {
    // The same key with the same request is a duplicate; with another request, a conflict.
    std::string canon = out->template_name + '\n' + json::serialize(ch->value()) + '\n' +
                        out->category + '\n' + std::to_string(out->priority) + '\n' + out->payload;
    if (auto v = item.find("send_at"); v != item.end()) canon += json::serialize(v->value());
    if (auto v = item.find("ttl_s"); v != item.end()) canon += json::serialize(v->value());
    out->request_hash = crypto::HexEncode(crypto::Sha256(canon)).substr(0, 32);
  } else {
    out->request_hash.clear();
  }
  return Status::Ok();
}

void Api::Handle(Request&& req, Responder respond) {
  const std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  const auto method = req.method();
  const unsigned ver = req.version();
  const bool ka = req.keep_alive();
  auto method_not_allowed = [&] {
    respond(
        ErrorResponse(ver, ka, 405, "invalid_argument",
                      "method " + std::string(req.method_string()) + " not allowed on " + path));
  };

  if (path == "/healthz") {
    respond(JsonResponse(ver, ka, 200, R"({"status":"ok"})"));
    return;
  }
  if (path == "/readyz") {
    bool ok = store_.Healthy() && (!hooks_.ready || hooks_.ready());
    if (ok) {
      respond(JsonResponse(ver, ka, 200, R"({"status":"ready"})"));
    } else {
      respond(ErrorResponse(ver, ka, 503, "unavailable", "store or templates not ready"));
    }
    return;
  }
  if (path == "/metrics") {
    Response res{bhttp::status::ok, ver};
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
    res.keep_alive(ka);
    res.body() = metrics_.Render();
    res.prepare_payload();
    respond(std::move(res));
    return;
  }
  if (path == "/v1/openapi.yaml") {
    Response res{bhttp::status::ok, ver};
    res.set(bhttp::field::content_type, "application/yaml");
    res.keep_alive(ka);
    res.body() = std::string(kOpenApiYaml);
    res.prepare_payload();
    respond(std::move(res));
    return;
  }
  if (path == "/v1/messages") {
    if (method != bhttp::verb::post) return method_not_allowed();
    SendOne(std::move(req), std::move(respond));
    return;
  }
  if (path == "/v1/messages/batch") {
    if (method != bhttp::verb::post) return method_not_allowed();
    SendBatch(std::move(req), std::move(respond));
    return;
  }
  if (path.rfind("/v1/messages/", 0) == 0) {
    std::string id = path.substr(strlen("/v1/messages/"));
    if (method == bhttp::verb::get) return GetMessage(req, id, std::move(respond));
    if (method == bhttp::verb::delete_) return CancelMessage(req, id, std::move(respond));
    return method_not_allowed();
  }
  if (path == "/v1/templates" || path.rfind("/v1/templates/", 0) == 0) {
    if (method != bhttp::verb::get) return method_not_allowed();
    std::string name = path.size() > 14 ? path.substr(14) : "";
    if (!hooks_.describe_templates) {
      respond(ErrorResponse(ver, ka, 503, "unavailable", "templates are not loaded"));
      return;
    }
    auto r = hooks_.describe_templates(name);
    if (!r.ok()) {
      respond(ErrorResponse(ver, ka, HttpStatusFor(r.status(), false), CodeFor(r.status()),
                            r.status().message(), r.status().field()));
      return;
    }
    respond(JsonResponse(ver, ka, 200, json::serialize(r.value())));
    return;
  }
  if (path == "/v1/admin/reload") {
    if (method != bhttp::verb::post) return method_not_allowed();
    Status st = hooks_.reload ? hooks_.reload() : Status::Unavailable("reload not available");
    if (st.ok()) {
      respond(JsonResponse(ver, ka, 200, R"({"status":"reloaded"})"));
    } else {
      respond(
          ErrorResponse(ver, ka, st.code() == StatusCode::kUnavailable ? 503 : 422,
                        st.code() == StatusCode::kUnavailable ? "unavailable" : "invalid_argument",
                        st.message(), st.field()));
    }
    return;
  }
  respond(ErrorResponse(ver, ka, 404, "not_found", "no such endpoint: " + path));
}

namespace {

Result<json::object> ParseBody(const Request& req, json::storage_ptr sp = {}) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(req.body(), ec, std::move(sp), opts);
  if (ec) return Status::InvalidArgument("body is not valid JSON: " + ec.message(), "body");
  if (!v.is_object()) return Status::InvalidArgument("body must be a JSON object", "body");
  return std::move(v.as_object());
}

}  // namespace

void Api::SendOne(Request&& req, Responder respond) {
  const unsigned ver = req.version();
  const bool ka = req.keep_alive();
  // Parsed into a buffer on the stack (a typical message needs no allocation); BuildMessage
  // copies out what the message keeps, and nothing refers to the body after this function.
  unsigned char parse_buffer[4096];
  json::monotonic_resource parse_memory(parse_buffer, sizeof parse_buffer);
  auto body = ParseBody(req, json::storage_ptr(&parse_memory));
  if (!body.ok()) {
    rejected_.Inc();
    respond(ErrorResponse(ver, ka, 400, "invalid_argument", body.status().message(), "body"));
    return;
  }
  json::object& item = body.value();
  auto hdr = req.find("Idempotency-Key");
  if (hdr != req.end() && !item.contains("idempotency_key")) {
    item["idempotency_key"] = std::string(hdr->value());
  }
  store::NewMessage msg;
  bool semantic = false;
  Status st = BuildMessage(item, "", &msg, &semantic);
  if (!st.ok()) {
    rejected_.Inc();
    respond(
        ErrorResponse(ver, ka, HttpStatusFor(st, semantic), CodeFor(st), st.message(), st.field()));
    return;
  }
  // A message scheduled for later is found by the dispatcher's poll when it falls due; only a
  // message due now is worth waking the dispatcher for.
  const bool due_now = msg.due_at_ms <= clock_.NowMs();
  std::vector<store::NewMessage> msgs;
  msgs.push_back(std::move(msg));
  store_.Enqueue(std::move(msgs), [this, ver, ka, due_now, respond = std::move(respond)](
                                      std::vector<store::EnqueueResult> results) {
    const store::EnqueueResult& r = results.at(0);
    if (!r.status.ok()) {
      rejected_.Inc();
      respond(ErrorResponse(ver, ka, HttpStatusFor(r.status, false), CodeFor(r.status),
                            r.status.message(),
                            r.status.code() == StatusCode::kConflict ? "idempotency_key" : ""));
      return;
    }
    if (r.existing) {
      duplicates_.Inc();
      json::object out{{"id", store::ExternalId(r.id)}, {"status", "queued"}, {"duplicate", true}};
      auto d = store_.Get(r.id);
      if (d.ok()) out["status"] = store::StatusName(d->message.status);
      respond(JsonResponse(ver, ka, 202, json::serialize(out)));
      return;
    }
    accepted_.Inc();
    if (due_now && hooks_.on_enqueued) hooks_.on_enqueued();
    // The common answer, on a store thread: the id is digits, nothing to escape.
    respond(JsonResponse(ver, ka, 202,
                         R"({"id":")" + store::ExternalId(r.id) + R"(","status":"queued"})"));
  });
}

void Api::SendBatch(Request&& req, Responder respond) {
  const unsigned ver = req.version();
  const bool ka = req.keep_alive();
  auto body = ParseBody(req);
  if (!body.ok()) {
    batches_rejected_.Inc();
    respond(ErrorResponse(ver, ka, 400, "invalid_argument", body.status().message(), "body"));
    return;
  }
  const json::object& root = body.value();
  for (const auto& kv : root) {
    if (!kBatchKeys.count(kv.key())) {
      batches_rejected_.Inc();
      respond(
          ErrorResponse(ver, ka, 400, "invalid_argument", "unknown field", std::string(kv.key())));
      return;
    }
  }
  auto m = root.find("messages");
  if (m == root.end() || !m->value().is_array()) {
    batches_rejected_.Inc();
    respond(ErrorResponse(ver, ka, 400, "invalid_argument", "must be an array of messages",
                          "messages"));
    return;
  }
  const json::array& items = m->value().get_array();
  if (items.empty()) {
    batches_rejected_.Inc();
    respond(ErrorResponse(ver, ka, 400, "invalid_argument", "must not be empty", "messages"));
    return;
  }
  if (items.size() > static_cast<size_t>(config_.server.max_batch_items)) {
    batches_rejected_.Inc();
    respond(ErrorResponse(ver, ka, 413, "payload_too_large",
                          "at most " + std::to_string(config_.server.max_batch_items) +
                              " messages per batch, got " + std::to_string(items.size()),
                          "messages"));
    return;
  }
  if (auto v = root.find("vars"); v != root.end() && !v->value().is_object()) {
    batches_rejected_.Inc();
    respond(ErrorResponse(ver, ka, 400, "invalid_argument", "must be an object", "vars"));
    return;
  }

  // results[i] is either an error (kept here) or the index into `msgs`.
  struct Slot {
    json::object error;
    int msg_index = -1;
  };
  auto slots = std::make_shared<std::vector<Slot>>(items.size());
  std::vector<store::NewMessage> msgs;
  msgs.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    std::string prefix = "messages[" + std::to_string(i) + "].";
    if (!items[i].is_object()) {
      (*slots)[i].error =
          ErrorObject(Invalid("must be an object", "messages[" + std::to_string(i) + "]"));
      rejected_.Inc();
      continue;
    }
    // Batch-level fields are defaults; the item's own win. vars are merged key by key.
    json::object merged;
    for (const auto& kv : root) {
      if (kv.key() != "messages") merged[kv.key()] = kv.value();
    }
    for (const auto& kv : items[i].get_object()) {
      if (kv.key() == "vars" && kv.value().is_object() && merged.contains("vars")) {
        json::object vars = merged["vars"].get_object();
        for (const auto& vk : kv.value().get_object()) vars[vk.key()] = vk.value();
        merged["vars"] = std::move(vars);
      } else {
        merged[kv.key()] = kv.value();
      }
    }
    store::NewMessage msg;
    Status st = BuildMessage(merged, prefix, &msg);
    if (!st.ok()) {
      (*slots)[i].error = ErrorObject(st);
      rejected_.Inc();
      continue;
    }
    (*slots)[i].msg_index = static_cast<int>(msgs.size());
    msgs.push_back(std::move(msg));
  }

  bool any_due_now = false;
  const int64_t now_ms = clock_.NowMs();
  for (const store::NewMessage& m : msgs) any_due_now |= m.due_at_ms <= now_ms;
  auto finish = [this, slots, ver, ka, any_due_now,
                 respond](std::vector<store::EnqueueResult> results) {
    json::array out;
    out.reserve(slots->size());
    bool any_new = false;
    for (size_t i = 0; i < slots->size(); ++i) {
      Slot& s = (*slots)[i];
      if (s.msg_index < 0) {
        out.push_back(json::object{{"error", std::move(s.error)}});
        continue;
      }
      const store::EnqueueResult& r = results.at(static_cast<size_t>(s.msg_index));
      if (!r.status.ok()) {
        Status st = r.status;
        if (st.code() == StatusCode::kConflict) {
          st = Status(st.code(), st.message(),
                      "messages[" + std::to_string(i) + "].idempotency_key");
        }
        rejected_.Inc();
        out.push_back(json::object{{"error", ErrorObject(st)}});
        continue;
      }
      json::object o{{"id", store::ExternalId(r.id)}, {"status", "queued"}};
      if (r.existing) {
        o["duplicate"] = true;
        duplicates_.Inc();
      } else {
        accepted_.Inc();
        any_new = true;
      }
      out.push_back(std::move(o));
    }
    if (any_new && any_due_now && hooks_.on_enqueued) hooks_.on_enqueued();
    respond(JsonResponse(ver, ka, 202, json::serialize(json::object{{"results", std::move(out)}})));
  };
  if (msgs.empty()) {
    finish({});
    return;
  }
  store_.Enqueue(std::move(msgs), std::move(finish));
}

void Api::GetMessage(const Request& req, const std::string& id, Responder respond) {
  const unsigned ver = req.version();
  const bool ka = req.keep_alive();
  auto parsed = store::ParseExternalId(id);
  if (!parsed) {
    respond(ErrorResponse(ver, ka, 404, "not_found", "no message " + id, "id"));
    return;
  }
  auto d = store_.Get(*parsed);
  if (!d.ok()) {
    respond(ErrorResponse(ver, ka, HttpStatusFor(d.status(), false), CodeFor(d.status()),
                          d.status().message(),
                          d.status().code() == StatusCode::kNotFound ? "id" : ""));
    return;
  }
  const store::StoredMessage& m = d->message;
  std::string status = store::StatusName(m.status);
  if (m.status == store::MessageStatus::kQueued && m.scheduled && d->attempts.empty() &&
      m.due_at_ms > clock_.NowMs()) {
    status = "scheduled";
  }
  json::object out;
  out["id"] = store::ExternalId(m.id);
  out["status"] = status;
  std::string channel = m.final_channel;
  if (m.status == store::MessageStatus::kQueued || m.status == store::MessageStatus::kSending) {
    if (m.channel_index < static_cast<int>(m.channels.size()))
      channel = m.channels[m.channel_index];
  }
  out["channel"] = channel;
  out["template"] = m.template_name;
  out["template_version"] = m.template_version;
  json::array chans;
  for (const auto& c : m.channels) chans.push_back(json::string(c));
  out["channels"] = std::move(chans);
  out["category"] = m.category;
  out["priority"] = m.priority;
  out["created_at"] = FormatRfc3339(m.created_at_ms);
  out["updated_at"] = FormatRfc3339(m.updated_at_ms);
  if (m.status == store::MessageStatus::kQueued)
    out["next_attempt_at"] = FormatRfc3339(m.due_at_ms);
  if (m.expires_at_ms) out["expires_at"] = FormatRfc3339(*m.expires_at_ms);
  if (!m.reason.empty()) out["reason"] = m.reason;
  if (!m.idempotency_key.empty()) out["idempotency_key"] = m.idempotency_key;
  {
    boost::system::error_code ec;
    json::value p = json::parse(m.payload, ec);
    if (!ec && p.is_object()) {
      if (auto it = p.as_object().find("metadata"); it != p.as_object().end()) {
        out["metadata"] = it->value();
      }
    }
  }
  json::array attempts;
  for (const auto& a : d->attempts) {
    attempts.push_back(json::object{{"at", FormatRfc3339(a.at_ms)},
                                    {"channel", a.channel},
                                    {"provider", a.provider},
                                    {"outcome", a.outcome},
                                    {"provider_message_id", a.provider_message_id},
                                    {"code", a.code},
                                    {"detail", a.detail}});
  }
  out["attempts"] = std::move(attempts);
  out["receipts"] = json::array();
  respond(JsonResponse(ver, ka, 200, json::serialize(out)));
}

void Api::CancelMessage(const Request& req, const std::string& id, Responder respond) {
  const unsigned ver = req.version();
  const bool ka = req.keep_alive();
  auto parsed = store::ParseExternalId(id);
  if (!parsed) {
    respond(ErrorResponse(ver, ka, 404, "not_found", "no message " + id, "id"));
    return;
  }
  store_.Cancel(*parsed, clock_.NowMs(), [ver, ka, id, respond](Status st) {
    if (st.ok()) {
      respond(JsonResponse(ver, ka, 200,
                           json::serialize(json::object{{"id", id}, {"status", "cancelled"}})));
    } else {
      respond(ErrorResponse(ver, ka, HttpStatusFor(st, false), CodeFor(st),
                            st.code() == StatusCode::kFailedPrecondition
                                ? "too late to cancel: " + st.message()
                                : st.message(),
                            st.code() == StatusCode::kNotFound ? "id" : ""));
    }
  });
}

}  // namespace reach::http
