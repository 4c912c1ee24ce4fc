// Gemini :streamGenerateContent?alt=sse → OpenAI chat.completion.chunk events (wire_formats.md
// §3.4, §3.7, §1.6).
//
// Each SSE event (Gemini separates them with CRLF CRLF; SseParser takes any line ending) holds a
// whole GenerateContentResponse with only the new parts; usageMetadata is cumulative and repeated,
// the last one wins; finishReason comes on a candidate's last chunk, usage may follow in later
// chunks. There is no [DONE]: the stream is complete when every candidate seen has finished (or
// the prompt was blocked) and the body ends, so finish() emits the usage chunk and [DONE] then.
//
// Per candidate (choices[].index = candidate index): a role chunk first, then one chunk per text
// part ({"content"}), thought part ({"reasoning_content"}) or functionCall part (the call's
// id/type/name with arguments "", then the whole arguments: Gemini never fragments calls), and a
// finish chunk ("tool_calls" if the candidate called a function). A blocked prompt gives a role
// chunk, a {"refusal"} delta with the block reason and finish_reason "content_filter". An event
// with "error" ends the stream with one error event (Failed); so does an unreadable event.
//
// A body that is not SSE (first byte '{' or '['): a bare JSON error (reported as soon as it
// parses, when small) or the JSON-array stream form of the endpoint without alt=sse (translated
// when the body ends).
#include <simdjson.h>

#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "providers/common/sse_parser.hpp"
#include "providers/gemini/internal.hpp"

namespace llmux::providers::gemini::detail {
namespace {

constexpr size_t kMaxBuffer = 8u << 20;         // one SSE event, or a whole non-SSE body
constexpr size_t kEarlyParseLimit = 64u << 10;  // non-SSE bodies small enough to try early
constexpr int64_t kMaxCandidates = 64;          // Gemini allows candidateCount up to 8

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

class Decoder final : public StreamDecoder {
 public:
  explicit Decoder(const ResponseOptions& o)
      : clientModel_(o.clientModel),
        id_(o.id),
        created_(o.created),
        includeUsage_(o.includeUsage),
        sse_(kMaxBuffer) {}

  StreamStatus feed(std::string_view bytes, std::string& out) override;
  StreamStatus finish(std::string& out) override;
  [[nodiscard]] Usage usage() const override { return usage_; }

 private:
  enum class Mode { Undecided, Sse, Json };
  struct Candidate {
    bool seen = false;
    bool roleSent = false;
    bool finished = false;
    int64_t tools = 0;  // tool calls so far: the next one's tool_calls[].index
  };

  void feedSse(std::string_view bytes, std::string& out);
  void onDocument(dom::element doc, std::string& out);
  void onResponse(dom::object resp, std::string& out);
  void onCandidate(dom::element candElem, size_t position, std::string& out);
  void fail(const GatewayError& err, std::string& out);
  bool complete() const;
  // A non-SSE body that parses as an error: reported now (`out`), true.
  bool jsonError(std::string_view body, std::string& out);

  void ensurePrefix();
  void appendChunk(std::string& out, int64_t index, std::string_view delta,
                   std::string_view logprobs, std::string_view finish);
  void ensureRole(std::string& out, int64_t index, Candidate& c);

