#include "tokenizer/encoding.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/bpe.hpp"

namespace llmux::tokenizer {
namespace {

const Encoding& cl100k() {
  const Encoding* e = Encoding::get("cl100k_base");
  EXPECT_NE(e, nullptr);
  return *e;
}

const Encoding& o200k() {
  const Encoding* e = Encoding::get("o200k_base");
  EXPECT_NE(e, nullptr);
  return *e;
}

struct Golden {
  const char* encoding;
  std::string text;
  std::vector<uint32_t> ids;
};

// docs: tiktoken_facts.md section 6, checked against the Rust tiktoken (encode_ordinary). Non-ASCII
// bytes are octal escapes of the UTF-8.
const std::vector<Golden>& goldens() {
  static const std::vector<Golden> g{
      {"cl100k_base", "hello world", {15339, 1917}},
      {"o200k_base", "hello world", {24912, 2375}},
      {"cl100k_base", "Hello, world!", {9906, 11, 1917, 0}},
      {"o200k_base", "Hello, world!", {13225, 11, 2375, 0}},
      {"cl100k_base",
       "I'm sure they'll say it's what we've done, DON'T YOU'D?",
       {40, 2846, 2771, 814, 3358, 2019, 433, 596, 1148, 584, 3077, 2884, 11, 45373, 17773, 15334,
        28805, 30}},
      {"o200k_base",
       "I'm sure they'll say it's what we've done, DON'T YOU'D?",
       {15390, 3239, 57956, 2891, 4275, 1412, 24716, 4167, 11, 153384, 19461, 78685, 30}},
      {"cl100k_base",
       "1234567 + 89 = 1234656; 3.14159",
       {4513, 10961, 22, 489, 220, 4578, 284, 220, 4513, 19988, 21, 26, 220, 18, 13, 9335, 2946}},
      {"o200k_base",
       "1234567 + 89 = 1234656; 3.14159",
       {7633, 19354, 22, 659, 220, 7479, 314, 220, 7633, 36575, 21, 26, 220, 18, 13, 16926, 4621}},
      {"cl100k_base", "a  b   c\t\td", {64, 220, 293, 256, 272, 197, 2765}},
      {"o200k_base", "a  b   c\t\td", {64, 220, 287, 256, 274, 197, 5971}},
      {"cl100k_base", "trailing spaces   ", {376, 14612, 12908, 262}},
      {"o200k_base", "trailing spaces   ", {371, 24408, 18608, 271}},
      {"cl100k_base",
       "line1\nline2\r\n\r\n\n  indented\n",
       {1074, 16, 198, 1074, 17, 319, 81923, 220, 1280, 16243, 198}},
      {"o200k_base",
       "line1\nline2\r\n\r\n\n  indented\n",
       {1137, 16, 198, 1137, 17, 370, 46865, 220, 1383, 23537, 198}},
      {"cl100k_base", "    leading", {262, 6522}},
      {"o200k_base", "    leading", {271, 8117}},
      {"cl100k_base",
       "\346\227\245\346\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202\271\343"
       "\203\210\343\200\201\344\270\255\346\226\207\346\265\213\350\257\225\343\200\202",
       {9080, 22656, 45918, 252, 16144, 57933, 62903, 71634, 5486, 16325, 17161, 82805, 1811}},
      {"o200k_base",
       "\346\227\245\346\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202\271\343"
       "\203\210\343\200\201\344\270\255\346\226\207\346\265\213\350\257\225\343\200\202",
       {9048, 40909, 3385, 16056, 18368, 38236, 1395, 10667, 82843, 788}},
      {"cl100k_base",
       "emoji \360\237\221\213\360\237\214\215\360\237\216\211 and "
       "\360\237\221\250\342\200\215\360\237\221\251\342\200\215\360\237\221\247",
       {38623, 62904, 233, 9468, 234, 235, 9468, 236, 231,  323, 62904,
        101,   378,   235, 9468, 239, 102, 378,  235, 9468, 239, 100}},
      {"o200k_base",
       "emoji \360\237\221\213\360\237\214\215\360\237\216\211 and "
       "\360\237\221\250\342\200\215\360\237\221\251\342\200\215\360\237\221\247",
       {75339, 61138, 233, 64364, 235, 71344, 231, 326, 61138, 101, 2524, 28823, 102, 2524, 28823,
        100}},
      {"cl100k_base",
       "na\303\257ve caf\303\251 r\303\251sum\303\251 \303\234n\303\257c\303\266d\303\251 "
       "Stra\303\237e",
       {3458, 38672, 588, 53050, 9517, 1264, 978, 31612, 77, 38672, 66, 3029, 67, 978, 27745,
        24352}},
      {"o200k_base",
       "na\303\257ve caf\303\251 r\303\251sum\303\251 \303\234n\303\257c\303\266d\303\251 "
       "Stra\303\237e",
       {1503, 9954, 737, 30469, 140184, 120241, 191375, 43369, 377, 71184}},
      {"cl100k_base",
       "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n",
       {755, 16178, 1471, 997, 262, 471, 308, 422,   308,  366, 220, 17,
        775, 16178, 1471, 12,  16,  8,   489, 16178, 1471, 12,  17,  340}},
      {"o200k_base",
       "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n",
       {1314, 18795, 2406, 1883, 271, 622, 297, 538,   297,  464, 220, 17,
        1203, 18795, 2406, 12,   16,  8,   659, 18795, 2406, 12,  17,  446}},
      {"cl100k_base",
       "{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\"}]}",
       {5018, 2590,  794, 330,   70,   418, 12,  19,  78,   498,
        330,  16727, 794, 62853, 5898, 794, 330, 882, 9388, 14316}},
      {"o200k_base",
       "{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\"}]}",
       {10848, 5079,  1243, 392,    70,   555,  12,  19,   78,    672,
        392,   35427, 1243, 161269, 8716, 1243, 392, 1428, 18583, 28000}},
      {"cl100k_base",
       "CamelCaseIdentifier HTTPServer getHTTPResponseCode",
       {26479, 301, 4301, 8887, 10339, 5592, 636, 9412, 2647, 2123}},
      {"o200k_base",
       "CamelCaseIdentifier HTTPServer getHTTPResponseCode",
       {137910, 6187, 12966, 21929, 6444, 717, 17893, 3186, 2836}},
      {"cl100k_base",
       "\320\227\320\264\321\200\320\260\320\262\321\201\321\202\320\262\321\203\320\271, "
       "\320\274\320\270\321\200! \331\205\330\261\330\255\330\250\330\247 "
       "\330\250\330\247\331\204\330\271\330\247\331\204\331\205",
       {36551, 7094, 28086, 20812, 83680, 11, 11562, 78746, 0, 24252, 11318, 30925, 22071, 5821,
        28946, 32482, 24102, 32482, 10386}},
      {"o200k_base",
       "\320\227\320\264\321\200\320\260\320\262\321\201\321\202\320\262\321\203\320\271, "
       "\320\274\320\270\321\200! \331\205\330\261\330\255\330\250\330\247 "
       "\330\250\330\247\331\204\330\271\330\247\331\204\331\205",
       {7244, 65233, 2820, 36012, 11, 37934, 0, 60397, 26537, 101462, 12773}},
      {"cl100k_base", "<|endoftext|> is special", {27, 91, 8862, 728, 428, 91, 29, 374, 3361}},
      {"o200k_base", "<|endoftext|> is special", {27, 91, 419, 1440, 919, 91, 29, 382, 3582}},
      {"cl100k_base",
       "e\314\201 \314\201abc \307\205ungla \331\241\331\242\331\243\331\244 \302\275\302\262 "
       "x\302\240y",
       {68,  54939, 220, 54939, 13997, 220, 131, 227,   2234,  4355, 220,  149, 94,
        149, 95,    149, 96,    149,   97,  220, 27154, 30556, 865,  4194, 88}},
      {"o200k_base",
       "e\314\201 \314\201abc \307\205ungla \331\241\331\242\331\243\331\244 \302\275\302\262 "
       "x\302\240y",
       {68,    13430, 220,   13430, 26682, 220,   131,   227,  988,  1675, 220,
        46600, 53184, 81473, 98713, 220,   27124, 13848, 1215, 5310, 88}},
      {"cl100k_base", "path/to/file\n\n\n   \n", {2398, 33529, 24849, 1432, 5996}},
      {"o200k_base", "path/to/file\n\n\n   \n", {4189, 72231, 51766, 2499, 10190}},
      {"cl100k_base", "  \302\205", {256, 126, 227}},
      {"o200k_base", "  \302\205", {256, 126, 227}},
      {"cl100k_base", "  \357\273\277", {220, 76880}},
      {"o200k_base", "  \357\273\277", {220, 71280}},
      {"cl100k_base", "\357\273\277's", {3305, 6, 82}},
      {"o200k_base", "\357\273\277's", {5574, 6, 82}},
      {"cl100k_base", " I'\305\277", {358, 6, 129, 123}},
      {"o200k_base", " I'\305\277", {3413, 70067}},
  };
  return g;
}

TEST(EncodingTest, GoldenVectors) {
  ASSERT_EQ(goldens().size(), 44u);
  for (const Golden& g : goldens()) {
    const Encoding* e = Encoding::get(g.encoding);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->encode(g.text), g.ids) << g.encoding << ": " << g.text;
    EXPECT_EQ(e->count(g.text), g.ids.size()) << g.text;
    EXPECT_EQ(e->decode(g.ids), g.text);
  }
}

TEST(EncodingTest, CookbookExamples) {
  EXPECT_EQ(cl100k().encode("hello"), (std::vector<uint32_t>{15339}));
  EXPECT_EQ(cl100k().encode(" world"), (std::vector<uint32_t>{1917}));
  EXPECT_EQ(cl100k().encode("tiktoken is great!"),
            (std::vector<uint32_t>{83, 1609, 5963, 374, 2294, 0}));
  EXPECT_EQ(cl100k().encode("2 + 2 = 4"), (std::vector<uint32_t>{17, 489, 220, 17, 284, 220, 19}));
}

TEST(EncodingTest, LookupAndSizes) {
  EXPECT_EQ(Encoding::get("p50k_base"), nullptr);
  EXPECT_EQ(Encoding::get(""), nullptr);
  EXPECT_EQ(Encoding::get("cl100k_base"), Encoding::get("cl100k_base"));  // one instance
  EXPECT_EQ(cl100k().mergeableCount(), 100256u);
  EXPECT_EQ(o200k().mergeableCount(), 199998u);
  EXPECT_EQ(cl100k().name(), "cl100k_base");
  EXPECT_EQ(o200k().name(), "o200k_base");
}

TEST(EncodingTest, EmptyText) {
  EXPECT_TRUE(cl100k().encode("").empty());
  EXPECT_EQ(o200k().count(""), 0u);
  EXPECT_TRUE(o200k().pieces("").empty());
}

TEST(EncodingTest, WhitespacePieces) {
  using V = std::vector<std::string>;
  EXPECT_EQ(cl100k().pieces("a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(cl100k().pieces("x   "), (V{"x", "   "}));  // a trailing run stays whole
  EXPECT_EQ(cl100k().pieces("\n\n  x"), (V{"\n\n", " ", " x"}));
  EXPECT_EQ(cl100k().pieces("x  \n y"), (V{"x", "  \n", " y"}));
  EXPECT_EQ(cl100k().pieces(" 89"), (V{" ", "89"}));
  EXPECT_EQ(cl100k().pieces("1234567"), (V{"123", "456", "7"}));
  // NBSP and U+3000 are whitespace (RE2's \s is not); U+FEFF is not.
  EXPECT_EQ(cl100k().pieces("a\302\240\302\240b"), (V{"a", "\302\240", "\302\240b"}));
  EXPECT_EQ(o200k().pieces("a\343\200\200\343\200\200"), (V{"a", "\343\200\200\343\200\200"}));
  EXPECT_EQ(o200k().pieces("}\n"), (V{"}\n"}));
  EXPECT_EQ(o200k().pieces("a/b/\n"), (V{"a", "/b", "/\n"}));
}

TEST(EncodingTest, Contractions) {
  using V = std::vector<std::string>;
  EXPECT_EQ(cl100k().pieces("'sup DON'T they'll"), (V{"'s", "up", " DON", "'T", " they", "'ll"}));
  EXPECT_EQ(o200k().pieces("'sup DON'T they'll"), (V{"'sup", " DON'T", " they'll"}));
  EXPECT_EQ(o200k().pieces("CamelCase HTTPServer"), (V{"Camel", "Case", " HTTPServer"}));
}

TEST(EncodingTest, CrLf) {
  EXPECT_EQ(cl100k().pieces("a\r\nb\r\n\r\n"),
            (std::vector<std::string>{"a", "\r\n", "b", "\r\n\r\n"}));
  const std::string text = "line1\r\nline2\r\n";
  EXPECT_EQ(cl100k().decode(cl100k().encode(text)), text);
  EXPECT_EQ(o200k().decode(o200k().encode(text)), text);
}

TEST(EncodingTest, SpecialTokenTextIsOrdinary) {
  for (const Encoding* e : {&cl100k(), &o200k()}) {
    const auto ids = e->encode("<|endoftext|><|endofprompt|><|fim_prefix|>");
    EXPECT_GT(ids.size(), 3u);
    for (uint32_t id : ids) EXPECT_LT(id, e->mergeableCount());
  }
  // decode() renders special ids, and skips ids that are neither.
  const std::vector<uint32_t> ids{100257, 15339, 100276, 100261, 999999};
  EXPECT_EQ(cl100k().decode(ids), "<|endoftext|>hello<|endofprompt|>");
  EXPECT_EQ(o200k().decode(std::vector<uint32_t>{199999, 200018}), "<|endoftext|><|endofprompt|>");
}

TEST(EncodingTest, RepairUtf8) {
  std::string storage;
  EXPECT_EQ(repairUtf8("plain", storage), "plain");
  EXPECT_EQ(repairUtf8("caf\303\251", storage), "caf\303\251");
  const std::string r = "\357\277\275";  // U+FFFD
  // A lone continuation byte, a byte that never starts a sequence.
  EXPECT_EQ(repairUtf8("a\200b", storage), "a" + r + "b");
  EXPECT_EQ(repairUtf8("\300\301\365\377", storage), r + r + r + r);
  // A truncated sequence is one replacement, and the byte that broke it is read again.
  EXPECT_EQ(repairUtf8("\342\202A", storage), r + "A");
  EXPECT_EQ(repairUtf8("\360\237\230", storage), r);
  EXPECT_EQ(repairUtf8("\342\202\342\202\254", storage), r + "\342\202\254");
  // Surrogates (ED A0..BF) and overlongs (E0 80..9F, F0 80..8F) break after the lead byte.
  EXPECT_EQ(repairUtf8("\355\240\200", storage), r + r + r);
  EXPECT_EQ(repairUtf8("\340\200\257", storage), r + r + r);
  EXPECT_EQ(repairUtf8("\364\220\200\200", storage), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(repairUtf8(std::string("\0x", 2), storage), std::string("\0x", 2));
}

TEST(EncodingTest, InvalidUtf8EncodesAsRepaired) {
  const std::string bad = "caf\351 \377\376 ok\342\202";
  std::string storage;
  const std::string repaired(repairUtf8(bad, storage));
  ASSERT_NE(repaired, bad);
  for (const Encoding* e : {&cl100k(), &o200k()}) {
    EXPECT_EQ(e->encode(bad), e->encode(repaired));
    EXPECT_EQ(e->count(bad), e->encode(repaired).size());
    EXPECT_EQ(e->decode(e->encode(bad)), repaired);
  }
}

// Both merge strategies must give the same ids (the heap one is used for pieces of 128+ bytes).
TEST(EncodingTest, ScanAndHeapMergeAgree) {
  std::mt19937 rng(42);
  const std::string alphabet = "aaaabbbcde eeeeetthhhhh\303\251\342\202\254xyzQRS";
  for (int round = 0; round < 400; ++round) {
    std::string piece;
    const size_t n = 1 + rng() % 127;
    for (size_t i = 0; i < n; ++i) piece.push_back(alphabet[rng() % alphabet.size()]);
    for (const Encoding* e : {&cl100k(), &o200k()}) {
      std::vector<uint32_t> scan;
      std::vector<uint32_t> heap;
      detail::mergeByScan(e->ranks(), piece, scan);
      detail::mergeByHeap(e->ranks(), piece, heap);
      ASSERT_EQ(scan, heap) << piece;
      EXPECT_EQ(e->decode(scan), piece);
    }
  }
}

// Long single pieces take the heap merge; ids checked against the Rust tiktoken (count, sum of
// ids, first ids).
TEST(EncodingTest, LongPieceGoldens) {
  std::string t;
  for (int i = 0; i < 1000; ++i) t.push_back(static_cast<char>('a' + (i * i * 7 + 3) % 26));
  std::string u = " ";
  for (int i = 0; i < 600; ++i) {
    u.push_back(static_cast<char>('a' + (i * 31 + i * i) % 26));
    if (i % 50 == 0) u.push_back('Q');
  }
  struct Case {
    const Encoding* e;
    const std::string* text;
    size_t count;
    uint64_t sum;
    std::vector<uint32_t> first;
  };
  const std::vector<Case> cases{
      {&cl100k(), &t, 615, 3281097, {7737, 8566, 86, 85, 3251, 88}},
      {&cl100k(), &u, 337, 1977236, {264, 48, 70, 2303, 8050, 540}},
      {&o200k(), &t, 576, 8196207, {11963, 7481, 72383, 681, 88, 6229}},
      {&o200k(), &u, 289, 3947545, {261, 173709, 1107, 5781, 479, 64934}},
  };
  for (const Case& c : cases) {
    const auto ids = c.e->encode(*c.text);
    ASSERT_EQ(ids.size(), c.count) << c.e->name();
    uint64_t sum = 0;
    for (uint32_t id : ids) sum += id;
    EXPECT_EQ(sum, c.sum) << c.e->name();
    EXPECT_EQ(std::vector<uint32_t>(ids.begin(), ids.begin() + 6), c.first) << c.e->name();
  }
}

TEST(EncodingTest, LongPiecesFinishFast) {
  const auto start = std::chrono::steady_clock::now();
  const std::string as(100000, 'a');
  EXPECT_EQ(cl100k().count(as), 12500u);  // 100000 / 8: "aaaaaaaa" is one token
  std::string letters;
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) letters.push_back(static_cast<char>('a' + rng() % 26));
  const auto ids = o200k().encode(letters);
  EXPECT_EQ(o200k().decode(ids), letters);
  const std::string spaces = std::string(100000, ' ') + "x";
  EXPECT_EQ(cl100k().decode(cl100k().encode(spaces)), spaces);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 5);
}

TEST(EncodingTest, RoundTripsMixedText) {
  const std::string text =
      "def f(x):\n\treturn x**2  # \360\237\230\200 \344\270\255\346\226\207\r\n"
      "\302\240\342\200\250\302\205 1234.5e-7 DON'T ['a', \"b\"]\n\n\n";
  for (const Encoding* e : {&cl100k(), &o200k()}) {
    const auto ids = e->encode(text);
    EXPECT_EQ(e->decode(ids), text);
    EXPECT_EQ(e->count(text), ids.size());
  }
}

TEST(EncodingTest, ConcurrentUse) {
  std::vector<std::thread> threads;
  std::vector<size_t> counts(8);
  for (size_t i = 0; i < counts.size(); ++i) {
    threads.emplace_back([&counts, i] {
      const Encoding* e = Encoding::get(i % 2 ? "o200k_base" : "cl100k_base");
      counts[i] = e != nullptr ? e->count("The quick brown fox jumps over the lazy dog.") : 0;
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < counts.size(); ++i) EXPECT_EQ(counts[i], 10u) << i;
}

}  // namespace
}  // namespace llmux::tokenizer
