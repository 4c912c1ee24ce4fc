// Fuzzes the duration parser and the budget-reset alignment. The first 8 bytes (little endian) are
// "now" in unix ms, the rest the duration text. Accepted durations must be digits plus a known
// unit and survive a round trip; nextBudgetReset must land after now, within one period, on a
// whole second; addDuration must move forward.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "governance/duration.hpp"

namespace {

namespace gov = llmux::governance;

constexpr int64_t kMinCalendarMs = -62'135'596'800'000LL;  // 0001-01-01
constexpr int64_t kMaxCalendarMs = 253'402'300'799'999LL;  // 9999-12-31
constexpr int64_t kDayMs = 86'400'000;

int64_t unitMs(char unit) {
  switch (unit) {
    case 's':
      return 1000;
    case 'm':
      return 60'000;
    case 'h':
      return 3'600'000;
    case 'd':
      return kDayMs;
    case 'w':
      return 7 * kDayMs;
    default:
      return 0;
  }
}

std::string unitText(char unit) {
  return unit == 'M' ? "mo" : std::string(1, unit);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t raw = 0;
  const size_t head = size < 8 ? size : 8;
  std::memcpy(&raw, data, head);
  const auto nowAny = static_cast<int64_t>(raw);
  const std::string_view text(reinterpret_cast<const char*>(data) + head, size - head);
  // Most inputs should exercise the calendar, so fold now into years 0001..9999 as well.
  const int64_t now =
      kMinCalendarMs +
      static_cast<int64_t>(raw % static_cast<uint64_t>(kMaxCalendarMs - kMinCalendarMs));

  const auto d = gov::parseDuration(text);
  if (d) {
    LLMUX_FUZZ_CHECK(d->count > 0);
    LLMUX_FUZZ_CHECK(d->unit == 'M' || unitMs(d->unit) != 0);
    LLMUX_FUZZ_CHECK(text.find_first_not_of("0123456789") ==
                     text.size() - unitText(d->unit).size());
    const auto again = gov::parseDuration(std::to_string(d->count) + unitText(d->unit));
    LLMUX_FUZZ_CHECK(again && again->count == d->count && again->unit == d->unit);

    const int64_t expires = gov::addDuration(*d, now);
    LLMUX_FUZZ_CHECK(expires > now);
    if (d->unit != 'M') LLMUX_FUZZ_CHECK(expires - now == d->count * unitMs(d->unit));
    (void)gov::addDuration(*d, nowAny);
  }

  const int64_t next = gov::nextBudgetReset(text, now);
  LLMUX_FUZZ_CHECK(next > now);
  LLMUX_FUZZ_CHECK(next % 1000 == 0);
  int64_t bound = kDayMs;  // invalid text: the next midnight
  if (d) {
    // One period ahead at most (months: 31 days each; weeks: up to a week to the next Monday).
    bound = d->unit == 'M' ? d->count * 31 * kDayMs
                           : d->count * unitMs(d->unit) + (d->unit == 'w' ? 7 * kDayMs : 0);
    if (d->unit == 'd' && d->count == 30) bound = 31 * kDayMs;
  }
  LLMUX_FUZZ_CHECK(next - now <= bound);
  (void)gov::nextBudgetReset(text, nowAny);
  return 0;
}
