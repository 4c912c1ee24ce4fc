// buildUpstreamBody: splices the upstream body out of the client's bytes. The request was validated
// by parseChatRequest, so a small bounds-checked scanner is enough to walk the stream_options
// member; a full re-parse would cost more than the whole splice.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::openai {
namespace {

constexpr size_t kNpos = std::string_view::npos;
constexpr std::string_view kForcedStreamOptions = R"("stream_options":{"include_usage":true})";

bool isJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t skipSpace(std::string_view s, size_t i) {
  while (i < s.size() && isJsonSpace(s[i])) ++i;
  return i;
}

// `s[i]` is an opening quote; returns the index just past the closing quote, or npos.
size_t skipString(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return kNpos;
}

// Returns the index just past the JSON value starting at `s[i]`, or npos.
size_t skipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return kNpos;
  const char first = s[i];
  if (first == '"') return skipString(s, i);
  if (first == '{' || first == '[') {
    size_t depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skipString(s, i);
        if (i == kNpos) return kNpos;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return kNpos;
  }
  size_t j = i;
  while (j < s.size() && !isJsonSpace(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']') ++j;
  return j == i ? kNpos : j;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Compares the raw contents of a JSON string (between the quotes) with an ASCII name, decoding
// escapes, so that "include\u005fusage" is recognised and never duplicated.
bool rawStringEquals(std::string_view raw, std::string_view name) {
  size_t n = 0;
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c != '\\') {
      ++i;
    } else {
      if (i + 1 >= raw.size()) return false;
      const char e = raw[i + 1];
      if (e == 'u') {
        if (i + 6 > raw.size()) return false;
        int cp = 0;
        for (size_t k = i + 2; k < i + 6; ++k) {
          const int h = hexValue(raw[k]);
          if (h < 0) return false;
          cp = cp * 16 + h;
        }
        if (cp > 0x7f) return false;  // names compared here are ASCII
        c = static_cast<char>(cp);
        i += 6;
      } else {
        switch (e) {
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case 'n':
            c = '\n';
            break;
          case 'r':
            c = '\r';
            break;
          case 't':
            c = '\t';
            break;
          default:
            c = e;  // '"', '\\', '/'
        }
        i += 2;
      }
    }
    if (n >= name.size() || name[n] != c) return false;
    ++n;
  }
  return n == name.size();
}

// Appends `"stream_options":{"include_usage":true,<the client's other members, bytes kept>}` for a
// member `"stream_options": <object|null>`. Returns false (having appended a partial result) when
// the member does not have that shape.
bool appendForcedStreamOptions(std::string_view member, std::string& out) {
  size_t i = skipSpace(member, 0);
  if (i >= member.size() || member[i] != '"') return false;
  i = skipString(member, i);
  if (i == kNpos) return false;
  i = skipSpace(member, i);
  if (i >= member.size() || member[i] != ':') return false;
  i = skipSpace(member, i + 1);
  out += R"("stream_options":{"include_usage":true)";
  if (member.substr(i, 4) == "null") {
    i += 4;
  } else {
    if (i >= member.size() || member[i] != '{') return false;
    i = skipSpace(member, i + 1);
    if (i < member.size() && member[i] == '}') {
      ++i;
    } else {
      while (true) {
        if (i >= member.size() || member[i] != '"') return false;
        const size_t keyBegin = i;
        const size_t keyEnd = skipString(member, i);
        if (keyEnd == kNpos) return false;
        i = skipSpace(member, keyEnd);
        if (i >= member.size() || member[i] != ':') return false;
        const size_t valueBegin = skipSpace(member, i + 1);
        const size_t valueEnd = skipValue(member, valueBegin);
        if (valueEnd == kNpos) return false;
        const std::string_view rawKey = member.substr(keyBegin + 1, keyEnd - keyBegin - 2);
        if (!rawStringEquals(rawKey, "include_usage")) {
          out.push_back(',');
          out.append(member.substr(keyBegin, keyEnd - keyBegin));
          out.push_back(':');
          out.append(member.substr(valueBegin, valueEnd - valueBegin));
        }
        i = skipSpace(member, valueEnd);
        if (i < member.size() && member[i] == ',') {
          i = skipSpace(member, i + 1);
          continue;
        }
        if (i < member.size() && member[i] == '}') {
          ++i;
          break;
        }
        return false;
      }
    }
  }
  if (skipSpace(member, i) != member.size()) return false;
  out.push_back('}');
  return true;
}

enum class EditKind { Model, ReplaceStreamOptions, InsertStreamOptions };
struct Edit {
  size_t begin;
  size_t end;
  EditKind kind;
};

bool validSpan(const types::Span& span, size_t size) {
  return span.begin < span.end && span.end <= size;
}

}  // namespace

void buildUpstreamBody(std::string_view body, const types::ChatRequest& req,
                       std::string_view upstreamModel, std::string& out, bool forceUsage) {
  out.clear();
  std::array<Edit, 2> edits{};
  size_t count = 0;
  if (validSpan(req.modelSpan, body.size())) {
    edits[count++] = {req.modelSpan.begin, req.modelSpan.end, EditKind::Model};
  }
  if (req.stream && forceUsage) {
    if (validSpan(req.streamOptionsMember, body.size())) {
      edits[count++] = {req.streamOptionsMember.begin, req.streamOptionsMember.end,
                        EditKind::ReplaceStreamOptions};
    } else if (req.objectEnd < body.size() && body[req.objectEnd] == '}') {
      // Insert right after the last member, so whitespace before the '}' stays where it was.
      size_t at = req.objectEnd;
      while (at > 0 && isJsonSpace(body[at - 1])) --at;
      edits[count++] = {at, at, EditKind::InsertStreamOptions};
    }
  }
  // stream_options may precede model in the body.
  if (count == 2 && edits[1].begin < edits[0].begin) std::swap(edits[0], edits[1]);
  // Overlapping spans mean an inconsistent ChatRequest; keep the first edit rather than corrupt
  // bytes.
  if (count == 2 && edits[1].begin < edits[0].end) count = 1;

  out.reserve(body.size() + upstreamModel.size() + kForcedStreamOptions.size() + 8);
  size_t pos = 0;
  for (size_t k = 0; k < count; ++k) {
    const Edit& e = edits[k];
    out.append(body.substr(pos, e.begin - pos));
    switch (e.kind) {
      case EditKind::Model:
        appendJsonString(out, upstreamModel);
        break;
      case EditKind::ReplaceStreamOptions: {
        const size_t mark = out.size();
        if (!appendForcedStreamOptions(body.substr(e.begin, e.end - e.begin), out)) {
          out.resize(mark);
          out += kForcedStreamOptions;
        }
        break;
      }
      case EditKind::InsertStreamOptions:
        if (e.begin > 0 && body[e.begin - 1] != '{') out.push_back(',');
        out += kForcedStreamOptions;
        break;
    }
    pos = e.end;
  }
  out.append(body.substr(pos));
}

}  // namespace llmux::providers::openai
