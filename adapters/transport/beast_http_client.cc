// The Boost.Beast HTTP/1.1 client (see http_client.h), and MakeHttpClient.
//
// Everything but Send/Post/Shutdown runs on the client's one I/O thread: the peers (`Origin`),
// their connections (`Conn`) and the requests (`Call`). A request is owned by its peer's waiting
// queue or by the connection it runs on; a connection is kept alive by the handlers of its
// pending operations and, while it is open, by `conns_`.
#include <openssl/ssl.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/transport/http_client.h"
#include "adapters/transport/tls_client.h"

namespace reach::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
// The I/O objects use the io_context's own executor, not the type-erased any_io_executor
// (whose copies showed in the profile on every operation).
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;

constexpr int kPriorities = 10;
constexpr size_t kMaxBody = 4 * 1024 * 1024;  // provider answers are small; bound memory
constexpr uint32_t kMaxHeader = 64 * 1024;
constexpr int64_t kMaxConnectMs = 10000;  // like the curl client's CONNECTTIMEOUT
constexpr auto kResolveCacheTtl = std::chrono::seconds(60);  // libcurl's DNS cache default

struct Origin;

// A response parser that puts the status, the fields (names lower-cased) and the body straight
// into an HttpResponse: no node allocation per field in a basic_fields, and no copy after.
class ResponseReader final : public bhttp::basic_parser<false> {
 public:
  explicit ResponseReader(HttpResponse& out) : out_(out) {}

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                       beast::error_code&) override {}  // a response parser sees no request
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
    out_.status = code;
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    out_.AddHeader({name.data(), name.size()}, {value.data(), value.size()});
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code&) override {
    if (length) out_.body.reserve(static_cast<size_t>(*length));  // within the body limit
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  HttpResponse& out_;
};

struct Call {
  HttpRequest request;  // its body is moved into `body`
  HttpCallback done;
  Origin* origin = nullptr;
  // The request as written: the head serialized here (see BuildHead) and the body after it.
  std::string head;
  std::string body;
  HttpResponse response;                 // filled by `parser`
  std::optional<ResponseReader> parser;  // reads into `response`
  SteadyClock::time_point started = SteadyClock::now();
  SteadyClock::time_point deadline;
  bool retried = false;
  long new_connections = 0;
};

struct Conn {
  explicit Conn(Executor ex) : socket(ex), timer(ex) {}
  Origin* origin = nullptr;
  Socket socket;
  std::optional<beast::ssl_stream<Socket&>> tls;  // over `socket`, for https
  // One deadline per request (connect and TLS handshake included): when it passes, the socket
  // is closed and whatever operation is pending fails; `timed_out` tells that from a peer's
  // doing. (beast::tcp_stream arms a timer for every read and write instead.) Setting or
  // clearing the deadline is a store: the timer is re-armed only when it wakes before the
  // deadline, or must wake sooner (arming and cancelling it around each request, and running
  // each cancelled wait's handler, was ~5 % of the I/O thread).
  Timer timer;
  SteadyClock::time_point deadline = SteadyClock::time_point::max();  // max: none
  SteadyClock::time_point timer_at;                                   // when the armed timer wakes
  bool timer_armed = false;
  uint64_t timer_epoch = 0;  // tells a replaced wait's completion from the current one
  bool timed_out = false;
  beast::flat_buffer buffer;
  std::unique_ptr<Call> call;  // the request running on it
  bool reused = false;         // served a request before this one
  bool idle = false;
  bool closed = false;
  uint64_t idle_epoch = 0;  // tells a stale idle-wait completion from the current one
  SteadyClock::time_point idle_since;
};

struct Origin {
  std::string host;         // as in the URL, brackets of an IPv6 literal removed
  std::string port;         // numeric
  std::string host_header;  // host[:port] as written in the URL
  bool tls = false;
  bool ip_literal = false;
  long open = 0;                            // connections open or opening
  std::vector<std::shared_ptr<Conn>> idle;  // most recently used last
  std::deque<std::unique_ptr<Call>> waiting[kPriorities];
  size_t waiting_count = 0;
  std::vector<tcp::endpoint> resolved;  // empty: not resolved yet
  SteadyClock::time_point resolved_at;

  std::unique_ptr<Call> NextWaiting() {
    for (int p = kPriorities - 1; p >= 0; --p) {
      if (!waiting[p].empty()) {
        auto c = std::move(waiting[p].front());
        waiting[p].pop_front();
        --waiting_count;
        return c;
      }
    }
    return nullptr;
  }
};

