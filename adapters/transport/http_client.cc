#include "adapters/transport/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <ctime>
#include <mutex>
#include <vector>

namespace reach::transport {

std::string_view TransportErrorName(TransportError e) {
  switch (e) {
    case TransportError::kNone:
      return "none";
    case TransportError::kResolve:
      return "resolve";
    case TransportError::kConnect:
      return "connect";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kTls:
      return "tls";
    case TransportError::kConnection:
      return "connection";
    case TransportError::kAborted:
      return "aborted";
    case TransportError::kOther:
      return "other";
  }
  return "other";
}

std::optional<std::string> HttpResponse::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return std::nullopt;
}

void HttpResponse::AddHeader(std::string_view name, std::string_view value) {
  std::string lower(name);
  for (char& ch : lower) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  headers.emplace_back(std::move(lower), std::string(value));
}

namespace {
// RFC 9110 section 5.6.2: token = 1*tchar.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (std::isalnum(c) == 0 &&
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}
}  // namespace

std::optional<std::string> InvalidRequest(const HttpRequest& request) {
  if (!IsToken(request.method)) return "bad HTTP method '" + request.method + "'";
  for (const auto& [k, v] : request.headers) {
    if (!IsToken(k)) return "bad header name '" + k + "'";
    if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return "the value of header " + k + " holds a line break or NUL";
    }
  }
  return std::nullopt;
}

std::optional<int64_t> ParseRetryAfterMs(std::string_view value, int64_t now_ms) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && p == value.data() + value.size()) {
    if (seconds < 0) return std::nullopt;
    return std::min<int64_t>(seconds, 86400) * 1000;
  }
  // HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT" (curl_getdate handles the three formats).
  std::string s(value);
  time_t t = curl_getdate(s.c_str(), nullptr);
  if (t < 0) return std::nullopt;
  int64_t delay = static_cast<int64_t>(t) * 1000 - now_ms;
  return std::clamp<int64_t>(delay, 0, 86400 * 1000);
}

namespace {

TransportError Classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return TransportError::kNone;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return TransportError::kResolve;
    case CURLE_COULDNT_CONNECT:
      return TransportError::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return TransportError::kTls;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportError::kConnection;
    case CURLE_ABORTED_BY_CALLBACK:
      return TransportError::kAborted;
    default:
      return TransportError::kOther;
  }
}

// "scheme://host:port" of a URL (everything before the path), the unit of connection limits.
std::string PeerKey(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  return url.substr(0, end == std::string::npos ? url.size() : end);
}

