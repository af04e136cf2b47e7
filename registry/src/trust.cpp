#include "benchfs/registry/trust.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "benchfs/registry/server_list.hpp"

namespace benchfs::registry {

namespace {

std::string octal(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// forbidden: permission bits (group / other) the path must not have.
// The directory may be reached through a symbolic link (scratch paths often
// are); the files inside it may not.
Status check_one(const std::string& path, const char* what, mode_t forbidden, const char* why, bool is_dir) {
  struct stat st {};
  if ((is_dir ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) {
    const bool must_exist = is_dir;
    if (!must_exist && errno == ENOENT) return Status();
    return Status(errno, std::string("cannot stat ") + what + " '" + path + "'");
  }
  if (S_ISLNK(st.st_mode))
    return Status(EACCES, std::string(what) + " '" + path + "' is a symbolic link: refusing to follow it");
  const uid_t me = ::geteuid();
  if (st.st_uid != me)
    return Status(EACCES, std::string(what) + " '" + path + "' belongs to uid " + std::to_string(st.st_uid) +
                              ", not to this user (uid " + std::to_string(me) +
                              "): refusing to trust another user's registry");
  if ((st.st_mode & forbidden) != 0)
    return Status(EACCES, std::string(what) + " '" + path + "' has mode " + octal(st.st_mode) + ": " + why +
                              "; make it " + (S_ISDIR(st.st_mode) ? "0700" : "0600") + " (chmod)");
  return Status();
}

}  // namespace

Status check_trusted(const std::string& dir) {
  if (auto st = check_one(dir, "registry directory", S_IWGRP | S_IWOTH,
                          "other users could replace the server list", true);
      !st)
    return st;
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  if (auto st = check_one(base + kListFile, "server list", S_IWGRP | S_IWOTH,
                          "other users could redirect clients to their own servers", false);
      !st)
    return st;
  return check_one(base + kReadyFile, "ready file", S_IRWXG | S_IRWXO,
                   "other users could read the job secret or change it", false);
}

}  // namespace benchfs::registry
