// OpenAI chat messages as Anthropic's system prompt and messages array (wire_formats.md §2.2,
// §2.6):
//  * system / developer messages, wherever they appear, become top-level `system`: a plain string
//    for one string-content message without cache_control, else text blocks in order;
//  * consecutive messages of one Anthropic role merge into a single turn (the API wants
//    alternation); in a user turn the tool_result blocks go first (the API rejects text before
//    them), then the rest in order;
//  * role "tool" (and the deprecated "function") → user-turn tool_result blocks;
//  * assistant tool_calls → tool_use blocks after the text, `arguments` parsed into `input` (an
//    argument string that is not a JSON object is the client's error: 400); LiteLLM's
//    `thinking_blocks` on an assistant message go first, verbatim;
//  * content parts as content.cpp describes;
//  * cache_control on a content part, a tool result or a whole message (LiteLLM's prompt-caching
//    convention: it marks the message's last block) is carried over;
//  * empty text is skipped (the API rejects empty text blocks); `name` has no Anthropic form.
#include <fmt/format.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/text.hpp"
#include "providers/anthropic/request_internal.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::anthropic::detail {
namespace {

namespace dom = simdjson::dom;
using Err = std::optional<GatewayError>;

GatewayError invalid(std::string message, std::string param) {
  return GatewayError::invalidRequest(std::move(message), std::move(param));
}

// A tool call's `arguments` (a JSON string, or an object from lenient clients) as an input object.
Err appendToolInput(std::string& out, simdjson::simdjson_result<dom::element> argsResult,
                    MessageContext& ctx, const std::string& param) {
  dom::element args;
  if (argsResult.get(args) != simdjson::SUCCESS || args.is_null()) {
    out += "{}";
    return std::nullopt;
  }
  if (args.is_object()) {
    appendRaw(out, args);
    return std::nullopt;
  }
  std::string_view text;
  if (args.get_string().get(text) != simdjson::SUCCESS) {
    return invalid("Tool-call arguments must be a JSON-encoded string.", param);
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\t' ||
                           text.front() == '\r')) {
    text.remove_prefix(1);
  }
  if (text.empty()) {
    out += "{}";
    return std::nullopt;
  }
  dom::element parsed;
  if (ctx.scratch->parse(text.data(), text.size()).get(parsed) != simdjson::SUCCESS) {
    return invalid("Tool-call arguments are not valid JSON.", param);
  }
  if (!parsed.is_object()) {
    return invalid("Tool-call arguments must encode a JSON object.", param);
  }
  appendRaw(out, parsed);
  return std::nullopt;
}

void appendToolUse(std::string& list, std::string_view id, std::string_view name) {
  separate(list);
  list += R"({"type":"tool_use","id":)";
  appendJsonString(list, id);
  list += R"(,"name":)";
  appendJsonString(list, name);
  list += R"(,"input":)";
}

// Collects the conversation one Anthropic turn at a time. Each message is converted into the
// message buffers, then committed: a message of the same role as the turn being collected joins
// it, another role writes that turn out first. Messages that produce nothing leave no trace, so
// the turns written always alternate.
class Turns {
 public:
  explicit Turns(std::string& out) : out_(out) {}

  // The current message's blocks; its tool results, which go first in a user turn.
  std::string& blocks() { return msgBlocks_; }
  std::string& results() { return msgResults_; }

  // Adds the current message to the turn; `plain` is its string content, if that is all it had.
  void commit(std::string_view role, std::optional<std::string_view> plain) {
    if (msgBlocks_.empty() && msgResults_.empty()) return;
    if (role != role_) {
      flush();
      role_ = role;
    }
    join(results_, msgResults_);
    join(blocks_, msgBlocks_);
    msgResults_.clear();
    msgBlocks_.clear();
    ++contributions_;
    plain_ = plain;
  }

