// Ollama NDJSON streams (/api/chat and /api/generate with "stream":true) as OpenAI
// chat.completion.chunk SSE events (wire_formats.md §6.2, §1.6).
//
// Framing: one JSON object per line, LF- or CRLF-terminated; blank lines are skipped; a line
// longer than 8 MiB fails the stream. Every line is a partial message: thinking → a
// reasoning_content delta, content (/api/chat) or response (/api/generate) → a content delta,
// and each whole tool call (/api/chat; Ollama sends them complete in one line) → a call header
// chunk (id, type, name, empty arguments) and one chunk with all of its arguments. The line with
// "done":true carries done_reason and the token counts: it gives the finish chunk, the usage chunk
// (when include_usage) and [DONE]; anything after it is ignored. A {"error":"..."} line (Ollama's
// way to fail after the 200) gives one final error event and Failed. A body that ends without a
// done line is a truncation: finish() returns Failed and appends nothing.
#include <simdjson.h>

#include <fmt/format.h>

#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "providers/ollama/internal.hpp"

namespace llmux::providers::ollama::detail {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

class Decoder final : public StreamDecoder {
 public:
  Decoder(Api api, const ResponseOptions& opts)
      : api_(api), id_(opts.id), includeUsage_(opts.includeUsage) {
    prefix_ = R"(data: {"id":)";
    appendJsonString(prefix_, opts.id);
    prefix_ += R"(,"object":"chat.completion.chunk","created":)";
    fmt::format_to(std::back_inserter(prefix_), "{}", opts.created);
    prefix_ += R"(,"model":)";
    appendJsonString(prefix_, opts.clientModel);
    prefix_ += R"(,"choices":)";
  }

  StreamStatus feed(std::string_view bytes, std::string& out) override {
    while (status_ == StreamStatus::Continue && !bytes.empty()) {
      const size_t nl = bytes.find('\n');
      const size_t take = nl == std::string_view::npos ? bytes.size() : nl;
      if (line_.size() + take > kMaxLineBytes) {
        return fail(malformedUpstream(providerName(api_), "a stream line is longer than 8 MiB"),
                    out);
      }
      if (nl == std::string_view::npos) {
        line_.append(bytes);
        break;
      }
      std::string_view line = bytes.substr(0, nl);
      if (!line_.empty()) {
        line_.append(line);
        line = line_;
      }
      bytes.remove_prefix(nl + 1);
      processLine(line, out);
      line_.clear();
    }
    return status_;
  }

  StreamStatus finish(std::string& out) override {
    if (status_ != StreamStatus::Continue) return status_;
    // Ollama ends every line with "\n"; a final line without it still counts when it is the
    // complete done line. Anything else left over is a cut-off body.
    const std::string_view rest = trim(line_);
    dom::element doc;
    bool done = false;
    if (!rest.empty() && parser_.parse(rest.data(), rest.size(), true).get(doc) == SUCCESS &&
        doc["done"].get_bool().get(done) == SUCCESS && done) {
      std::string last = std::string(rest);
      processLine(last, out);
    }
    line_.clear();
    if (status_ == StreamStatus::Continue) status_ = StreamStatus::Failed;
    return status_;
  }

  [[nodiscard]] Usage usage() const override { return usage_; }

 private:
  void processLine(std::string_view line, std::string& out);
  StreamStatus fail(const GatewayError& err, std::string& out);
  void appendChunk(std::string& out, std::string_view delta, std::string_view finishReason);
  void ensureRoleChunk(std::string& out);
  void appendText(std::string& out, std::string_view key, std::string_view text);
  void appendToolCall(std::string& out, const ToolCall& call);
  void end(std::string& out, std::string_view doneReason);

