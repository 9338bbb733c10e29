#include "gateway/store/sqlite_store.h"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "gateway/store/schema.h"

namespace reach::store {
namespace {

constexpr const char* kMessageColumns =
    "id, status, priority, due_at, created_at, updated_at, expires_at, template, "
    "template_version, channels, channel_index, attempt_count, category, payload, final_channel, "
    "reason, idem_key, scheduled";

std::string JoinChannels(const std::vector<std::string>& channels) {
  std::string out;
  for (const auto& c : channels) {
    if (!out.empty()) out += ',';
    out += c;
  }
  return out;
}

std::vector<std::string> SplitChannels(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

StoredMessage ReadMessage(SQLite::Statement& q) {
  StoredMessage m;
  m.id = q.getColumn(0).getInt64();
  m.status = static_cast<MessageStatus>(q.getColumn(1).getInt());
  m.priority = q.getColumn(2).getInt();
  m.due_at_ms = q.getColumn(3).getInt64();
  m.created_at_ms = q.getColumn(4).getInt64();
  m.updated_at_ms = q.getColumn(5).getInt64();
  if (!q.getColumn(6).isNull()) m.expires_at_ms = q.getColumn(6).getInt64();
  m.template_name = q.getColumn(7).getString();
  m.template_version = q.getColumn(8).getString();
  m.channels = SplitChannels(q.getColumn(9).getString());
  m.channel_index = q.getColumn(10).getInt();
  m.attempt_count = q.getColumn(11).getInt();
  m.category = q.getColumn(12).getString();
  m.payload = q.getColumn(13).getString();
  m.final_channel = q.getColumn(14).getString();
  m.reason = q.getColumn(15).getString();
  if (!q.getColumn(16).isNull()) m.idempotency_key = q.getColumn(16).getString();
  m.scheduled = q.getColumn(17).getInt() != 0;
  return m;
}

}  // namespace

const char* StatusName(MessageStatus s) {
  switch (s) {
    case MessageStatus::kQueued:
      return "queued";
    case MessageStatus::kSending:
      return "sending";
    case MessageStatus::kSent:
      return "sent";
    case MessageStatus::kDelivered:
      return "delivered";
    case MessageStatus::kRead:
      return "read";
    case MessageStatus::kFailed:
      return "failed";
    case MessageStatus::kExpired:
      return "expired";
    case MessageStatus::kCancelled:
      return "cancelled";
    case MessageStatus::kSuppressed:
      return "suppressed";
  }
  return "unknown";
}

bool IsFinal(MessageStatus s) {
  return s != MessageStatus::kQueued && s != MessageStatus::kSending;
}

std::string ExternalId(int64_t id) { return "msg_" + std::to_string(id); }

std::optional<int64_t> ParseExternalId(const std::string& s) {
  if (s.size() < 5 || s.size() > 23 || s.compare(0, 4, "msg_") != 0) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 4; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
    if (v > (int64_t{1} << 53)) return std::nullopt;
  }
  return v;
}

SqliteStore::SqliteStore(const SqliteStoreOptions& options, const Clock& clock)
    : options_(options), clock_(clock) {}

SqliteStore::~SqliteStore() { Close(); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options,
                                                       const Clock& clock) {
  std::unique_ptr<SqliteStore> s(new SqliteStore(options, clock));
  Status st = s->Init();
  if (!st.ok()) return st;
  s->healthy_ = true;
  s->writer_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "reach-store");
    p->WriterLoop();
  });
  if (s->pipelined_sync_) {
    s->syncer_ = std::thread([p = s.get()] {
      pthread_setname_np(pthread_self(), "reach-sync");
      p->SyncerLoop();
    });
  }
  s->checkpointer_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "reach-ckpt");
    p->CheckpointerLoop();
  });
  return s;
}

