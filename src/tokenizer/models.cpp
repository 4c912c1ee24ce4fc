// Model name -> tiktoken encoding (tiktoken's model.py tables, by family rather than by exact
// name, so dated snapshots and new sizes of a family resolve without an update).
#include <array>
#include <string_view>

#include "tokenizer/count.hpp"

namespace llmux::tokenizer {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool isAlnum(char c) {
  c = lower(c);
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

// `name` is `family` itself or `family` followed by a separator: "gpt-4o" matches "gpt-4o",
// "gpt-4o-mini", "gpt-4o-2024-08-06" but not "gpt-4omni". With dashOnly only '-' separates, so
// "gpt-4" does not claim "gpt-4.1" or "gpt-4o".
bool inFamily(std::string_view name, std::string_view family, bool dashOnly = false) {
  if (!startsWithNoCase(name, family)) return false;
  if (name.size() == family.size()) return true;
  const char next = name[family.size()];
  return dashOnly ? next == '-' : !isAlnum(next);
}

struct Family {
  std::string_view prefix;
  bool dashOnly;
  std::string_view encoding;
};

// Checked in order: the o200k families first, so "gpt-4o"/"gpt-4.1" never fall to "gpt-4".
constexpr std::array<Family, 17> kFamilies{{
    {"gpt-4o", false, "o200k_base"},
    {"chatgpt-4o", false, "o200k_base"},
    {"gpt-4.1", false, "o200k_base"},
    {"gpt-4.5", false, "o200k_base"},
    {"gpt-5", false, "o200k_base"},
    {"o1", false, "o200k_base"},
    {"o3", false, "o200k_base"},
    {"o4", false, "o200k_base"},
    {"gpt-oss", false, "o200k_base"},
    {"gpt-4", true, "cl100k_base"},
    {"gpt-3.5", false, "cl100k_base"},
    {"gpt-35-turbo", false, "cl100k_base"},
    {"text-embedding-3-small", false, "cl100k_base"},
    {"text-embedding-3-large", false, "cl100k_base"},
    {"text-embedding-ada-002", false, "cl100k_base"},
    {"davinci-002", false, "cl100k_base"},
    {"babbage-002", false, "cl100k_base"},
}};

}  // namespace

std::string_view encodingForModel(std::string_view model) {
  // Provider routing prefixes: "openai/gpt-4o", "azure/gpt-4o", "openrouter/openai/gpt-4o".
  if (const size_t slash = model.rfind('/'); slash != std::string_view::npos) {
    model = model.substr(slash + 1);
  }
  // Fine-tunes: "ft:gpt-4o-mini-2024-07-18:org:suffix:id" -> the base model.
  if (startsWithNoCase(model, "ft:")) {
    model = model.substr(3);
    model = model.substr(0, model.find(':'));
  }
  // Bedrock's spelling of OpenAI's open-weight models: "openai.gpt-oss-120b-1:0".
  if (startsWithNoCase(model, "openai.")) model = model.substr(7);
  for (const Family& f : kFamilies) {
    if (inFamily(model, f.prefix, f.dashOnly)) return f.encoding;
  }
  return {};
}

}  // namespace llmux::tokenizer
