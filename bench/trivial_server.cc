// reach-trivial-server: the single-enqueue ceiling of `make bench`. reachd's own HTTP server
// (gateway/http/server.h, the same Beast code path, the same config) with a handler that answers
// every request at once with 202 and the body a send gets, without parsing, validating or storing.
// The gap between this and POST /v1/messages on reachd is what the API and the store cost.
//
// With --durable FILE it is the disk's ceiling instead: each request's body is written to FILE
// and the 202 goes out after fdatasync, with one sync shared by every request that arrived while
// the previous one ran (a group commit, as reachd's store does). FILE is a 64 MiB ring, written
// once at start so that later syncs carry no file-size change (as a reused WAL). The gap between
// this and reachd is what SQLite and the API cost on top of the sync itself; a stall of the disk
// shows in both.
//
//   reach-trivial-server [--listen 127.0.0.1:0] [--threads 1] [--ready-file PATH] [--durable FILE]
//
// Writes {"http":"HOST:PORT","pid":N} to the ready file once listening; SIGINT/SIGTERM stop it.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/http/server.h"
#include "gateway/metrics/metrics.h"

namespace {

constexpr const char* kAnswer = R"({"id":"msg_1","status":"queued"})";

// The --durable handler's syncer: requests queue here; one thread writes every queued body at
// the ring's next offset, fdatasyncs, then answers them all.
class GroupSyncer {
 public:
  static constexpr off_t kRing = 64 << 20;

  bool Open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd_ < 0) return false;
    std::vector<char> zeros(1 << 20, 0);
    for (off_t off = 0; off < kRing; off += static_cast<off_t>(zeros.size())) {
      if (::pwrite(fd_, zeros.data(), zeros.size(), off) != static_cast<ssize_t>(zeros.size())) {
        return false;
      }
    }
    if (::fsync(fd_) != 0) return false;
    thread_ = std::thread([this] { Loop(); });
    return true;
  }
  void Post(reach::http::Request&& req, reach::http::Responder respond) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(std::move(req), std::move(respond));
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  void Loop() {
    std::vector<std::pair<reach::http::Request, reach::http::Responder>> batch;
    std::string buf;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_ && queue_.empty()) return;
        batch.swap(queue_);
      }
      buf.clear();
      for (auto& [req, respond] : batch) buf += req.body();
      if (offset_ + static_cast<off_t>(buf.size()) > kRing) offset_ = 0;
      bool ok =
          ::pwrite(fd_, buf.data(), buf.size(), offset_) == static_cast<ssize_t>(buf.size()) &&
          ::fdatasync(fd_) == 0;
      offset_ = (offset_ + static_cast<off_t>(buf.size())) % kRing;
      for (auto& [req, respond] : batch) {
        respond(ok ? reach::http::JsonResponse(req.version(), req.keep_alive(), 202, kAnswer)
                   : reach::http::JsonResponse(req.version(), req.keep_alive(), 503,
                                               R"({"error":"sync failed"})"));
      }
      batch.clear();
    }
  }

  int fd_ = -1;
  off_t offset_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<reach::http::Request, reach::http::Responder>> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;                                                           // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options cli("reach-trivial-server", "reachd's HTTP server with a no-op 202 handler");
  // clang-format off
  cli.add_options()
    ("listen", "HOST:PORT (port 0 = any free port)",
     cxxopts::value<std::string>()->default_value("127.0.0.1:0"))
    ("threads", "io threads (reachd's server.threads)", cxxopts::value<int>()->default_value("1"))
    ("ready-file", "write {\"http\":\"HOST:PORT\",\"pid\":N} here once listening",
     cxxopts::value<std::string>()->default_value(""))
    ("durable", "answer after the body is written to this file and fdatasynced (group sync)",
     cxxopts::value<std::string>()->default_value(""))
    ("h,help", "print this help");
  // clang-format on
  cxxopts::ParseResult args;
  try {
    args = cli.parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "reach-trivial-server: " << e.what() << "\n";
    return 2;
  }
  if (args.count("help") != 0) {
    std::cout << cli.help() << "\n";
    return 0;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  reach::config::ServerConfig config;
  config.listen = args["listen"].as<std::string>();
  config.threads = args["threads"].as<int>();
  reach::metrics::Registry metrics;
  GroupSyncer syncer;
  const std::string durable = args["durable"].as<std::string>();
  if (!durable.empty() && !syncer.Open(durable)) {
    std::cerr << "reach-trivial-server: cannot prepare " << durable << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }
  reach::http::Server server(
      config,
      [&syncer, sync = !durable.empty()](reach::http::Request&& req,
                                         reach::http::Responder respond) {
        if (sync) {
          syncer.Post(std::move(req), std::move(respond));
          return;
        }
        respond(reach::http::JsonResponse(req.version(), req.keep_alive(), 202, kAnswer));
      },
      metrics);
  auto bound = server.Start();
  if (!bound.ok()) {
    std::cerr << "reach-trivial-server: " << bound.status().ToString() << "\n";
    return 1;
  }
  if (const std::string path = args["ready-file"].as<std::string>(); !path.empty()) {
    {
      std::ofstream out(path + ".tmp");
      out << "{\"http\":\"" << *bound << "\",\"pid\":" << getpid() << "}\n";
    }
    std::filesystem::rename(path + ".tmp", path);
  }
  std::cout << "reach-trivial-server listening on " << *bound << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  server.Stop();
  syncer.Stop();
  return 0;
}
