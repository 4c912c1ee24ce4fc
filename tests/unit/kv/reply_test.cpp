#include "kv/reply.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace llmux::kv {
namespace {

redisReply make(int type) {
  redisReply r;
  std::memset(&r, 0, sizeof(r));
  r.type = type;
  return r;
}

TEST(Reply, ScalarsAreCopied) {
  char bin[] = {'a', '\0', 'b'};
  auto s = make(REDIS_REPLY_STRING);
  s.str = bin;
  s.len = sizeof(bin);
  Reply r = replyFromHiredis(&s);
  EXPECT_EQ(r.type, Reply::Type::String);
  EXPECT_EQ(r.str, std::string("a\0b", 3));
  bin[0] = 'z';  // an owned copy, not a view into hiredis' buffer
  EXPECT_EQ(r.str[0], 'a');

  auto i = make(REDIS_REPLY_INTEGER);
  i.integer = -9007199254740993LL;
  EXPECT_EQ(replyFromHiredis(&i).integer, -9007199254740993LL);
  EXPECT_EQ(replyFromHiredis(&i).type, Reply::Type::Integer);

  char ok[] = "OK";
  auto st = make(REDIS_REPLY_STATUS);
  st.str = ok;
  st.len = 2;
  EXPECT_EQ(replyFromHiredis(&st).debugString(), "+OK");
  EXPECT_TRUE(replyFromHiredis(&st).ok());

  auto nil = make(REDIS_REPLY_NIL);
  EXPECT_TRUE(replyFromHiredis(&nil).isNil());
  EXPECT_TRUE(replyFromHiredis(&nil).ok());

  auto unknown = make(99);
  EXPECT_TRUE(replyFromHiredis(&unknown).isNil());

  Reply none = replyFromHiredis(nullptr);
  EXPECT_TRUE(none.failed());
  EXPECT_FALSE(none.ok());
}

TEST(Reply, ErrorsAndCodes) {
  char text[] = "NOSCRIPT No matching script. Please use EVAL.";
  auto e = make(REDIS_REPLY_ERROR);
  e.str = text;
  e.len = std::strlen(text);
  Reply r = replyFromHiredis(&e);
  EXPECT_TRUE(r.isError());
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.failed());
  EXPECT_TRUE(r.errorIs("NOSCRIPT"));
  EXPECT_FALSE(r.errorIs("NOSCRIP"));  // whole first word only
  EXPECT_FALSE(r.errorIs("ERR"));
  EXPECT_FALSE(Reply::ofString("NOSCRIPT", Reply::Type::String).errorIs("NOSCRIPT"));
  EXPECT_TRUE(Reply::ofString("WRONGPASS", Reply::Type::Error).errorIs("WRONGPASS"));
}

TEST(Reply, NestedArrays) {
  char one[] = "one";
  auto leaf = make(REDIS_REPLY_STRING);
  leaf.str = one;
  leaf.len = 3;
  auto num = make(REDIS_REPLY_INTEGER);
  num.integer = 7;
  redisReply* innerEls[] = {&leaf, &num};
  auto inner = make(REDIS_REPLY_ARRAY);
  inner.element = innerEls;
  inner.elements = 2;
  auto empty = make(REDIS_REPLY_ARRAY);
  auto nil = make(REDIS_REPLY_NIL);
  redisReply* outerEls[] = {&inner, &empty, &nil};
  auto outer = make(REDIS_REPLY_ARRAY);
  outer.element = outerEls;
  outer.elements = 3;
  Reply r = replyFromHiredis(&outer);
  ASSERT_EQ(r.type, Reply::Type::Array);
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0].elements.size(), 2u);
  EXPECT_EQ(r.elements[0].elements[1].integer, 7);
  EXPECT_TRUE(r.elements[1].elements.empty());
  EXPECT_EQ(r.elements[1].type, Reply::Type::Array);
  EXPECT_EQ(r.debugString(), "[[\"one\", 7], [], (nil)]");
}

TEST(Reply, Factories) {
  EXPECT_EQ(Reply::failure("down").debugString(), "!down");
  EXPECT_EQ(Reply::ofInteger(3).debugString(), "3");
  EXPECT_EQ(Reply().debugString(), "(nil)");
}

// hiredis' reader building Reply values directly, fed the protocol in pieces of every size.
TEST(OwnedReplies, ReaderBuildsRepliesDirectlyHoweverTheInputIsSplit) {
  using namespace std::string_literals;
  const std::string wire =
      "*5\r\n:42\r\n$3\r\na\0b\r\n*2\r\n+OK\r\n$-1\r\n*0\r\n*-1\r\n"  // nested
      "-ERR boom\r\n"                                                 // an error root
      ":-7\r\n"s;                                                     // an integer root
  const std::string want[] = {"[42, \"a\0b\", [+OK, (nil)], [], (nil)]"s, "-ERR boom", "-7"};
  for (size_t piece = 1; piece <= wire.size(); ++piece) {
    redisReader* r = redisReaderCreate();
    ASSERT_NE(r, nullptr);
    buildOwnedReplies(r);
    std::vector<std::string> got;
    for (size_t at = 0; at < wire.size(); at += piece) {
      ASSERT_EQ(redisReaderFeed(r, wire.data() + at, std::min(piece, wire.size() - at)), REDIS_OK);
      void* reply = nullptr;
      while (redisReaderGetReply(r, &reply) == REDIS_OK && reply != nullptr) {
        // What hiredis itself may read of a reply that has no command waiting for it.
        const auto* head = static_cast<const redisReply*>(reply);
        if (head->type == REDIS_REPLY_ERROR) {
          EXPECT_EQ(std::string(head->str, head->len), "ERR boom");
        }
        got.push_back(takeOwnedReply(reply).debugString());
        r->fn->freeObject(reply);
        reply = nullptr;
      }
    }
    ASSERT_EQ(got.size(), 3u) << "piece " << piece;
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i], want[i]) << "piece " << piece;
    redisReaderFree(r);
  }
  // A reader freed with a reply half read frees what it built.
  redisReader* r = redisReaderCreate();
  buildOwnedReplies(r);
  const std::string half = "*3\r\n:1\r\n*2\r\n$2\r\nab\r\n";
  ASSERT_EQ(redisReaderFeed(r, half.data(), half.size()), REDIS_OK);
  void* reply = nullptr;
  ASSERT_EQ(redisReaderGetReply(r, &reply), REDIS_OK);
  EXPECT_EQ(reply, nullptr);
  redisReaderFree(r);
}

}  // namespace
}  // namespace llmux::kv
