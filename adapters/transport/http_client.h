// HttpClient: asynchronous HTTP requests for the provider adapters. Two implementations: one on a
// CurlLoop (libcurl multi: keep-alive, HTTP/2 when the peer offers it) and one on Boost.Beast
// (HTTP/1.1, the cheaper hot path); MakeHttpClient combines them. Tests inject a fake
// (tests/fakes/fake_http_client.h) or point the real ones at the simulator on 127.0.0.1.
//
// Thread-safety: Send() and Shutdown() may be called from any thread. `done` runs on the
// client's I/O thread (never inside Send()), exactly once per request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/transport/curl_loop.h"

namespace reach::transport {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  std::string body;
  int64_t timeout_ms = 15000;  // whole transfer, connect included
  bool http2 = false;          // ask for HTTP/2 (ALPN over TLS, prior knowledge over http://)
  int priority = 0;            // 0..9: order among requests waiting for a connection to the peer
};

// Why a request got no HTTP answer.
enum class TransportError {
  kNone,        // an HTTP status was received
  kResolve,     // host name did not resolve
  kConnect,     // connection refused / unreachable
  kTimeout,     // no complete answer in time
  kTls,         // TLS handshake or certificate failure
  kConnection,  // connection dropped while sending or receiving
  kAborted,     // the client shut down first
  kOther,
};

std::string_view TransportErrorName(TransportError e);

struct HttpResponse {
  TransportError error = TransportError::kNone;
  std::string error_detail;  // the client's message when error != kNone
  int status = 0;            // HTTP status when error == kNone
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  int64_t elapsed_ms = 0;
  long new_connections = 0;  // connections this request had to open (0 = reused one)

  // First header with this (lower-case) name.
  std::optional<std::string> Header(std::string_view lower_name) const;
  // Appends a header as received, its name lower-cased (both engines read answers through it).
  void AddHeader(std::string_view name, std::string_view value);
};

using HttpCallback = std::function<void(HttpResponse)>;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual void Send(HttpRequest request, HttpCallback done) = 0;
  // Runs `fn` on the client's I/O thread (after Shutdown: at once, on the calling thread). For
  // answers that need no request but must not run inside the caller's Send().
  virtual void Post(std::function<void()> fn) = 0;
  // Completes everything in flight with kAborted before returning; later Sends complete with
  // kAborted at once.
  virtual void Shutdown() = 0;
};

struct CurlHttpClientOptions {
  CurlLoopOptions loop{.name = "reach-http"};
  std::string ca_file;  // extra CA bundle (tests); empty = system store
  bool verify_peer = true;
  std::string user_agent = "reach/1";
};

std::unique_ptr<HttpClient> MakeCurlHttpClient(CurlHttpClientOptions options);

// An HTTP/1.1 client on Boost.Beast and Asio (one thread, epoll): per peer (scheme, host,
// port) a pool of kept-alive connections, at most `max_host_connections` open at once, and the
// requests beyond it waiting highest priority first, first in first out within a priority (as
// the curl client's loop does). TLS through OpenSSL: the system's trust store (plus `ca_file`),
// the host name (or IP address) checked against the certificate, SNI, TLS 1.2 or later.
//
// It exists for the hot path: a minimal Beast client needed ~14 microseconds of CPU per POST
// where a bare libcurl-multi client needed ~34 on the same peer, and in `reachd` the HTTP thread
// went from ~48 to ~23 per message. It speaks HTTP/1.1 only; a request with `http2` set goes to
// libcurl (MakeHttpClient routes it).
//
// A request that fails on a reused connection before any byte of an answer (the peer closed it
// while idle) is sent once more on a new connection, as libcurl does. An idle connection the
// peer closes (or writes to) is closed at once; one idle longer than `idle_timeout_ms` too.
struct BeastHttpClientOptions {
  std::string name = "reach-http1";  // thread name
  long max_host_connections = 0;     // per scheme://host:port; 0 = unlimited
  int64_t idle_timeout_ms = 60000;
  std::string ca_file;  // extra CA bundle (tests), besides the system store
  bool verify_peer = true;
  std::string user_agent = "reach/1";
};

std::unique_ptr<HttpClient> MakeBeastHttpClient(BeastHttpClientOptions options);

// The client `reachd` uses: HTTP/1.1 requests on `engine` ("beast", the default, or "curl"),
// HTTP/2 requests (`http2` set) always on libcurl.
struct HttpClientOptions {
  std::string engine = "beast";
  long max_host_connections = 0;  // per peer, for both engines
  int64_t idle_timeout_ms = 60000;
  std::string ca_file;
  bool verify_peer = true;
  std::string user_agent = "reach/1";
};

std::unique_ptr<HttpClient> MakeHttpClient(HttpClientOptions options);

// Parses a Retry-After header value (delay-seconds or an HTTP-date) into milliseconds from
// `now_ms` (Unix epoch ms). nullopt when absent or unparseable.
std::optional<int64_t> ParseRetryAfterMs(std::string_view value, int64_t now_ms);

// Why `request` cannot be sent as it is (a method or header name that is not an HTTP token, a
// header value holding a line break or a NUL, which would split the request), or nullopt. Both
// engines refuse such a request with kOther and send nothing.
std::optional<std::string> InvalidRequest(const HttpRequest& request);

}  // namespace reach::transport
