#include "adapters/transport/curl_loop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

namespace reach::transport {

namespace {
struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
}  // namespace

CurlLoop::CurlLoop(CurlLoopOptions options) {
  static GlobalInit init;  // curl_global_init is not thread-safe on older libcurl; once, first.
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  if (options.max_total_connections > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, options.max_total_connections);
  }
  if (options.max_host_connections > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
  }
  if (options.max_connects_cache > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options.max_connects_cache);
  }
  curl_multi_setopt(multi_, CURLMOPT_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlLoop::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlLoop::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this, name = options.name] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    Run();
  });
}

CurlLoop::~CurlLoop() {
  Shutdown();
  curl_multi_cleanup(multi_);
  close(wake_fd_);
  close(epoll_fd_);
}

void CurlLoop::Wake() {
  if (wake_signalled_) return;  // one pending wake-up is enough
  wake_signalled_ = true;
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;  // EAGAIN means the counter is already non-zero: the loop will wake anyway
}

int CurlLoop::OnSocket(CURL*, curl_socket_t s, int what, void* self, void* socketp) {
  auto* loop = static_cast<CurlLoop*>(self);
  uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  if (SocketState* st = loop->Own(s)) {
    if (what == CURL_POLL_REMOVE) {
      st->watched = false;  // stays registered: the next transfer on it likely wants the same
      return 0;
    }
    st->watched = true;
    if (st->events == events) return 0;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = s;
    if (epoll_ctl(loop->epoll_fd_, st->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0) {
      // Out of step with the kernel's set (cannot happen while close goes through
      // OnCloseSocket); recover whichever way round it is.
      epoll_ctl(loop->epoll_fd_, errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev);
    }
    st->events = events;
    return 0;
  }
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(loop->epoll_fd_, EPOLL_CTL_DEL, s, nullptr);  // may already be closed: ignore
    curl_multi_assign(loop->multi_, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.data.fd = s;
  ev.events = events;
  // socketp is non-null once this socket is in the epoll set.
  if (socketp == nullptr) {
    if (epoll_ctl(loop->epoll_fd_, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST) {
      epoll_ctl(loop->epoll_fd_, EPOLL_CTL_MOD, s, &ev);
    }
    curl_multi_assign(loop->multi_, s, loop);
  } else {
    epoll_ctl(loop->epoll_fd_, EPOLL_CTL_MOD, s, &ev);
  }
  return 0;
}

curl_socket_t CurlLoop::OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address) {
  auto* loop = static_cast<CurlLoop*>(self);
  int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  if (purpose == CURLSOCKTYPE_IPCXN) {
    if (static_cast<size_t>(fd) >= loop->sockets_.size()) loop->sockets_.resize(fd + 64);
    loop->sockets_[fd] = SocketState{true, false, 0};
  }
  return fd;
}

int CurlLoop::OnCloseSocket(void* self, curl_socket_t s) {
  auto* loop = static_cast<CurlLoop*>(self);
  if (SocketState* st = loop->Own(s)) {
    // close() takes it out of the epoll set too, but only once no other descriptor refers to
    // the same socket; say so explicitly.
    if (st->events) epoll_ctl(loop->epoll_fd_, EPOLL_CTL_DEL, s, nullptr);
    *st = SocketState{};
  }
  return close(s);
}

void CurlLoop::Unwatched(int fd) {
  SocketState* st = Own(fd);
  if (!st || !st->events) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  st->events = 0;
}

int CurlLoop::OnTimer(CURLM*, long timeout_ms, void* self) {
  auto* loop = static_cast<CurlLoop*>(self);
  loop->timer_ms_ = timeout_ms;
  if (timeout_ms >= 0) {
    loop->timer_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

void CurlLoop::Add(CURL* easy, Done done, const std::string& key, int max_active, int priority) {
  priority = std::clamp(priority, 0, kPriorities - 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      adds_.push_back(Pending{easy, std::move(done), key, max_active, priority});
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      Wake();
      return;
    }
  }
  done(easy, CURLE_ABORTED_BY_CALLBACK);
}

void CurlLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      posts_.push_back(std::move(fn));
      Wake();
      return;
    }
  }
  fn();
}