  Api api_;
  std::string id_;
  std::string prefix_;  // `data: {"id":..,"object":..,"created":..,"model":..,"choices":`
  bool includeUsage_;
  StreamStatus status_ = StreamStatus::Continue;
  bool roleSent_ = false;
  int64_t toolCalls_ = 0;
  Usage usage_;
  std::string line_;  // the start of a line whose newline has not arrived
  dom::parser parser_;
  std::string scratch_;  // delta JSON under construction
};

void Decoder::processLine(std::string_view line, std::string& out) {
  line = trim(line);  // also drops the CR of a CRLF line end
  if (line.empty()) return;
  const std::string_view provider = providerName(api_);
  dom::element doc;
  dom::object obj;
  if (parser_.parse(line.data(), line.size(), true).get(doc) != SUCCESS) {
    fail(malformedUpstream(provider, "a stream line is not valid JSON"), out);
    return;
  }
  if (doc.get_object().get(obj) != SUCCESS) {
    fail(malformedUpstream(provider, "a stream line is not a JSON object"), out);
    return;
  }
  dom::element errElem;
  if (obj["error"].get(errElem) == SUCCESS && !errElem.is_null()) {
    std::string_view message;
    if (errElem.get_string().get(message) != SUCCESS) {
      (void)errElem["message"].get_string().get(message);
    }
    fail(errorFromMessage(
             500, message.empty() ? std::string("Ollama reported an error") : std::string(message)),
         out);
    return;
  }

  // Type errors in a delta would lose part of the reply silently, so they end the stream.
  auto text = [&](dom::object o, std::string_view key, std::string_view& s) {
    dom::element e;
    s = {};
    if (o[key].get(e) != SUCCESS || e.is_null()) return true;
    return e.get_string().get(s) == SUCCESS;
  };
  std::string_view thinking;
  std::string_view content;
  if (api_ == Api::Chat) {
    dom::element msgElem;
    dom::object msg;
    if (obj["message"].get(msgElem) == SUCCESS && !msgElem.is_null()) {
      if (msgElem.get_object().get(msg) != SUCCESS || !text(msg, "thinking", thinking) ||
          !text(msg, "content", content)) {
        fail(malformedUpstream(provider, R"(a stream line has a malformed "message")"), out);
        return;
      }
      appendText(out, "reasoning_content", thinking);
      appendText(out, "content", content);
      dom::element list;
      if (msg["tool_calls"].get(list) == SUCCESS && !list.is_null()) {
        dom::array arr;
        if (list.get_array().get(arr) != SUCCESS) {
          fail(malformedUpstream(provider, R"("message.tool_calls" is not an array)"), out);
          return;
        }
        for (dom::element c : arr) {
          ToolCall call;
          if (!readToolCall(c, call)) {
            fail(malformedUpstream(provider, "a tool call has no function name"), out);
            return;
          }
          appendToolCall(out, call);
        }
      }
    }
  } else {
    if (!text(obj, "thinking", thinking) || !text(obj, "response", content)) {
      fail(malformedUpstream(provider, "a stream line has a non-string response"), out);
      return;
    }
    appendText(out, "reasoning_content", thinking);
    appendText(out, "content", content);
  }

  readCounts(obj, usage_);
  bool done = false;
  if (obj["done"].get_bool().get(done) == SUCCESS && done) {
    std::string_view doneReason;
    (void)obj["done_reason"].get_string().get(doneReason);
    end(out, doneReason);
  }
}

StreamStatus Decoder::fail(const GatewayError& err, std::string& out) {
  out += "data: ";
  out += err.toJson();
  out += "\n\n";
  status_ = StreamStatus::Failed;
  return status_;
}

void Decoder::appendChunk(std::string& out, std::string_view delta, std::string_view finishReason) {
  out += prefix_;
  out += R"([{"index":0,"delta":)";
  out += delta;
  out += R"(,"logprobs":null,"finish_reason":)";
  out += finishReason;
  out += includeUsage_ ? R"(}],"usage":null})" : "}]}";
  out += "\n\n";
}

void Decoder::ensureRoleChunk(std::string& out) {
  if (roleSent_) return;
  roleSent_ = true;
  appendChunk(out, R"({"role":"assistant","content":""})", "null");
}

void Decoder::appendText(std::string& out, std::string_view key, std::string_view text) {
  if (text.empty()) return;
  ensureRoleChunk(out);
  scratch_ = "{";
  appendJsonString(scratch_, key);
  scratch_ += ':';
  appendJsonString(scratch_, text);
  scratch_ += '}';
  appendChunk(out, scratch_, "null");
}

void Decoder::appendToolCall(std::string& out, const ToolCall& call) {
  const int64_t index = toolCalls_++;
  ensureRoleChunk(out);
  scratch_ = R"({"tool_calls":[{"index":)";
  fmt::format_to(std::back_inserter(scratch_), "{}", index);
  scratch_ += R"(,"id":)";
  appendJsonString(scratch_, call.id.empty() ? toolCallId(id_, index) : std::string(call.id));
  scratch_ += R"(,"type":"function","function":{"name":)";
  appendJsonString(scratch_, call.name);
  scratch_ += R"(,"arguments":""}}]})";
  appendChunk(out, scratch_, "null");
  scratch_ = R"({"tool_calls":[{"index":)";
  fmt::format_to(std::back_inserter(scratch_), "{}", index);
  scratch_ += R"(,"function":{"arguments":)";
  appendJsonString(scratch_, call.arguments);
  scratch_ += "}}]}";
  appendChunk(out, scratch_, "null");
}

void Decoder::end(std::string& out, std::string_view doneReason) {
  ensureRoleChunk(out);
  scratch_ = "\"";
  scratch_ += finishReason(doneReason, toolCalls_ > 0);
  scratch_ += "\"";
  appendChunk(out, "{}", scratch_);
  if (includeUsage_) {
    out += prefix_;
    out += R"([],"usage":)";
    appendUsageJson(out, usage_);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  status_ = StreamStatus::Done;
}

}  // namespace

std::unique_ptr<StreamDecoder> makeStreamDecoder(Api api, const ResponseOptions& opts) {
  return std::make_unique<Decoder>(api, opts);
}

}  // namespace llmux::providers::ollama::detail
