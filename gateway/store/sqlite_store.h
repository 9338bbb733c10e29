// SQLite (WAL) implementation of Store.
//
// Thread-safety: one writer thread owns the write connection and every prepared write
// statement; other threads only post operations to its queue. Reads use a separate connection
// guarded by read_mu_ (WAL lets them run beside the writer).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>

#include "common/clock.h"
#include "gateway/store/store.h"

namespace reach::store {

struct SqliteStoreOptions {
  std::string path;                    // database file; its folder is created if missing
  bool sync_full = true;               // synchronous=FULL: each group commit is fsynced
  int lease_ms = 60000;                // lease given to claimed messages
  int group_commit_max_items = 20000;  // messages per transaction, at most
};

class SqliteStore final : public Store {
 public:
  // Opens (creating or migrating the schema) and starts the writer. Messages left kSending by a
  // previous process are made due again at once: their sends may or may not have happened
  // (delivery is at-least-once across a crash).
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options,
                                                   const Clock& clock);
  ~SqliteStore() override;

  void Enqueue(std::vector<NewMessage> messages, EnqueueCallback done) override;
  void Claim(int64_t now_ms, int limit, ClaimCallback done) override;
  void Complete(std::vector<Completion> completions, StatusCallback done) override;
  void Cancel(int64_t id, int64_t now_ms, StatusCallback done) override;
  void SaveTemplateVersion(std::string name, std::string version, std::string source,
                           StatusCallback done) override;
  Result<MessageDetail> Get(int64_t id) override;
  std::optional<std::string> LoadTemplateSource(const std::string& name,
                                                const std::string& version) override;
  Result<StoreStats> Stats() override;
  bool Healthy() const override { return healthy_.load(std::memory_order_relaxed); }
  void Close() override;

  static constexpr int kSchemaVersion = 1;

 private:
  struct EnqueueOp {
    std::vector<NewMessage> messages;
    EnqueueCallback done;
    std::vector<EnqueueResult> results;
  };
  struct ClaimOp {
    int64_t now_ms;
    int limit;
    ClaimCallback done;
    std::vector<StoredMessage> results;
  };
  struct CompleteOp {
    std::vector<Completion> completions;
    StatusCallback done;
  };
  struct CancelOp {
    int64_t id;
    int64_t now_ms;
    StatusCallback done;
    Status result;
  };
  struct TemplateOp {
    std::string name, version, source;
    StatusCallback done;
  };
  using Op = std::variant<EnqueueOp, ClaimOp, CompleteOp, CancelOp, TemplateOp>;

  SqliteStore(const SqliteStoreOptions& options, const Clock& clock);
  Status Init();
  void Post(Op op, size_t weight);
  // Forgets what Execute() wrote into `op`, before the operation runs again.
  static void ClearOutputs(Op& op);
  void ResetStatements();  // writer thread
  void WriterLoop();
  void Execute(EnqueueOp& op);
  void Execute(ClaimOp& op);
  void Execute(CompleteOp& op);
  void Execute(CancelOp& op);
  void Execute(TemplateOp& op);
  void Finish(Op& op, const Status& txn_status);
  void ClaimInto(SQLite::Statement& select, ClaimOp& op, int64_t lease_until);

  SqliteStoreOptions options_;
  const Clock& clock_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Op, size_t>> queue_;  // GUARDED_BY(mu_)
  bool closing_ = false;                     // GUARDED_BY(mu_)
  std::thread writer_;
  std::atomic<bool> healthy_{false};

  // Writer-thread state.
  std::unique_ptr<SQLite::Database> wdb_;
  // Transaction control, prepared once (sqlite3_exec would parse them again for every group
  // and every operation in it).
  std::unique_ptr<SQLite::Statement> begin_, commit_, rollback_, savepoint_, release_, rollback_to_;
  std::unique_ptr<SQLite::Statement> insert_, find_idem_, claim_select_, claim_update_,
      lease_sweep_, expire_, complete_, insert_attempt_, cancel_, find_status_, save_template_;
  int64_t next_lease_sweep_ms_ = 0;

  std::mutex read_mu_;
  std::unique_ptr<SQLite::Database> rdb_;  // GUARDED_BY(read_mu_)
};

}  // namespace reach::store
