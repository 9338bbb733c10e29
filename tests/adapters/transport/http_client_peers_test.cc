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