// One request's state; owned by the easy handle's lifetime (loop thread).
struct Transfer {
  HttpRequest request;
  HttpCallback done;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  ~Transfer() { curl_slist_free_all(header_list); }
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  constexpr size_t kMaxBody = 4 * 1024 * 1024;  // provider answers are small; bound memory
  size_t len = size * n;
  if (t->response.body.size() + len > kMaxBody) return 0;  // aborts with CURLE_WRITE_ERROR
  t->response.body.append(data, len);
  return len;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100-continue or a redirect)
    t->response.headers.clear();
    return line.size();
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  t->response.AddHeader(line.substr(0, colon), v);
  return line.size();
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlHttpClientOptions options)
      : options_(std::move(options)), loop_(options_.loop) {}
  ~CurlHttpClient() override {
    Shutdown();
    for (CURL* e : pool_) curl_easy_cleanup(e);
  }

  void Send(HttpRequest request, HttpCallback done) override {
    if (auto why = InvalidRequest(request)) {
      HttpResponse r;
      r.error = TransportError::kOther;
      r.error_detail = std::move(*why);
      loop_.Post([r = std::move(r), done = std::move(done)]() mutable { done(std::move(r)); });
      return;
    }
    auto* t = new Transfer;
    t->request = std::move(request);
    t->done = std::move(done);
    CURL* easy = TakeEasy();
    Configure(easy, t);
    // Transfers to one peer beyond its connection limit wait in the loop's queue (cheap) rather
    // than in libcurl's (O(waiting) per completion). HTTP/2 runs up to `streams` per connection.
    int max_active = 0;
    if (options_.loop.max_host_connections > 0) {
      long per_conn = t->request.http2 ? std::max(1L, options_.loop.max_concurrent_streams) : 1;
      max_active = static_cast<int>(options_.loop.max_host_connections * per_conn);
    }
    loop_.Add(
        easy, [this, t](CURL* e, CURLcode rc) { Finish(e, rc, t); }, PeerKey(t->request.url),
        max_active, t->request.priority);
  }

  void Post(std::function<void()> fn) override { loop_.Post(std::move(fn)); }
  void Shutdown() override { loop_.Shutdown(); }

 private:
  // What every request of this client shares, set once per easy handle.
  void ConfigureShared(CURL* easy) {
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // providers never redirect an API call
    if (!options_.verify_peer) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  }

  // What differs between requests. Every option a request may change is set here on every use,
  // so nothing of one request carries into the next on a reused handle.
  void Configure(CURL* easy, Transfer* t) {
    const HttpRequest& r = t->request;
    curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout_ms));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(r.timeout_ms, 10000)));
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    if (r.http2) {
      bool tls = r.url.rfind("https://", 0) == 0;
      curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                       tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
      curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);  // wait to multiplex rather than open more
    } else {
      curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
      curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 0L);
    }
    if (r.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, nullptr);
    } else {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST,
                       r.method == "POST" ? nullptr : r.method.c_str());
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(t->request.body.size()));
    }
    // No "Expect: 100-continue" round trip; providers answer the whole request at once.
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    std::string line;
    for (const auto& [k, v] : r.headers) {
      line.assign(k).append(": ").append(v);
      t->header_list = curl_slist_append(t->header_list, line.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);
  }

  // Easy handles are reused, configured: curl_easy_init allocates and clears several kilobytes,
  // and curl_easy_reset plus setting every option again cost as much (perf: ~10 % of the HTTP
  // thread at 15,000 requests/s). A handle keeps no connection or DNS state of its own (those
  // live in the multi handle), and Configure sets every per-request option on each use.
  CURL* TakeEasy() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        CURL* e = pool_.back();
        pool_.pop_back();
        return e;
      }
    }
    CURL* e = curl_easy_init();
    ConfigureShared(e);
    return e;
  }

  void GiveBackEasy(CURL* easy) {
    // The transfer's buffers are freed next; nothing reads these pointers until they are set
    // again, but a stale pointer kept in a handle is not worth the risk.
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (pool_.size() < kMaxPooledHandles) {
        pool_.push_back(easy);
        return;
      }
    }
    curl_easy_cleanup(easy);
  }

  void Finish(CURL* easy, CURLcode rc, Transfer* t) {
    t->response.error = Classify(rc);
    if (rc == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      t->response.status = static_cast<int>(status);
      curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &t->response.new_connections);
    } else {
      t->response.error_detail = t->error[0] ? t->error : curl_easy_strerror(rc);
      t->response.headers.clear();
      t->response.body.clear();
    }
    t->response.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - t->started)
                                 .count();
    GiveBackEasy(easy);
    HttpCallback done = std::move(t->done);
    HttpResponse response = std::move(t->response);
    delete t;
    done(std::move(response));
  }

  static constexpr size_t kMaxPooledHandles = 4096;

  CurlHttpClientOptions options_;
  std::mutex pool_mu_;
  std::vector<CURL*> pool_;  // GUARDED_BY(pool_mu_): reset handles ready for reuse
  CurlLoop loop_;            // last: shut down (and its callbacks run) before the pool goes
};

}  // namespace

std::unique_ptr<HttpClient> MakeCurlHttpClient(CurlHttpClientOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace reach::transport
