// Fuzzes the Portkey routing-config parser and its evaluators: arbitrary bytes give a tree or an
// error naming a path, never a crash. Accepted trees must respect the documented bounds, carry
// valid override JSON, and the conditional / weighted picks must land on a real target. The same
// bytes are also tried as a bare condition query.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "router/portkey_config.hpp"

namespace {

namespace pk = llmux::router::portkey;
namespace dom = simdjson::dom;

constexpr std::string_view kMetadata =
    R"({"plan":"paid","user_plan":"free","tier":"3","level":7,"beta":true,"none":null,
        "user":{"org":{"id":"acme"},"age":42},"tags":["a","b"],"region":"eu-west"})";
constexpr std::string_view kParams =
    R"({"model":"fastest","temperature":0.9,"max_tokens":1000,"stream":false,
        "messages":[{"role":"user","content":"hi"}],"metadata":{"k":"v"}})";

void checkOverrides(const pk::Node& n, dom::parser& scratch) {
  LLMUX_FUZZ_CHECK(n.overrideParams.empty() == n.overrides.empty());
  if (n.overrideParams.empty()) return;
  dom::element e;
  LLMUX_FUZZ_CHECK(scratch.parse(simdjson::padded_string(n.overrideParams)).get(e) ==
                   simdjson::SUCCESS);
  dom::object obj;
  LLMUX_FUZZ_CHECK(e.get_object().get(obj) == simdjson::SUCCESS);
  LLMUX_FUZZ_CHECK(obj.size() == n.overrides.size());
  std::string_view model;
  if (!n.model.empty()) {
    LLMUX_FUZZ_CHECK(obj["model"].get(model) == simdjson::SUCCESS && model == n.model);
  }
}

void walk(const pk::Node& n, int depth, size_t& count, const pk::RequestFacts& facts,
          dom::parser& scratch) {
  ++count;
  LLMUX_FUZZ_CHECK(depth <= pk::kMaxDepth);
  LLMUX_FUZZ_CHECK(n.targets.size() <= pk::kMaxTargets);
  LLMUX_FUZZ_CHECK(n.weight >= 0 && n.weight <= pk::kMaxWeight);
  if (n.retry) {
    LLMUX_FUZZ_CHECK(n.retry->attempts >= 0 && n.retry->attempts <= pk::kMaxRetryAttempts);
    LLMUX_FUZZ_CHECK(!n.retry->onStatusCodes.empty());
  }
  if (n.requestTimeoutMs) {
    LLMUX_FUZZ_CHECK(*n.requestTimeoutMs >= 1 && *n.requestTimeoutMs <= pk::kMaxRequestTimeoutMs);
  }
  checkOverrides(n, scratch);
  if (n.isLeaf()) {
    LLMUX_FUZZ_CHECK(n.conditions.empty());
    return;
  }
  const int size = static_cast<int>(n.targets.size());
  for (const auto& c : n.conditions) {
    LLMUX_FUZZ_CHECK(c.target < n.targets.size() && n.targets[c.target].name == c.then);
    (void)pk::matches(c.query, facts);
    (void)pk::matches(c.query, pk::RequestFacts{});
  }
  const int pick = pk::chooseConditional(n, facts);
  LLMUX_FUZZ_CHECK(pick >= -1 && pick < size);
  if (n.mode != pk::Mode::Conditional) LLMUX_FUZZ_CHECK(pick == -1);
  if (n.mode == pk::Mode::Conditional && n.defaultIndex >= 0) LLMUX_FUZZ_CHECK(pick >= 0);
  for (double r : {0.0, 0.25, 0.5, 0.999999, 1.0}) {
    const size_t w = pk::chooseWeighted(n, r);
    LLMUX_FUZZ_CHECK(w < n.targets.size());
    if (n.mode == pk::Mode::LoadBalance) LLMUX_FUZZ_CHECK(n.targets[w].weight > 0);
  }
  for (const auto& t : n.targets) walk(t, depth + 1, count, facts, scratch);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT: libFuzzer ABI
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dom::parser mp, pp, scratch, qp;
  dom::element metadata, params;
  LLMUX_FUZZ_CHECK(mp.parse(simdjson::padded_string(kMetadata)).get(metadata) == simdjson::SUCCESS);
  LLMUX_FUZZ_CHECK(pp.parse(simdjson::padded_string(kParams)).get(params) == simdjson::SUCCESS);
  const pk::RequestFacts facts{metadata, params};

  pk::Node root;
  const auto err = pk::parse(text, root);
  if (err) {
    LLMUX_FUZZ_CHECK(!err->empty() && err->find(": ") != std::string::npos);
    LLMUX_FUZZ_CHECK(simdjson::validate_utf8(err->data(), err->size()));
  } else {
    size_t count = 0;
    walk(root, 0, count, facts, scratch);
    LLMUX_FUZZ_CHECK(count <= pk::kMaxNodes);
  }

  // The same bytes as a bare query.
  if (size <= pk::kMaxConfigBytes) {
    dom::element e;
    if (qp.parse(simdjson::padded_string(text)).get(e) == simdjson::SUCCESS) {
      pk::Query q;
      if (const auto qerr = pk::parseQuery(e, "q", q)) {
        LLMUX_FUZZ_CHECK(simdjson::validate_utf8(qerr->data(), qerr->size()));
      } else {
        (void)pk::matches(q, facts);
        (void)pk::matches(q, pk::RequestFacts{std::nullopt, params});
      }
    }
  }
  return 0;
}