Status SqliteStore::Init() {
  try {
    std::filesystem::path p(options_.path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    wdb_ = std::make_unique<SQLite::Database>(options_.path,
                                              SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    wdb_->exec("PRAGMA journal_mode=WAL");
    // At sync_full the syncer makes each commit durable (see pipelined_sync_): the writer's own
    // commits do not sync.
    wdb_->exec("PRAGMA synchronous=NORMAL");
    pipelined_sync_ = options_.sync_full;
    wdb_->exec("PRAGMA busy_timeout=5000");
    wdb_->exec("PRAGMA cache_size=-65536");
    wdb_->exec("PRAGMA temp_store=MEMORY");
    wdb_->exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
    int version = 0;
    {
      SQLite::Statement q(*wdb_, "SELECT version FROM schema_version");
      if (q.executeStep()) version = q.getColumn(0).getInt();
    }
    constexpr int kCount = static_cast<int>(std::size(kMigrations));
    if (version > kCount) {
      return Status::FailedPrecondition("database schema version " + std::to_string(version) +
                                        " is newer than this reachd (" + std::to_string(kCount) +
                                        ")");
    }
    for (int v = version; v < kCount; ++v) {
      SQLite::Transaction txn(*wdb_);
      wdb_->exec(kMigrations[v]);
      wdb_->exec("DELETE FROM schema_version");
      wdb_->exec("INSERT INTO schema_version(version) VALUES(" + std::to_string(v + 1) + ")");
      txn.commit();
    }
    // A single reachd owns the queue: whatever the last process had leased is due again now.
    {
      SQLite::Statement q(*wdb_, "UPDATE messages SET status=0, due_at=?1 WHERE status=1");
      q.bind(1, clock_.NowMs());
      q.exec();
    }
    {
      SQLite::Statement q(*wdb_, "SELECT count(*) FROM messages WHERE status=0");
      if (q.executeStep()) queued_ = q.getColumn(0).getInt64();
    }

    begin_ = std::make_unique<SQLite::Statement>(*wdb_, "BEGIN IMMEDIATE");
    commit_ = std::make_unique<SQLite::Statement>(*wdb_, "COMMIT");
    rollback_ = std::make_unique<SQLite::Statement>(*wdb_, "ROLLBACK");
    savepoint_ = std::make_unique<SQLite::Statement>(*wdb_, "SAVEPOINT op");
    release_ = std::make_unique<SQLite::Statement>(*wdb_, "RELEASE op");
    rollback_to_ = std::make_unique<SQLite::Statement>(*wdb_, "ROLLBACK TO op");
    insert_ = std::make_unique<SQLite::Statement>(
        *wdb_,
        "INSERT INTO messages(status, priority, due_at, created_at, updated_at, expires_at, "
        "template, template_version, channels, category, payload, idem_key, request_hash, "
        "scheduled) VALUES(0, ?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    find_idem_ = std::make_unique<SQLite::Statement>(
        *wdb_, "SELECT id, request_hash FROM messages WHERE idem_key=?1");
    // From a cursor (due, id): the rest of its due time, then the later ones up to now. Two
    // queries, because SQLite seeks the index on a row value's first column only, and
    // (due_at, id) > (?, ?) scanned every row of the cursor's due time (a batch shares one).
    claim_same_due_ = std::make_unique<SQLite::Statement>(
        *wdb_, std::string("SELECT ") + kMessageColumns +
                   " FROM messages WHERE status=0 AND priority=?1 AND due_at=?2 AND id>?3 "
                   "ORDER BY id LIMIT ?4");
    claim_later_ = std::make_unique<SQLite::Statement>(
        *wdb_, std::string("SELECT ") + kMessageColumns +
                   " FROM messages WHERE status=0 AND priority=?1 AND due_at>?2 AND due_at<=?3 "
                   "ORDER BY due_at, id LIMIT ?4");
    expire_ = std::make_unique<SQLite::Statement>(
        *wdb_, "UPDATE messages SET status=6, reason='ttl expired', updated_at=?2 WHERE id=?1");
    complete_ = std::make_unique<SQLite::Statement>(
        *wdb_,
        "UPDATE messages SET status=?2, due_at=?3, channel_index=?4, attempt_count=?5, "
        "final_channel=?6, reason=?7, updated_at=?8 WHERE id=?1");
    insert_attempt_ = std::make_unique<SQLite::Statement>(
        *wdb_,
        "INSERT INTO attempts(message_id, at, channel, provider, outcome, provider_message_id, "
        "code, detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    cancel_ = std::make_unique<SQLite::Statement>(
        *wdb_, "UPDATE messages SET status=7, updated_at=?2 WHERE id=?1 AND status=0");
    find_status_ = std::make_unique<SQLite::Statement>(
        *wdb_, "SELECT status, priority FROM messages WHERE id=?1");
    save_template_ = std::make_unique<SQLite::Statement>(
        *wdb_,
        "INSERT OR IGNORE INTO template_versions(name, version, source, created_at) "
        "VALUES(?1, ?2, ?3, ?4)");

    cdb_ = std::make_unique<SQLite::Database>(options_.path, SQLite::OPEN_READWRITE);
    cdb_->exec(options_.sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    // Replaces SQLite's automatic checkpoint on the writer's connection (see OnWalCommit).
    sqlite3_wal_hook(wdb_->getHandle(), &SqliteStore::OnWalCommit, this);
    rdb_ = std::make_unique<SQLite::Database>(options_.path, SQLite::OPEN_READONLY);
    rdb_->exec("PRAGMA busy_timeout=5000");
    if (pipelined_sync_) {
      // fdatasync on any descriptor of a file writes the file's dirty pages, whoever wrote them.
      // The WAL exists from here on (the schema check above wrote to it) and stays while the
      // connections are open.
      wal_path_ = options_.path + "-wal";
      wal_fd_ = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd_ < 0) {
        return Status::Unavailable("cannot open " + wal_path_ + ": " + std::strerror(errno));
      }
    }
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("cannot open store ") + options_.path + ": " + e.what());
  }
  return Status::Ok();
}

void SqliteStore::Post(Op op, size_t weight) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closing_) {
      if (!std::holds_alternative<CompleteOp>(op)) ++queued_waited_;
      queued_weight_ += weight;
      queue_.emplace_back(std::move(op), weight);
      cv_.notify_one();
      return;
    }
  }
  // Closed: fail the operation at once, on the caller's thread.
  Finish(op, Status::Unavailable("store is closed"));
}

