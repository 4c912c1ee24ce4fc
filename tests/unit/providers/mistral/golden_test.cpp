#include "providers/mistral/mistral.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <iterator>
#include <set>
#include <string>

#include "unit/adapter_golden.hpp"

namespace llmux::providers::mistral {
LLMUX_ADAPTER_GOLDEN_TESTS(Mistral, adapter(), "mistral")
}  // namespace llmux::providers::mistral

namespace llmux::providers::mistral {
namespace {

bool isMistralId(const std::string& id) {
  if (id.size() != 9) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

TEST(MistralToolCallId, KeepsConformingIds) {
  EXPECT_EQ(toolCallId("aB3dE5gH7"), "aB3dE5gH7");
  EXPECT_EQ(toolCallId("D681PevKs"), "D681PevKs");
}

TEST(MistralToolCallId, RemapsOthersDeterministically) {
  const char* ids[] = {"call_Xy12abc",
                       "toolu_01A09q90qw90lq917835lq9",
                       "",
                       "abc",
                       "aB3dE5gH7x",
                       "aB3dE5gH_",
                       "tooluse_Zq",
                       "call_0_0",
                       "\xC3\xA9\xC3\xA9\xC3\xA9"};
  std::set<std::string> seen;
  for (const char* id : ids) {
    const std::string mapped = toolCallId(id);
    EXPECT_TRUE(isMistralId(mapped)) << id << " -> " << mapped;
    EXPECT_EQ(mapped, toolCallId(id)) << "not a pure function of " << id;
    EXPECT_EQ(toolCallId(mapped), mapped) << "a mapped id must be kept as is";
    seen.insert(mapped);
  }
  EXPECT_EQ(seen.size(), std::size(ids));
}

TEST(MistralStream, NothingAfterDone) {
  ResponseOptions opts{"client-model", "chatcmpl-x", 1, true};
  auto dec = adapter().makeStreamDecoder(opts);
  std::string out;
  EXPECT_EQ(dec->feed("data: [DONE]\n\n", out), StreamStatus::Done);
  const size_t size = out.size();
  EXPECT_EQ(dec->feed("data: {\"object\":\"error\",\"message\":\"late\"}\n\n", out),
            StreamStatus::Done);
  EXPECT_EQ(dec->finish(out), StreamStatus::Done);
  EXPECT_EQ(out.size(), size);
}

TEST(MistralStream, TruncationFailsWithoutOutput) {
  ResponseOptions opts{"client-model", "chatcmpl-x", 1, false};
  auto dec = adapter().makeStreamDecoder(opts);
  std::string out;
  EXPECT_EQ(dec->feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n", out),
            StreamStatus::Continue);
  const size_t size = out.size();
  EXPECT_EQ(dec->finish(out), StreamStatus::Failed);
  EXPECT_EQ(dec->finish(out), StreamStatus::Failed);
  EXPECT_EQ(out.size(), size);
}

TEST(MistralStream, OversizedEventFails) {
  ResponseOptions opts{"client-model", "chatcmpl-x", 1, false};
  auto dec = adapter().makeStreamDecoder(opts);
  std::string out;
  const std::string big = "data: \"" + std::string(size_t{9} << 20, 'a');
  EXPECT_EQ(dec->feed(big, out), StreamStatus::Failed);
  EXPECT_TRUE(out.starts_with("data: {\"error\":")) << out.substr(0, 200);
}

TEST(MistralRequest, NonObjectBodyIsA400) {
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  ASSERT_EQ(parser.parse(std::string_view("[1,2]")).get(req), simdjson::SUCCESS);
  RequestOptions opts;
  UpstreamCall call;
  const auto err = adapter().buildRequest(req, opts, call);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->status, 400);
  EXPECT_TRUE(call.body.empty());
}

}  // namespace
}  // namespace llmux::providers::mistral
