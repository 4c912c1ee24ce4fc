#include "common/text.hpp"

#include <gtest/gtest.h>

namespace llmux {
namespace {

TEST(Utf8Prefix, NeverEndsInsideASequence) {
  const std::string s =
      "ab\xC3\xA9"
      "cd\xE2\x9C\x93";  // "abécd✓"
  EXPECT_EQ(utf8Prefix(s, 100), s);
  EXPECT_EQ(utf8Prefix(s, 3), "ab");  // would split é
  EXPECT_EQ(utf8Prefix(s, 4), "ab\xC3\xA9");
  EXPECT_EQ(utf8Prefix(s, 7),
            "ab\xC3\xA9"
            "cd");  // would split ✓
  EXPECT_EQ(utf8Prefix(s, 0), "");
}

}  // namespace
}  // namespace llmux
