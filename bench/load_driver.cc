#include "bench/load_driver.h"

#include <chrono>

namespace reach::bench {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct LoadDriver::Slot {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  LoadRequest request;
  std::string response;
  int64_t started_us = 0;
  bool busy = false;
  char error[CURL_ERROR_SIZE] = {};
};

LoadDriver::LoadDriver(int connections, int64_t timeout_ms)
    : multi_(curl_multi_init()), timeout_ms_(timeout_ms) {
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(connections) + 8);
  for (int i = 0; i < connections; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->easy = curl_easy_init();
    curl_easy_setopt(slot->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(slot->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(slot->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(slot->easy, CURLOPT_WRITEFUNCTION, &LoadDriver::OnWrite);
    curl_easy_setopt(slot->easy, CURLOPT_WRITEDATA, slot.get());
    curl_easy_setopt(slot->easy, CURLOPT_ERRORBUFFER, slot->error);
    curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, slot.get());
    curl_easy_setopt(slot->easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(slot->easy, CURLOPT_POST, 1L);
    slots_.push_back(std::move(slot));
  }
}

LoadDriver::~LoadDriver() {
  for (auto& slot : slots_) {
    if (slot->busy) curl_multi_remove_handle(multi_, slot->easy);
    curl_easy_cleanup(slot->easy);
    curl_slist_free_all(slot->headers);
  }
  curl_multi_cleanup(multi_);
}

size_t LoadDriver::OnWrite(char* data, size_t size, size_t n, void* user) {
  static_cast<Slot*>(user)->response.append(data, size * n);
  return size * n;
}

bool LoadDriver::Start(Slot& slot, RequestSource& source) {
  slot.request.headers.clear();
  if (!source.Next(slot.request)) return false;
  curl_slist_free_all(slot.headers);
  slot.headers = nullptr;
  // libcurl would otherwise send "Expect: 100-continue" for large bodies and wait a round trip.
  slot.headers = curl_slist_append(slot.headers, "Expect:");
  slot.headers = curl_slist_append(slot.headers, "Content-Type: application/json");
  for (const std::string& h : slot.request.headers) {
    slot.headers = curl_slist_append(slot.headers, h.c_str());
  }
  curl_easy_setopt(slot.easy, CURLOPT_URL, slot.request.url.c_str());
  curl_easy_setopt(slot.easy, CURLOPT_HTTPHEADER, slot.headers);
  curl_easy_setopt(slot.easy, CURLOPT_POSTFIELDS, slot.request.body.data());
  curl_easy_setopt(slot.easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(slot.request.body.size()));
  slot.response.clear();
  slot.error[0] = '\0';
  slot.started_us = NowUs();
  slot.busy = true;
  curl_multi_add_handle(multi_, slot.easy);
  return true;
}

void LoadDriver::Run(RequestSource& source) {
  int active = 0;
  for (auto& slot : slots_) {
    if (Start(*slot, source)) ++active;
  }
  while (active > 0) {
    int running = 0;
    curl_multi_perform(multi_, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Slot* slot = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&slot));
      CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi_, slot->easy);
      slot->busy = false;
      --active;
      LoadResult result;
      result.latency_us = NowUs() - slot->started_us;
      result.body = &slot->response;
      if (code == CURLE_OK) {
        curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &result.status);
      } else {
        result.error = slot->error[0] != '\0' ? slot->error : curl_easy_strerror(code);
        ++stats_.transport_errors;
        stats_.last_error = result.error;
      }
      ++stats_.requests;
      ++stats_.statuses[result.status];
      stats_.latencies_us.push_back(static_cast<uint32_t>(result.latency_us));
      source.Done(slot->request, result);
      if (Start(*slot, source)) ++active;
    }
    if (active > 0) curl_multi_poll(multi_, nullptr, 0, 100, nullptr);
  }
}

double Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  if (rank >= sorted.size()) rank = sorted.size() - 1;
  return sorted[rank];
}

}  // namespace reach::bench
