#pragma once
// LiteLLM's durations: key expiry (`duration`) and budget periods (`budget_duration`).
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmux::governance {

struct Duration {
  int64_t count = 0;
  char unit = 's';  // 's', 'm' (minutes), 'h', 'd', 'w', 'M' (months, written "mo")
};

// "30s", "5m", "2h", "1d", "1w", "1mo", "3mo": digits then a unit, nothing else (case-sensitive,
// no spaces). nullopt for anything else: bare numbers, "", a zero count (an already-expired key, a
// budget resetting continuously), negative counts, more than 10,000 years, unknown units or
// trailing text. Callers treat null/""/"none"/"null"/"-1" as unset before calling.
std::optional<Duration> parseDuration(std::string_view text);

// Expiry: now + exact duration; months land on the same day of the month N months later, clamped
// to the month's length (Jan 31 + 1mo = Feb 28/29), at the same time of day. UTC. Saturates at
// the int64 range; month arithmetic clamps nowMs to the years 0001..9999.
int64_t addDuration(const Duration& d, int64_t nowMs);

// The next budget reset after nowMs, aligned like LiteLLM (UTC): "Ns" / "Nm" / "Nh" -> the next
// multiple of N seconds / minutes / hours counted from the minute / hour / day start; "1d" -> next
// midnight; "7d" / "1w" -> next Monday 00:00; "30d" / "1mo" -> the 1st of next month; other "Nd" ->
// today's midnight + N days; "Nmo" -> the 1st of the month N months ahead; "Nw" -> next Monday +
// (N-1) weeks. An unparsable value gives the next midnight. The result is > nowMs (a time exactly
// on a boundary gets the following one; nowMs is clamped to the years 0001..9999). The multiples
// continue past the span: "7m" at 12:58 -> 13:03, "5h" at 22:30 -> 01:00 next day (LiteLLM's rule;
// for N >= 48 h LiteLLM wraps the hour modulo 24, llmux does not). LiteLLM differs on "Nw" with N >
// 1 (midnight + 7N days) and rejects "Nmo" with N > 1.
int64_t nextBudgetReset(std::string_view budgetDuration, int64_t nowMs);

}  // namespace llmux::governance
