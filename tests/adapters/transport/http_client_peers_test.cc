// Both HTTP/1.1 engines against peers the simulator cannot play: one that drops a kept-alive
// connection after reading a request (the stale-connection retry), and HTTPS servers with a
// trusted, an untrusted and a wrongly named certificate (made here with the openssl tool).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/transport/http_client.h"
#include "tests/adapters/transport/engines.h"

namespace reach::transport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

HttpResponse CallOn(HttpClient& client, const std::string& url) {
  HttpRequest req;
  req.url = url;
  req.body = R"({"n":1})";
  req.timeout_ms = 5000;
  return CallOn(client, std::move(req));
}

// A blocking one-connection-at-a-time server on 127.0.0.1. `serve(socket, connection_number)`
// handles one accepted connection; exceptions (a client that hung up) end that connection.
class TcpPeer {
 public:
  using Serve = std::function<void(tcp::socket&, int)>;
  explicit TcpPeer(Serve serve) : serve_(std::move(serve)), acceptor_(io_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~TcpPeer() {
    stop_ = true;
    try {  // wake the blocking accept
      tcp::socket s(io_);
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    } catch (...) {
    }
    thread_.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void Loop() {
    while (!stop_) {
      tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) continue;
      timeval tv{5, 0};  // a stuck client cannot hang the test
      setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      int n = ++connections_;
      try {
        serve_(s, n);
      } catch (const std::exception&) {
      }
    }
  }

  Serve serve_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

template <typename Stream>
void Answer(Stream& s, const std::string& body, bool keep_alive = true) {
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = body;
  res.prepare_payload();
  bhttp::write(s, res);
}

// Reads one request from `s` (into `buf`, which keeps what follows it), counting it.
template <typename Stream>
bhttp::request<bhttp::string_body> ReadRequest(Stream& s, beast::flat_buffer& buf,
                                               std::atomic<int>* count = nullptr) {
  bhttp::request<bhttp::string_body> req;
  bhttp::read(s, buf, req);
  if (count) ++*count;
  return req;
}

class HttpClientPeerTest : public ::testing::TestWithParam<std::string> {};

// The peer reads the second request on a kept-alive connection and closes it without an answer
// (what a server that timed the connection out at that moment does). The client sends it once
// more on a new connection, which answers.
TEST_P(HttpClientPeerTest, ARequestLostOnAStaleKeptAliveConnectionIsSentOnceMore) {
  std::atomic<int> requests{0};
  TcpPeer peer([&](tcp::socket& s, int connection) {
    beast::flat_buffer buf;
    ReadRequest(s, buf, &requests);
    if (connection == 1) {
      Answer(s, R"({"first":true})");
      ReadRequest(s, buf, &requests);
      return;  // closed, unanswered
    }
    Answer(s, R"({"fresh":true})");
  });
  auto client = MakeClient(GetParam());
  std::string url = "http://127.0.0.1:" + std::to_string(peer.port()) + "/hook";
  HttpResponse first = CallOn(*client, url);
  ASSERT_EQ(first.error, TransportError::kNone) << first.error_detail;
  EXPECT_EQ(first.body, R"({"first":true})");
  HttpResponse second = CallOn(*client, url);
  ASSERT_EQ(second.error, TransportError::kNone) << second.error_detail;
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, R"({"fresh":true})");
  EXPECT_EQ(second.new_connections, 1);
  EXPECT_EQ(requests.load(), 3);
  EXPECT_EQ(peer.connections(), 2);
  client->Shutdown();
}

// On a new connection the same drop is the peer's answer: a connection error, not sent again.
TEST_P(HttpClientPeerTest, ADropOnANewConnectionIsAConnectionErrorAndNotRetried) {
  std::atomic<int> requests{0};
  TcpPeer peer([&](tcp::socket& s, int) {
    beast::flat_buffer buf;
    ReadRequest(s, buf, &requests);
  });
  auto client = MakeClient(GetParam());
  HttpResponse r = CallOn(*client, "http://127.0.0.1:" + std::to_string(peer.port()) + "/hook");
  EXPECT_EQ(r.error, TransportError::kConnection) << r.error_detail;
  EXPECT_EQ(requests.load(), 1);
  client->Shutdown();
}

// An answer that is not HTTP is an error of its own (not a status).
TEST_P(HttpClientPeerTest, AnAnswerThatIsNotHttpIsAnError) {
  TcpPeer peer([&](tcp::socket& s, int) {
    beast::flat_buffer buf;
    ReadRequest(s, buf);
    asio::write(s, asio::buffer(std::string("SSH-2.0-OpenSSH_9.2\r\n\r\n")));
  });
  auto client = MakeClient(GetParam());
  HttpResponse r = CallOn(*client, "http://127.0.0.1:" + std::to_string(peer.port()) + "/hook");
  EXPECT_NE(r.error, TransportError::kNone);
  EXPECT_EQ(r.status, 0);
  client->Shutdown();
}

// What the peer reads is the request as given: method, target, the given headers, Host and
// User-Agent added, Content-Length the body's (0 for a POST without one, none for a GET).
TEST_P(HttpClientPeerTest, ThePeerReadsTheRequestAsGiven) {
  std::mutex mu;
  std::vector<bhttp::request<bhttp::string_body>> seen;
  TcpPeer peer([&](tcp::socket& s, int) {
    beast::flat_buffer buf;
    for (;;) {
      auto req = ReadRequest(s, buf);
      {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(req);
      }
      Answer(s, "{}");
    }
  });
  auto client = MakeClient(GetParam());
  const std::string base = "http://127.0.0.1:" + std::to_string(peer.port());
  HttpRequest post;
  post.url = base + "/hook/a?x=1";
  post.body = R"({"n":"李雷"})";
  post.headers = {{"Content-Type", "application/json"}, {"X-Two", "two words"}};
  ASSERT_EQ(CallOn(*client, post).status, 200);
  HttpRequest empty;
  empty.url = base + "/empty";
  ASSERT_EQ(CallOn(*client, empty).status, 200);
  HttpRequest get;
  get.method = "GET";
  get.url = base + "/status";
  get.headers = {{"Host", "api.example.test"}, {"User-Agent", "custom/2"}};
  ASSERT_EQ(CallOn(*client, get).status, 200);
  client->Shutdown();

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  const auto& a = seen[0];
  EXPECT_EQ(a.method(), bhttp::verb::post);
  EXPECT_EQ(a.target(), "/hook/a?x=1");
  EXPECT_EQ(a.version(), 11);
  EXPECT_EQ(a.body(), post.body);
  EXPECT_EQ(a[bhttp::field::content_length], std::to_string(post.body.size()));
  EXPECT_EQ(a[bhttp::field::content_type], "application/json");
  EXPECT_EQ(a["X-Two"], "two words");
  EXPECT_EQ(a[bhttp::field::host], "127.0.0.1:" + std::to_string(peer.port()));
  EXPECT_EQ(a[bhttp::field::user_agent], "reach/1");
  EXPECT_EQ(a.count(bhttp::field::transfer_encoding), 0u);
  const auto& b = seen[1];
  EXPECT_EQ(b.method(), bhttp::verb::post);
  EXPECT_EQ(b[bhttp::field::content_length], "0");
  EXPECT_EQ(b.body(), "");
  const auto& c = seen[2];
  EXPECT_EQ(c.method(), bhttp::verb::get);
  EXPECT_EQ(c.count(bhttp::field::content_length), 0u);
  EXPECT_EQ(c.count(bhttp::field::host), 1u);
  EXPECT_EQ(c[bhttp::field::host], "api.example.test");
  EXPECT_EQ(c.count(bhttp::field::user_agent), 1u);
  EXPECT_EQ(c[bhttp::field::user_agent], "custom/2");
}

// An interim 100 Continue, then a chunked answer: the client reports the final answer only,
// with its headers (names lower-cased) and the chunks joined into the body.
TEST_P(HttpClientPeerTest, AChunkedAnswerAfterAnInterimOneIsReadWhole) {
  TcpPeer peer([&](tcp::socket& s, int) {
    beast::flat_buffer buf;
    ReadRequest(s, buf);
    const std::string answer =
        "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Mixed-Case: Value\r\n"
        "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    asio::write(s, asio::buffer(answer));
  });
  auto client = MakeClient(GetParam());
  HttpResponse r = CallOn(*client, "http://127.0.0.1:" + std::to_string(peer.port()) + "/hook");
  client->Shutdown();
  ASSERT_EQ(r.error, TransportError::kNone) << r.error_detail;
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.Header("x-mixed-case"), "Value");
  EXPECT_EQ(r.Header("x-interim"), std::nullopt);
}