void SqliteStore::Enqueue(std::vector<NewMessage> messages, EnqueueCallback done) {
  size_t n = messages.size();
  Post(EnqueueOp{std::move(messages), std::move(done), {}}, n);
}

void SqliteStore::Claim(int64_t now_ms, int limit, ClaimCallback done) {
  Post(ClaimOp{now_ms, limit, std::move(done), {}}, static_cast<size_t>(limit));
}

void SqliteStore::Complete(std::vector<Completion> completions, StatusCallback done) {
  size_t n = completions.size();
  Post(CompleteOp{std::move(completions), std::move(done)}, n);
}

void SqliteStore::Cancel(int64_t id, int64_t now_ms, StatusCallback done) {
  Post(CancelOp{id, now_ms, std::move(done), Status::Ok()}, 1);
}

void SqliteStore::SaveTemplateVersion(std::string name, std::string version, std::string source,
                                      StatusCallback done) {
  Post(TemplateOp{std::move(name), std::move(version), std::move(source), std::move(done)}, 1);
}

namespace {
// Runs a prepared statement that returns no rows, leaving it ready to run again.
void Run(SQLite::Statement& s) {
  s.reset();
  s.exec();
}
}  // namespace

void SqliteStore::WriterLoop() {
  std::vector<Op> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty() && closing_) return;
      if (queued_waited_ == 0 && options_.completion_linger_ms > 0 && !closing_ &&
          queued_weight_ < kLingerEnough) {
        // Completions only: let more join this commit (see completion_linger_ms).
        cv_.wait_for(lock, std::chrono::milliseconds(options_.completion_linger_ms), [&] {
          return closing_ || queued_waited_ > 0 || queued_weight_ >= kLingerEnough;
        });
      }
      size_t weight = 0;
      while (!queue_.empty() &&
             (batch.empty() || weight + queue_.front().second <=
                                   static_cast<size_t>(options_.group_commit_max_items))) {
        weight += queue_.front().second;
        if (!std::holds_alternative<CompleteOp>(queue_.front().first)) --queued_waited_;
        queued_weight_ -= queue_.front().second;
        batch.push_back(std::move(queue_.front().first));
        queue_.pop_front();
      }
    }
    Status txn_status;
    try {
      Run(*begin_);
      try {
        // The common case: every operation succeeds, and the group needs no savepoints.
        queued_delta_ = 0;
        for (Op& op : batch) std::visit([this](auto& o) { Execute(o); }, op);
      } catch (const SQLite::Exception&) {
        // One operation failed. Undo the group and run it again with a savepoint around each
        // operation, so the failing one is rolled back alone and the rest still commit.
        ResetStatements();
        Run(*rollback_);
        for (Op& op : batch) {
          Undo(op);
        }
        for (Op& op : batch) ClearOutputs(op);
        queued_delta_ = 0;
        Run(*begin_);
        for (Op& op : batch) {
          Run(*savepoint_);
          int64_t before = queued_delta_;
          try {
            std::visit([this](auto& o) { Execute(o); }, op);
            Run(*release_);
          } catch (const SQLite::Exception& e) {
            ResetStatements();
            Run(*rollback_to_);
            Run(*release_);
            queued_delta_ = before;
            Undo(op);
            Finish(op, Status::Internal(std::string("store: ") + e.what()));
            op = CancelOp{0, 0, nullptr, Status::Ok()};  // already answered
          }
        }
      }
      auto commit_start = std::chrono::steady_clock::now();
      wal_written_ = false;
      Run(*commit_);
      if (options_.on_commit && !pipelined_sync_) {
        options_.on_commit(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - commit_start)
                               .count());
      }
      queued_.fetch_add(queued_delta_, std::memory_order_relaxed);
      healthy_.store(true, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      try {
        ResetStatements();
        Run(*rollback_);
      } catch (const std::exception&) {
      }
      healthy_.store(false, std::memory_order_relaxed);
      txn_status = Status::Unavailable(std::string("store commit failed: ") + e.what());
      for (Op& op : batch) {
        Undo(op);
      }
    }
    // A group that wrote nothing (claims only, say) has nothing to make durable.
    if (pipelined_sync_ && txn_status.ok() && wal_written_) {
      const bool enqueues = std::any_of(batch.begin(), batch.end(), [](const Op& op) {
        return std::holds_alternative<EnqueueOp>(op);
      });
      if (enqueues) {
        // Clients are waiting for their 202s: the sync thread answers them, and the writer
        // goes on with the next group meanwhile.
        std::lock_guard<std::mutex> lock(sync_mu_);
        for (Op& op : batch) synced_queue_.push_back(std::move(op));
        sync_cv_.notify_one();
        continue;
      }
      // Outcomes, cancels, template versions: the writer syncs them itself, and meanwhile the
      // next outcomes gather for one commit (running ahead, it committed more often for fewer
      // outcomes each, and dispatch ran no faster).
      txn_status = TimedSync();
    }
    for (Op& op : batch) Finish(op, txn_status);
  }
}

