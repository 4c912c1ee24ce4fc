#include "store/spool.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace llmux::store {
namespace {

namespace fs = std::filesystem;

SpendRow makeRow(int i) {
  SpendRow r;
  r.requestId = "req-" + std::to_string(i);
  r.callType = "chat_completion";
  r.apiKey = std::string(64, 'a');
  r.model = "gpt-4o";
  r.promptTokens = i;
  r.completionTokens = 2 * i;
  r.spend = 0.001 * i;
  r.status = 200;
  r.startTime = 1700000000000 + i;
  r.endTime = r.startTime + 5;
  r.metadata = R"({"i":)" + std::to_string(i) + "}";
  return r;
}

std::vector<std::string> ids(const std::vector<SpendRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.requestId);
  return out;
}

std::vector<std::string> range(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("req-" + std::to_string(i));
  return out;
}

std::vector<SpendRow> rows(int from, int to) {
  std::vector<SpendRow> out;
  for (int i = from; i < to; ++i) out.push_back(makeRow(i));
  return out;
}

// Reads and consumes everything, `batch` rows at a time.
std::vector<std::string> drain(Spool& s, size_t batch) {
  std::vector<std::string> out;
  std::vector<SpendRow> buf;
  for (int guard = 0; guard < 100000 && !s.empty(); ++guard) {
    s.peek(batch, buf);
    for (auto& r : buf) out.push_back(r.requestId);
    s.consume();
  }
  return out;
}

std::vector<fs::path> segmentFiles(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmux-spool-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  SpoolOptions opts(uint64_t maxBytes = 1 << 20, uint64_t segmentBytes = 4096) {
    SpoolOptions o;
    o.dir = dir_.string();
    o.maxBytes = maxBytes;
    o.segmentBytes = segmentBytes;
    o.fsync = false;
    return o;
  }
  fs::path dir_;
};

TEST(SpendRowCodec, RoundTripsEveryField) {
  SpendRow r = makeRow(7);
  r.keyAlias = "alias";
  r.teamId = "team";
  r.userId = "user";
  r.endUser = "end";
  r.modelGroup = "group";
  r.deployment = "dep";
  r.provider = "openai";
  r.apiBase = "https://x";
  r.cachedTokens = 3;
  r.cacheWriteTokens = 4;
  r.reasoningTokens = 5;
  r.tokensEstimated = true;
  r.spend = -1.25e-9;
  r.status = -1;
  r.errorType = "rate_limit";
  r.completionStartTime = -42;
  r.cacheHit = true;
  r.tags = R"(["a","\u00e9"])";
  r.metadata = std::string("bin\0ary\xff", 8);
  std::string enc;
  encodeSpendRow(r, enc);
  SpendRow d;
  ASSERT_TRUE(decodeSpendRow(enc, d));
  EXPECT_EQ(d.requestId, r.requestId);
  EXPECT_EQ(d.apiBase, r.apiBase);
  EXPECT_EQ(d.provider, r.provider);
  EXPECT_EQ(d.reasoningTokens, 5);
  EXPECT_EQ(d.cacheWriteTokens, 4);
  EXPECT_TRUE(d.tokensEstimated);
  EXPECT_TRUE(d.cacheHit);
  EXPECT_EQ(d.spend, r.spend);
  EXPECT_EQ(d.status, -1);
  EXPECT_EQ(d.errorType, "rate_limit");
  EXPECT_EQ(d.completionStartTime, std::optional<int64_t>(-42));
  EXPECT_EQ(d.tags, r.tags);
  EXPECT_EQ(d.metadata, r.metadata);

  SpendRow plain = makeRow(1);
  enc.clear();
  encodeSpendRow(plain, enc);
  d.completionStartTime = 9;
  ASSERT_TRUE(decodeSpendRow(enc, d));
  EXPECT_FALSE(d.completionStartTime.has_value());
  EXPECT_FALSE(d.cacheHit);
}