// A header that would split the request (a line break in its value) or is not a header (a
// name with a space), or a method that is not a token: refused, naming why; nothing is sent.
TEST_P(HttpClientPeerTest, AHeaderThatWouldSplitTheRequestIsRefusedAndNothingIsSent) {
  std::atomic<int> requests{0};
  TcpPeer peer([&](tcp::socket& s, int) {
    beast::flat_buffer buf;
    for (;;) {
      ReadRequest(s, buf, &requests);
      Answer(s, "{}");
    }
  });
  auto client = MakeClient(GetParam());
  const std::string url = "http://127.0.0.1:" + std::to_string(peer.port()) + "/hook";
  struct Case {
    std::string method, name, value, why;
  };
  for (const Case& k :
       {Case{"POST", "X-Id", "1\r\nX-Evil: yes", "line break"},
        Case{"POST", "X-Id", std::string("1\0two", 5), "NUL"},
        Case{"POST", "Bad Name", "v", "header name"}, Case{"POST", "", "v", "header name"},
        Case{"PO ST", "X-Id", "1", "method"}}) {
    HttpRequest req;
    req.method = k.method;
    req.url = url;
    req.body = "{}";
    req.headers = {{k.name, k.value}};
    HttpResponse r = CallOn(*client, std::move(req));
    EXPECT_EQ(r.error, TransportError::kOther) << k.name;
    EXPECT_NE(r.error_detail.find(k.why), std::string::npos) << r.error_detail;
  }
  HttpRequest fine;
  fine.url = url;
  fine.headers = {{"X-Id", "1\t2"}};  // a tab is allowed in a field value
  EXPECT_EQ(CallOn(*client, std::move(fine)).status, 200);
  client->Shutdown();
  EXPECT_EQ(requests.load(), 1);
}