Status SqliteStore::TimedSync() {
  auto start = std::chrono::steady_clock::now();
  Status st = SyncWal();
  if (options_.on_commit && st.ok()) {
    options_.on_commit(std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count());
  }
  return st;
}

Status SqliteStore::SyncWal() {
  std::lock_guard<std::mutex> lock(wal_fd_mu_);
  // SQLite keeps the WAL while its connections are open, but should the file at the path ever
  // be another one (recreated), it is that file the commits went to: sync it, not the old one.
  struct stat at_path {};
  struct stat held {};
  if (::stat(wal_path_.c_str(), &at_path) == 0 &&
      (::fstat(wal_fd_, &held) != 0 || held.st_ino != at_path.st_ino ||
       held.st_dev != at_path.st_dev)) {
    int fd = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::close(wal_fd_);
      wal_fd_ = fd;
    }
  }
  if (::fdatasync(wal_fd_) == 0) {
    sync_ok_.store(true, std::memory_order_relaxed);
    return Status::Ok();
  }
  const int err = errno;
  // The commits stand in the WAL, but whether they reached the disk is unknown: their
  // operations fail (a client retries; an idempotency key makes that safe), and the store is
  // not ready until a sync succeeds again.
  sync_ok_.store(false, std::memory_order_relaxed);
  spdlog::error("store: fdatasync of the WAL failed: {}", std::strerror(err));
  return Status::Unavailable(std::string("store sync failed: ") + std::strerror(err));
}

