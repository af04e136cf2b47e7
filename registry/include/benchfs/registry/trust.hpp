#pragma once
// Whether a client may trust a registry: the ready file holds the job secret
// and the list says where to send data, so both must be this user's own and
// out of other users' reach. A client refuses (EACCES, saying what is wrong
// and how to fix it) when
//   - the registry directory or one of its files belongs to another user, or
//   - the directory or server_list.txt is writable by group or others
//     (anyone could redirect clients to their own "server"), or
//   - server_list.ready is readable or writable by group or others (the
//     secret would be exposed).
// Servers create them so (directory 0700, files 0600).

#include <string>

#include "benchfs/core/status.hpp"

namespace benchfs::registry {

/// Checks `dir` and the files the servers published in it (those present).
Status check_trusted(const std::string& dir);

}  // namespace benchfs::registry