// The parts of a URL a request needs; parsed on the caller's thread.
struct Target {
  std::string key;  // scheme://host:port
  std::string host, port, host_header, path;
  bool tls = false;
  bool ip_literal = false;
};

std::optional<Target> ParseTarget(const std::string& url, std::string* why) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    *why = "bad URL: " + parsed.error().message();
    return std::nullopt;
  }
  const auto& u = *parsed;
  Target t;
  if (u.scheme() == "https") {
    t.tls = true;
  } else if (u.scheme() != "http") {
    *why = "unsupported URL scheme '" + std::string(u.scheme()) + "'";
    return std::nullopt;
  }
  if (u.has_userinfo()) {  // libcurl would turn it into Basic auth; say so rather than drop it
    *why = "credentials in the URL are not supported by the beast engine (send a header)";
    return std::nullopt;
  }
  t.host = u.host_address();
  if (t.host.empty()) {
    *why = "URL has no host";
    return std::nullopt;
  }
  t.ip_literal = u.host_type() == boost::urls::host_type::ipv4 ||
                 u.host_type() == boost::urls::host_type::ipv6;
  t.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : (t.tls ? "443" : "80");
  t.host_header = std::string(u.encoded_host_and_port());
  t.path = std::string(u.encoded_target());
  if (t.path.empty() || t.path[0] != '/') t.path.insert(0, "/");
  t.key = std::string(u.scheme()) + "://" + t.host_header;
  if (!u.has_port()) t.key += ":" + t.port;
  return t;
}

// ParseTarget, remembered for the last URL each thread sent to (a channel sends to one URL, and
// parsing it was ~4 % of the dispatcher's thread).
std::shared_ptr<const Target> TargetFor(const std::string& url, std::string* why) {
  thread_local std::string last_url;
  thread_local std::shared_ptr<const Target> last;
  if (last && url == last_url) return last;
  std::optional<Target> t = ParseTarget(url, why);
  if (!t) return nullptr;
  last = std::make_shared<const Target>(std::move(*t));
  last_url = url;
  return last;
}

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

// Why a request on an established connection got no answer.
TransportError ClassifyIo(const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
    return TransportError::kOther;
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::need_more).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return TransportError::kOther;  // an answer that is not HTTP
  }
  return TransportError::kConnection;
}