void SqliteStore::SyncerLoop() {
  std::vector<Op> ops;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return !synced_queue_.empty() || sync_closing_; });
      if (synced_queue_.empty()) return;  // closing, and everything committed is answered
      ops.swap(synced_queue_);
    }
    // Every operation taken was committed before this sync began, so the sync covers it.
    if (options_.before_sync) options_.before_sync();
    Status st = TimedSync();
    for (Op& op : ops) Finish(op, st);
    ops.clear();
  }
}

int SqliteStore::OnWalCommit(void* self, sqlite3* db, const char*, int pages) {
  auto* store = static_cast<SqliteStore*>(self);
  store->wal_written_ = true;
  if (pages >= kWalRestartPages) {
    // On the writer thread, between transactions. BUSY (the checkpointer is mid-way) is fine:
    // the next commit tries again.
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (pages >= kCheckpointPages) {
    std::lock_guard<std::mutex> lock(store->ckpt_mu_);
    if (!store->ckpt_wanted_) {
      store->ckpt_wanted_ = true;
      store->ckpt_cv_.notify_one();
    }
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointerLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(ckpt_mu_);
      ckpt_cv_.wait(lock, [&] { return ckpt_wanted_ || ckpt_closing_; });
      if (ckpt_closing_) return;
      ckpt_wanted_ = false;
    }
    int rc = sqlite3_wal_checkpoint_v2(cdb_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("store: checkpoint failed: {}", sqlite3_errmsg(cdb_->getHandle()));
    }
  }
}

void SqliteStore::ResetStatements() {
  // A statement whose step failed keeps the error: reset() would throw it again, and a statement
  // left mid-step blocks ROLLBACK. Reset every statement of the writer's connection, whichever
  // failed; the next reset() through SQLiteCpp then succeeds.
  sqlite3* db = wdb_->getHandle();
  for (sqlite3_stmt* st = sqlite3_next_stmt(db, nullptr); st; st = sqlite3_next_stmt(db, st)) {
    sqlite3_reset(st);
  }
}

void SqliteStore::ClearOutputs(Op& op) {
  if (auto* e = std::get_if<EnqueueOp>(&op)) e->results.clear();
  if (auto* c = std::get_if<ClaimOp>(&op)) c->results.clear();
}

void SqliteStore::Finish(Op& op, const Status& txn_status) {
  std::visit(
      [&](auto& o) {
        using T = std::decay_t<decltype(o)>;
        if (!o.done) return;
        if constexpr (std::is_same_v<T, EnqueueOp>) {
          if (!txn_status.ok()) {
            o.results.assign(o.messages.size(), EnqueueResult{txn_status, 0, false});
          }
          o.done(std::move(o.results));
        } else if constexpr (std::is_same_v<T, ClaimOp>) {
          if (!txn_status.ok()) {
            o.done(txn_status);
          } else {
            o.done(std::move(o.results));
          }
        } else if constexpr (std::is_same_v<T, CancelOp>) {
          o.done(txn_status.ok() ? o.result : txn_status);
        } else {
          o.done(txn_status);
        }
        o.done = nullptr;
      },
      op);
}

