// Durations and budget-reset alignment (duration.hpp). All calendar math is UTC on <chrono>
// civil types; no time zone database is involved.
#include "governance/duration.hpp"

#include <chrono>
#include <limits>

namespace llmux::governance {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::milliseconds;
using std::chrono::sys_days;
using std::chrono::year_month_day;

using SysMs = std::chrono::time_point<std::chrono::system_clock, milliseconds>;

constexpr int64_t kMsPerSecond = 1000;
constexpr int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr int64_t kMsPerDay = 24 * kMsPerHour;
constexpr int64_t kMsPerWeek = 7 * kMsPerDay;

// Longest accepted duration: 10,000 years. Keeps every result inside int64 milliseconds and the
// calendar inside std::chrono::year's range.
constexpr int64_t kMaxSeconds = 10'000LL * 36'525 * 86'400 / 100;
constexpr int64_t kMaxMonths = 10'000LL * 12;

// Calendar inputs are clamped to years 0001..9999 so month arithmetic stays valid.
constexpr int64_t kMinCalendarMs = -62'135'596'800'000LL;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxCalendarMs = 253'402'300'799'999LL;  // 9999-12-31T23:59:59.999Z

int64_t unitSeconds(char unit) {
  switch (unit) {
    case 's':
      return 1;
    case 'm':
      return 60;
    case 'h':
      return 3600;
    case 'd':
      return 86'400;
    case 'w':
      return 604'800;
    default:
      return 0;
  }
}

int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

int64_t clampCalendar(int64_t ms) {
  return ms < kMinCalendarMs ? kMinCalendarMs : (ms > kMaxCalendarMs ? kMaxCalendarMs : ms);
}

// Floors `ms` to a multiple of `unit` (also for negative times).
int64_t floorTo(int64_t ms, int64_t unit) {
  int64_t q = ms / unit;
  if (ms % unit != 0 && ms < 0) --q;
  return q * unit;
}

int64_t toMs(sys_days d) {
  return std::chrono::duration_cast<milliseconds>(d.time_since_epoch()).count();
}

year_month_day civilDay(int64_t ms) {
  return year_month_day{floor<days>(SysMs{milliseconds{ms}})};
}

// 00:00 on the 1st of the month `months` after the month containing `ms`.
int64_t firstOfMonthAhead(int64_t ms, int64_t months) {
  const year_month_day ymd = civilDay(clampCalendar(ms));
  const auto first =
      year_month_day{ymd.year(), ymd.month(), std::chrono::day{1}} + std::chrono::months{months};
  return toMs(sys_days{first});
}

// 00:00 of the next Monday strictly after the day containing `ms` (a Monday gives +7 days).
int64_t nextMonday(int64_t ms) {
  const int64_t midnight = floorTo(ms, kMsPerDay);
  const unsigned iso =
      std::chrono::weekday{sys_days{days{midnight / kMsPerDay}}}.iso_encoding();  // Mon=1..Sun=7
  const int64_t ahead = (8 - static_cast<int64_t>(iso)) % 7;
  return midnight + (ahead == 0 ? 7 : ahead) * kMsPerDay;
}

// The next multiple of `step` after `ms`, counted from the start of the enclosing `span`.
int64_t nextAligned(int64_t ms, int64_t span, int64_t step) {
  const int64_t base = floorTo(ms, span);
  const int64_t steps = (ms - base) / step + 1;
  return saturatingAdd(base, steps * step);
}

}  // namespace

std::optional<Duration> parseDuration(std::string_view text) {
  size_t i = 0;
  int64_t count = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    count = count * 10 + (text[i] - '0');
    if (count > kMaxSeconds) return std::nullopt;  // also stops the accumulator overflowing
    ++i;
  }
  if (i == 0 || count == 0) return std::nullopt;
  const std::string_view unit = text.substr(i);
  if (unit == "mo") {
    if (count > kMaxMonths) return std::nullopt;
    return Duration{count, 'M'};
  }
  if (unit.size() != 1) return std::nullopt;
  const int64_t secs = unitSeconds(unit[0]);
  if (secs == 0 || count > kMaxSeconds / secs) return std::nullopt;
  return Duration{count, unit[0]};
}

int64_t addDuration(const Duration& d, int64_t nowMs) {
  if (d.unit != 'M') return saturatingAdd(nowMs, d.count * unitSeconds(d.unit) * kMsPerSecond);
  const int64_t now = clampCalendar(nowMs);
  const int64_t midnight = floorTo(now, kMsPerDay);
  const year_month_day ymd = civilDay(now);
  year_month_day target = ymd + std::chrono::months{d.count};
  if (!target.ok()) {
    // Only the day can be out of range (Jan 31 + 1mo): clamp to the month's last day.
    target = year_month_day{std::chrono::year_month_day_last{
        target.year(), std::chrono::month_day_last{target.month()}}};
  }
  return toMs(sys_days{target}) + (now - midnight);
}

int64_t nextBudgetReset(std::string_view budgetDuration, int64_t nowMs) {
  const int64_t now = clampCalendar(nowMs);
  const int64_t midnight = floorTo(now, kMsPerDay);
  const std::optional<Duration> d = parseDuration(budgetDuration);
  if (!d) return midnight + kMsPerDay;
  const int64_t n = d->count;
  switch (d->unit) {
    case 's':
      return nextAligned(now, kMsPerMinute, n * kMsPerSecond);
    case 'm':
      return nextAligned(now, kMsPerHour, n * kMsPerMinute);
    case 'h':
      return nextAligned(now, kMsPerDay, n * kMsPerHour);
    case 'd':
      if (n == 1) return midnight + kMsPerDay;
      if (n == 7) return nextMonday(now);
      if (n == 30) return firstOfMonthAhead(now, 1);
      return saturatingAdd(midnight, n * kMsPerDay);
    case 'w':
      return saturatingAdd(nextMonday(now), (n - 1) * kMsPerWeek);
    case 'M':
      return firstOfMonthAhead(now, n);
    default:
      return midnight + kMsPerDay;
  }
}

}  // namespace llmux::governance
