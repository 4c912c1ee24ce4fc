#include "kv/reply.hpp"

#include <hiredis/hiredis.h>

namespace llmux::kv {

bool Reply::errorIs(std::string_view code) const {
  if (type != Type::Error) return false;
  std::string_view s(str);
  return s.substr(0, code.size()) == code && (s.size() == code.size() || s[code.size()] == ' ');
}

Reply Reply::failure(std::string why) {
  Reply r;
  r.type = Type::Failed;
  r.str = std::move(why);
  return r;
}

Reply Reply::ofInteger(int64_t v) {
  Reply r;
  r.type = Type::Integer;
  r.integer = v;
  return r;
}

Reply Reply::ofString(std::string s, Type t) {
  Reply r;
  r.type = t;
  r.str = std::move(s);
  return r;
}

std::string Reply::debugString() const {
  switch (type) {
    case Type::Nil:
      return "(nil)";
    case Type::Status:
      return "+" + str;
    case Type::Error:
      return "-" + str;
    case Type::Integer:
      return std::to_string(integer);
    case Type::String:
      return "\"" + str + "\"";
    case Type::Failed:
      return "!" + str;
    case Type::Array: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i) out += ", ";
        out += elements[i].debugString();
      }
      return out + "]";
    }
  }
  return "?";
}

Reply replyFromHiredis(const redisReply* r) {
  if (r == nullptr) return Reply::failure("no reply");
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::String;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::Status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::Error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(replyFromHiredis(r->element[i]));
      break;
    case REDIS_REPLY_NIL:
    default:  // RESP3 types do not exist in hiredis 0.14; treat anything unknown as nil
      out.type = Reply::Type::Nil;
      break;
  }
  return out;
}

}  // namespace llmux::kv
