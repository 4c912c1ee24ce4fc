#include "api/request_meta.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <chrono>
#include <set>

#include "common/error.hpp"
#include "common/text.hpp"

namespace llmux::api {

namespace {

void addTag(std::vector<std::string>& tags, std::string_view t) {
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  if (t.empty() || t.size() > 200 || tags.size() >= kMaxTags) return;
  for (const auto& x : tags) {
    if (x == t) return;
  }
  tags.emplace_back(t);
}

std::string tagsJson(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out += ',';
    appendJsonString(out, tags[i]);
  }
  out += ']';
  return out;
}

// Merges JSON objects given as text, later ones winning per key; non-objects are skipped.
std::string mergeObjects(const std::vector<std::string_view>& parts) {
  simdjson::dom::parser p;
  std::vector<std::pair<std::string, std::string>> members;
  for (std::string_view text : parts) {
    simdjson::dom::object obj;
    if (p.parse(text.data(), text.size()).get(obj) != simdjson::SUCCESS) continue;
    for (auto [k, v] : obj) {
      std::string key(k);
      std::string value = simdjson::to_string(v);
      bool replaced = false;
      for (auto& m : members) {
        if (m.first == key) {
          m.second = std::move(value);
          replaced = true;
          break;
        }
      }
      if (!replaced) members.emplace_back(std::move(key), std::move(value));
    }
  }
  if (members.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ',';
    appendJsonString(out, members[i].first);
    out += ':';
    out += members[i].second;
  }
  out += '}';
  return out;
}

void readBody(simdjson::dom::object obj, RequestMeta& out, std::vector<std::string>& tags,
              std::vector<std::string_view>& metaParts, std::string& metaText) {
  std::string_view user;
  if (obj["user"].get(user) == simdjson::SUCCESS) out.user = std::string(utf8Prefix(user, 256));
  for (const char* f : {"max_completion_tokens", "max_tokens"}) {
    int64_t n = 0;
    if (obj[f].get(n) == simdjson::SUCCESS && n > 0) {
      out.maxTokens = n;
      break;
    }
  }
  simdjson::dom::object meta;
  if (obj["metadata"].get(meta) == simdjson::SUCCESS) {
    metaText = simdjson::to_string(meta);
    simdjson::dom::array arr;
    if (meta["tags"].get(arr) == simdjson::SUCCESS) {
      for (auto t : arr) {
        std::string_view s;
        if (t.get(s) == simdjson::SUCCESS) addTag(tags, s);
      }
    }
  }
  simdjson::dom::array top;
  if (obj["tags"].get(top) == simdjson::SUCCESS) {
    for (auto t : top) {
      std::string_view s;
      if (t.get(s) == simdjson::SUCCESS) addTag(tags, s);
    }
  }
  if (!metaText.empty()) metaParts.insert(metaParts.begin(), metaText);
}

void finish(const http::Request& req, RequestMeta& out, std::vector<std::string>& tags,
            std::vector<std::string_view>& metaParts) {
  std::string_view h = req.header("x-llmux-tags");
  if (h.empty()) h = req.header("x-litellm-tags");
  while (!h.empty()) {
    const size_t comma = h.find(',');
    addTag(tags, h.substr(0, comma));
    if (comma == std::string_view::npos) break;
    h.remove_prefix(comma + 1);
  }
  if (auto m = req.header("x-portkey-metadata"); !m.empty()) metaParts.push_back(m);
  if (auto m = req.header("x-llmux-metadata"); !m.empty()) metaParts.push_back(m);
  if (!metaParts.empty()) {
    out.metadata = mergeObjects(metaParts);  // also drops what is not a JSON object
    if (out.metadata.size() > kMaxMetadataBytes) out.metadata = R"({"_truncated":true})";
  }
  if (!tags.empty()) out.tags = tagsJson(tags);
}

}  // namespace

void readRequestMeta(const http::Request& req, const simdjson::dom::object* body,
                     RequestMeta& out) {
  std::vector<std::string> tags;
  std::vector<std::string_view> metaParts;
  std::string metaText;
  if (body != nullptr) readBody(*body, out, tags, metaParts, metaText);
  finish(req, out, tags, metaParts);
}

void readRequestMeta(const http::Request& req, RequestMeta& out) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object obj;
  const std::string& body = req.body();
  const bool parsed = parser.parse(body.data(), body.size()).get(obj) == simdjson::SUCCESS;
  readRequestMeta(req, parsed ? &obj : nullptr, out);
}

void fillSpendRow(const http::Request& req, const RequestGov& st, const engine::RequestOutcome& o,
                  int status, double cost, int64_t endMs, const engine::Gateway& gw,
                  store::SpendRow& row) {
  // Assignments into `row` reuse its strings' capacity (a recycled SpendWriter node).
  const auth::Principal& p = *st.principal;
  row.requestId.assign(req.requestId);
  row.callType = st.callType;
  row.apiKey = p.keyHash;
  if (p.kind == auth::Principal::Kind::Master) {
    row.keyAlias.assign("master_key");
  } else {
    row.keyAlias = p.keyAlias;
  }
  row.teamId = p.teamId;
  row.userId = p.userId;
  row.endUser = st.endUser;
  row.model = st.model;
  if (o.deployment >= 0) {
    const engine::DeploymentRt& d = gw.deployments[static_cast<size_t>(o.deployment)];
    row.modelGroup = d.cfg->modelName;
    row.deployment = d.cfg->id;
    row.provider = d.cfg->provider;
    row.apiBase = d.cfg->apiBase;
  }
  row.promptTokens = std::max<int64_t>(o.promptTokens, 0);
  row.completionTokens = std::max<int64_t>(o.completionTokens, 0);
  row.cachedTokens = std::max<int64_t>(o.cachedTokens, 0);
  row.reasoningTokens = std::max<int64_t>(o.reasoningTokens, 0);
  row.tokensEstimated = st.tokensEstimated && o.promptTokens == o.countedPromptTokens;
  row.spend = cost;
  row.status = status;
  row.errorType = o.errorType;
  row.startTime = st.startMs;
  row.endTime = endMs;
  if (o.ttftUs > 0) row.completionStartTime = st.startMs + static_cast<int64_t>(o.ttftUs / 1000);
  // Request tags, then the key's own.
  if (p.tags.empty()) {
    if (st.tags.empty()) {
      row.tags.assign("[]");
    } else {
      row.tags = st.tags;
    }
  } else {
    std::vector<std::string> all;
    simdjson::dom::parser parser;
    simdjson::dom::array arr;
    if (!st.tags.empty() && parser.parse(st.tags).get(arr) == simdjson::SUCCESS) {
      for (auto t : arr) {
        std::string_view s;
        if (t.get(s) == simdjson::SUCCESS) addTag(all, s);
      }
    }
    for (const auto& t : p.tags) addTag(all, t);
    row.tags = tagsJson(all);
  }
  if (st.metadata.empty()) {
    row.metadata.assign("{}");
  } else {
    row.metadata = st.metadata;
  }
}

}  // namespace llmux::api