void SqliteStore::Execute(EnqueueOp& op) {
  op.results.reserve(op.messages.size());
  int64_t now = clock_.NowMs();
  for (const NewMessage& m : op.messages) {
    if (!m.idempotency_key.empty()) {
      find_idem_->reset();
      find_idem_->bind(1, m.idempotency_key);
      if (find_idem_->executeStep()) {
        int64_t id = find_idem_->getColumn(0).getInt64();
        std::string hash = find_idem_->getColumn(1).getString();
        find_idem_->reset();
        if (hash == m.request_hash) {
          op.results.push_back({Status::Ok(), id, true});
        } else {
          op.results.push_back(
              {Status::Conflict("idempotency_key was used for a different request"), id, true});
        }
        continue;
      }
      find_idem_->reset();
    }
    SQLite::Statement& q = *insert_;
    q.reset();
    q.bind(1, m.priority);
    q.bind(2, m.due_at_ms);
    q.bind(3, now);
    if (m.expires_at_ms) {
      q.bind(4, *m.expires_at_ms);
    } else {
      q.bind(4);
    }
    q.bindNoCopy(5, m.template_name);
    q.bindNoCopy(6, m.template_version);
    q.bind(7, JoinChannels(m.channels));
    q.bindNoCopy(8, m.category);
    q.bindNoCopy(9, m.payload);
    if (m.idempotency_key.empty()) {
      q.bind(10);
    } else {
      q.bindNoCopy(10, m.idempotency_key);
    }
    q.bindNoCopy(11, m.request_hash);
    q.bind(12, m.due_at_ms > now ? 1 : 0);
    q.exec();
    Count(0, 1);
    int64_t id = wdb_->getLastInsertRowid();
    Rewind(m.priority, m.due_at_ms, id);
    op.results.push_back({Status::Ok(), id, false});
  }
}

void SqliteStore::Rewind(int priority, int64_t due, int64_t id) {
  Cursor& c = cursors_[std::clamp(priority, 0, 9)];
  if (due < c.due || (due == c.due && id <= c.id)) c = {due, id - 1};
}

void SqliteStore::Undo(Op& op) {
  if (auto* claim = std::get_if<ClaimOp>(&op)) {
    std::lock_guard<std::mutex> lock(lease_mu_);
    for (const StoredMessage& m : claim->results) leased_.erase(m.id);
  } else if (!std::holds_alternative<CompleteOp>(op)) {
    return;  // an enqueue's or a cancel's undo leaves nothing claimable behind a cursor
  }
  // Rows a claim passed (expired, leased) or a completion took out of its lease are queued
  // and unleased again: the cursors start over, so they are claimed again.
  for (Cursor& c : cursors_) c = Cursor{};
}

int SqliteStore::ClaimInto(SQLite::Statement& select, int priority, int want, ClaimOp& op,
                           int64_t lease_until) {
  select.bind(4, want);
  std::vector<StoredMessage> rows;
  rows.reserve(static_cast<size_t>(want));  // claims are hundreds of rows; no regrowth
  while (select.executeStep()) rows.push_back(ReadMessage(select));
  select.reset();
  Cursor& cursor = cursors_[priority];
  std::lock_guard<std::mutex> lock(lease_mu_);
  for (StoredMessage& m : rows) {
    cursor = {m.due_at_ms, m.id};
    if (leased_.count(m.id)) continue;  // in flight (the cursor went back past it)
    if (m.expires_at_ms && *m.expires_at_ms <= op.now_ms) {
      expire_->reset();
      expire_->bind(1, m.id);
      expire_->bind(2, op.now_ms);
      expire_->exec();
      Count(0, -1);
      continue;
    }
    leased_[m.id] = Lease{lease_until, priority, m.due_at_ms};
    m.status = MessageStatus::kSending;
    m.due_at_ms = lease_until;
    op.results.push_back(std::move(m));
  }
  return static_cast<int>(rows.size());
}