  void flush() {
    if (contributions_ > 0) {
      separate(out_);
      out_ += R"({"role":)";
      appendJsonString(out_, role_);
      out_ += R"(,"content":)";
      if (contributions_ == 1 && plain_ && results_.empty()) {
        appendJsonString(out_, *plain_);
      } else {
        out_.push_back('[');
        out_ += results_;
        if (!results_.empty() && !blocks_.empty()) out_.push_back(',');
        out_ += blocks_;
        out_.push_back(']');
      }
      out_.push_back('}');
      ++count_;
    }
    results_.clear();
    blocks_.clear();
    contributions_ = 0;
    plain_.reset();
  }

  [[nodiscard]] size_t count() const { return count_; }

 private:
  static void join(std::string& dst, const std::string& src) {
    if (src.empty()) return;
    separate(dst);
    dst += src;
  }

  std::string& out_;
  std::string_view role_;
  std::string results_;
  std::string blocks_;
  std::string msgResults_;
  std::string msgBlocks_;
  size_t contributions_ = 0;
  std::optional<std::string_view> plain_;
  size_t count_ = 0;
};
}  // namespace

std::optional<GatewayError> convertMessages(dom::array messages, MessageContext& ctx,
                                            std::string& system, std::string& out) {
  out = "[";
  std::string turnsOut;
  Turns turns(turnsOut);
  std::string sysBlocks;
  size_t sysContributions = 0;
  std::optional<std::string_view> sysPlain;
  std::string legacyCallId;  // the id given to the last deprecated assistant function_call

  size_t i = 0;
  for (dom::element msgElem : messages) {
    const size_t idx = i++;
    const std::string path = fmt::format("messages[{}]", idx);
    dom::object msg;
    std::string_view role;
    if (msgElem.get_object().get(msg) != simdjson::SUCCESS ||
        msg.at_key("role").get_string().get(role) != simdjson::SUCCESS) {
      return invalid("Each message must be an object with a string 'role'.", path + ".role");
    }
    dom::element content;
    const bool hasContent =
        msg.at_key("content").get(content) == simdjson::SUCCESS && !content.is_null();
    dom::element msgCache;
    const bool hasMsgCache =
        msg.at_key("cache_control").get(msgCache) == simdjson::SUCCESS && !msgCache.is_null();
    std::optional<std::string_view> plain;
    bool lastCached = false;

    if (role == "system" || role == "developer") {
      if (!hasContent) return invalid("A system message needs content.", path + ".content");
      const size_t before = sysBlocks.size();
      if (auto err = appendContent(sysBlocks, content, Site::System, ctx, idx, lastCached, plain)) {
        return err;
      }
      if (sysBlocks.size() != before) {
        ++sysContributions;
        sysPlain = plain;
        if (hasMsgCache) {
          if (!lastCached) markLastBlock(sysBlocks, msgCache);
          sysPlain.reset();
        }
      }
      continue;
    }

    if (role == "user") {
      if (!hasContent) return invalid("A user message needs content.", path + ".content");
      std::string& list = turns.blocks();
      if (auto err = appendContent(list, content, Site::User, ctx, idx, lastCached, plain)) {
        return err;
      }
      if (!list.empty() && hasMsgCache) {
        if (!lastCached) markLastBlock(list, msgCache);
        plain.reset();
      }
      turns.commit("user", plain);
      continue;
    }

    if (role == "assistant") {
      std::string& list = turns.blocks();
      // LiteLLM's thinking_blocks: signed thinking to echo back in tool loops with thinking on.
      dom::array thinking;
      const bool hasThinking =
          msg.at_key("thinking_blocks").get_array().get(thinking) == simdjson::SUCCESS;
      if (hasThinking) {
        for (dom::element block : thinking) {
          if (!block.is_object()) {
            return invalid("thinking_blocks entries must be objects.", path + ".thinking_blocks");
          }
          separate(list);
          appendRaw(list, block);
        }
      }
      if (hasContent) {
        if (auto err = appendContent(list, content, Site::Assistant, ctx, idx, lastCached, plain)) {
          return err;
        }
      }
      dom::element callsElem;
      if (msg.at_key("tool_calls").get(callsElem) == simdjson::SUCCESS && !callsElem.is_null()) {
        dom::array calls;
        if (callsElem.get_array().get(calls) != simdjson::SUCCESS) {
          return invalid("tool_calls must be an array.", path + ".tool_calls");
        }
        size_t j = 0;
        for (dom::element callElem : calls) {
          const std::string callPath = fmt::format("{}.tool_calls[{}]", path, j++);
          std::string_view id;
          std::string_view name;
          dom::object fn;
          if (callElem["id"].get_string().get(id) != simdjson::SUCCESS) {
            return invalid("A tool call needs a string 'id'.", callPath + ".id");
          }
          if (callElem["function"].get_object().get(fn) != simdjson::SUCCESS ||
              fn.at_key("name").get_string().get(name) != simdjson::SUCCESS) {
            return invalid("A tool call needs function.name.", callPath + ".function.name");
          }
          appendToolUse(list, id, name);
          if (auto err = appendToolInput(list, fn.at_key("arguments"), ctx,
                                         callPath + ".function.arguments")) {
            return err;
          }
          list.push_back('}');
          lastCached = false;
        }
        plain.reset();
      }
      dom::object legacy;
      if (msg.at_key("function_call").get_object().get(legacy) == simdjson::SUCCESS) {
        std::string_view name;
        if (legacy.at_key("name").get_string().get(name) != simdjson::SUCCESS) {
          return invalid("function_call needs a string 'name'.", path + ".function_call.name");
        }
        legacyCallId = fmt::format("toolu_function_call_{}", idx);
        appendToolUse(list, legacyCallId, name);
        if (auto err = appendToolInput(list, legacy.at_key("arguments"), ctx,
                                       path + ".function_call.arguments")) {
          return err;
        }
        list.push_back('}');
        lastCached = false;
        plain.reset();
      }
      if (hasThinking) plain.reset();
      if (!list.empty() && hasMsgCache) {
        if (!lastCached) markLastBlock(list, msgCache);
        plain.reset();
      }
      turns.commit("assistant", plain);
      continue;
    }

    if (role == "tool" || role == "function") {
      std::string_view toolUseId;
      if (role == "tool") {
        if (msg.at_key("tool_call_id").get_string().get(toolUseId) != simdjson::SUCCESS) {
          return invalid("A tool message needs a string 'tool_call_id'.", path + ".tool_call_id");
        }
      } else {
        if (legacyCallId.empty()) {
          return invalid("A function message must follow an assistant function_call.",
                         path + ".role");
        }
        toolUseId = legacyCallId;
      }
      std::string& list = turns.results();
      separate(list);
      list += R"({"type":"tool_result","tool_use_id":)";
      appendJsonString(list, toolUseId);
      if (hasContent) {
        std::string_view text;
        if (content.get_string().get(text) == simdjson::SUCCESS) {
          list += R"(,"content":)";
          appendJsonString(list, text);
        } else {
          std::string blocks;
          bool ignored = false;
          if (auto err = appendContent(blocks, content, Site::Tool, ctx, idx, ignored, plain)) {
            return err;
          }
          list += R"(,"content":[)";
          list += blocks;
          list.push_back(']');
        }
      }
      if (hasMsgCache) {
        list += R"(,"cache_control":)";
        appendRaw(list, msgCache);
      }
      list.push_back('}');
      turns.commit("user", std::nullopt);
      continue;
    }

    return invalid(fmt::format("Unknown message role '{}'.", role), path + ".role");
  }
  turns.flush();
  if (turns.count() == 0) {
    return invalid("messages must contain at least one user or assistant message with content.",
                   "messages");
  }
  out += turnsOut;
  out.push_back(']');

  system.clear();
  if (!sysBlocks.empty()) {
    if (sysContributions == 1 && sysPlain) {
      appendJsonString(system, *sysPlain);
    } else {
      system = "[" + sysBlocks + "]";
    }
  }
  return std::nullopt;
}

}  // namespace llmux::providers::anthropic::detail