void CurlLoop::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    Wake();
  }
  if (thread_.joinable()) thread_.join();
}

void CurlLoop::DrainQueue() {
  std::deque<Pending> adds;
  std::deque<std::function<void()>> posts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    adds.swap(adds_);
    posts.swap(posts_);
  }
  for (auto& p : adds) {
    if (!p.key.empty() && p.max_active > 0) {
      Admission& a = admission_[p.key];
      if (a.active >= p.max_active || a.waiting_count > 0) {
        int prio = p.priority;
        a.waiting[prio].push_back(std::move(p));
        ++a.waiting_count;
        continue;
      }
    }
    Start(std::move(p));
  }
  for (auto& fn : posts) fn();
}

void CurlLoop::Start(Pending p) {
  Admission* admission = p.key.empty() ? nullptr : &admission_[p.key];
  curl_easy_setopt(p.easy, CURLOPT_OPENSOCKETFUNCTION, &CurlLoop::OnOpenSocket);
  curl_easy_setopt(p.easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(p.easy, CURLOPT_CLOSESOCKETFUNCTION, &CurlLoop::OnCloseSocket);
  curl_easy_setopt(p.easy, CURLOPT_CLOSESOCKETDATA, this);
  CURLMcode rc = curl_multi_add_handle(multi_, p.easy);
  if (rc != CURLM_OK) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    p.done(p.easy, CURLE_FAILED_INIT);
    return;
  }
  if (admission) ++admission->active;
  active_.emplace(p.easy, Active{std::move(p.done), admission});
}

void CurlLoop::ReapDone() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    curl_multi_remove_handle(multi_, easy);
    auto it = active_.find(easy);
    if (it == active_.end()) continue;
    Done done = std::move(it->second.done);
    Admission* admission = it->second.admission;
    active_.erase(it);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    done(easy, result);
    if (admission) {
      --admission->active;
      // Admit the next waiting transfer of this peer (its limit may have been raised by config).
      while (std::deque<Pending>* q = admission->NextQueue()) {
        if (admission->active >= std::max(1, q->front().max_active)) break;
        Pending next = std::move(q->front());
        q->pop_front();
        --admission->waiting_count;
        Start(std::move(next));
      }
    }
  }
}

void CurlLoop::Run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int running = 0;
  for (;;) {
    DrainQueue();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    // Due timers first (curl_multi_add_handle asks for a 0 ms timeout to start a transfer).
    if (timer_ms_ >= 0 && std::chrono::steady_clock::now() >= timer_at_) {
      timer_ms_ = -1;
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      ReapDone();
      continue;
    }
    int wait_ms = 1000;
    if (timer_ms_ >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      timer_at_ - std::chrono::steady_clock::now())
                      .count();
      wait_ms = static_cast<int>(std::clamp<int64_t>(left + 1, 0, 1000));
    }
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t count = 0;
        ssize_t r = read(wake_fd_, &count, sizeof count);
        (void)r;
        std::lock_guard<std::mutex> lock(mu_);
        wake_signalled_ = false;
        continue;
      }
      if (const SocketState* st = Own(fd); st && !st->watched) {
        Unwatched(fd);
        continue;
      }
      int mask = 0;
      if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi_, fd, mask, &running);
    }
    ReapDone();
  }
  // Abort what is still in flight, then anything added meanwhile.
  std::vector<std::pair<CURL*, Done>> aborted;
  for (auto& [easy, a] : active_) {
    curl_multi_remove_handle(multi_, easy);
    aborted.emplace_back(easy, std::move(a.done));
  }
  active_.clear();
  for (auto& [key, a] : admission_) {
    for (auto& q : a.waiting) {
      for (auto& p : q) aborted.emplace_back(p.easy, std::move(p.done));
    }
  }
  admission_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& p : adds_) aborted.emplace_back(p.easy, std::move(p.done));
    adds_.clear();
  }
  std::deque<std::function<void()>> posts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    posts.swap(posts_);
  }
  for (auto& fn : posts) fn();
  for (auto& [easy, done] : aborted) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    done(easy, CURLE_ABORTED_BY_CALLBACK);
  }
}

}  // namespace reach::transport