class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(BeastHttpClientOptions options)
      : options_(std::move(options)), io_(1), work_(asio::make_work_guard(io_)), sweep_(io_) {
    ArmSweep();
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), options_.name.substr(0, 15).c_str());
      io_.run();
    });
  }

  ~BeastHttpClient() override {
    Shutdown();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

  void Send(HttpRequest request, HttpCallback done) override {
    auto call = std::make_unique<Call>();
    std::string why;
    std::shared_ptr<const Target> target = TargetFor(request.url, &why);
    call->deadline =
        call->started + std::chrono::milliseconds(std::max<int64_t>(request.timeout_ms, 1));
    call->request = std::move(request);
    call->done = std::move(done);
    if (target) {
      if (auto invalid = InvalidRequest(call->request)) {
        why = std::move(*invalid);
        target = nullptr;
      } else {
        BuildHead(*call, *target);
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      lock.unlock();
      Complete(std::move(call), Failure(TransportError::kAborted, "the client shut down"));
      return;
    }
    Call* raw = call.release();
    if (!target) {
      asio::post(io_, [this, raw, why] {
        Complete(std::unique_ptr<Call>(raw), Failure(TransportError::kOther, why));
      });
      return;
    }
    asio::post(io_, [this, raw, t = std::move(target)] {
      std::unique_ptr<Call> c(raw);
      c->origin = &OriginFor(*t);
      Dispatch(std::move(c));
    });
  }

  void Post(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      lock.unlock();
      fn();
      return;
    }
    asio::post(io_, std::move(fn));
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    if (std::this_thread::get_id() == thread_.get_id()) {  // from one of our own callbacks
      AbortAll();
      io_.stop();
      return;
    }
    // Posted after every Send that got in before `stopping_`: their calls are known by then.
    asio::post(io_, [this] {
      AbortAll();
      io_.stop();
    });
    thread_.join();
  }

 private:
  static HttpResponse Failure(TransportError e, std::string detail) {
    HttpResponse r;
    r.error = e;
    r.error_detail = std::move(detail);
    return r;
  }

  // The request line and header fields, as Beast's serializer would write them (which cost a
  // node allocation per field on the caller's thread and a scatter list of several buffers per
  // field on the I/O thread: ~4 % of the CPU of a dispatch). The headers are checked by
  // InvalidRequest first. Host and User-Agent are added unless given; Content-Length is always
  // the body's (a given one, or a Transfer-Encoding, is dropped), and a GET without a body has
  // none.
  void BuildHead(Call& c, const Target& t) {
    const HttpRequest& r = c.request;
    std::string& h = c.head;
    h.reserve(128 + t.path.size() + t.host_header.size());
    h.append(r.method).append(1, ' ').append(t.path).append(" HTTP/1.1\r\n");
    bool host = false;
    bool agent = false;
    for (const auto& [k, v] : r.headers) {
      if (beast::iequals(k, "content-length") || beast::iequals(k, "transfer-encoding")) continue;
      host = host || beast::iequals(k, "host");
      agent = agent || beast::iequals(k, "user-agent");
      h.append(k).append(": ").append(v).append("\r\n");
    }
    if (!host) h.append("Host: ").append(t.host_header).append("\r\n");
    if (!agent) h.append("User-Agent: ").append(options_.user_agent).append("\r\n");
    c.body = std::move(c.request.body);
    c.request.body.clear();
    if (r.method != "GET" || !c.body.empty()) {
      h.append("Content-Length: ").append(std::to_string(c.body.size())).append("\r\n");
    }
    h.append("\r\n");
  }

  Origin& OriginFor(const Target& t) {
    auto& slot = origins_[t.key];
    if (!slot) {
      slot = std::make_unique<Origin>();
      slot->host = t.host;
      slot->port = t.port;
      slot->host_header = t.host_header;
      slot->tls = t.tls;
      slot->ip_literal = t.ip_literal;
    }
    return *slot;
  }

  // A request, now on the I/O thread: an idle connection, a new one, or the waiting queue.
  void Dispatch(std::unique_ptr<Call> c) {
    Origin& o = *c->origin;
    while (!o.idle.empty()) {
      std::shared_ptr<Conn> conn = std::move(o.idle.back());
      o.idle.pop_back();
      conn->idle = false;
      ++conn->idle_epoch;
      beast::error_code ec;
      conn->socket.cancel(ec);  // the idle wait
      if (conn->closed) continue;
      Run(conn, std::move(c));
      return;
    }
    if (options_.max_host_connections <= 0 || o.open < options_.max_host_connections) {
      Open(o, std::move(c));
      return;
    }
    int p = std::clamp(c->request.priority, 0, kPriorities - 1);
    o.waiting[p].push_back(std::move(c));
    ++o.waiting_count;
  }

  // The TLS context, made on first use: loading the trust store takes ~20 ms, which a client
  // that never speaks TLS (or a test) need not pay. I/O thread.
  asio::ssl::context& Tls() {
    if (ssl_) return *ssl_;
    ssl_.emplace(asio::ssl::context::tls_client);
    ca_error_ = SetUpTlsClientContext(*ssl_, options_.verify_peer, options_.ca_file);
    return *ssl_;
  }

  void Open(Origin& o, std::unique_ptr<Call> c) {
    if (o.tls) Tls();
    if (o.tls && !ca_error_.empty()) {
      Complete(std::move(c), Failure(TransportError::kTls, ca_error_));
      return;
    }
    auto conn = std::make_shared<Conn>(io_.get_executor());
    conn->origin = &o;
    ++o.open;
    conns_[conn.get()] = conn;
    ++c->new_connections;
    conn->call = std::move(c);
    if (o.tls) {
      conn->tls.emplace(conn->socket, *ssl_);
      SSL* ssl = conn->tls->native_handle();
      SetUpTlsClientConnection(ssl, o.host, o.ip_literal, options_.verify_peer);
      static const unsigned char kAlpn[] = "\x08http/1.1";
      SSL_set_alpn_protos(ssl, kAlpn, sizeof(kAlpn) - 1);
    }
    auto connect_by = std::min(conn->call->deadline,
                               SteadyClock::now() + std::chrono::milliseconds(kMaxConnectMs));
    if (o.ip_literal && o.resolved.empty()) {
      beast::error_code ec;
      auto addr = asio::ip::make_address(o.host, ec);
      o.resolved = {tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(o.port)))};
    }
    if (!o.resolved.empty() &&
        (o.ip_literal || SteadyClock::now() - o.resolved_at < kResolveCacheTtl)) {
      Connect(conn, o.resolved, connect_by);
      return;
    }
    // getaddrinfo runs on Asio's resolver thread; a timer holds it to the request's deadline.
    auto resolver = std::make_shared<Resolver>(io_.get_executor());
    auto timer = std::make_shared<Timer>(io_.get_executor(), connect_by);
    timer->async_wait([resolver](beast::error_code ec) {
      if (!ec) resolver->cancel();
    });
    resolver->async_resolve(
        o.host, o.port,
        [this, conn, resolver, timer, connect_by](beast::error_code ec,
                                                  Resolver::results_type results) {
          timer->cancel();
          if (conn->closed) return;
          if (ec) {
            bool timed_out = ec == asio::error::operation_aborted;
            Fail(conn, timed_out ? TransportError::kTimeout : TransportError::kResolve,
                 (timed_out ? "resolving timed out: " : "could not resolve ") + conn->origin->host +
                     (timed_out ? "" : ": " + ec.message()));
            return;
          }
          conn->origin->resolved.assign(results.begin(), results.end());
          conn->origin->resolved_at = SteadyClock::now();
          Connect(conn, conn->origin->resolved, connect_by);
        });
  }

  // Sets the connection's deadline to `at` (the request's, or the connect's sooner one).
  static void ArmDeadline(const std::shared_ptr<Conn>& conn, SteadyClock::time_point at) {
    conn->timed_out = false;
    conn->deadline = at;
    if (conn->timer_armed && conn->timer_at <= at) return;  // it wakes in time and re-arms
    WakeAt(conn, at);
  }

  static void DisarmDeadline(const std::shared_ptr<Conn>& conn) {
    conn->deadline = SteadyClock::time_point::max();
  }

  static void WakeAt(const std::shared_ptr<Conn>& conn, SteadyClock::time_point at) {
    uint64_t epoch = ++conn->timer_epoch;
    conn->timer_at = at;
    conn->timer_armed = true;
    conn->timer.expires_at(at);  // a wait still pending completes aborted, with an older epoch
    conn->timer.async_wait([conn, epoch](beast::error_code ec) {
      if (conn->closed || conn->timer_epoch != epoch) return;
      conn->timer_armed = false;
      if (ec || conn->deadline == SteadyClock::time_point::max()) return;  // nothing is timed
      if (SteadyClock::now() < conn->deadline) {
        WakeAt(conn, conn->deadline);  // a later request's deadline
        return;
      }
      conn->timed_out = true;
      beast::error_code ignored;
      conn->socket.close(ignored);  // the pending operation fails
    });
  }

  void Connect(const std::shared_ptr<Conn>& conn, const std::vector<tcp::endpoint>& endpoints,
               SteadyClock::time_point by) {
    ArmDeadline(conn, by);
    asio::async_connect(
        conn->socket, endpoints, [this, conn](beast::error_code ec, const tcp::endpoint&) {
          if (conn->closed) return;
          if (ec) {
            if (conn->timed_out) {
              Fail(conn, TransportError::kTimeout, "connect timed out");
            } else {
              Fail(conn, TransportError::kConnect,
                   "could not connect to " + conn->origin->host_header + ": " + ec.message());
            }
            return;
          }
          beast::error_code ignored;
          conn->socket.set_option(tcp::no_delay(true), ignored);
          conn->socket.set_option(asio::socket_base::keep_alive(true), ignored);
          if (!conn->tls) {
            Write(conn, false);
            return;
          }
          ArmDeadline(conn, conn->call->deadline);
          conn->tls->async_handshake(
              asio::ssl::stream_base::client, [this, conn](beast::error_code ec) {
                if (conn->closed) return;
                if (ec) {
                  Fail(conn, conn->timed_out ? TransportError::kTimeout : TransportError::kTls,
                       "TLS handshake: " + ec.message());
                  return;
                }
                Write(conn, true);
              });
        });
  }

  void Run(const std::shared_ptr<Conn>& conn, std::unique_ptr<Call> c) {
    conn->call = std::move(c);
    Write(conn, false);
  }

  template <typename F>
  static void WithStream(Conn& conn, F&& f) {
    if (conn.tls) {
      f(*conn.tls);
    } else {
      f(conn.socket);
    }
  }

  // `armed`: the request's deadline is already set (after a new connection's handshake).
  void Write(const std::shared_ptr<Conn>& conn, bool armed) {
    if (!armed) ArmDeadline(conn, conn->call->deadline);
    const Call& c = *conn->call;
    std::array<asio::const_buffer, 2> buffers{asio::buffer(c.head), asio::buffer(c.body)};
    WithStream(*conn, [&](auto& stream) {
      asio::async_write(stream, buffers, [this, conn](beast::error_code ec, size_t) {
        if (conn->closed) return;
        if (ec) {
          IoFailed(conn, ec, false);
          return;
        }
        Read(conn);
      });
    });
  }

  void Read(const std::shared_ptr<Conn>& conn) {
    Call& c = *conn->call;
    c.response = HttpResponse{};
    c.parser.emplace(c.response);
    c.parser->body_limit(kMaxBody);
    c.parser->header_limit(kMaxHeader);
    WithStream(*conn, [&](auto& stream) {
      bhttp::async_read(stream, conn->buffer, *c.parser,
                        [this, conn](beast::error_code ec, size_t) {
                          if (conn->closed) return;
                          if (ec) {
                            IoFailed(conn, ec, conn->call->parser->got_some());
                            return;
                          }
                          Answered(conn);
                        });
    });
  }

  void Answered(const std::shared_ptr<Conn>& conn) {
    const int status = conn->call->response.status;
    if (status >= 100 && status < 200 && status != 101) {  // interim (100 Continue): read on
      Read(conn);
      return;
    }
    bool keep = conn->call->parser->keep_alive() && status != 101;
    conn->call->parser.reset();
    HttpResponse r = std::move(conn->call->response);
    std::unique_ptr<Call> c = std::move(conn->call);
    DisarmDeadline(conn);
    Release(conn, keep);
    Complete(std::move(c), std::move(r));
  }

  // A write or read failed. `answered_some`: part of an answer had arrived.
  void IoFailed(const std::shared_ptr<Conn>& conn, const beast::error_code& ec,
                bool answered_some) {
    Call& c = *conn->call;
    if (conn->reused && !answered_some && !c.retried && !conn->timed_out &&
        IsStaleConnectionError(ec)) {
      // The peer closed the kept-alive connection before this request reached it: once more, on
      // a new connection (the closed one's slot).
      std::unique_ptr<Call> again = std::move(conn->call);
      again->retried = true;
      Origin& o = *conn->origin;
      Close(conn);
      Open(o, std::move(again));
      return;
    }
    if (conn->timed_out) {
      Fail(conn, TransportError::kTimeout, "no answer in time");
      return;
    }
    Fail(conn, ClassifyIo(ec), ec.message());
  }

  void Fail(const std::shared_ptr<Conn>& conn, TransportError e, std::string detail) {
    std::unique_ptr<Call> c = std::move(conn->call);
    Release(conn, false);
    Complete(std::move(c), Failure(e, std::move(detail)));
  }

  // The connection's request is done: the next waiting request gets it, or it goes idle (or
  // closes, when `keep` is false; a waiting request then gets a new connection).
  void Release(const std::shared_ptr<Conn>& conn, bool keep) {
    Origin& o = *conn->origin;
    if (!keep) {
      Close(conn);
      if (o.waiting_count > 0 && !stopped_) Open(o, o.NextWaiting());
      return;
    }
    conn->reused = true;
    if (o.waiting_count > 0) {
      Run(conn, o.NextWaiting());
      return;
    }
    conn->idle = true;
    conn->idle_since = SteadyClock::now();
    uint64_t epoch = ++conn->idle_epoch;
    o.idle.push_back(conn);
    // Readable while idle: the peer closed it (or wrote unasked); it is of no more use.
    conn->socket.async_wait(tcp::socket::wait_read, [this, conn, epoch](beast::error_code ec) {
      if (ec || conn->closed || !conn->idle || conn->idle_epoch != epoch) {
        return;
      }
      DropIdle(conn);
    });
  }

  void DropIdle(const std::shared_ptr<Conn>& conn) {
    auto& idle = conn->origin->idle;
    idle.erase(std::remove(idle.begin(), idle.end(), conn), idle.end());
    conn->idle = false;
    Close(conn);
  }

  void Close(const std::shared_ptr<Conn>& conn) {
    if (conn->closed) return;
    conn->closed = true;
    --conn->origin->open;
    beast::error_code ec;
    ++conn->timer_epoch;
    conn->timer.cancel();
    conn->socket.shutdown(tcp::socket::shutdown_both, ec);
    conn->socket.close(ec);
    conns_.erase(conn.get());
  }

  void Complete(std::unique_ptr<Call> c, HttpResponse r) {
    r.new_connections = c->new_connections;
    r.elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - c->started)
            .count();
    HttpCallback done = std::move(c->done);
    c.reset();
    done(std::move(r));
  }

  // Closes connections idle past the idle timeout, every few seconds.
  void ArmSweep() {
    sweep_.expires_after(
        std::chrono::milliseconds(std::clamp<int64_t>(options_.idle_timeout_ms / 4, 100, 5000)));
    sweep_.async_wait([this](beast::error_code ec) {
      if (ec || stopped_) return;
      auto limit = SteadyClock::now() - std::chrono::milliseconds(options_.idle_timeout_ms);
      for (auto it = origins_.begin(); it != origins_.end();) {
        Origin& o = *it->second;
        std::vector<std::shared_ptr<Conn>> old;
        for (const auto& conn : o.idle) {
          if (conn->idle_since < limit) old.push_back(conn);
        }
        for (const auto& conn : old) DropIdle(conn);
        // A peer with nothing open or waiting is forgotten (a message's own webhook_url may name
        // any number of hosts). Closed connections still hold a pointer to it, but their
        // handlers return before they read it.
        if (o.open == 0 && o.waiting_count == 0) {
          it = origins_.erase(it);
        } else {
          ++it;
        }
      }
      ArmSweep();
    });
  }

  // Shutdown, on the I/O thread: every request waiting or running completes with kAborted.
  void AbortAll() {
    stopped_ = true;
    sweep_.cancel();
    std::vector<std::unique_ptr<Call>> aborted;
    for (auto& [key, o] : origins_) {
      while (auto c = o->NextWaiting()) aborted.push_back(std::move(c));
      o->idle.clear();
    }
    auto conns = std::move(conns_);
    for (auto& [raw, conn] : conns) {
      if (conn->call) aborted.push_back(std::move(conn->call));
      Close(conn);
    }
    for (auto& c : aborted) {
      Complete(std::move(c), Failure(TransportError::kAborted, "the client shut down"));
    }
  }

  BeastHttpClientOptions options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::optional<asio::ssl::context> ssl_;  // I/O thread only: Tls()
  std::string ca_error_;  // why the CA bundle could not be read (every TLS request fails so)
  asio::steady_timer sweep_;
  std::unordered_map<std::string, std::unique_ptr<Origin>> origins_;  // I/O thread only
  std::unordered_map<Conn*, std::shared_ptr<Conn>> conns_;            // I/O thread only: open
  bool stopped_ = false;                                              // I/O thread only
  std::mutex mu_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// HTTP/1.1 on one client, HTTP/2 on libcurl.
