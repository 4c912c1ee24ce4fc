#include "observability/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace llmux::observability {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(Metrics, SumsShardsAndLabelsFromConfigOnly) {
  Metrics m({"gpt", "claude"}, {"gpt/0", "gpt/1", "claude/2"}, {0, 0, 1}, 2);
  Metrics::Observation o;
  o.deployment = 1;
  o.group = 0;
  o.status = 200;
  o.totalUs = 1200;
  o.upstreamUs = 1000;
  o.promptTokens = 7;
  o.completionTokens = 3;
  Metrics::record(m.shard(0), o);
  Metrics::record(m.shard(1), o);
  Metrics::Observation bad;  // rejected before routing: no group, no deployment
  bad.status = 404;
  bad.totalUs = 50;
  Metrics::record(m.shard(1), bad);
  o.status = 418;  // untracked status: counted under its class
  Metrics::record(m.shard(0), o);
  m.shard(1).inFlight.fetch_add(2);

  const std::string t = m.render();
  EXPECT_TRUE(
      has(t, R"(llmux_requests_total{model_group="gpt",deployment="gpt/1",status="200"} 2)"));
  EXPECT_TRUE(
      has(t, R"(llmux_requests_total{model_group="gpt",deployment="gpt/1",status="4xx"} 1)"));
  EXPECT_TRUE(has(t, R"(llmux_requests_total{model_group="",deployment="",status="404"} 1)"));
  EXPECT_TRUE(
      has(t, R"(llmux_tokens_total{model_group="gpt",deployment="gpt/1",direction="prompt"} 21)"));
  EXPECT_TRUE(has(
      t, R"(llmux_tokens_total{model_group="gpt",deployment="gpt/1",direction="completion"} 9)"));
  EXPECT_TRUE(has(t, R"(llmux_request_duration_seconds_count{model_group="gpt"} 3)"));
  EXPECT_TRUE(
      has(t, R"(llmux_overhead_duration_seconds_bucket{model_group="gpt",le="0.00025"} 3)"));
  EXPECT_TRUE(has(t, R"(llmux_upstream_duration_seconds_bucket{model_group="gpt",le="0.001"} 3)"));
  EXPECT_TRUE(has(t, R"(llmux_request_duration_seconds_bucket{model_group="gpt",le="+Inf"} 3)"));
  EXPECT_TRUE(has(t, "llmux_in_flight_requests 2\n"));
  EXPECT_TRUE(has(t, "# TYPE llmux_time_to_first_token_seconds histogram\n"));
  // A status never seen gets no series.
  EXPECT_FALSE(has(t, R"(status="500")"));
}

TEST(Metrics, EscapesLabelValues) {
  Metrics m({"we\"ird\\group"}, {"id\n1"}, {0}, 1);
  Metrics::Observation o;
  o.deployment = 0;
  o.group = 0;
  o.status = 200;
  Metrics::record(m.shard(0), o);
  const std::string t = m.render();
  EXPECT_TRUE(has(t, R"(model_group="we\"ird\\group",deployment="id\n1")"));
}

TEST(Metrics, StatusSlots) {
  EXPECT_EQ(statusSlot(200), 0u);
  EXPECT_NE(statusSlot(599), statusSlot(200));
  EXPECT_EQ(statusSlot(599), statusSlot(550));
  EXPECT_EQ(statusSlot(99), statusSlot(150));  // clamped into 1xx
}

}  // namespace
}  // namespace llmux::observability
