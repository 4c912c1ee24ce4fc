#pragma once
// A Redis reply as an owned value tree. hiredis' redisReply objects are freed by hiredis as soon as
// the reply callback returns, so every reply is copied into this type before it leaves the
// callback; no hiredis pointer is ever visible outside src/kv.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;
struct redisReader;

namespace llmux::kv {

struct Reply {
  enum class Type : uint8_t {
    Nil,
    Status,   // +OK: str
    Error,    // -ERR ...: str (the server answered with an error)
    Integer,  // integer
    String,   // bulk string, binary-safe: str
    Array,    // elements
    Failed,   // no reply at all (not connected, timeout, connection lost): str says why
  };
  Type type = Type::Nil;
  int64_t integer = 0;
  std::string str;
  std::vector<Reply> elements;

  [[nodiscard]] bool failed() const { return type == Type::Failed; }
  [[nodiscard]] bool isError() const { return type == Type::Error; }
  // The server answered and the answer is not an error.
  [[nodiscard]] bool ok() const { return type != Type::Failed && type != Type::Error; }
  [[nodiscard]] bool isNil() const { return type == Type::Nil; }
  // Error replies whose code (first word) is `code`, e.g. "NOSCRIPT".
  [[nodiscard]] bool errorIs(std::string_view code) const;

  static Reply failure(std::string why);
  static Reply ofInteger(int64_t v);
  static Reply ofString(std::string s, Type t = Type::String);

  // Compact rendering for logs and test messages: 42, "text", +OK, -ERR x, (nil), [a, b], !why.
  [[nodiscard]] std::string debugString() const;
};

// Deep copy of a hiredis reply (nullptr gives a Failed reply). Nesting is bounded by hiredis'
// reader (7 levels in 0.14), so recursion depth is too.
Reply replyFromHiredis(const redisReply* r);

// Makes `reader` build every reply as a Reply directly (one allocation per reply instead of one
// per element plus a copy); the reply callback then gets it with takeOwnedReply(), which moves
// it out (hiredis frees what is left after the callback).
void buildOwnedReplies(redisReader* reader);
Reply takeOwnedReply(void* reply);

}  // namespace llmux::kv
