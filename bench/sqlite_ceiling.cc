// reach-sqlite-ceiling: the batch-enqueue ceiling of `make bench`. Inserts the rows reachd's store
// writes for a batch enqueue (the v1 `messages` schema and indexes of
// gateway/store/sqlite_store.cc, the same INSERT, the same pragmas) straight through SQLiteCpp,
// `--per-txn` rows per transaction, and reports rows/s. Nothing else runs: no HTTP, no JSON, no
// validation; this is what the disk and SQLite allow.
//
//   reach-sqlite-ceiling --db /tmp/x/ceiling.db --rows 1000000 [--per-txn 1000]
//                        [--synchronous full|normal] [--due-offset-ms 86400000]
//
// Prints {"rows","seconds","rows_per_s","db_bytes"} on stdout. The database file is left behind
// for the caller to delete.
#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <string>

#include "gateway/store/schema.h"

namespace {

// The queue schema itself (gateway/store/schema.h, every migration), so the ceiling inserts the
// same rows into the same table and indexes as reachd.

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options cli("reach-sqlite-ceiling", "Raw SQLite insert rate of reachd's queue rows");
  // clang-format off
  cli.add_options()
    ("db", "database file (created; must not exist)", cxxopts::value<std::string>())
    ("rows", "rows to insert", cxxopts::value<int64_t>()->default_value("1000000"))
    ("per-txn", "rows per transaction", cxxopts::value<int64_t>()->default_value("1000"))
    ("synchronous", "full | normal", cxxopts::value<std::string>()->default_value("full"))
    ("due-offset-ms", "due_at = now + this (the bench enqueues with a future send_at)",
     cxxopts::value<int64_t>()->default_value("86400000"))
    ("idempotency-keys", "give every row an idempotency key (as a campaign would)",
     cxxopts::value<bool>()->default_value("false"))
    ("h,help", "print this help");
  // clang-format on
  cxxopts::ParseResult args;
  try {
    args = cli.parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "reach-sqlite-ceiling: " << e.what() << "\n";
    return 2;
  }
  if (args.count("help") != 0 || args.count("db") == 0) {
    std::cerr << cli.help() << "\n";
    return args.count("help") != 0 ? 0 : 2;
  }
  const std::string path = args["db"].as<std::string>();
  const int64_t rows = args["rows"].as<int64_t>();
  const int64_t per_txn = std::max<int64_t>(1, args["per-txn"].as<int64_t>());
  const std::string sync = args["synchronous"].as<std::string>();
  const bool idem = args["idempotency-keys"].as<bool>();
  if (sync != "full" && sync != "normal") {
    std::cerr << "reach-sqlite-ceiling: --synchronous must be full or normal\n";
    return 2;
  }
  try {
    if (std::filesystem::exists(path)) {
      std::cerr << "reach-sqlite-ceiling: " << path << " exists\n";
      return 2;
    }
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(sync == "full" ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    db.exec("PRAGMA cache_size=-65536");
    db.exec("PRAGMA temp_store=MEMORY");
    for (const char* migration : reach::store::kMigrations) db.exec(migration);
    SQLite::Statement insert(
        db,
        "INSERT INTO messages(status, priority, due_at, created_at, updated_at, expires_at, "
        "template, template_version, channels, category, payload, idem_key, request_hash, "
        "scheduled) VALUES(0, ?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    const std::string tmpl = "welcome";
    const std::string version = "3f1c9a7b2e4d6f80";
    const std::string channels = "webhook";
    const std::string category = "marketing";
    const int64_t offset = args["due-offset-ms"].as<int64_t>();
    std::string payload;
    std::string key;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t done = 0; done < rows;) {
      const int64_t now = NowMs();
      SQLite::Transaction txn(db);
      for (int64_t i = 0; i < per_txn && done < rows; ++i, ++done) {
        // The payload reachd stores for the bench's batch items.
        payload = "{\"to\":{\"user_id\":\"u-" + std::to_string(done) +
                  "\"},\"vars\":{\"name\":\"n" + std::to_string(done) + "\"}}";
        insert.reset();
        insert.bind(1, 1);
        insert.bind(2, now + offset);
        insert.bind(3, now);
        insert.bind(4);
        insert.bindNoCopy(5, tmpl);
        insert.bindNoCopy(6, version);
        insert.bindNoCopy(7, channels);
        insert.bindNoCopy(8, category);
        insert.bindNoCopy(9, payload);
        if (idem) {
          key = "campaign-1:u-" + std::to_string(done);
          insert.bindNoCopy(10, key);
        } else {
          insert.bind(10);
        }
        insert.bind(11, idem ? "0123456789abcdef0123456789abcdef" : "");
        insert.bind(12, offset > 0 ? 1 : 0);
        insert.exec();
      }
      txn.commit();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "{\"rows\":" << rows << ",\"seconds\":" << seconds
              << ",\"rows_per_s\":" << static_cast<double>(rows) / seconds
              << ",\"db_bytes\":" << std::filesystem::file_size(path) << "}" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "reach-sqlite-ceiling: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