class RoutingHttpClient final : public HttpClient {
 public:
  RoutingHttpClient(std::unique_ptr<HttpClient> http1, std::unique_ptr<HttpClient> http2)
      : http1_(std::move(http1)), http2_(std::move(http2)) {}
  void Send(HttpRequest request, HttpCallback done) override {
    (request.http2 ? http2_ : http1_)->Send(std::move(request), std::move(done));
  }
  void Post(std::function<void()> fn) override { http1_->Post(std::move(fn)); }
  void Shutdown() override {
    http1_->Shutdown();
    http2_->Shutdown();
  }

 private:
  std::unique_ptr<HttpClient> http1_;
  std::unique_ptr<HttpClient> http2_;
};

}  // namespace

std::unique_ptr<HttpClient> MakeBeastHttpClient(BeastHttpClientOptions options) {
  return std::make_unique<BeastHttpClient>(std::move(options));
}

std::unique_ptr<HttpClient> MakeHttpClient(HttpClientOptions options) {
  CurlHttpClientOptions curl;
  curl.loop.max_host_connections = options.max_host_connections;
  curl.ca_file = options.ca_file;
  curl.verify_peer = options.verify_peer;
  curl.user_agent = options.user_agent;
  if (options.engine == "curl") return MakeCurlHttpClient(std::move(curl));
  BeastHttpClientOptions beast;
  beast.max_host_connections = options.max_host_connections;
  beast.idle_timeout_ms = options.idle_timeout_ms;
  beast.ca_file = options.ca_file;
  beast.verify_peer = options.verify_peer;
  beast.user_agent = options.user_agent;
  return std::make_unique<RoutingHttpClient>(MakeBeastHttpClient(std::move(beast)),
                                             MakeCurlHttpClient(std::move(curl)));
}

}  // namespace reach::transport
