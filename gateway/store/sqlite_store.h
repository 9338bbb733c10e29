// SQLite (WAL) implementation of Store.
//
// Thread-safety: one writer thread owns the write connection and every prepared write
// statement; other threads only post operations to its queue. Reads use a separate connection
// guarded by read_mu_ (WAL lets them run beside the writer). At sync_full a sync thread fsyncs
// the WAL and runs the callbacks of what it made durable; a checkpointer thread copies the WAL
// back into the database file.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include "common/clock.h"
#include "gateway/store/store.h"

namespace reach::store {

struct SqliteStoreOptions {
  std::string path;                    // database file; its folder is created if missing
  bool sync_full = true;               // each group commit is fsynced before it is answered
  int lease_ms = 60000;                // lease given to claimed messages
  int group_commit_max_items = 20000;  // messages per transaction, at most
  // When only completions are queued, the writer waits up to this long for more work before it
  // commits, so the outcomes of many sends share one commit and its fsync. Nobody waits on a
  // completion (the dispatcher has freed the send's slot already), and any other operation (an
  // enqueue, a claim) ends the wait at once. A crash in the window sends those messages again,
  // as it would for sends still in flight. 0 commits at once.
  int completion_linger_ms = 5;
  // Called after each commit is durable, with how long making it so took: at sync_full, each
  // fdatasync of the WAL (on the sync thread; it may cover several commits); otherwise each
  // COMMIT (on the writer thread). What every waiting client waits on.
  std::function<void(int64_t commit_us)> on_commit;
  // For tests: called on the sync thread (sync_full) before it fdatasyncs the WAL for enqueues.
  std::function<void()> before_sync;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating or migrating the schema) and starts the writer. Messages left kSending by a
  // previous process are made due again at once: their sends may or may not have happened
  // (delivery is at-least-once across a crash).
  //
  // Leases are kept in memory: one reachd owns a SQLite store, so a claimed message stays
  // queued (status 0) in the file while it is being sent, and a crash leaves it due, as an
  // expired lease would. (Writing the lease cost a row rewrite and two index changes per
  // message, a third of the store's work in dispatch.) Get and Stats show it as kSending. A
  // shared queue (PostgreSQL, later) keeps its leases in the database instead.
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
  bool Healthy() const override {
    return healthy_.load(std::memory_order_relaxed) && sync_ok_.load(std::memory_order_relaxed);
  }
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
  // Runs `select` (bound but for its LIMIT, ?4) for up to `want` rows; leases them into `op`.
  // Returns how many rows the query gave (leased, in flight already, or expired).
  int ClaimInto(SQLite::Statement& select, int priority, int want, ClaimOp& op,
                int64_t lease_until);
  // An operation was rolled back: a claim's leases go, and after a claim or a completion the
  // cursors start over (rows they had passed may be claimable again).
  void Undo(Op& op);

  SqliteStoreOptions options_;
  const Clock& clock_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Op, size_t>> queue_;  // GUARDED_BY(mu_)
  // What is queued, for the completion linger: operations other than completions, and weight.
  size_t queued_waited_ = 0;                     // GUARDED_BY(mu_)
  size_t queued_weight_ = 0;                     // GUARDED_BY(mu_)
  static constexpr size_t kLingerEnough = 1024;  // completions that end the linger
  bool closing_ = false;                         // GUARDED_BY(mu_)
  std::thread writer_;
  std::atomic<bool> healthy_{false};

