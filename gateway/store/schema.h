// The SQLite schema of the durable queue, as forward migrations: kMigrations[v] takes a store at
// schema version v to v + 1 (SqliteStore::Init applies the missing ones in one transaction each).
// Shared with bench/sqlite_ceiling.cc, whose raw-insert ceiling must use the very same table.
#pragma once

namespace reach::store {

inline constexpr const char* kMigrations[] = {
    // Version 1: the queue, attempts, template versions.
    R"sql(
CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  status INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  template TEXT NOT NULL,
  template_version TEXT NOT NULL,
  channels TEXT NOT NULL,
  channel_index INTEGER NOT NULL DEFAULT 0,
  attempt_count INTEGER NOT NULL DEFAULT 0,
  category TEXT NOT NULL,
  payload TEXT NOT NULL,
  final_channel TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  idem_key TEXT,
  request_hash TEXT NOT NULL DEFAULT '',
  scheduled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_due ON messages(status, priority, due_at);
CREATE UNIQUE INDEX messages_idem ON messages(idem_key) WHERE idem_key IS NOT NULL;
CREATE TABLE attempts(
  message_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  channel TEXT NOT NULL,
  provider TEXT NOT NULL,
  outcome TEXT NOT NULL,
  provider_message_id TEXT NOT NULL,
  code TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX attempts_message ON attempts(message_id);
CREATE TABLE template_versions(
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY(name, version)
);
)sql",
    // Version 2: the due index holds queued rows only, and leased rows have their own. Indexed
    // on (status, priority, due_at), every message stayed in the index for good and each status
    // change moved its entry (claim and completion: two deletes and two inserts); now a claim
    // deletes one entry, a completion touches none, and the index is as small as the backlog.
    // (Leases have since moved to memory: no row is written with status 1 any more, and
    // messages_leased stays empty; it serves the start-up release of leases an older reachd
    // left, which would otherwise scan the whole table.)
    R"sql(
DROP INDEX messages_due;
CREATE INDEX messages_queued ON messages(priority, due_at) WHERE status=0;
CREATE INDEX messages_leased ON messages(due_at) WHERE status=1;
)sql",
};

}  // namespace reach::store
