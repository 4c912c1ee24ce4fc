#include "kv/resp.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <random>
#include <string>
#include <vector>

namespace llmux::kv {
namespace {

// What hiredis itself would send for the same arguments.
std::string hiredisFormat(const std::vector<std::string_view>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  char* out = nullptr;
  const long long n =
      redisFormatCommandArgv(&out, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  EXPECT_GT(n, 0);
  std::string s(out, static_cast<size_t>(n));
  redisFreeCommand(out);
  return s;
}

TEST(Resp, FormatsLikeHiredis) {
  std::mt19937 rng(5);
  std::vector<std::string> store;
  for (int round = 0; round < 300; ++round) {
    store.clear();
    const size_t n = 1 + rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      std::string a;
      const size_t len = rng() % 5 == 0 ? rng() % 3000 : rng() % 12;  // empty ones too
      for (size_t k = 0; k < len; ++k) a.push_back(static_cast<char>(rng() % 256));
      store.push_back(std::move(a));
    }
    std::vector<std::string_view> argv(store.begin(), store.end());
    std::string mine = "prefix";
    appendResp(mine, argv);
    ASSERT_EQ(mine, "prefix" + hiredisFormat(argv)) << "round " << round;
  }
}

TEST(Resp, KnownBytes) {
  const std::vector<std::string_view> argv{"EVALSHA", "", "10"};
  std::string out;
  appendResp(out, argv);
  EXPECT_EQ(out, "*3\r\n$7\r\nEVALSHA\r\n$0\r\n\r\n$2\r\n10\r\n");
}

}  // namespace
}  // namespace llmux::kv
