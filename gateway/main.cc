// reachd: the Reach notification gateway daemon.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "config/config_loader.h"
#include "gateway/gateway.h"
#include "gateway/logging/logging.h"

#ifdef REACH_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace {

int CheckConfig(const std::string& path) {
  auto loaded = reach::config::LoadConfigFile(path);
  if (loaded.errors.empty()) {
    // Templates are part of the configuration: validate them too.
    std::vector<std::string> errors;
    auto catalog = reach::templates::Catalog::LoadDir(loaded.config.templates.dir,
                                                      loaded.config.templates, &errors);
    if (catalog.ok() && errors.empty()) {
      std::cout << path << ": ok\n";
      return 0;
    }
    if (errors.empty()) errors.push_back(catalog.status().ToString());
    for (const auto& e : errors) std::cerr << "templates: " << e << "\n";
    return 2;
  }
  for (const auto& e : loaded.errors) std::cerr << e << "\n";
  return 2;
}

void WriteReadyFile(const std::string& path, const std::string& listen) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"http\":\"" << listen << "\",\"pid\":" << getpid() << "}\n";
  }
  std::filesystem::rename(tmp, path);
}

// Which allocator serves this process, for the start-up log line.
std::string AllocatorName() {
#ifdef REACH_WITH_JEMALLOC
  const char* version = nullptr;
  size_t len = sizeof version;
  if (mallctl("version", &version, &len, nullptr, 0) == 0 && version) {
    return std::string("jemalloc ") + version;
  }
  return "jemalloc";
#else
  return "glibc malloc";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  // With glibc's allocator (sanitizer builds, or REACH_JEMALLOC=OFF): keep freed memory in the
  // process instead of returning it to the kernel after every burst: with glibc's defaults a send's
  // short-lived buffers cost about a page fault each (shared/reference/machine-ceilings.md measured
  // ~20 % on the SMTP path).
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  cxxopts::Options options("reachd", "Reach omnichannel notification gateway");
  options.add_options()("c,config", "config file",
                        cxxopts::value<std::string>()->default_value("config/reachd.yaml"))(
      "check-config", "validate FILE (config and templates) and exit: 0 ok, 2 errors",
      cxxopts::value<std::string>())("listen", "override server.listen (HOST:PORT, port 0 = any)",
                                     cxxopts::value<std::string>())(
      "data-dir", "override store.data_dir", cxxopts::value<std::string>())(
      "ready-file", "write {\"http\":\"HOST:PORT\"} here once serving",
      cxxopts::value<std::string>())("h,help", "show help");
  cxxopts::ParseResult args;
  try {
    args = options.parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "reachd: " << e.what() << "\n" << options.help() << "\n";
    return 2;
  }
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return 0;
  }
  if (args.count("check-config")) return CheckConfig(args["check-config"].as<std::string>());

  std::string path = args["config"].as<std::string>();
  auto loaded = reach::config::LoadConfigFile(path);
  reach::config::Overrides overrides;
  if (args.count("listen")) overrides.listen = args["listen"].as<std::string>();
  if (args.count("data-dir")) overrides.data_dir = args["data-dir"].as<std::string>();
  reach::config::ApplyOverrides(overrides, &loaded);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << e << "\n";
    return 2;
  }
  reach::logging::Setup(loaded.config.log);

  // Signals are taken synchronously by this thread; every other thread has them blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  reach::SystemClock clock;
  reach::Gateway gateway(loaded.config, clock);
  auto started = gateway.Start();
  if (!started.ok()) {
    spdlog::critical("reachd: cannot start: {}", started.status().ToString());
    return 1;
  }
  spdlog::info("reachd listening on {} (data {}, allocator {})", started.value(),
               loaded.config.store.data_dir, AllocatorName());
  if (args.count("ready-file")) WriteReadyFile(args["ready-file"].as<std::string>(), *started);
  sd_notify(0, "READY=1");

  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      spdlog::info("reachd: SIGHUP, reloading configuration and templates");
      // The config file is re-read and checked; the log level and the template catalog take
      // effect now. Listen address, store and channel settings need a restart.
      auto again = reach::config::LoadConfigFile(path);
      if (!again.errors.empty()) {
        for (const auto& e : again.errors) spdlog::error("reachd: reload refused: {}", e);
        sd_notify(0, "READY=1");
        continue;
      }
      spdlog::set_level(spdlog::level::from_str(again.config.log.level));
      reach::Status st = gateway.ReloadTemplates();
      if (!st.ok()) spdlog::error("reachd: reload refused: {}", st.message());
      sd_notify(0, "READY=1");
      continue;
    }
    spdlog::info("reachd: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  sd_notify(0, "STOPPING=1");
  gateway.Stop(/*drain_ms=*/10000);
  spdlog::info("reachd: stopped");
  spdlog::shutdown();
  return 0;
}
