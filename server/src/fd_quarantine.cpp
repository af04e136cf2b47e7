// Socket descriptor quarantine (see fd_quarantine.hpp for why).

#include "fd_quarantine.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>

namespace benchfs::server::fd_quarantine {
namespace {

// The close(3) this one hides: libc's, or a sanitizer's interceptor in
// front of it (which must see every close to track descriptors).
int sys_close(int fd) {
  using CloseFn = int (*)(int);
  static const CloseFn next = reinterpret_cast<CloseFn>(::dlsym(RTLD_NEXT, "close"));
  if (next != nullptr) return next(fd);
  return static_cast<int>(::syscall(SYS_close, fd));
}

uint64_t mono_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

struct Held {
  int fd;
  uint64_t since_ns;
};

struct State {
  std::atomic<bool> enabled{false};
  std::mutex mu;
  int placeholder = -1;
  dev_t placeholder_rdev = 0;
  uint64_t hold_ns = 0;
  std::unique_ptr<Held[]> ring;  // FIFO of held numbers, oldest at head
  size_t cap = 0;
  size_t head = 0;
  size_t count = 0;
  uint64_t quarantined = 0;
  uint64_t released_early = 0;
};

State& state() {
  static State* s = new State;  // never destroyed: close() runs until the very end
  return *s;
}

// Frees a held number, unless something else closed and reused it meanwhile
// (then it is no longer our placeholder and not ours to close).
void release(State& s, int fd) {
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == s.placeholder_rdev) (void)sys_close(fd);
}

void release_expired_locked(State& s, uint64_t now) {
  while (s.count > 0 && now - s.ring[s.head].since_ns >= s.hold_ns) {
    release(s, s.ring[s.head].fd);
    s.head = (s.head + 1) % s.cap;
    --s.count;
  }
}

int quarantine_close(State& s, int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return sys_close(fd);
  std::lock_guard<std::mutex> lock(s.mu);
  const uint64_t now = mono_ns();
  release_expired_locked(s, now);
  if (s.count == s.cap) {
    release(s, s.ring[s.head].fd);
    s.head = (s.head + 1) % s.cap;
    --s.count;
    ++s.released_early;
  }
  // Atomically closes the socket and leaves the placeholder at its number.
  if (::dup3(s.placeholder, fd, O_CLOEXEC) < 0) return sys_close(fd);
  s.ring[(s.head + s.count) % s.cap] = Held{fd, now};
  ++s.count;
  ++s.quarantined;
  return 0;
}

}  // namespace

bool ucx_needs_it() {
  unsigned major = 0;
  unsigned minor = 0;
  unsigned release_number = 0;
  ucp_get_version(&major, &minor, &release_number);
  return major < 1 || (major == 1 && minor < 18);
}

bool enable(std::chrono::milliseconds hold, size_t max_held) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.enabled.load(std::memory_order_relaxed)) return true;
  const int ph = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (ph < 0) return false;
  struct stat st;
  if (::fstat(ph, &st) != 0) {
    const int e = errno;
    (void)sys_close(ph);
    errno = e;
    return false;
  }
  s.placeholder = ph;
  s.placeholder_rdev = st.st_rdev;
  s.hold_ns = static_cast<uint64_t>(hold.count()) * 1'000'000ULL;
  s.cap = max_held > 0 ? max_held : 1;
  s.ring = std::make_unique<Held[]>(s.cap);
  s.enabled.store(true, std::memory_order_release);
  return true;
}

void sweep() {
  State& s = state();
  if (!s.enabled.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(s.mu);
  release_expired_locked(s, mono_ns());
}

Stats stats() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return Stats{s.count, s.quarantined, s.released_early};
}

}  // namespace benchfs::server::fd_quarantine

// The interposer: every close(3) in this process (UCX's among them) comes
// here. Only sockets are held, and only while the quarantine is enabled.
extern "C" int close(int fd) {
  auto& s = benchfs::server::fd_quarantine::state();
  if (!s.enabled.load(std::memory_order_acquire)) return benchfs::server::fd_quarantine::sys_close(fd);
  return benchfs::server::fd_quarantine::quarantine_close(s, fd);
}
