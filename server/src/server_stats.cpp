// The server's --stats JSON (README: `--stats FILE`): ServerImpl::stats_json,
// gathered from the client registry, the stores, the reply cache and the
// merged per-thread counters.
#include <nlohmann/json.hpp>

#include "benchfs/core/clock.hpp"
#include "benchfs/net/poll.hpp"
#include "server_impl.hpp"
#include "stats.hpp"

namespace benchfs::server {

nlohmann::json ServerImpl::stats_json() const {
  nlohmann::json j;
  const auto c = clients_.counters();
  j["server"] = {{"node", boot_.rank},
                 {"servers", boot_.size},
                 {"address", address_},
                 {"threads", threads_.size()},
                 {"chunk_size", chunk_size_},
                 {"poll", std::string(net::poll_mode_name(opts_.poll))},
                 {"uptime_s", started_ns_ ? static_cast<double>(now_ns() - started_ns_) / 1e9 : 0.0}};
  j["registry"] = {{"hits", c.hits},
                   {"misses", c.misses},
                   {"evictions", c.evictions},
                   {"live", c.live},
                   {"peak", c.peak},
                   {"over_capacity", c.over_capacity},
                   {"capacity", clients_.capacity()},
                   {"idle_ms", opts_.client_idle_ms},
                   {"shards", clients_.shard_count()}};
  if (chunks_ && meta_) {
    const auto cs = chunks_->stats();
    const auto ms = meta_->stats();
    j["store"] = {{"bytes_used", cs.bytes_used}, {"chunks", cs.chunks},   {"memory_limit", cs.memory_limit},
                  {"capacity", capacity()},      {"enospc", cs.enospc},   {"grow_refused", cs.grow_refused},
                  {"files", ms.files},           {"directories", ms.dirs}};
    j["store"]["pool"] = {{"buffer_size", cs.pool.buffer_size},
                          {"mapped_bytes", cs.pool.mapped_bytes},
                          {"warm_bytes", cs.pool.warm_bytes},
                          {"cold_bytes", cs.pool.cold_bytes},
                          {"in_use", cs.pool.in_use},
                          {"reused_warm", cs.pool.reused_warm},
                          {"acquired_cold", cs.pool.acquired_cold}};
    j["store"]["reserve"] = {{"bytes", cs.pool.reserve_bytes},
                             {"refilled", cs.pool.refilled},
                             {"refill_ms", static_cast<double>(cs.pool.refill_ns) / 1e6},
                             {"full_after_ms", static_cast<double>(cs.pool.reserve_full_ns) / 1e6}};
  }
  j["ops"] = ops_json(totals_, tick_rate_.per_ns());
  j["data_path"] = {{"writes_rndv", totals_.writes_rndv},
                    {"writes_eager", totals_.writes_eager},
                    {"bytes_copied", totals_.bytes_copied},
                    {"reads_zero_copy", totals_.reads_zero_copy}};
  {
    uint64_t requests = 0;
    for (const auto& o : totals_.ops) requests += o.count;
    auto per_1000 = [requests](uint64_t n) {
      return requests == 0 ? 0.0 : static_cast<double>(n) * 1000.0 / static_cast<double>(requests);
    };
    j["polling"] = {{"mode", std::string(net::poll_mode_name(opts_.poll))},
                    {"requests", requests},
                    {"sleeps", totals_.idle_sleeps},
                    {"wakeups", totals_.idle_wakeups},
                    {"sleeps_per_1000_requests", per_1000(totals_.idle_sleeps)},
                    {"wakeups_per_1000_requests", per_1000(totals_.idle_wakeups)},
                    {"preempted_spins", totals_.preempted_spins},
                    {"congested_sleeps", totals_.congested_sleeps},
                    {"yields", totals_.yields}};
  }
  j["decode_errors"] = totals_.decode_errors;
  j["unauthorized"] = totals_.unauthorized;
  j["auth_failures"] = totals_.auth_failures;
  j["no_reply_ep"] = totals_.no_reply_ep;
  j["reply_ep_requests"] = totals_.reply_ep_requests;
  j["after_close"] = totals_.after_close;
  j["once_repeats"] = totals_.once_repeats;
  j["dropped_replies"] = totals_.dropped_replies;
  const auto rc = replies_.counters();
  j["reply_cache"] = {{"hits", rc.hits}, {"clients", rc.clients}, {"dropped_clients", rc.dropped_clients}};
  j["send_errors"] = totals_.send_errors;
  nlohmann::json per_thread = nlohmann::json::array();
  uint64_t accepted = 0;
  for (const auto& t : threads_) {
    const ThreadStats& s = t->stats();
    const uint64_t acc = t->counters().accepted.load(std::memory_order_relaxed);
    accepted += acc;
    per_thread.push_back({{"thread", t->index()},
                          {"accepted", acc},
                          {"live", t->counters().live.load(std::memory_order_relaxed)},
                          {"closed", s.closed},
                          {"endpoint_errors", s.ep_errors},
                          {"notifications", s.notifications},
                          {"idle_sleeps", s.idle_sleeps},
                          {"idle_wakeups", s.idle_wakeups},
                          {"preempted_spins", s.preempted_spins},
                          {"congested_sleeps", s.congested_sleeps},
                          {"requests", [&s] {
                             uint64_t n = 0;
                             for (const auto& o : s.ops) n += o.count;
                             return n;
                           }()}});
  }
  j["connections"] = {{"accepted", accepted},
                      {"rejected_while_stopping", rejected_while_stopping_},
                      {"slow_handoffs", slow_handoffs_},
                      {"rejected_inbox_full", rejected_inbox_full_},
                      {"per_thread", per_thread}};
  return j;
}

}  // namespace benchfs::server
