#pragma once
// One golden-file driver for every native provider adapter (providers/common/adapter.hpp). Files
// live in tests/data/golden/<provider>/, one case per input file, expected output next to it:
//
//   request/<case>.json           an OpenAI chat request (the client's body)
//   request/<case>.options.json   optional: {"upstream_model","drop_params","default_max_tokens",
//                                            "api_version","project","location"} (stream comes
//                                            from the request; project/location default to
//                                            golden-project / us-central1)
//   request/<case>.expected.txt   "POST <path>\n<header lines>\ndropped: a, b\n\n<body>", or
//                                 "ERROR <status>\n<error json>"
//   response/<case>.json          a 2xx upstream body
//   response/<case>.expected.txt  "<openai body>\n#-- usage ..." or "ERROR <status>\n<error json>"
//   stream/<case>.<sse|ndjson|bin> the upstream stream bytes (cases ending "_nousage" run without
//                                 include_usage)
//   stream/<case>.expected.sse    the client bytes, then "#-- <status> usage ...": checked with the
//                                 input split at every byte boundary and fed one byte at a time
//   error/<status>_<case>.<json|txt> a non-2xx upstream body
//   error/<status>_<case>.expected.txt  "<status>\n<error json>\nretryable=.. fallback=.."
//
// A fix starts with a failing golden file. LLMUX_UPDATE_GOLDEN=1 rewrites the expected files;
// review the diff before committing.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "providers/common/adapter.hpp"
#include "unit/golden_files.hpp"