void SqliteStore::Execute(ClaimOp& op) {
  if (op.now_ms >= next_lease_sweep_ms_) {
    // Leases that ran out (a send that never completed): those messages are due again.
    std::lock_guard<std::mutex> lock(lease_mu_);
    for (auto it = leased_.begin(); it != leased_.end();) {
      if (it->second.until <= op.now_ms) {
        Rewind(it->second.priority, it->second.due, it->first);
        it = leased_.erase(it);
      } else {
        ++it;
      }
    }
    next_lease_sweep_ms_ = op.now_ms + std::max(250, options_.lease_ms / 10);
  }
  int64_t lease_until = op.now_ms + options_.lease_ms;
  op.results.reserve(static_cast<size_t>(std::max(0, op.limit)));
  for (int priority = 9; priority >= 0; --priority) {
    for (;;) {
      int want = op.limit - static_cast<int>(op.results.size());
      if (want <= 0) break;
      const Cursor c = cursors_[priority];
      claim_same_due_->reset();
      claim_same_due_->bind(1, priority);
      claim_same_due_->bind(2, c.due);
      claim_same_due_->bind(3, c.id);
      int got = ClaimInto(*claim_same_due_, priority, want, op, lease_until);
      if (got < want) {
        claim_later_->reset();
        claim_later_->bind(1, priority);
        claim_later_->bind(2, c.due);
        claim_later_->bind(3, op.now_ms);
        int more = ClaimInto(*claim_later_, priority, want - got, op, lease_until);
        if (more < want - got) break;  // nothing more is due at this priority
      }
    }
  }
}

void SqliteStore::Execute(CompleteOp& op) {
  int64_t now = clock_.NowMs();
  for (const Completion& c : op.completions) {
    // A leased message is queued (0) in the file. One whose lease ran out (a send that outlived
    // it) may be anything by now: its counts move from what the row is.
    std::optional<Lease> lease;
    {
      std::lock_guard<std::mutex> lock(lease_mu_);
      if (auto it = leased_.find(c.id); it != leased_.end()) {
        lease = it->second;
        leased_.erase(it);
      }
    }
    int old = 0;
    int priority = lease ? lease->priority : 0;
    if (!lease) {
      find_status_->reset();
      find_status_->bind(1, c.id);
      old = find_status_->executeStep() ? find_status_->getColumn(0).getInt() : -1;
      if (old >= 0) priority = find_status_->getColumn(1).getInt();
      find_status_->reset();
      if (old < 0) continue;
    }
    SQLite::Statement& q = *complete_;
    q.reset();
    q.bind(1, c.id);
    q.bind(2, static_cast<int>(c.status));
    q.bind(3, c.due_at_ms);
    q.bind(4, c.channel_index);
    q.bind(5, c.attempt_count);
    q.bindNoCopy(6, c.final_channel);
    q.bindNoCopy(7, c.reason);
    q.bind(8, now);
    q.exec();
    Count(old, -1);
    Count(static_cast<int>(c.status), 1);
    if (c.status == MessageStatus::kQueued) Rewind(priority, c.due_at_ms, c.id);
    if (c.attempt) {
      const AttemptRecord& a = *c.attempt;
      SQLite::Statement& ia = *insert_attempt_;
      ia.reset();
      ia.bind(1, c.id);
      ia.bind(2, a.at_ms);
      ia.bindNoCopy(3, a.channel);
      ia.bindNoCopy(4, a.provider);
      ia.bindNoCopy(5, a.outcome);
      ia.bindNoCopy(6, a.provider_message_id);
      ia.bindNoCopy(7, a.code);
      ia.bindNoCopy(8, a.detail);
      ia.exec();
    }
  }
}

void SqliteStore::Execute(CancelOp& op) {
  if (op.id == 0) return;
  {
    std::lock_guard<std::mutex> lock(lease_mu_);
    if (leased_.count(op.id)) {
      op.result = Status::FailedPrecondition("message is already sending");
      return;
    }
  }
  cancel_->reset();
  cancel_->bind(1, op.id);
  cancel_->bind(2, op.now_ms);
  if (cancel_->exec() == 1) {
    Count(0, -1);
    op.result = Status::Ok();
    return;
  }
  find_status_->reset();
  find_status_->bind(1, op.id);
  if (!find_status_->executeStep()) {
    op.result = Status::NotFound("no message " + ExternalId(op.id));
  } else {
    auto st = static_cast<MessageStatus>(find_status_->getColumn(0).getInt());
    op.result = Status::FailedPrecondition(std::string("message is already ") + StatusName(st));
  }
  find_status_->reset();
}

