#include "benchfs/core/status.hpp"

#include <cstring>

namespace benchfs {

std::string Status::to_string() const {
  if (err_ == 0) return msg_.empty() ? std::string("ok") : msg_;
  std::string s = msg_;
  if (!s.empty()) s += ": ";
  s += std::strerror(err_);
  return s;
}

}  // namespace benchfs