namespace llmux::testing {

namespace golden_detail {

namespace fs = std::filesystem;

inline constexpr std::string_view kClientModel = "client-model";
inline constexpr std::string_view kId = "chatcmpl-golden";
inline constexpr int64_t kCreated = 1767225600;

inline fs::path dirOf(std::string_view provider, std::string_view kind) {
  return fs::path(LLMUX_TEST_DATA) / "golden" / std::string(provider) / std::string(kind);
}

// Stems of input files in `dir`: files ending in one of `exts` that are not expected/options files.
inline std::vector<std::string> inputStems(const fs::path& dir,
                                           std::initializer_list<std::string_view> exts) {
  std::vector<std::string> out;
  for (std::string_view ext : exts) {
    for (auto& stem : goldenStems(dir, ext)) {
      if (stem.ends_with(".expected") || stem.ends_with(".options")) continue;
      out.push_back(stem);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

inline std::string findInput(const fs::path& dir, const std::string& stem,
                             std::initializer_list<std::string_view> exts) {
  for (std::string_view ext : exts) {
    fs::path p = dir / (stem + std::string(ext));
    if (fs::exists(p)) return readFile(p);
  }
  ADD_FAILURE() << "no input for " << stem << " in " << dir;
  return {};
}

inline void compareOrUpdate(const fs::path& expectedPath, const std::string& actual) {
  if (updatingGolden()) writeFile(expectedPath, actual);
  const std::string expected = readFile(expectedPath);
  EXPECT_FALSE(expected.empty()) << "missing " << expectedPath
                                 << " (run with LLMUX_UPDATE_GOLDEN=1)";
  EXPECT_EQ(actual, expected) << expectedPath;
}

inline std::string renderError(const GatewayError& e) {
  return "ERROR " + std::to_string(e.status) + "\n" + e.toJson() + "\n";
}

inline std::string renderUsage(const providers::Usage& u) {
  if (!u.present) return "usage none\n";
  return "usage prompt=" + std::to_string(u.promptTokens) +
         " completion=" + std::to_string(u.completionTokens) +
         " total=" + std::to_string(u.totalTokens) + " cached=" + std::to_string(u.cachedTokens) +
         " reasoning=" + std::to_string(u.reasoningTokens) + "\n";
}

inline std::string runRequest(const providers::Adapter& a, const fs::path& dir,
                              const std::string& stem) {
  std::string input = readFile(dir / (stem + ".json"));
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  if (parser.parse(input).get(req) != simdjson::SUCCESS) {
    ADD_FAILURE() << stem << ".json is not JSON";
    return {};
  }
  providers::RequestOptions opts;
  opts.upstreamModel = "upstream-model";
  opts.project = "golden-project";
  opts.location = "us-central1";
  bool stream = false;
  if (req["stream"].get(stream) == simdjson::SUCCESS) opts.stream = stream;
  std::string optsText;
  simdjson::dom::parser optsParser;
  if (fs::exists(dir / (stem + ".options.json"))) {
    optsText = readFile(dir / (stem + ".options.json"));
    simdjson::dom::element o;
    if (optsParser.parse(optsText).get(o) == simdjson::SUCCESS) {
      std::string_view sv;
      bool b = false;
      int64_t n = 0;
      if (o["upstream_model"].get(sv) == simdjson::SUCCESS) opts.upstreamModel = sv;
      if (o["drop_params"].get(b) == simdjson::SUCCESS) opts.dropParams = b;
      if (o["default_max_tokens"].get(n) == simdjson::SUCCESS) opts.defaultMaxTokens = n;
      if (o["api_version"].get(sv) == simdjson::SUCCESS) opts.apiVersion = sv;
      if (o["project"].get(sv) == simdjson::SUCCESS) opts.project = sv;
      if (o["location"].get(sv) == simdjson::SUCCESS) opts.location = sv;
    }
  }
  providers::UpstreamCall call;
  if (auto err = a.buildRequest(req, opts, call)) return renderError(*err);
  std::string out = "POST " + call.path + "\n" + call.headers;
  // Header lines end in CRLF on the wire; golden files are easier to read with LF only.
  for (size_t p; (p = out.find("\r\n")) != std::string::npos;) out.erase(p, 1);
  if (!call.dropped.empty()) {
    out += "dropped: ";
    for (size_t i = 0; i < call.dropped.size(); ++i) out += (i ? ", " : "") + call.dropped[i];
    out += "\n";
  }
  out += "\n" + call.body + "\n";
  return out;
}

inline std::string runResponse(const providers::Adapter& a, const std::string& body) {
  providers::ResponseOptions opts{kClientModel, kId, kCreated, false};
  simdjson::dom::parser parser;
  std::string out = "stale";
  providers::Usage usage;
  usage.present = true;
  usage.promptTokens = -1;
  if (auto err = a.translateResponse(body, opts, parser, out, usage)) return renderError(*err);
  return out + "\n#-- " + renderUsage(usage);
}

struct StreamRun {
  std::string out;
  providers::StreamStatus status = providers::StreamStatus::Continue;
  providers::Usage usage;
};

inline StreamRun runStream(const providers::Adapter& a, std::string_view input,
                           const std::vector<size_t>& cuts, bool includeUsage) {
  providers::ResponseOptions opts{kClientModel, kId, kCreated, includeUsage};
  auto dec = a.makeStreamDecoder(opts);
  StreamRun r;
  size_t pos = 0;
  auto feed = [&](std::string_view piece) {
    if (r.status != providers::StreamStatus::Continue) return;
    r.status = dec->feed(piece, r.out);
  };
  for (size_t cut : cuts) {
    feed(input.substr(pos, cut - pos));
    pos = cut;
  }
  feed(input.substr(pos));
  if (r.status == providers::StreamStatus::Continue) r.status = dec->finish(r.out);
  r.usage = dec->usage();
  return r;
}

inline std::string renderStream(const StreamRun& r) {
  const char* st = r.status == providers::StreamStatus::Done     ? "done"
                   : r.status == providers::StreamStatus::Failed ? "failed"
                                                                 : "continue";
  return r.out + "#-- " + st + " " + renderUsage(r.usage);
}

// Every event is one `data:` line holding a JSON object or [DONE].
inline void expectWellFormedSse(std::string_view out) {
  simdjson::dom::parser parser;
  while (!out.empty()) {
    const size_t end = out.find("\n\n");
    ASSERT_NE(end, std::string_view::npos) << "unterminated event: " << out;
    std::string_view ev = out.substr(0, end);
    out.remove_prefix(end + 2);
    ASSERT_TRUE(ev.starts_with("data: ")) << ev;
    const std::string_view payload = ev.substr(6);
    EXPECT_EQ(payload.find('\n'), std::string_view::npos) << ev;
    if (payload == "[DONE]") continue;
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(payload).get(doc), simdjson::SUCCESS) << payload;
  }
}

}  // namespace golden_detail

// Instantiates the four golden suites for one adapter. `NAME` is a C++ identifier, `ADAPTER` an
// expression giving `const providers::Adapter&`, `DIR` the directory under tests/data/golden/.
#define LLMUX_ADAPTER_GOLDEN_TESTS(NAME, ADAPTER, DIR)                                           \
  namespace golden_##NAME {                                                                      \
    namespace gd = ::llmux::testing::golden_detail;                                              \
    class NAME##Request : public ::testing::TestWithParam<std::string> {};                       \
    TEST_P(NAME##Request, Golden) {                                                              \
      const auto dir = gd::dirOf(DIR, "request");                                                \
      gd::compareOrUpdate(dir / (GetParam() + ".expected.txt"),                                  \
                          gd::runRequest(ADAPTER, dir, GetParam()));                             \
    }                                                                                            \
    INSTANTIATE_TEST_SUITE_P(                                                                    \
        NAME, NAME##Request,                                                                     \
        ::testing::ValuesIn(gd::inputStems(gd::dirOf(DIR, "request"), {".json"})),               \
        ::llmux::testing::goldenParamName);                                                      \
    GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NAME##Request);                                \
    class NAME##Response : public ::testing::TestWithParam<std::string> {};                      \
    TEST_P(NAME##Response, Golden) {                                                             \
      const auto dir = gd::dirOf(DIR, "response");                                               \
      const std::string body = ::llmux::testing::readFile(dir / (GetParam() + ".json"));         \
      gd::compareOrUpdate(dir / (GetParam() + ".expected.txt"), gd::runResponse(ADAPTER, body)); \
    }                                                                                            \
    INSTANTIATE_TEST_SUITE_P(                                                                    \
        NAME, NAME##Response,                                                                    \
        ::testing::ValuesIn(gd::inputStems(gd::dirOf(DIR, "response"), {".json"})),              \
        ::llmux::testing::goldenParamName);                                                      \
    GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NAME##Response);                               \
    class NAME##Stream : public ::testing::TestWithParam<std::string> {};                        \
    TEST_P(NAME##Stream, Golden) {                                                               \
      const auto dir = gd::dirOf(DIR, "stream");                                                 \
      const std::string input = gd::findInput(dir, GetParam(), {".sse", ".ndjson", ".bin"});     \
      const bool usage = !std::string_view(GetParam()).ends_with("_nousage");                    \
      const auto whole = gd::runStream(ADAPTER, input, {}, usage);                               \
      gd::compareOrUpdate(dir / (GetParam() + ".expected.sse"), gd::renderStream(whole));        \
      gd::expectWellFormedSse(whole.out);                                                        \
      EXPECT_EQ(whole.status == ::llmux::providers::StreamStatus::Done,                          \
                whole.out.ends_with("data: [DONE]\n\n"));                                        \
      for (size_t i = 1; i < input.size(); ++i) {                                                \
        ASSERT_EQ(gd::renderStream(gd::runStream(ADAPTER, input, {i}, usage)),                   \
                  gd::renderStream(whole))                                                       \
            << "split at byte " << i;                                                            \
      }                                                                                          \
      std::vector<size_t> every;                                                                 \
      for (size_t i = 1; i < input.size(); ++i) every.push_back(i);                              \
      EXPECT_EQ(gd::renderStream(gd::runStream(ADAPTER, input, every, usage)),                   \
                gd::renderStream(whole));                                                        \
    }                                                                                            \
    INSTANTIATE_TEST_SUITE_P(NAME, NAME##Stream,                                                 \
                             ::testing::ValuesIn(gd::inputStems(gd::dirOf(DIR, "stream"),        \
                                                                {".sse", ".ndjson", ".bin"})),   \
                             ::llmux::testing::goldenParamName);                                 \
    GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NAME##Stream);                                 \
    class NAME##Error : public ::testing::TestWithParam<std::string> {};                         \
    TEST_P(NAME##Error, Golden) {                                                                \
      const auto dir = gd::dirOf(DIR, "error");                                                  \
      const std::string body = gd::findInput(dir, GetParam(), {".json", ".txt"});                \
      const int status = std::atoi(GetParam().c_str());                                          \
      ASSERT_GE(status, 400) << "error cases are named <status>_<name>";                         \
      const ::llmux::GatewayError e = (ADAPTER).mapError(status, body, std::nullopt);            \
      std::string out = std::to_string(e.status) + "\n" + e.toJson() +                           \
                        "\nretryable=" + (e.retryable ? "true" : "false") +                      \
                        " fallback=" + (e.fallbackAllowed ? "true" : "false") + "\n";            \
      gd::compareOrUpdate(dir / (GetParam() + ".expected.txt"), out);                            \
    }                                                                                            \
    INSTANTIATE_TEST_SUITE_P(                                                                    \
        NAME, NAME##Error,                                                                       \
        ::testing::ValuesIn(gd::inputStems(gd::dirOf(DIR, "error"), {".json", ".txt"})),         \
        ::llmux::testing::goldenParamName);                                                      \
    GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NAME##Error);                                  \
  }

}  // namespace llmux::testing