TEST(SpendRowCodec, RejectsTruncatedTrailingAndUnknownInput) {
  std::string enc;
  encodeSpendRow(makeRow(3), enc);
  SpendRow d;
  for (size_t n = 0; n < enc.size(); ++n) {
    EXPECT_FALSE(decodeSpendRow(std::string_view(enc).substr(0, n), d)) << n;
  }
  EXPECT_FALSE(decodeSpendRow(enc + "x", d));
  std::string badVersion = enc;
  badVersion[0] = 2;
  EXPECT_FALSE(decodeSpendRow(badVersion, d));
  // A string length pointing far past the end.
  std::string hugeLen = enc;
  hugeLen[1] = hugeLen[2] = hugeLen[3] = hugeLen[4] = '\xff';
  EXPECT_FALSE(decodeSpendRow(hugeLen, d));
}

TEST_F(SpoolTest, KeepsOrderAcrossSegmentsAndDeletesConsumedFiles) {
  Spool s(opts(1 << 20, 2048));
  std::string err;
  ASSERT_TRUE(s.open(err)) << err;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.append(rows(0, 30), err), 30u);
  EXPECT_EQ(s.append(rows(30, 60), err), 30u);
  EXPECT_EQ(s.rows(), 60u);
  EXPECT_GT(segmentFiles(dir_.string()).size(), 3u);  // small segments roll

  std::vector<SpendRow> buf;
  s.peek(25, buf);
  EXPECT_EQ(ids(buf), range(0, 25));
  s.peek(25, buf);  // peeking again without consume gives the same rows
  EXPECT_EQ(ids(buf), range(0, 25));
  s.consume();
  EXPECT_EQ(s.rows(), 35u);
  EXPECT_EQ(drain(s, 7), range(25, 60));
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.bytes(), 0u);
  EXPECT_TRUE(segmentFiles(dir_.string()).empty());
  // Usable again after emptying.
  EXPECT_EQ(s.append(rows(60, 62), err), 2u);
  EXPECT_EQ(drain(s, 10), range(60, 62));
}

TEST_F(SpoolTest, AppendsWhileReadingInterleaved) {
  Spool s(opts(1 << 20, 1500));
  std::string err;
  ASSERT_TRUE(s.open(err));
  std::vector<std::string> got;
  std::vector<SpendRow> buf;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(s.append(rows(i * 5, i * 5 + 5), err), 5u);
    s.peek(3, buf);
    for (auto& r : buf) got.push_back(r.requestId);
    s.consume();
  }
  auto rest = drain(s, 4);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, range(0, 100));
}

TEST_F(SpoolTest, SurvivesRestartAndRemembersConsumedPrefix) {
  std::string err;
  {
    auto o = opts(1 << 20, 3000);
    o.fsync = true;  // the production setting
    Spool s(o);
    ASSERT_TRUE(s.open(err));
    ASSERT_EQ(s.append(rows(0, 40), err), 40u);
    std::vector<SpendRow> buf;
    s.peek(13, buf);
    s.consume();     // 0..12 written
    s.peek(5, buf);  // peeked but not consumed: must come back
  }
  Spool again(opts(1 << 20, 3000));
  ASSERT_TRUE(again.open(err)) << err;
  EXPECT_EQ(again.rows(), 27u);
  EXPECT_EQ(drain(again, 9), range(13, 40));
}

TEST_F(SpoolTest, TornLastRecordIsIgnoredAndNewAppendsStillReadable) {
  std::string err;
  {
    Spool s(opts());
    ASSERT_TRUE(s.open(err));
    ASSERT_EQ(s.append(rows(0, 5), err), 5u);
  }
  auto segs = segmentFiles(dir_.string());
  ASSERT_EQ(segs.size(), 1u);
  fs::resize_file(segs[0], fs::file_size(segs[0]) - 3);  // crash mid-record
  Spool s(opts());
  ASSERT_TRUE(s.open(err));
  EXPECT_EQ(s.rows(), 4u);
  ASSERT_EQ(s.append(rows(5, 8), err), 3u);
  auto got = drain(s, 2);
  EXPECT_EQ(got, (std::vector<std::string>{"req-0", "req-1", "req-2", "req-3", "req-5", "req-6",
                                           "req-7"}));
}

