#pragma once
// Shared by the file-system tests (test_fs_model, test_fs_patterns): a
// directory listed through benchfs_readdir into a map, with the number of
// callbacks it made (a name listed twice shows as one entry).

#include <map>
#include <string>

#include "benchfs/benchfs.h"

namespace benchfs::test {

/// Name -> d_type of the entries of a listing.
using Listing = std::map<std::string, unsigned char>;

/// benchfs_readdir of `dir` into `*out`: its return value (errno as it
/// left it); `*calls`, the callbacks it made.
inline int list_dir(const std::string& dir, Listing* out, int* calls) {
  struct Ctx {
    Listing* out;
    int calls;
  } ctx{out, 0};
  const int rc = benchfs_readdir(
      dir.c_str(),
      [](void* arg, const char* name, unsigned char type) {
        auto* c = static_cast<Ctx*>(arg);
        (*c->out)[name] = type;
        ++c->calls;
        return 0;
      },
      &ctx);
  *calls = ctx.calls;
  return rc;
}

}  // namespace benchfs::test