  // The sync, pipelined for enqueues (synchronous=full). The writer's connection commits
  // without syncing (SQLite's synchronous=NORMAL: the WAL stays consistent, a commit is just not
  // yet durable) and hands each committed group with enqueues in it to the syncer, which
  // fdatasyncs the WAL and only then runs the group's callbacks. One sync covers every group
  // committed before it began, and the writer goes on with the next group meanwhile instead of
  // waiting for the disk. Other groups that wrote (outcomes) the writer syncs itself. An
  // operation is reported done only once its commit is on disk, as before.
  void SyncerLoop();
  Status SyncWal();    // fdatasync of the WAL (sync thread, or the writer for its own groups)
  Status TimedSync();  // SyncWal, reported to on_commit
  bool pipelined_sync_ = false;
  std::atomic<bool> sync_ok_{true};  // the last sync succeeded (a commit can't clear a failure)
  bool wal_written_ = false;  // the last COMMIT wrote to the WAL (set by OnWalCommit; writer)
  std::mutex wal_fd_mu_;      // the sync thread and the writer both sync
  int wal_fd_ = -1;           // the WAL file, opened for fdatasync only; GUARDED_BY(wal_fd_mu_)
  std::string wal_path_;      // options_.path + "-wal"
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<Op> synced_queue_;  // committed, waiting for a sync; GUARDED_BY(sync_mu_)
  bool sync_closing_ = false;     // GUARDED_BY(sync_mu_)
  std::thread syncer_;

  // Writer-thread state.
  std::unique_ptr<SQLite::Database> wdb_;
  // Transaction control, prepared once (sqlite3_exec would parse them again for every group
  // and every operation in it).
  std::unique_ptr<SQLite::Statement> begin_, commit_, rollback_, savepoint_, release_, rollback_to_;
  std::unique_ptr<SQLite::Statement> insert_, find_idem_, claim_same_due_, claim_later_, expire_,
      complete_, insert_attempt_, cancel_, find_status_, save_template_;
  int64_t next_lease_sweep_ms_ = 0;

  // The leases (see Open). Each priority's claims walk the queued index in (due_at, id) order
  // from a cursor, the last row they passed: every queued row at or before it is leased, so the
  // messages in flight are not read again on every claim. A row that becomes claimable before
  // the cursor (a retry, an expired lease, an enqueue with an earlier due time) moves it back.
  struct Lease {
    int64_t until;
    int priority;
    int64_t due;  // the row's due_at, where the cursor must go back to when the lease runs out
  };
  struct Cursor {
    int64_t due = INT64_MIN;
    int64_t id = 0;
  };
  void Rewind(int priority, int64_t due, int64_t id);  // writer thread, lease_mu_ not needed
  Cursor cursors_[10];                                 // writer thread only
  mutable std::mutex lease_mu_;                        // the writer changes leased_; Get reads
  std::unordered_map<int64_t, Lease> leased_;          // GUARDED_BY(lease_mu_)

  // How many messages are queued (status 0, leased ones included), kept as they change, so Stats
  // (the queue-depth gauge on every /metrics scrape) costs nothing: a COUNT over a million-message
  // backlog took ~14 ms of the API thread. Counted once at Open; each transaction's changes
  // (`queued_delta_`, writer thread) are applied when it commits, and dropped with an operation
  // that rolls back.
  void Count(int status, int64_t n) {
    if (status == 0) queued_delta_ += n;
  }
  int64_t queued_delta_ = 0;
  std::atomic<int64_t> queued_{0};  // status 0 in the file: queued, leased ones included

  std::mutex read_mu_;
  std::unique_ptr<SQLite::Database> rdb_;  // GUARDED_BY(read_mu_)

  // Checkpoints run off the commit path. SQLite's automatic checkpoint runs inside the COMMIT
  // that crosses 1,000 WAL pages: it writes those pages into the database file and fsyncs it,
  // which stalled every waiting client (single-enqueue p99 277 ms in one round). Here the
  // writer's WAL hook only signals; a checkpointer thread on its own connection runs PASSIVE
  // checkpoints, which never block the writer. The WAL can start over only when a write begins
  // with every frame copied back, which a checkpoint running beside steady commits rarely
  // leaves; so once the WAL passes kWalRestartPages the writer itself copies back the few
  // frames left (a short PASSIVE checkpoint), and the next transaction rewinds the WAL.
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  void CheckpointerLoop();
  static constexpr int kCheckpointPages = 1000;   // SQLite's own auto-checkpoint threshold
  static constexpr int kWalRestartPages = 16384;  // 64 MiB of 4 KiB pages
  std::unique_ptr<SQLite::Database> cdb_;         // checkpointer thread only
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false;   // GUARDED_BY(ckpt_mu_)
  bool ckpt_closing_ = false;  // GUARDED_BY(ckpt_mu_)
  std::thread checkpointer_;
};

}  // namespace reach::store
