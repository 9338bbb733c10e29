#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "gateway/store/schema.h"
#include "gateway/store/sqlite_store.h"
#include "tests/fakes/fake_clock.h"

namespace reach::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("reach_store_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    clock_.Set(1'700'000'000'000);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    SqliteStoreOptions o;
    o.path = (dir_ / "reach.db").string();
    o.lease_ms = 10'000;
    o.on_commit = on_commit_;
    o.completion_linger_ms = linger_ms_;
    o.before_sync = before_sync_;
    auto s = SqliteStore::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s.value());
  }

  NewMessage Msg(int priority = 5, int64_t due = 0, std::string key = "", std::string hash = "") {
    NewMessage m;
    m.template_name = "welcome";
    m.template_version = "v1";
    m.channels = {"email", "webhook"};
    m.category = "transactional";
    m.priority = priority;
    m.due_at_ms = due ? due : clock_.NowMs();
    m.idempotency_key = std::move(key);
    m.request_hash = std::move(hash);
    m.payload = R"({"to":{"email":"a@b.cn"},"vars":{"name":"x"}})";
    return m;
  }

  std::vector<EnqueueResult> Enqueue(std::vector<NewMessage> msgs) {
    std::promise<std::vector<EnqueueResult>> p;
    store_->Enqueue(std::move(msgs), [&](std::vector<EnqueueResult> r) { p.set_value(r); });
    return p.get_future().get();
  }
  std::vector<StoredMessage> Claim(int limit) {
    std::promise<Result<std::vector<StoredMessage>>> p;
    store_->Claim(clock_.NowMs(), limit, [&](auto r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : std::vector<StoredMessage>{};
  }
  Status Complete(std::vector<Completion> c) {
    std::promise<Status> p;
    store_->Complete(std::move(c), [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  }
  Status Cancel(int64_t id) {
    std::promise<Status> p;
    store_->Cancel(id, clock_.NowMs(), [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::function<void(int64_t)> on_commit_;
  std::function<void()> before_sync_;
  int linger_ms_ = 5;  // the default
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(StoreTest, EnqueuedMessageIsReadableAndClaimable) {
  auto r = Enqueue({Msg()});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].status.ok());
  auto d = store_->Get(r[0].id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->message.status, MessageStatus::kQueued);
  EXPECT_EQ(d->message.channels, (std::vector<std::string>{"email", "webhook"}));
  auto claimed = Claim(10);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, r[0].id);
  EXPECT_EQ(claimed[0].status, MessageStatus::kSending);
  EXPECT_TRUE(Claim(10).empty()) << "a leased message is not claimed twice";
}

TEST_F(StoreTest, ClaimOrdersByPriorityThenDueTime) {
  int64_t now = clock_.NowMs();
  auto r = Enqueue({Msg(1, now - 30), Msg(9, now - 10), Msg(5, now - 20), Msg(9, now - 20)});
  auto claimed = Claim(4);
  ASSERT_EQ(claimed.size(), 4u);
  EXPECT_EQ(claimed[0].id, r[3].id);
  EXPECT_EQ(claimed[1].id, r[1].id);
  EXPECT_EQ(claimed[2].id, r[2].id);
  EXPECT_EQ(claimed[3].id, r[0].id);
}

TEST_F(StoreTest, ScheduledMessageWaitsUntilDue) {
  auto r = Enqueue({Msg(5, clock_.NowMs() + 5000)});
  EXPECT_TRUE(Claim(10).empty());
  EXPECT_TRUE(store_->Get(r[0].id)->message.scheduled);
  clock_.Advance(5000);
  EXPECT_EQ(Claim(10).size(), 1u);
}

TEST_F(StoreTest, ExpiredLeaseMakesMessageDueAgain) {
  Enqueue({Msg()});
  ASSERT_EQ(Claim(10).size(), 1u);
  clock_.Advance(9'000);
  EXPECT_TRUE(Claim(10).empty());
  clock_.Advance(2'000);
  EXPECT_EQ(Claim(10).size(), 1u) << "lease of 10 s ran out";
}

TEST_F(StoreTest, TtlExpiryIsFinal) {
  NewMessage m = Msg();
  m.expires_at_ms = clock_.NowMs() + 1000;
  m.due_at_ms = clock_.NowMs() + 2000;
  auto r = Enqueue({m});
  clock_.Advance(2000);
  EXPECT_TRUE(Claim(10).empty());
  EXPECT_EQ(store_->Get(r[0].id)->message.status, MessageStatus::kExpired);
}

TEST_F(StoreTest, IdempotencyKeyReturnsSameIdOrConflict) {
  auto a = Enqueue({Msg(5, 0, "k1", "h1")});
  auto b = Enqueue({Msg(5, 0, "k1", "h1")});
  EXPECT_TRUE(b[0].status.ok());
  EXPECT_TRUE(b[0].existing);
  EXPECT_EQ(a[0].id, b[0].id);
  auto c = Enqueue({Msg(5, 0, "k1", "other")});
  EXPECT_EQ(c[0].status.code(), StatusCode::kConflict);
  // Within one group commit as well.
  auto d = Enqueue({Msg(5, 0, "k2", "h"), Msg(5, 0, "k2", "h")});
  EXPECT_FALSE(d[0].existing);
  EXPECT_TRUE(d[1].existing);
  EXPECT_EQ(d[0].id, d[1].id);
  EXPECT_EQ(store_->Stats()->queued, 2);
}

TEST_F(StoreTest, CompleteRecordsAttemptsAndStatus) {
  auto r = Enqueue({Msg()});
  auto m = Claim(1).at(0);
  Completion c;
  c.id = m.id;
  c.status = MessageStatus::kSent;
  c.final_channel = "email";
  c.attempt_count = 1;
  AttemptRecord a;
  a.at_ms = clock_.NowMs();
  a.channel = "email";
  a.provider = "smtp";
  a.outcome = "sent";
  a.provider_message_id = "<x@y>";
  a.code = "250";
  c.attempt = a;
  ASSERT_TRUE(Complete({c}).ok());
  auto d = store_->Get(r[0].id);
  EXPECT_EQ(d->message.status, MessageStatus::kSent);
  ASSERT_EQ(d->attempts.size(), 1u);
  EXPECT_EQ(d->attempts[0].provider_message_id, "<x@y>");
  EXPECT_EQ(d->attempts[0].code, "250");
}

TEST_F(StoreTest, CancelOnlyBeforeSending) {
  auto r = Enqueue({Msg(), Msg()});
  EXPECT_TRUE(Cancel(r[0].id).ok());
  EXPECT_EQ(store_->Get(r[0].id)->message.status, MessageStatus::kCancelled);
  ASSERT_EQ(Claim(10).size(), 1u);
  EXPECT_EQ(Cancel(r[1].id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Cancel(999).code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ReopenKeepsMessagesAndReleasesLeases) {
  auto r = Enqueue({Msg(), Msg()});
  ASSERT_EQ(Claim(1).size(), 1u);
  Reopen();
  auto claimed = Claim(10);
  EXPECT_EQ(claimed.size(), 2u) << "the leased one is due again after a restart";
}

TEST_F(StoreTest, TemplateVersionsAreKept) {
  std::promise<Status> p;
  store_->SaveTemplateVersion("welcome", "abc", "source text", [&](Status s) { p.set_value(s); });
  ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_EQ(store_->LoadTemplateSource("welcome", "abc").value_or(""), "source text");
  EXPECT_FALSE(store_->LoadTemplateSource("welcome", "zzz").has_value());
}

TEST_F(StoreTest, ConcurrentEnqueuesShareCommits) {
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto r = Enqueue({Msg()});
        if (r[0].status.ok()) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(store_->Stats()->queued, kThreads * kEach);
}

// One operation of a group commit that fails (here: a trigger refuses its row) is rolled back
// alone; the other operations of the same group commit and answer ok.
TEST_F(StoreTest, FailingOperationDoesNotTakeItsGroupDown) {
  SQLite::Database db((dir_ / "reach.db").string(), SQLite::OPEN_READWRITE);
  db.exec("PRAGMA busy_timeout=5000");
  db.exec(
      "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages WHEN NEW.template='boom' "
      "BEGIN SELECT RAISE(ABORT, 'boom refused'); END");
  // Hold the write lock so the writer waits on its first group while the next ops queue up
  // behind it, to be executed together as one group.
  db.exec("BEGIN IMMEDIATE");
  std::promise<std::vector<EnqueueResult>> first, bad, good;
  store_->Enqueue({Msg()}, [&](auto r) { first.set_value(r); });
  NewMessage boom = Msg();
  boom.template_name = "boom";
  store_->Enqueue({Msg(), boom}, [&](auto r) { bad.set_value(r); });
  store_->Enqueue({Msg(), Msg()}, [&](auto r) { good.set_value(r); });
  db.exec("COMMIT");
  auto f = first.get_future().get();
  auto b = bad.get_future().get();
  auto g = good.get_future().get();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].status.ok());
  ASSERT_EQ(b.size(), 2u);
  EXPECT_FALSE(b[0].status.ok());  // the whole operation is undone, its good row included
  EXPECT_FALSE(b[1].status.ok());
  EXPECT_NE(b[1].status.message().find("boom refused"), std::string::npos)
      << b[1].status.ToString();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_TRUE(g[0].status.ok()) << g[0].status.ToString();
  EXPECT_TRUE(g[1].status.ok());
  EXPECT_NE(g[0].id, g[1].id);
  EXPECT_EQ(store_->Stats()->queued, 3);
  for (const auto& r : g) {
    auto m = store_->Get(r.id);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
  }
}

// A store written by an older reachd (schema v1) is migrated on open: its messages are kept, the
// queued ones are claimable through the new index, and the leased ones are released.
TEST_F(StoreTest, AVersionOneStoreIsMigratedAndKeepsItsMessages) {
  store_.reset();
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  {
    SQLite::Database db((dir_ / "reach.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE schema_version(version INTEGER NOT NULL)");
    db.exec(kMigrations[0]);
    db.exec("INSERT INTO schema_version VALUES(1)");
    const char* row =
        "INSERT INTO messages(status, priority, due_at, created_at, updated_at, template, "
        "template_version, channels, category, payload) VALUES(%d, 5, %lld, 0, 0, 'welcome', "
        "'v1', 'email', 'transactional', '{}')";
    char sql[512];
    for (int status : {0, 1, 2}) {
      snprintf(sql, sizeof(sql), row, status, static_cast<long long>(clock_.NowMs()));
      db.exec(sql);
    }
  }
  Reopen();
  EXPECT_EQ(store_->Stats()->queued, 2);  // the queued one and the released lease
  EXPECT_EQ(Claim(10).size(), 2u);
  SQLite::Database db((dir_ / "reach.db").string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT version FROM schema_version").getInt(),
            static_cast<int>(std::size(kMigrations)));
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM sqlite_master WHERE name='messages_due'").getInt(),
            0);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM messages").getInt(), 3);
}

// A completion that fails (and is rolled back) leaves its message queued: it must be claimable
// again, though the claim cursor had passed it and its lease is gone.
TEST_F(StoreTest, AMessageWhoseCompletionFailedIsClaimedAgain) {
  SQLite::Database db((dir_ / "reach.db").string(), SQLite::OPEN_READWRITE);
  db.exec("PRAGMA busy_timeout=5000");
  db.exec(
      "CREATE TRIGGER refuse_boom BEFORE UPDATE OF status ON messages WHEN NEW.reason='boom' "
      "BEGIN SELECT RAISE(ABORT, 'boom refused'); END");
  auto ids = Enqueue({Msg(), Msg()});
  auto claimed = Claim(10);
  ASSERT_EQ(claimed.size(), 2u);
  Completion bad;
  bad.id = claimed[0].id;
  bad.status = MessageStatus::kSent;
  bad.reason = "boom";
  EXPECT_FALSE(Complete({bad}).ok());
  auto again = Claim(10);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, claimed[0].id);
  EXPECT_EQ(store_->Stats()->queued, 0);
  EXPECT_EQ(store_->Stats()->sending, 2);
}

// Stats keeps the queued and sending counts as they change (no COUNT per /metrics scrape), and
// leases live in memory (a leased message stays status 0 in the file). After every kind of
// change: `sending` is what is leased, and queued + sending is what the file holds as status 0.
TEST_F(StoreTest, QueuedAndSendingCountsFollowEveryChange) {
  auto expect_counts = [&](const char* after, int64_t queued, int64_t sending) {
    SQLite::Database db((dir_ / "reach.db").string(), SQLite::OPEN_READONLY);
    auto st = store_->Stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->queued, queued) << after;
    EXPECT_EQ(st->sending, sending) << after;
    EXPECT_EQ(st->queued + st->sending,
              db.execAndGet("SELECT count(*) FROM messages WHERE status=0").getInt64())
        << after;
    EXPECT_EQ(db.execAndGet("SELECT count(*) FROM messages WHERE status=1").getInt64(), 0) << after;
  };
  NewMessage ttl = Msg(9);
  ttl.expires_at_ms = clock_.NowMs() + 500;
  ttl.due_at_ms = clock_.NowMs() + 1000;
  auto ids = Enqueue({Msg(), Msg(), Msg(), Msg(), Msg(1, clock_.NowMs() + 60'000), ttl});
  auto dup = Enqueue({Msg(5, 0, "k", "h"), Msg(5, 0, "k", "h")});  // the second is the first
  expect_counts("enqueue", 7, 0);
  ASSERT_TRUE(Cancel(ids[0].id).ok());
  expect_counts("cancel", 6, 0);
  clock_.Advance(1000);
  auto claimed = Claim(3);  // the ttl message expires instead of being claimed
  ASSERT_EQ(claimed.size(), 3u);
  expect_counts("claim and ttl expiry", 2, 3);
  EXPECT_EQ(store_->Get(claimed[0].id)->message.status, MessageStatus::kSending);
  auto completion = [](int64_t id, MessageStatus status, int64_t due = 0) {
    Completion c;
    c.id = id;
    c.status = status;
    c.due_at_ms = due;
    return c;
  };
  Completion sent = completion(claimed[0].id, MessageStatus::kSent);
  Completion retry = completion(claimed[1].id, MessageStatus::kQueued, clock_.NowMs() + 5000);
  ASSERT_TRUE(Complete({sent, retry}).ok());
  expect_counts("complete: sent and retry", 3, 1);
  EXPECT_EQ(store_->Get(claimed[1].id)->message.status, MessageStatus::kQueued);
  clock_.Advance(11'000);  // claimed[2]'s lease runs out; it is due again with the retry
  auto again = Claim(10);
  EXPECT_EQ(again.size(), 3u);  // the last due one, the retry, the expired lease
  expect_counts("lease expiry and claim", 1, 3);
  // The first send of claimed[2] ends after all (its message is leased again meanwhile).
  Completion late = completion(claimed[2].id, MessageStatus::kFailed);
  ASSERT_TRUE(Complete({late}).ok());
  expect_counts("completion after the lease ran out", 1, 2);
  Reopen();  // leases are released
  expect_counts("reopen", 3, 0);
}

// Claims walk the queue from a cursor past the messages in flight. A message that becomes due
// before the cursor (enqueued late with an earlier due time, a retry, a lease that ran out)
// must still be claimed, and nothing in flight is handed out twice.
TEST_F(StoreTest, ClaimsFindMessagesThatBecomeDueBehindTheCursor) {
  int64_t t0 = clock_.NowMs();
  std::vector<NewMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Msg(5, t0));
  Enqueue(batch);
  auto first = Claim(3);
  ASSERT_EQ(first.size(), 3u);
  Enqueue({Msg(5, t0 - 1000)});  // due earlier than everything claimed so far
  auto second = Claim(10);
  ASSERT_EQ(second.size(), 3u);  // the late one and the two left; none of the first three
  std::set<int64_t> seen;
  for (const auto& m : first) seen.insert(m.id);
  for (const auto& m : second) EXPECT_TRUE(seen.insert(m.id).second) << m.id;
  EXPECT_TRUE(Claim(10).empty());
  // A retry due now, behind the cursor, comes back once.
  Completion retry;
  retry.id = first[0].id;
  retry.status = MessageStatus::kQueued;
  retry.due_at_ms = t0;
  ASSERT_TRUE(Complete({retry}).ok());
  auto third = Claim(10);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].id, first[0].id);
  EXPECT_TRUE(Claim(10).empty());
  // Cancelling a message in flight is refused; a queued one still can be.
  Status st = Cancel(third[0].id);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
}

// Checkpoints run on the store's own thread (the writer's WAL hook replaces SQLite's automatic
// checkpoint): pages must still reach the database file, and the WAL must start over rather
// than grow with everything ever written.
TEST_F(StoreTest, CheckpointsCopyTheWalBackAndTheWalStartsOver) {
  const auto db = dir_ / "reach.db";
  const auto wal = dir_ / "reach.db-wal";
  const auto db_before = std::filesystem::file_size(db);
  std::string filler(1500, 'x');  // ~40 MB in all: ten times the 1,000-page checkpoint mark
  for (int group = 0; group < 50; ++group) {
    std::vector<NewMessage> msgs;
    for (int i = 0; i < 500; ++i) {
      NewMessage m = Msg();
      m.payload = R"({"to":{"email":"a@b.cn"},"vars":{"name":")" + filler + R"("}})";
      msgs.push_back(std::move(m));
    }
    auto r = Enqueue(std::move(msgs));
    ASSERT_EQ(r.size(), 500u);
    ASSERT_TRUE(r[0].status.ok()) << r[0].status.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the checkpointer's turn
  }
  // Copied back while the store is open (only a checkpoint writes the database file in WAL
  // mode; closing would checkpoint too, so the store stays open here).
  EXPECT_GT(std::filesystem::file_size(db), db_before + (20u << 20));
  // The WAL was rewound and reused: far smaller than the 40 MB written through it.
  EXPECT_LT(std::filesystem::file_size(wal), 16u << 20);
}

// Each group commit reports how long its COMMIT took (reachd's reach_store_commit_seconds).
TEST_F(StoreTest, EachCommitReportsItsDuration) {
  std::mutex mu;
  std::vector<int64_t> seen;
  on_commit_ = [&](int64_t us) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(us);
  };
  Reopen();
  size_t before;
  {
    std::lock_guard<std::mutex> lock(mu);
    before = seen.size();
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Enqueue({Msg()})[0].status.ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), before + 3);  // one per transaction, reported before its answers
  for (size_t i = before; i < seen.size(); ++i) EXPECT_GE(seen[i], 0);
}

// Outcomes that arrive within the completion linger share one commit; an operation somebody
// waits on (an enqueue here) ends the linger at once and joins that commit.
TEST_F(StoreTest, CompletionsWaitForMoreAndAnEnqueueEndsTheWait) {
  std::atomic<int> commits{0};
  on_commit_ = [&](int64_t) { commits.fetch_add(1); };
  linger_ms_ = 300;
  Reopen();
  Enqueue({Msg(), Msg(), Msg()});
  auto claimed = Claim(3);
  ASSERT_EQ(claimed.size(), 3u);
  auto done = [](int64_t id) {
    Completion c;
    c.id = id;
    c.status = MessageStatus::kSent;
    c.final_channel = "email";
    return c;
  };
  // Two completions 20 ms apart: one commit.
  int before = commits.load();
  std::promise<Status> a, b;
  store_->Complete({done(claimed[0].id)}, [&](Status s) { a.set_value(s); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  store_->Complete({done(claimed[1].id)}, [&](Status s) { b.set_value(s); });
  EXPECT_TRUE(a.get_future().get().ok());
  EXPECT_TRUE(b.get_future().get().ok());
  EXPECT_EQ(commits.load() - before, 1);
  // A completion, then an enqueue: the enqueue is not held for the linger (300 ms, and 10 s
  // here), and both commit together.
  linger_ms_ = 10'000;
  Reopen();
  claimed = Claim(1);
  ASSERT_EQ(claimed.size(), 1u);
  before = commits.load();
  std::promise<Status> c;
  auto t0 = std::chrono::steady_clock::now();
  store_->Complete({done(claimed[0].id)}, [&](Status s) { c.set_value(s); });
  auto r = Enqueue({Msg()});
  EXPECT_TRUE(r[0].status.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_TRUE(c.get_future().get().ok());
  EXPECT_EQ(commits.load() - before, 1);
  EXPECT_EQ(store_->Get(claimed[0].id)->message.status, MessageStatus::kSent);
}

// At synchronous=full the writer commits and goes on; the sync thread makes commits durable
// and only then answers them. Here the first sync is held: the enqueue is committed (a reader
// sees it) but not answered, and the writer meanwhile commits the next one.
TEST_F(StoreTest, AnEnqueueIsAnsweredOnlyOnceASyncCoversItsCommit) {
  std::mutex mu;
  std::condition_variable cv;
  bool hold = true;
  int syncs_begun = 0;
  before_sync_ = [&] {
    std::unique_lock<std::mutex> lock(mu);
    ++syncs_begun;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
  };
  Reopen();
  auto release = [&] {
    std::lock_guard<std::mutex> lock(mu);
    hold = false;
    cv.notify_all();
  };
  std::promise<std::vector<EnqueueResult>> first, second;
  auto first_answer = first.get_future();
  auto second_answer = second.get_future();
  store_->Enqueue({Msg()}, [&](std::vector<EnqueueResult> r) { first.set_value(r); });
  bool began;
  {
    std::unique_lock<std::mutex> lock(mu);
    began = cv.wait_for(lock, std::chrono::seconds(5), [&] { return syncs_begun > 0; });
  }
  EXPECT_TRUE(began) << "no sync began";
  EXPECT_TRUE(store_->Get(1).ok()) << "the enqueue is not committed";
  EXPECT_EQ(first_answer.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "answered before its sync";
  store_->Enqueue({Msg()}, [&](std::vector<EnqueueResult> r) { second.set_value(r); });
  bool committed = false;
  for (int i = 0; i < 500 && !committed; ++i) {
    committed = store_->Get(2).ok();
    if (!committed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(committed) << "the writer waited for the held sync";
  EXPECT_EQ(second_answer.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  release();
  EXPECT_TRUE(first_answer.get()[0].status.ok());
  EXPECT_TRUE(second_answer.get()[0].status.ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(syncs_begun, 2);  // the second sync covered the second commit
}

TEST(ExternalIdTest, RoundTrip) {
  EXPECT_EQ(ExternalId(42), "msg_42");
  EXPECT_EQ(ParseExternalId("msg_42").value_or(0), 42);
  EXPECT_FALSE(ParseExternalId("msg_").has_value());
  EXPECT_FALSE(ParseExternalId("42").has_value());
  EXPECT_FALSE(ParseExternalId("msg_4x").has_value());
  EXPECT_FALSE(ParseExternalId("msg_99999999999999999999").has_value());
}

}  // namespace
}  // namespace reach::store