void SqliteStore::Execute(TemplateOp& op) {
  save_template_->reset();
  save_template_->bindNoCopy(1, op.name);
  save_template_->bindNoCopy(2, op.version);
  save_template_->bindNoCopy(3, op.source);
  save_template_->bind(4, clock_.NowMs());
  save_template_->exec();
}

Result<MessageDetail> SqliteStore::Get(int64_t id) {
  std::lock_guard<std::mutex> lock(read_mu_);
  try {
    MessageDetail d;
    SQLite::Statement q(*rdb_,
                        std::string("SELECT ") + kMessageColumns + " FROM messages WHERE id=?1");
    q.bind(1, id);
    if (!q.executeStep()) return Status::NotFound("no message " + ExternalId(id));
    d.message = ReadMessage(q);
    {
      std::lock_guard<std::mutex> lease_lock(lease_mu_);
      if (auto it = leased_.find(id);
          it != leased_.end() && d.message.status == MessageStatus::kQueued) {
        d.message.status = MessageStatus::kSending;
        d.message.due_at_ms = it->second.until;
      }
    }
    SQLite::Statement a(*rdb_,
                        "SELECT at, channel, provider, outcome, provider_message_id, code, detail "
                        "FROM attempts WHERE message_id=?1 ORDER BY rowid");
    a.bind(1, id);
    while (a.executeStep()) {
      AttemptRecord r;
      r.message_id = id;
      r.at_ms = a.getColumn(0).getInt64();
      r.channel = a.getColumn(1).getString();
      r.provider = a.getColumn(2).getString();
      r.outcome = a.getColumn(3).getString();
      r.provider_message_id = a.getColumn(4).getString();
      r.code = a.getColumn(5).getString();
      r.detail = a.getColumn(6).getString();
      d.attempts.push_back(std::move(r));
    }
    return d;
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("store read failed: ") + e.what());
  }
}

std::optional<std::string> SqliteStore::LoadTemplateSource(const std::string& name,
                                                           const std::string& version) {
  std::lock_guard<std::mutex> lock(read_mu_);
  try {
    SQLite::Statement q(*rdb_, "SELECT source FROM template_versions WHERE name=?1 AND version=?2");
    q.bind(1, name);
    q.bind(2, version);
    if (q.executeStep()) return q.getColumn(0).getString();
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

Result<StoreStats> SqliteStore::Stats() {
  std::lock_guard<std::mutex> lock(read_mu_);
  try {
    StoreStats s;
    {
      std::lock_guard<std::mutex> lease_lock(lease_mu_);
      s.sending = static_cast<int64_t>(leased_.size());
    }
    // (A claim can lease a row its own transaction inserted, before the commit counts it.)
    s.queued = std::max<int64_t>(0, queued_.load(std::memory_order_relaxed) - s.sending);
    SQLite::Statement t(*rdb_, "SELECT max(id) FROM messages");
    if (t.executeStep() && !t.getColumn(0).isNull()) s.total = t.getColumn(0).getInt64();
    return s;
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("store read failed: ") + e.what());
  }
}

void SqliteStore::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
      return;
    }
    closing_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_closing_ = true;
    sync_cv_.notify_all();
  }
  if (syncer_.joinable()) syncer_.join();
  if (wal_fd_ >= 0) {
    ::close(wal_fd_);
    wal_fd_ = -1;
  }
  {
    std::lock_guard<std::mutex> lock(ckpt_mu_);
    ckpt_closing_ = true;
    ckpt_cv_.notify_all();
  }
  if (checkpointer_.joinable()) checkpointer_.join();
  healthy_ = false;
}

}  // namespace reach::store
