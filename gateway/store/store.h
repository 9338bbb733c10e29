// The durable message queue. SQLite is one implementation (sqlite_store.h); a PostgreSQL one can
// follow behind the same interface.
//
// Contract:
//  - Write operations (Enqueue, Claim, Complete, Cancel, SaveTemplateVersion) are asynchronous.
//    They are executed by the store's single writer, which folds every operation waiting at that
//    moment into ONE transaction (group commit). Each callback runs on a store thread after the
//    transaction holding its operation has committed and, with synchronous=full, been synced
//    (one sync covers every commit made before it began): a callback reporting success means
//    the change is on disk.
//    Callbacks must be quick and must not call back into the store synchronously.
//  - Read operations (Get, LoadTemplateSource, Stats) are synchronous, may be called from any
//    thread, and see committed data only.
//  - No exception leaves the store: failures are Status values.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace reach::store {

enum class MessageStatus : int {
  kQueued = 0,   // waiting until due_at (also: waiting for a retry, or scheduled)
  kSending = 1,  // claimed by a dispatcher; due_at is the lease expiry
  kSent = 2,
  kDelivered = 3,
  kRead = 4,
  kFailed = 5,
  kExpired = 6,
  kCancelled = 7,
  kSuppressed = 8,
};
const char* StatusName(MessageStatus s);
bool IsFinal(MessageStatus s);

std::string ExternalId(int64_t id);  // 42 -> "msg_42"
std::optional<int64_t> ParseExternalId(const std::string& s);

struct NewMessage {
  std::string template_name;
  std::string template_version;
  std::vector<std::string> channels;  // ordered; first tried first
  std::string category;
  int priority = 5;       // 0..9, higher first
  int64_t due_at_ms = 0;  // send_at, or now
  std::optional<int64_t> expires_at_ms;
  std::string idempotency_key;  // empty = none
  std::string request_hash;     // hash of the request, for idempotency conflicts
  std::string payload;          // JSON: {"to":{..},"vars":{..},"locale":..,"metadata":..}
};

struct EnqueueResult {
  Status status;  // ok, or kConflict (idempotency key reused with another body)
  int64_t id = 0;
  bool existing = false;  // the idempotency key matched an earlier message
};

struct StoredMessage {
  int64_t id = 0;
  MessageStatus status = MessageStatus::kQueued;
  int priority = 5;
  int64_t due_at_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::optional<int64_t> expires_at_ms;
  std::string template_name;
  std::string template_version;
  std::vector<std::string> channels;
  int channel_index = 0;  // channel currently being tried
  int attempt_count = 0;  // attempts made on channels[channel_index]
  std::string category;
  std::string payload;
  std::string final_channel;  // channel that carried it (sent) or last tried (failed)
  std::string reason;         // why failed/expired/suppressed
  std::string idempotency_key;
  bool scheduled = false;  // created with a send_at in the future
};

struct AttemptRecord {
  int64_t message_id = 0;
  int64_t at_ms = 0;
  std::string channel;
  std::string provider;
  std::string outcome;
  std::string provider_message_id;
  std::string code;
  std::string detail;
};

// The result of one dispatch attempt: the message's new state plus the attempt to log.
struct Completion {
  int64_t id = 0;
  MessageStatus status = MessageStatus::kQueued;
  int64_t due_at_ms = 0;  // for kQueued: when to try again
  int channel_index = 0;
  int attempt_count = 0;
  std::string final_channel;
  std::string reason;
  std::optional<AttemptRecord> attempt;
};

struct MessageDetail {
  StoredMessage message;
  std::vector<AttemptRecord> attempts;
};

struct StoreStats {
  int64_t queued = 0;
  int64_t sending = 0;
  int64_t total = 0;
};

class Store {
 public:
  using EnqueueCallback = std::function<void(std::vector<EnqueueResult>)>;
  using ClaimCallback = std::function<void(Result<std::vector<StoredMessage>>)>;
  using StatusCallback = std::function<void(Status)>;

  virtual ~Store() = default;

  // Durably stores the messages (all in one group commit). One result per message, in order.
  // If the transaction fails, every result carries kUnavailable.
  virtual void Enqueue(std::vector<NewMessage> messages, EnqueueCallback done) = 0;
  // Leases up to `limit` due messages (queued with due_at <= now, or sending with an expired
  // lease), highest priority first, then oldest due. Leased messages become kSending with
  // due_at = now + lease. Messages past their expiry become kExpired and are not returned.
  virtual void Claim(int64_t now_ms, int limit, ClaimCallback done) = 0;
  virtual void Complete(std::vector<Completion> completions, StatusCallback done) = 0;
  // Cancels a message still queued. kNotFound, or kFailedPrecondition when too late.
  virtual void Cancel(int64_t id, int64_t now_ms, StatusCallback done) = 0;
  // Keeps the exact template source a message was accepted with (idempotent).
  virtual void SaveTemplateVersion(std::string name, std::string version, std::string source,
                                   StatusCallback done) = 0;

  virtual Result<MessageDetail> Get(int64_t id) = 0;
  virtual std::optional<std::string> LoadTemplateSource(const std::string& name,
                                                        const std::string& version) = 0;
  virtual Result<StoreStats> Stats() = 0;
  // True when the writer is running and the last transaction committed.
  virtual bool Healthy() const = 0;
  // Finishes every operation already submitted, then stops the writer. Idempotent.
  virtual void Close() = 0;
};

}  // namespace reach::store
