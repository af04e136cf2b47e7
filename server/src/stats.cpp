#include "stats.hpp"

namespace benchfs::server {

void ThreadStats::merge(const ThreadStats& o) {
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i].count += o.ops[i].count;
    ops[i].errors += o.ops[i].errors;
    ops[i].bytes_in += o.ops[i].bytes_in;
    ops[i].bytes_out += o.ops[i].bytes_out;
    ops[i].latency_ticks.merge(o.ops[i].latency_ticks);
  }
  decode_errors += o.decode_errors;
  unauthorized += o.unauthorized;
  auth_failures += o.auth_failures;
  no_reply_ep += o.no_reply_ep;
  after_close += o.after_close;
  once_repeats += o.once_repeats;
  dropped_replies += o.dropped_replies;
  ep_errors += o.ep_errors;
  closed += o.closed;
  notifications += o.notifications;
  send_errors += o.send_errors;
  rejected_handoffs += o.rejected_handoffs;
  idle_sleeps += o.idle_sleeps;
  idle_wakeups += o.idle_wakeups;
  reply_ep_requests += o.reply_ep_requests;
  writes_rndv += o.writes_rndv;
  writes_eager += o.writes_eager;
  bytes_copied += o.bytes_copied;
  reads_zero_copy += o.reads_zero_copy;
  preempted_spins += o.preempted_spins;
  congested_sleeps += o.congested_sleeps;
  yields += o.yields;
}

nlohmann::json ops_json(const ThreadStats& s, double ticks_per_ns) {
  nlohmann::json ops = nlohmann::json::object();
  for (unsigned i = 1; i < s.ops.size(); ++i) {
    const OpStats& o = s.ops[i];
    if (o.count == 0) continue;
    const auto& h = o.latency_ticks;
    auto us = [ticks_per_ns](uint64_t t) { return static_cast<double>(t) / ticks_per_ns / 1000.0; };
    ops[std::string(wire::op_name(static_cast<wire::Op>(i)))] = {
        {"count", o.count},
        {"errors", o.errors},
        {"bytes_in", o.bytes_in},
        {"bytes_out", o.bytes_out},
        {"latency_us",
         {{"min", us(h.min())},
          {"p50", us(h.quantile(0.50))},
          {"p90", us(h.quantile(0.90))},
          {"p99", us(h.quantile(0.99))},
          {"p999", us(h.quantile(0.999))},
          {"max", us(h.max())},
          {"mean", h.mean() / ticks_per_ns / 1000.0}}},
    };
  }
  return ops;
}

}  // namespace benchfs::server