  std::string clientModel_;
  std::string id_;
  int64_t created_;
  bool includeUsage_;
  bool idFixed_ = false;
  std::string prefix_;  // `data: {"id":..,"object":..,"created":..,"model":..,"choices":`
  Mode mode_ = Mode::Undecided;
  std::string pending_;  // Undecided: leading whitespace; Json: the body so far
  char lastSseByte_ =
      0;  // a final CR is a line end, which SseParser learns only from the next byte
  SseParser sse_;
  dom::parser parser_;
  std::vector<Candidate> cands_;
  bool blocked_ = false;
  Usage usage_;
  StreamStatus status_ = StreamStatus::Continue;
  std::string delta_;
  std::string logprobs_;
};

void Decoder::ensurePrefix() {
  if (idFixed_) return;
  idFixed_ = true;
  prefix_ = R"(data: {"id":)";
  appendJsonString(prefix_, id_);
  prefix_ += R"(,"object":"chat.completion.chunk","created":)";
  fmt::format_to(std::back_inserter(prefix_), "{}", created_);
  prefix_ += R"(,"model":)";
  appendJsonString(prefix_, clientModel_);
  prefix_ += R"(,"choices":)";
}

void Decoder::appendChunk(std::string& out, int64_t index, std::string_view delta,
                          std::string_view logprobs, std::string_view finish) {
  ensurePrefix();
  out += prefix_;
  out += R"([{"index":)";
  fmt::format_to(std::back_inserter(out), "{}", index);
  out += R"(,"delta":)";
  out += delta;
  out += R"(,"logprobs":)";
  out += logprobs.empty() ? "null" : logprobs;
  out += R"(,"finish_reason":)";
  if (finish.empty()) {
    out += "null";
  } else {
    appendJsonString(out, finish);
  }
  out += includeUsage_ ? R"(}],"usage":null})" : "}]}";
  out += "\n\n";
}

void Decoder::ensureRole(std::string& out, int64_t index, Candidate& c) {
  if (c.roleSent) return;
  c.roleSent = true;
  appendChunk(out, index, R"({"role":"assistant","content":""})", {}, {});
}

void Decoder::fail(const GatewayError& err, std::string& out) {
  out += "data: ";
  out += err.toJson();
  out += "\n\n";
  status_ = StreamStatus::Failed;
}

bool Decoder::complete() const {
  if (blocked_) return true;
  bool any = false;
  for (const Candidate& c : cands_) {
    if (!c.seen) continue;
    if (!c.finished) return false;
    any = true;
  }
  return any;
}

void Decoder::onCandidate(dom::element candElem, size_t position, std::string& out) {
  dom::object cand;
  if (candElem.get(cand) != simdjson::SUCCESS) {
    return fail(malformedUpstream("gemini", "a stream candidate is not an object"), out);
  }
  int64_t index = static_cast<int64_t>(position);
  (void)cand["index"].get(index);
  if (index < 0 || index >= kMaxCandidates) {
    return fail(malformedUpstream("gemini", "a stream candidate index is out of range"), out);
  }
  if (cands_.size() <= static_cast<size_t>(index)) cands_.resize(static_cast<size_t>(index) + 1);
  Candidate& c = cands_[static_cast<size_t>(index)];
  c.seen = true;
  if (c.finished) return;  // nothing may follow a candidate's finish chunk

  logprobs_.clear();
  dom::element lp;
  if (cand["logprobsResult"].get(lp) == simdjson::SUCCESS) (void)appendLogprobs(logprobs_, lp);

  dom::element partsElem;
  dom::array parts;
  if (cand["content"]["parts"].get(partsElem) == simdjson::SUCCESS) {
    if (partsElem.get(parts) != simdjson::SUCCESS) {
      return fail(malformedUpstream("gemini", "candidate content.parts is not an array"), out);
    }
    for (dom::element partElem : parts) {
      dom::object part;
      if (partElem.get(part) != simdjson::SUCCESS) {
        return fail(malformedUpstream("gemini", "a part is not an object"), out);
      }
      dom::object call;
      std::string_view text;
      if (part["functionCall"].get(call) == simdjson::SUCCESS) {
        std::string_view name;
        if (call["name"].get(name) != simdjson::SUCCESS) {
          return fail(malformedUpstream("gemini", "a functionCall has no name"), out);
        }
        std::string_view signature;
        (void)part["thoughtSignature"].get(signature);
        ensureRole(out, index, c);  // fixes id_, the tool-call id seed
        const int64_t k = c.tools++;
        delta_ = R"({"tool_calls":[{"index":)";
        fmt::format_to(std::back_inserter(delta_), "{}", k);
        delta_ += R"(,"id":)";
        appendToolCallId(delta_, id_, index, k, signature);
        delta_ += R"(,"type":"function","function":{"name":)";
        appendJsonString(delta_, name);
        delta_ += R"(,"arguments":""}}]})";
        appendChunk(out, index, delta_, {}, {});
        delta_ = R"({"tool_calls":[{"index":)";
        fmt::format_to(std::back_inserter(delta_), "{}", k);
        delta_ += R"(,"function":{"arguments":)";
        appendJsonString(delta_, argumentsJson(call));
        delta_ += "}}]}";
        appendChunk(out, index, delta_, {}, {});
      } else if (part["text"].get(text) == simdjson::SUCCESS && !text.empty()) {
        bool thought = false;
        (void)part["thought"].get(thought);
        ensureRole(out, index, c);
        delta_ = thought ? R"({"reasoning_content":)" : R"({"content":)";
        appendJsonString(delta_, text);
        delta_.push_back('}');
        // The candidate's logprobs ride on its first content chunk of this event.
        appendChunk(out, index, delta_, thought ? std::string_view() : logprobs_, {});
        if (!thought) logprobs_.clear();
      }
      // thought signatures on text parts, inlineData, executableCode...: no chunk form.
    }
  }
  std::string_view reason;
  if (cand["finishReason"].get(reason) == simdjson::SUCCESS && !reason.empty()) {
    ensureRole(out, index, c);
    appendChunk(out, index, "{}", {}, c.tools > 0 ? "tool_calls" : finishReason(reason));
    c.finished = true;
  }
}

void Decoder::onResponse(dom::object resp, std::string& out) {
  dom::object error;
  if (resp["error"].get(error) == simdjson::SUCCESS) {
    return fail(errorFromObject(0, error, std::nullopt), out);
  }
  std::string_view rid;
  if (!idFixed_ && resp["responseId"].get(rid) == simdjson::SUCCESS && !rid.empty()) {
    id_ = std::string(rid);
  }
  dom::element usageElem;
  if (resp["usageMetadata"].get(usageElem) == simdjson::SUCCESS && usageElem.is_object()) {
    usage_ = readUsage(usageElem);
  }
  dom::element candsElem;
  dom::array cands;
  const bool hasCands = resp["candidates"].get(candsElem) == simdjson::SUCCESS;
  if (hasCands && candsElem.get(cands) != simdjson::SUCCESS) {
    return fail(malformedUpstream("gemini", "\"candidates\" is not an array"), out);
  }
  if (!hasCands || cands.size() == 0) {
    const std::string blocked = blockedPromptMessage(resp);
    if (blocked.empty() || blocked_ || !cands_.empty()) return;
    blocked_ = true;
    cands_.resize(1);
    Candidate& c = cands_[0];
    c.seen = true;
    ensureRole(out, 0, c);
    delta_ = R"({"refusal":)";
    appendJsonString(delta_, blocked);
    delta_.push_back('}');
    appendChunk(out, 0, delta_, {}, {});
    appendChunk(out, 0, "{}", {}, "content_filter");
    c.finished = true;
    return;
  }
  size_t position = 0;
  for (dom::element cand : cands) {
    onCandidate(cand, position++, out);
    if (status_ != StreamStatus::Continue) return;
  }
}

void Decoder::onDocument(dom::element doc, std::string& out) {
  dom::object resp;
  dom::array arr;
  if (doc.get(resp) == simdjson::SUCCESS) {
    onResponse(resp, out);
  } else if (doc.get(arr) == simdjson::SUCCESS) {
    for (dom::element e : arr) {
      if (e.get(resp) != simdjson::SUCCESS) {
        return fail(malformedUpstream("gemini", "a stream chunk is not a JSON object"), out);
      }
      onResponse(resp, out);
      if (status_ != StreamStatus::Continue) return;
    }
  } else {
    fail(malformedUpstream("gemini", "a stream chunk is not a JSON object"), out);
  }
}

void Decoder::feedSse(std::string_view bytes, std::string& out) {
  if (!bytes.empty()) lastSseByte_ = bytes.back();
  const bool ok = sse_.feed(bytes, [&](const SseEvent& ev) {
    if (status_ != StreamStatus::Continue) return;
    const std::string_view data = trim(ev.data);
    if (data.empty() || data == "[DONE]") return;
    dom::element doc;
    if (parser_.parse(data.data(), data.size()).get(doc) != simdjson::SUCCESS) {
      return fail(malformedUpstream("gemini", "a stream event is not valid JSON"), out);
    }
    onDocument(doc, out);
  });
  if (!ok && status_ == StreamStatus::Continue) {
    fail(malformedUpstream("gemini", "a stream event exceeds 8 MiB"), out);
  }
}

bool Decoder::jsonError(std::string_view body, std::string& out) {
  dom::element doc;
  if (parser_.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) return false;
  dom::array arr;
  if (doc.get(arr) == simdjson::SUCCESS) {
    if (arr.size() == 0 || arr.at(0).get(doc) != simdjson::SUCCESS) return false;
  }
  dom::object error;
  if (doc["error"].get(error) != simdjson::SUCCESS) return false;
  fail(errorFromObject(0, error, std::nullopt), out);
  return true;
}

StreamStatus Decoder::feed(std::string_view bytes, std::string& out) {
  if (status_ != StreamStatus::Continue) return status_;
  if (mode_ == Mode::Undecided) {
    const size_t first = bytes.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
      pending_.append(bytes);
      if (pending_.size() > kMaxBuffer) {
        fail(malformedUpstream("gemini", "the stream holds only whitespace"), out);
      }
      return status_;
    }
    if (bytes[first] == '{' || bytes[first] == '[') {
      mode_ = Mode::Json;
    } else {
      mode_ = Mode::Sse;
      const std::string lead = std::move(pending_);
      pending_.clear();
      feedSse(lead, out);
      feedSse(bytes, out);
      return status_;
    }
  }
  if (mode_ == Mode::Sse) {
    feedSse(bytes, out);
    return status_;
  }
  pending_.append(bytes);
  if (pending_.size() > kMaxBuffer) {
    fail(malformedUpstream("gemini", "a non-SSE stream body exceeds 8 MiB"), out);
    return status_;
  }
  const std::string_view body = trim(pending_);
  if (body.size() <= kEarlyParseLimit && (body.ends_with('}') || body.ends_with(']'))) {
    (void)jsonError(body, out);
  }
  return status_;
}

StreamStatus Decoder::finish(std::string& out) {
  if (status_ != StreamStatus::Continue) return status_;
  std::string translated;
  if (mode_ == Mode::Json) {
    // Translated only now: a body cut short must not have leaked half its chunks.
    dom::element doc;
    const std::string_view body = trim(pending_);
    if (parser_.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS) {
      onDocument(doc, translated);
    }
    if (status_ != StreamStatus::Continue) {
      status_ = StreamStatus::Failed;  // an error body too large to report early: the engine's
      return status_;                  // truncation error stands for it
    }
  }
  // A body ending in CR ended its line: an LF resolves it without adding a line (a CRLF is one
  // line end). An event still lacking its blank line is dropped, as EventSource does; the stream
  // still counts as complete if every candidate had finished before it.
  if (mode_ == Mode::Sse && lastSseByte_ == '\r' && sse_.pending() > 0) {
    feedSse("\n", translated);
    if (status_ != StreamStatus::Continue) {
      status_ = StreamStatus::Failed;  // its error event is the engine's to report, as truncation
      return status_;
    }
  }
  if (!complete()) {
    status_ = StreamStatus::Failed;
    return status_;
  }
  out += translated;
  if (includeUsage_) {
    ensurePrefix();
    out += prefix_;
    out += R"([],"usage":)";
    appendUsage(out, usage_);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  status_ = StreamStatus::Done;
  return status_;
}

}  // namespace

std::unique_ptr<StreamDecoder> makeStreamDecoder(const ResponseOptions& opts) {
  return std::make_unique<Decoder>(opts);
}

}  // namespace llmux::providers::gemini::detail
