#include "governance/duration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

namespace llmux::governance {
namespace {

// Unix ms of a UTC civil time.
int64_t utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  using namespace std::chrono;
  const sys_days day{year{y} / month{mo} / std::chrono::day{d}};
  return duration_cast<milliseconds>(day.time_since_epoch()).count() +
         ((h * 60LL + mi) * 60 + s) * 1000 + ms;
}

void expectParsed(std::string_view text, int64_t count, char unit) {
  const auto d = parseDuration(text);
  ASSERT_TRUE(d.has_value()) << text;
  EXPECT_EQ(d->count, count) << text;
  EXPECT_EQ(d->unit, unit) << text;
}

TEST(ParseDuration, AcceptsEveryUnit) {
  expectParsed("30s", 30, 's');
  expectParsed("5m", 5, 'm');
  expectParsed("2h", 2, 'h');
  expectParsed("1d", 1, 'd');
  expectParsed("1w", 1, 'w');
  expectParsed("1mo", 1, 'M');
  expectParsed("3mo", 3, 'M');
  expectParsed("007d", 7, 'd');
}

TEST(ParseDuration, RejectsEverythingElse) {
  for (std::string_view bad :
       {"",   "30",   "s",    "mo", "-1d", "+1d", "1.5h", "1 d", " 1d",  "1d ", "1D",   "1M",
        "1H", "1mo ", "1mon", "1y", "1ms", "1dd", "0s",   "0mo", "000d", "d1",  "none", "1\0d"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parseDuration(std::string_view("1d\0", 3)).has_value());
}

TEST(ParseDuration, RejectsOverflowingCounts) {
  EXPECT_FALSE(parseDuration("99999999999999999999999999d").has_value());
  EXPECT_FALSE(parseDuration("9223372036854775808s").has_value());
  // 10,000 years is the ceiling, per unit.
  EXPECT_TRUE(parseDuration("315576000000s").has_value());
  EXPECT_FALSE(parseDuration("315576000001s").has_value());
  EXPECT_TRUE(parseDuration("3652500d").has_value());
  EXPECT_FALSE(parseDuration("3652501d").has_value());
  EXPECT_TRUE(parseDuration("120000mo").has_value());
  EXPECT_FALSE(parseDuration("120001mo").has_value());
}

TEST(AddDuration, ExactUnits) {
  const int64_t now = utc(2024, 3, 10, 1, 2, 3, 456);
  EXPECT_EQ(addDuration({30, 's'}, now), now + 30'000);
  EXPECT_EQ(addDuration({5, 'm'}, now), now + 300'000);
  EXPECT_EQ(addDuration({2, 'h'}, now), now + 7'200'000);
  EXPECT_EQ(addDuration({3, 'd'}, now), now + 3 * 86'400'000LL);
  EXPECT_EQ(addDuration({2, 'w'}, now), now + 14 * 86'400'000LL);
}

TEST(AddDuration, MonthsClampToMonthEndAndKeepTimeOfDay) {
  EXPECT_EQ(addDuration({1, 'M'}, utc(2023, 1, 31, 12, 34, 56, 789)),
            utc(2023, 2, 28, 12, 34, 56, 789));
  EXPECT_EQ(addDuration({1, 'M'}, utc(2024, 1, 31, 12, 34, 56)), utc(2024, 2, 29, 12, 34, 56));
  EXPECT_EQ(addDuration({1, 'M'}, utc(2024, 3, 31)), utc(2024, 4, 30));
  EXPECT_EQ(addDuration({1, 'M'}, utc(2024, 12, 15, 23, 59, 59)), utc(2025, 1, 15, 23, 59, 59));
  EXPECT_EQ(addDuration({6, 'M'}, utc(2023, 8, 31)), utc(2024, 2, 29));
  EXPECT_EQ(addDuration({12, 'M'}, utc(2024, 2, 29)), utc(2025, 2, 28));
  EXPECT_EQ(addDuration({48, 'M'}, utc(2024, 2, 29, 6)), utc(2028, 2, 29, 6));
  EXPECT_EQ(addDuration({1, 'M'}, utc(2100, 1, 29)), utc(2100, 2, 28));  // 2100: not leap
  EXPECT_EQ(addDuration({1, 'M'}, utc(2000, 1, 30)), utc(2000, 2, 29));  // 2000: leap
  EXPECT_EQ(addDuration({13, 'M'}, utc(2024, 1, 15)), utc(2025, 2, 15));
}

TEST(AddDuration, BeforeTheEpochAndSaturation) {
  EXPECT_EQ(addDuration({1, 'M'}, utc(1969, 12, 31, 23, 0)), utc(1970, 1, 31, 23, 0));
  EXPECT_EQ(addDuration({1, 'M'}, utc(1969, 1, 31, 0, 0, 0, 1)), utc(1969, 2, 28, 0, 0, 0, 1));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(addDuration({1, 'd'}, kMax - 10), kMax);
  // Month arithmetic clamps to year 9999 instead of overflowing the calendar.
  EXPECT_GT(addDuration({1, 'M'}, kMax), utc(9999, 12, 31));
}

TEST(NextBudgetReset, SecondsAlignWithinTheMinute) {
  EXPECT_EQ(nextBudgetReset("30s", utc(2024, 5, 1, 12, 0, 44, 500)), utc(2024, 5, 1, 12, 1, 0));
  EXPECT_EQ(nextBudgetReset("30s", utc(2024, 5, 1, 12, 0, 0)), utc(2024, 5, 1, 12, 0, 30));
  EXPECT_EQ(nextBudgetReset("30s", utc(2024, 5, 1, 12, 0, 29, 999)), utc(2024, 5, 1, 12, 0, 30));
  // Multiples continue past the minute.
  EXPECT_EQ(nextBudgetReset("7s", utc(2024, 5, 1, 12, 0, 58)), utc(2024, 5, 1, 12, 1, 3));
  EXPECT_EQ(nextBudgetReset("1s", utc(2024, 5, 1, 23, 59, 59, 1)), utc(2024, 5, 2));
}

TEST(NextBudgetReset, MinutesAlignWithinTheHour) {
  EXPECT_EQ(nextBudgetReset("15m", utc(2024, 5, 1, 10, 7)), utc(2024, 5, 1, 10, 15));
  EXPECT_EQ(nextBudgetReset("15m", utc(2024, 5, 1, 10, 45)), utc(2024, 5, 1, 11, 0));
  EXPECT_EQ(nextBudgetReset("7m", utc(2024, 5, 1, 12, 58)), utc(2024, 5, 1, 13, 3));
  EXPECT_EQ(nextBudgetReset("1m", utc(2024, 12, 31, 23, 59, 30)), utc(2025, 1, 1));
}

TEST(NextBudgetReset, HoursAlignFromMidnight) {
  EXPECT_EQ(nextBudgetReset("1h", utc(2024, 5, 1, 10, 30)), utc(2024, 5, 1, 11));
  EXPECT_EQ(nextBudgetReset("6h", utc(2024, 5, 1, 5, 59, 59)), utc(2024, 5, 1, 6));
  EXPECT_EQ(nextBudgetReset("6h", utc(2024, 5, 1, 6)), utc(2024, 5, 1, 12));
  EXPECT_EQ(nextBudgetReset("6h", utc(2024, 5, 1, 23, 59)), utc(2024, 5, 2));
  EXPECT_EQ(nextBudgetReset("5h", utc(2024, 5, 1, 22, 30)), utc(2024, 5, 2, 1));
  EXPECT_EQ(nextBudgetReset("24h", utc(2024, 5, 1, 10)), utc(2024, 5, 2));
  EXPECT_EQ(nextBudgetReset("48h", utc(2024, 5, 1, 10)), utc(2024, 5, 3));
}

TEST(NextBudgetReset, Days) {
  EXPECT_EQ(nextBudgetReset("1d", utc(2024, 5, 1, 10)), utc(2024, 5, 2));
  EXPECT_EQ(nextBudgetReset("1d", utc(2024, 5, 1)), utc(2024, 5, 2));  // exactly midnight
  EXPECT_EQ(nextBudgetReset("1d", utc(2024, 2, 28, 23)), utc(2024, 2, 29));
  EXPECT_EQ(nextBudgetReset("10d", utc(2024, 5, 25, 10)), utc(2024, 6, 4));
  EXPECT_EQ(nextBudgetReset("2d", utc(2024, 12, 31, 10)), utc(2025, 1, 2));
}

TEST(NextBudgetReset, WeeksAlignToMonday) {
  // 2024-07-01 and 2024-07-08 are Mondays.
  EXPECT_EQ(nextBudgetReset("7d", utc(2024, 7, 3, 15)), utc(2024, 7, 8));      // Wednesday
  EXPECT_EQ(nextBudgetReset("7d", utc(2024, 7, 1)), utc(2024, 7, 8));          // Monday 00:00
  EXPECT_EQ(nextBudgetReset("7d", utc(2024, 7, 1, 23)), utc(2024, 7, 8));      // Monday evening
  EXPECT_EQ(nextBudgetReset("1w", utc(2024, 7, 7, 23, 59)), utc(2024, 7, 8));  // Sunday
  EXPECT_EQ(nextBudgetReset("1w", utc(2024, 6, 30)), utc(2024, 7, 1));
  EXPECT_EQ(nextBudgetReset("2w", utc(2024, 7, 3)), utc(2024, 7, 15));
  EXPECT_EQ(nextBudgetReset("1w", utc(2024, 12, 31)), utc(2025, 1, 6));  // across the year
  EXPECT_EQ(nextBudgetReset("1w", utc(1970, 1, 1)), utc(1970, 1, 5));    // a Thursday
  EXPECT_EQ(nextBudgetReset("1w", utc(1969, 12, 31, 12)), utc(1970, 1, 5));
}

TEST(NextBudgetReset, MonthsAlignToTheFirst) {
  EXPECT_EQ(nextBudgetReset("30d", utc(2024, 5, 15, 10)), utc(2024, 6, 1));
  EXPECT_EQ(nextBudgetReset("1mo", utc(2024, 12, 15)), utc(2025, 1, 1));
  EXPECT_EQ(nextBudgetReset("1mo", utc(2024, 1, 31, 23, 59)), utc(2024, 2, 1));
  EXPECT_EQ(nextBudgetReset("1mo", utc(2024, 2, 29, 12)), utc(2024, 3, 1));
  EXPECT_EQ(nextBudgetReset("1mo", utc(2024, 3, 1)), utc(2024, 4, 1));  // on the 1st
  EXPECT_EQ(nextBudgetReset("3mo", utc(2024, 11, 20)), utc(2025, 2, 1));
  EXPECT_EQ(nextBudgetReset("12mo", utc(2024, 1, 1)), utc(2025, 1, 1));
}

TEST(NextBudgetReset, InvalidGivesNextMidnight) {
  for (std::string_view bad : {"", "abc", "0d", "30", "1y", "-1d"}) {
    EXPECT_EQ(nextBudgetReset(bad, utc(2024, 5, 1, 10)), utc(2024, 5, 2)) << bad;
  }
}

TEST(NextBudgetReset, AlwaysAfterNow) {
  const char* durations[] = {"1s", "7s", "45s", "1m",  "13m", "90m", "1h",  "5h", "30h",
                             "1d", "3d", "7d",  "30d", "1w",  "3w",  "1mo", "5mo"};
  for (int64_t now = utc(2023, 12, 25); now < utc(2024, 3, 10); now += 3'601'337) {
    for (const char* d : durations) {
      const int64_t next = nextBudgetReset(d, now);
      EXPECT_GT(next, now) << d << " " << now;
      EXPECT_LE(next, now + 160LL * 86'400'000) << d << " " << now;
      EXPECT_EQ(next % 1000, 0) << d;  // resets fall on whole seconds
    }
  }
}

}  // namespace
}  // namespace llmux::governance
