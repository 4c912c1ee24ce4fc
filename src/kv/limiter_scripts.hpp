#pragma once
// The Lua scripts behind kv::RedisLimiter. Key layout, per descriptor id D, with the Redis Cluster
// hash tag {<prefix>:D} so all keys of one descriptor share a slot:
//
//   {llmux:D}:win hash  rs, rn = requests window start (ms) and requests counted in it;
//                       ts, tn = tokens window start (ms) and tokens counted in it.
//                 Windows are 60 s, anchored at the first request they count; the key expires
//                 120 s after the latest window start (every live window has ended by then).
//   {llmux:D}:in  hash  in-flight state per limiter instance I (one per I/O thread per process):
//                 I:p parallel slots held, I:r budget reserved (nano-USD), I:e lease end (ms),
//                 I:q last settle batch applied (exactly-once true-ups). Expires after a day idle.
//   {llmux:D}:bg  hash  p = budget period (budget_reset_at, ms), s = spend (nano-USD). Expires
//                 after a day idle; a missing counter is seeded from the database's spend.
//
// Leak protection: an instance's slots and reservations count only while its lease (I:e) is in
// the future. A live instance keeps renewing it (on admit, on settle flush, and every lease/3 for
// descriptors where it holds anything); a dead one stops, and the next admit on that descriptor
// drops its I:p and I:r. I:e and I:q of a dead instance are dropped an hour after the lease ended.
//
// Admit (one EVALSHA per batch of requests: those a limiter's thread queued in one turn of its
// loop): KEYS = 3 per descriptor of the batch (win, in, bg); ARGV = instance, lease_ms, m
// (requests), u (descriptors), then per descriptor rpm, tpm, parallel, max_budget_nano (-1 =
// unset), db_spend_nano, budget_period, then per request now_ms (0: server TIME, read once per
// batch), tokens, cost_nano, reserve (1/0), n, and the 1-based indexes of its n descriptors.
// Requests run in order, each as if alone: it checks every descriptor first and only then takes
// from all of them; each key is read once and written once per batch. Returns, per request, the
// length of its answer followed by the answer:
//   {1, now, rem_requests, rem_tokens, rem_parallel, rem_budget, ...4 per descriptor (-1 unset)}
//   {0, descriptor_index, kind (0 requests, 1 tokens, 2 parallel, 3 budget), limit, current,
//    retry_after_s, window_reset_ms}
//
// Settle (one EVALSHA per flush, many settles aggregated): KEYS = 3 per entry (win, in, bg); ARGV =
// now_ms, instance, lease_ms, seq, n, then per entry: has_tpm, tok_add, tok_release, has_budget,
// spend_add, budget_period, db_spend_nano, abs_slots, abs_reserved (-1 = leave as is).
// Relative parts (tokens, spend) apply once per (descriptor, instance, seq): a batch re-sent after
// a lost reply is skipped where it was already applied. Absolute parts (this instance's slots and
// reservation) are idempotent by nature.
#include <string_view>

namespace llmux::kv {

extern const std::string_view kAdmitScript;
extern const std::string_view kSettleScript;

}  // namespace llmux::kv
