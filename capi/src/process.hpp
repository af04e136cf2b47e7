#pragma once
// Internals shared by the C API's translation units: the process-wide
// file-system client behind a reference count, and the error plumbing that
// keeps C++ exceptions from crossing the C boundary.

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "benchfs/client/fs.hpp"
#include "benchfs/core/status.hpp"

namespace benchfs::capi {

// The C API has no handle, so the client is process state. Calls find it
// through an atomic pointer and announce themselves in `users`; finalize
// clears the pointer and waits for the calls already inside to leave
// (seq_cst on both sides: a call either sees null or is waited for).
struct Process {
  std::mutex mu;  ///< serializes init / finalize
  std::atomic<client::FileSystem*> fs{nullptr};
  std::atomic<int> users{0};
  std::unique_ptr<client::FileSystem> owned;
  int refs = 0;
};

inline Process& process() {
  static Process p;
  return p;
}

/// A call's hold on the client; null when not initialized.
class Use {
 public:
  Use() : p_(process()) {
    p_.users.fetch_add(1);
    fs_ = p_.fs.load();
  }
  ~Use() { p_.users.fetch_sub(1); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  [[nodiscard]] client::FileSystem* get() const { return fs_; }
  [[nodiscard]] client::Client* client() const { return fs_ == nullptr ? nullptr : &fs_->client(); }

 private:
  Process& p_;
  client::FileSystem* fs_ = nullptr;
};

/// Records st as this thread's last error, sets errno, returns -1.
int fail(const Status& st);
inline int fail(int err, const char* msg) { return fail(Status(err, msg)); }
inline int not_initialized() { return fail(EINVAL, "BenchFS is not initialized (call benchfs_init)"); }

/// Runs f, turning any exception into -1 + errno.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    return fail(e.status());
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(EIO, e.what());
  } catch (...) {
    return fail(EIO, "unknown error");
  }
}

}  // namespace benchfs::capi