// The beast engine does not turn URL credentials into Basic auth (libcurl does): it refuses
// them, naming why, and sends nothing.
TEST(BeastHttpClientTest, CredentialsInTheUrlAreRefusedNotDropped) {
  std::atomic<int> requests{0};
  TcpPeer peer([&](tcp::socket& s, int) {
    beast::flat_buffer buf;
    ReadRequest(s, buf, &requests);
    Answer(s, "{}");
  });
  auto client = MakeClient("beast");
  HttpResponse r =
      CallOn(*client, "http://user:secret@127.0.0.1:" + std::to_string(peer.port()) + "/hook");
  EXPECT_EQ(r.error, TransportError::kOther);
  EXPECT_NE(r.error_detail.find("credentials"), std::string::npos) << r.error_detail;
  EXPECT_EQ(requests.load(), 0);
  client->Shutdown();
}

class HttpClientTlsTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(
        (std::filesystem::temp_directory_path() / ("reach_tls_" + std::to_string(getpid())))
            .string());
    std::filesystem::create_directories(*dir_);
    MakeCert("local", "IP:127.0.0.1");
    MakeCert("other", "DNS:other.invalid");
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  // A self-signed certificate (its own CA) for `san`: <dir>/<name>.pem and <name>.key.
  static void MakeCert(const std::string& name, const std::string& san) {
    std::string base = *dir_ + "/" + name;
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 2 -subj /CN=reach-test -addext subjectAltName=" +
        san + " -keyout " + base + ".key -out " + base + ".pem 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static std::string Cert(const std::string& name) { return *dir_ + "/" + name + ".pem"; }

  // An HTTPS peer presenting `name`'s certificate; answers every request with "tls-ok".
  static std::unique_ptr<TcpPeer> Server(const std::string& name, std::atomic<int>* served) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->use_certificate_chain_file(Cert(name));
    ctx->use_private_key_file(*dir_ + "/" + name + ".key", asio::ssl::context::pem);
    return std::make_unique<TcpPeer>([ctx, served](tcp::socket& s, int) {
      beast::ssl_stream<tcp::socket&> tls(s, *ctx);
      tls.handshake(asio::ssl::stream_base::server);
      beast::flat_buffer buf;
      ReadRequest(tls, buf, served);
      Answer(tls, "tls-ok", false);
      beast::error_code ec;
      tls.shutdown(ec);
    });
  }

  static std::string* dir_;
};
std::string* HttpClientTlsTest::dir_ = nullptr;

TEST_P(HttpClientTlsTest, ATrustedCertificateForTheAddressIsAccepted) {
  std::atomic<int> served{0};
  auto peer = Server("local", &served);
  auto client = MakeClient(GetParam(), 0, Cert("local"));
  HttpResponse r = CallOn(*client, "https://127.0.0.1:" + std::to_string(peer->port()) + "/x");
  ASSERT_EQ(r.error, TransportError::kNone) << r.error_detail;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "tls-ok");
  EXPECT_EQ(served.load(), 1);
  client->Shutdown();
}

TEST_P(HttpClientTlsTest, AnUntrustedCertificateIsATlsErrorAndNothingIsSent) {
  std::atomic<int> served{0};
  auto peer = Server("local", &served);
  auto client = MakeClient(GetParam());  // the system store only
  HttpResponse r = CallOn(*client, "https://127.0.0.1:" + std::to_string(peer->port()) + "/x");
  EXPECT_EQ(r.error, TransportError::kTls) << r.error_detail;
  EXPECT_EQ(served.load(), 0);
  client->Shutdown();
}

TEST_P(HttpClientTlsTest, ACertificateForAnotherNameIsATlsError) {
  std::atomic<int> served{0};
  auto peer = Server("other", &served);
  auto client = MakeClient(GetParam(), 0, Cert("other"));  // trusted, but not for 127.0.0.1
  HttpResponse r = CallOn(*client, "https://127.0.0.1:" + std::to_string(peer->port()) + "/x");
  EXPECT_EQ(r.error, TransportError::kTls) << r.error_detail;
  EXPECT_EQ(served.load(), 0);
  client->Shutdown();
}

TEST_P(HttpClientTlsTest, VerificationOffAcceptsAnyCertificate) {
  std::atomic<int> served{0};
  auto peer = Server("other", &served);
  auto client = MakeClient(GetParam(), 0, {}, false);
  HttpResponse r = CallOn(*client, "https://127.0.0.1:" + std::to_string(peer->port()) + "/x");
  ASSERT_EQ(r.error, TransportError::kNone) << r.error_detail;
  EXPECT_EQ(r.body, "tls-ok");
  client->Shutdown();
}

INSTANTIATE_TEST_SUITE_P(Engines, HttpClientPeerTest, kEngines, EngineName);
INSTANTIATE_TEST_SUITE_P(Engines, HttpClientTlsTest, kEngines, EngineName);

}  // namespace
}  // namespace reach::transport