TEST_F(SpoolTest, TornHeaderOnlyAndEmptySegmentsAreHarmless) {
  std::string err;
  {
    Spool s(opts());
    ASSERT_TRUE(s.open(err));
    ASSERT_EQ(s.append(rows(0, 2), err), 2u);
  }
  auto segs = segmentFiles(dir_.string());
  ASSERT_EQ(segs.size(), 1u);
  {
    std::ofstream f(segs[0], std::ios::app | std::ios::binary);
    f.write("\x10\x00", 2);  // half a record header
  }
  std::ofstream(dir_ / "spool-0000000000000099.seg", std::ios::binary) << "LXSPOOL1";
  Spool s(opts());
  ASSERT_TRUE(s.open(err));
  EXPECT_EQ(s.rows(), 2u);
  EXPECT_EQ(drain(s, 10), range(0, 2));
}

TEST_F(SpoolTest, SkipsRecordWithBadChecksumAndForeignFiles) {
  std::string err;
  {
    Spool s(opts());
    ASSERT_TRUE(s.open(err));
    ASSERT_EQ(s.append(rows(0, 3), err), 3u);
  }
  auto segs = segmentFiles(dir_.string());
  ASSERT_EQ(segs.size(), 1u);
  {
    // Flip a byte inside the first record's payload (after magic 8 + header 8 + a few bytes).
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8 + 8 + 10);
    f.put('Z');
  }
  std::ofstream(dir_ / "spool-0000000000000000.seg", std::ios::binary) << "not a spool";
  std::ofstream(dir_ / "notes.txt") << "ignored";
  Spool s(opts());
  ASSERT_TRUE(s.open(err));
  EXPECT_EQ(s.rows(), 2u);
  EXPECT_EQ(s.corrupt(), 2u);  // the bad record and the foreign segment
  EXPECT_EQ(drain(s, 10), range(1, 3));
  EXPECT_TRUE(fs::exists(dir_ / "notes.txt"));
}

TEST_F(SpoolTest, SizeCapStoresAPrefix) {
  std::string err;
  Spool s(opts(4096, 1024));
  ASSERT_TRUE(s.open(err));
  const size_t stored = s.append(rows(0, 100), err);
  EXPECT_GT(stored, 5u);
  EXPECT_LT(stored, 100u);
  EXPECT_LE(s.bytes(), 4096u);
  EXPECT_EQ(s.append(rows(100, 101), err), 0u);  // still full
  EXPECT_EQ(drain(s, 3), range(0, static_cast<int>(stored)));
  EXPECT_EQ(s.append(rows(0, 3), err), 3u);  // room again once drained
}

TEST_F(SpoolTest, InMemoryModeKeepsOrderAndBound) {
  SpoolOptions o;
  o.maxBytes = 3000;
  Spool s(o);
  std::string err;
  ASSERT_TRUE(s.open(err));
  EXPECT_FALSE(s.onDisk());
  const size_t stored = s.append(rows(0, 100), err);
  EXPECT_GT(stored, 3u);
  EXPECT_LT(stored, 100u);
  EXPECT_LE(s.bytes(), 3000u);
  EXPECT_EQ(drain(s, 4), range(0, static_cast<int>(stored)));
  EXPECT_EQ(s.bytes(), 0u);
}

TEST_F(SpoolTest, UnusableDirectoryFailsToOpen) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  SpoolOptions o = opts();
  o.dir = (dir_ / "file").string();
  Spool s(o);
  std::string err;
  EXPECT_FALSE(s.open(err));
  EXPECT_NE(err.find("spool directory"), std::string::npos);
}

TEST_F(SpoolTest, ClearDropsEverything) {
  std::string err;
  Spool s(opts());
  ASSERT_TRUE(s.open(err));
  ASSERT_EQ(s.append(rows(0, 4), err), 4u);
  EXPECT_EQ(s.clear(), 4u);
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(segmentFiles(dir_.string()).empty());
}

}  // namespace
}  // namespace llmux::store
