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

namespace {

// The root of a reply that hiredis' reader builds directly as a Reply (no redisReply tree to
// allocate element by element and then copy). `head` comes first and mirrors the root as a
// redisReply, because hiredis itself peeks at ((redisReply*)reply)->type and ->str of a reply
// that arrives without a pending command (e.g. "max number of clients reached").
struct OwnedReply {
  redisReply head{};
  Reply reply;
};

// Where a task's value goes: a new root, or its slot in the parent array (sized at creation).
Reply* slotOf(const redisReadTask* task, OwnedReply*& root) {
  if (task->parent == nullptr) {
    root = new OwnedReply;
    return &root->reply;
  }
  const redisReadTask* p = task->parent;
  Reply* parent =
      p->parent == nullptr ? &static_cast<OwnedReply*>(p->obj)->reply : static_cast<Reply*>(p->obj);
  return &parent->elements[static_cast<size_t>(task->idx)];
}

void* finish(Reply* r, OwnedReply* root, int hiredisType) {
  if (root == nullptr) return r;
  root->head.type = hiredisType;
  root->head.integer = r->integer;
  if (hiredisType == REDIS_REPLY_ERROR || hiredisType == REDIS_REPLY_STATUS ||
      hiredisType == REDIS_REPLY_STRING) {
    root->head.str = r->str.data();
    root->head.len = r->str.size();
  }
  return root;
}

void* createString(const redisReadTask* task, char* s, size_t n) {
  OwnedReply* root = nullptr;
  Reply* r = slotOf(task, root);
  r->type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::Error
            : task->type == REDIS_REPLY_STATUS ? Reply::Type::Status
                                               : Reply::Type::String;
  r->str.assign(s, n);
  return finish(r, root, task->type);
}

void* createArray(const redisReadTask* task, int n) {
  OwnedReply* root = nullptr;
  Reply* r = slotOf(task, root);
  r->type = Reply::Type::Array;
  r->elements.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return finish(r, root, REDIS_REPLY_ARRAY);
}

void* createInteger(const redisReadTask* task, long long v) {
  OwnedReply* root = nullptr;
  Reply* r = slotOf(task, root);
  r->type = Reply::Type::Integer;
  r->integer = v;
  return finish(r, root, REDIS_REPLY_INTEGER);
}

void* createNil(const redisReadTask* task) {
  OwnedReply* root = nullptr;
  Reply* r = slotOf(task, root);
  r->type = Reply::Type::Nil;
  return finish(r, root, REDIS_REPLY_NIL);
}

// hiredis frees roots only (a reply after its callback, a partial reply on a protocol error).
void freeObject(void* p) {
  delete static_cast<OwnedReply*>(p);
}

redisReplyObjectFunctions kOwnedReplyFunctions{createString, createArray, createInteger, createNil,
                                               freeObject};

}  // namespace

void buildOwnedReplies(redisReader* reader) {
  if (reader != nullptr) reader->fn = &kOwnedReplyFunctions;
}

Reply takeOwnedReply(void* reply) {
  if (reply == nullptr) return Reply::failure("no reply");
  return std::move(static_cast<OwnedReply*>(reply)->reply);
}

}  // namespace llmux::kv
