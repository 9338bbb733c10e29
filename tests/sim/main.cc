// reach-sim: fake provider endpoints on loopback for tests, `make run` and the benchmark.
//
//   reach-sim --http 127.0.0.1:0 --smtp 127.0.0.1:0 [--webhook-secret whsec_...]
//             [--smtp-user U --smtp-password P] [--record-limit N] [--threads N]
//             [--ready-file PATH] [--log-level info] [--fault JSON ...] [--seed N]
//             [--body-limit BYTES]
//
// When both listeners are up it writes the ready file atomically (temp + rename) with
// {"http":"127.0.0.1:PORT","smtp":"127.0.0.1:PORT"} and prints
// "reach-sim listening http=127.0.0.1:PORT smtp=127.0.0.1:PORT". SIGINT/SIGTERM: clean exit 0.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>
#include <iostream>
#include <string>

#include "common/clock.h"
#include "tests/sim/simulator.h"

namespace {

bool ParseHostPort(const std::string& s, std::string& host, uint16_t& port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const char* begin = s.data() + colon + 1;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(begin, end, port);
  return ec == std::errc() && p == end && begin != end;
}

std::string HostPort(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool WriteReadyFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return false;
    f << content << "\n";
    f.flush();
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options cli("reach-sim", "Fake notification providers (webhook receiver, SMTP sink)");
  // clang-format off
  cli.add_options()
    ("http", "HTTP listen address host:port (0 = any free port)",
     cxxopts::value<std::string>()->default_value("127.0.0.1:0"))
    ("smtp", "SMTP listen address host:port (0 = any free port)",
     cxxopts::value<std::string>()->default_value("127.0.0.1:0"))
    ("webhook-secret", "Standard Webhooks secret whsec_...; without it unsigned webhooks pass",
     cxxopts::value<std::string>()->default_value(""))
    ("smtp-user", "SMTP AUTH user (with --smtp-password: AUTH advertised and required)",
     cxxopts::value<std::string>()->default_value(""))
    ("smtp-password", "SMTP AUTH password", cxxopts::value<std::string>()->default_value(""))
    ("record-limit", "requests kept per endpoint, and SMTP messages kept",
     cxxopts::value<size_t>()->default_value("10000"))
    ("threads", "io_context threads (one thread per context)",
     cxxopts::value<int>()->default_value("1"))
    ("body-limit", "largest HTTP request body in bytes (413 above)",
     cxxopts::value<uint64_t>()->default_value("1048576"))
    ("fault", "fault JSON as for POST /_sim/faults (repeatable)",
     cxxopts::value<std::vector<std::string>>())
    ("seed", "random seed for probabilistic faults", cxxopts::value<uint64_t>()->default_value("1"))
    ("ready-file", "write {\"http\":..,\"smtp\":..} here once listening",
     cxxopts::value<std::string>()->default_value(""))
    ("log-level", "trace, debug, info, warn, error, critical, off",
     cxxopts::value<std::string>()->default_value("info"))
    ("h,help", "print this help");
  // clang-format on

  reach::sim::SimOptions options;
  std::string ready_file;
  try {
    auto args = cli.parse(argc, argv);
    if (args.count("help") != 0) {
      std::cout << cli.help() << std::endl;
      return 0;
    }
    if (!ParseHostPort(args["http"].as<std::string>(), options.http.address, options.http.port)) {
      std::cerr << "reach-sim: --http must be host:port\n";
      return 2;
    }
    if (!ParseHostPort(args["smtp"].as<std::string>(), options.smtp.address, options.smtp.port)) {
      std::cerr << "reach-sim: --smtp must be host:port\n";
      return 2;
    }
    options.webhook_secret = args["webhook-secret"].as<std::string>();
    options.smtp.user = args["smtp-user"].as<std::string>();
    options.smtp.password = args["smtp-password"].as<std::string>();
    if (options.smtp.user.empty() != options.smtp.password.empty()) {
      std::cerr << "reach-sim: --smtp-user and --smtp-password go together\n";
      return 2;
    }
    options.record_limit = args["record-limit"].as<size_t>();
    options.threads = args["threads"].as<int>();
    if (options.threads < 1 || options.threads > 64) {
      std::cerr << "reach-sim: --threads must be 1..64\n";
      return 2;
    }
    options.http.body_limit = args["body-limit"].as<uint64_t>();
    if (args.count("fault") != 0) {
      // cxxopts splits vector values at commas, which cuts JSON apart; every piece came from
      // one of the --fault objects in order, so joining them back and wrapping the lot in [ ]
      // rebuilds a JSON array of all the faults given.
      std::string joined;
      for (const auto& piece : args["fault"].as<std::vector<std::string>>()) {
        if (!joined.empty()) joined += ',';
        joined += piece;
      }
      options.faults = {"[" + joined + "]"};
    }
    options.seed = args["seed"].as<uint64_t>();
    ready_file = args["ready-file"].as<std::string>();
    auto level = spdlog::level::from_str(args["log-level"].as<std::string>());
    spdlog::set_level(level);
  } catch (const std::exception& e) {
    std::cerr << "reach-sim: " << e.what() << "\n";
    return 2;
  }

  // The slow-provider benchmark holds thousands of connections open: lift the soft fd limit.
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
  }

  reach::SystemClock clock;
  auto sim = reach::sim::Simulator::Create(options, clock);
  if (!sim.ok()) {
    std::cerr << "reach-sim: " << sim.status().ToString() << "\n";
    return 2;
  }
  // Registered before the threads start, so an early SIGTERM is not lost.
  boost::asio::signal_set signals((*sim)->pool().Main(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("reach-sim: signal {}, stopping", signo);
    (*sim)->pool().Stop();
  });
  if (reach::Status st = (*sim)->Start(); !st.ok()) {
    std::cerr << "reach-sim: " << st.ToString() << "\n";
    return 1;
  }
  const std::string http = HostPort(options.http.address, (*sim)->http_port());
  const std::string smtp = HostPort(options.smtp.address, (*sim)->smtp_port());
  if (!ready_file.empty()) {
    boost::json::object ready{{"http", http}, {"smtp", smtp}};
    if (!WriteReadyFile(ready_file, boost::json::serialize(ready))) {
      std::cerr << "reach-sim: cannot write " << ready_file << "\n";
      (*sim)->Stop();
      return 1;
    }
  }
  std::cout << "reach-sim listening http=" << http << " smtp=" << smtp << std::endl;
  spdlog::info("reach-sim: threads={} record_limit={} webhook_secret={} smtp_auth={}",
               options.threads, options.record_limit, options.webhook_secret.empty() ? "no" : "yes",
               options.smtp.user.empty() ? "no" : "yes");
  (*sim)->pool().Join();
  (*sim)->Stop();
  return 0;
}
