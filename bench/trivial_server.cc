// reach-trivial-server: the single-enqueue ceiling of `make bench`. reachd's own HTTP server
// (gateway/http/server.h, the same Beast code path, the same config) with a handler that answers
// every request at once with 202 and the body a send gets, without parsing, validating or storing.
// The gap between this and POST /v1/messages on reachd is what the API and the store cost.
//
//   reach-trivial-server [--listen 127.0.0.1:0] [--threads 1] [--ready-file PATH]
//
// Writes {"http":"HOST:PORT","pid":N} to the ready file once listening; SIGINT/SIGTERM stop it.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "gateway/http/server.h"
#include "gateway/metrics/metrics.h"

int main(int argc, char** argv) {
  cxxopts::Options cli("reach-trivial-server", "reachd's HTTP server with a no-op 202 handler");
  // clang-format off
  cli.add_options()
    ("listen", "HOST:PORT (port 0 = any free port)",
     cxxopts::value<std::string>()->default_value("127.0.0.1:0"))
    ("threads", "io threads (reachd's server.threads)", cxxopts::value<int>()->default_value("1"))
    ("ready-file", "write {\"http\":\"HOST:PORT\",\"pid\":N} here once listening",
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
  reach::http::Server server(
      config,
      [](reach::http::Request&& req, reach::http::Responder respond) {
        respond(reach::http::JsonResponse(req.version(), req.keep_alive(), 202,
                                          R"({"id":"msg_1","status":"queued"})"));
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
  return 0;
}
