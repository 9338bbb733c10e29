#include "templates/catalog_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace reach::templates {

CatalogWatcher::CatalogWatcher(std::string dir, std::function<void()> on_change,
                               std::chrono::milliseconds debounce)
    : dir_(std::move(dir)), on_change_(std::move(on_change)), debounce_(debounce) {}

CatalogWatcher::~CatalogWatcher() { Stop(); }

Status CatalogWatcher::Start() {
  if (thread_.joinable()) return Status::FailedPrecondition("watcher already started");
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return Status::Unavailable(std::string("inotify_init1: ") + strerror(errno));
  uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_MODIFY |
                  IN_DELETE_SELF | IN_MOVE_SELF;
  if (inotify_add_watch(inotify_fd_, dir_.c_str(), mask) < 0) {
    Status st = Status::Unavailable("inotify_add_watch " + dir_ + ": " + strerror(errno));
    close(inotify_fd_);
    inotify_fd_ = -1;
    return st;
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    close(inotify_fd_);
    inotify_fd_ = -1;
    return Status::Unavailable(std::string("eventfd: ") + strerror(errno));
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void CatalogWatcher::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t n = write(wake_fd_, &one, sizeof(one));
    (void)n;
    thread_.join();
  }
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  inotify_fd_ = -1;
  wake_fd_ = -1;
}

void CatalogWatcher::Run() {
  using Clock = std::chrono::steady_clock;
  bool pending = false;
  Clock::time_point due{};
  alignas(inotify_event) char buf[4096];
  while (true) {
    int timeout = -1;
    if (pending) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
      timeout = left.count() < 0 ? 0 : static_cast<int>(left.count());
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;  // Stop()
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      while (read(inotify_fd_, buf, sizeof(buf)) > 0) {
      }
      pending = true;
      due = Clock::now() + debounce_;
      continue;
    }
    if (pending && Clock::now() >= due) {
      pending = false;
      on_change_();
    }
  }
}

}  // namespace reach::templates
