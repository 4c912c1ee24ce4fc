#include "observability/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace llmux::observability {

namespace {
constexpr auto kRelaxed = std::memory_order_relaxed;

std::string statusLabel(size_t slot) {
  if (slot < kTrackedStatuses.size()) return std::to_string(kTrackedStatuses[slot]);
  return fmt::format("{}xx", slot - kTrackedStatuses.size() + 1);
}

// Prometheus label values escape backslash, double quote and newline.
std::string esc(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}
}  // namespace

size_t statusSlot(int status) {
  for (size_t i = 0; i < kTrackedStatuses.size(); ++i) {
    if (kTrackedStatuses[i] == status) return i;
  }
  int cls = std::clamp(status / 100, 1, 5);
  return kTrackedStatuses.size() + static_cast<size_t>(cls - 1);
}

void Histogram::observe(uint64_t us) {
  auto it = std::lower_bound(kBucketsUs.begin(), kBucketsUs.end(), us);
  if (it != kBucketsUs.end())
    buckets[static_cast<size_t>(it - kBucketsUs.begin())].fetch_add(1, kRelaxed);
  count.fetch_add(1, kRelaxed);
  sumUs.fetch_add(us, kRelaxed);
}

Shard::Shard(size_t deployments, size_t groupCount)
    : requests((deployments + 1) * kStatusSlots),
      promptTokens(deployments),
      completionTokens(deployments),
      groups(groupCount + 1) {}

Metrics::Metrics(std::vector<std::string> groupNames, std::vector<std::string> deploymentIds,
                 std::vector<size_t> deploymentGroup, size_t shards)
    : groupNames_(std::move(groupNames)),
      deploymentIds_(std::move(deploymentIds)),
      deploymentGroup_(std::move(deploymentGroup)) {
  for (size_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<Shard>(deploymentIds_.size(), groupNames_.size()));
  }
}

void Metrics::record(Shard& s, const Observation& o) {
  size_t d = static_cast<size_t>(o.deployment + 1);
  s.requests[d * kStatusSlots + statusSlot(o.status)].fetch_add(1, kRelaxed);
  if (o.deployment >= 0) {
    if (o.promptTokens)
      s.promptTokens[static_cast<size_t>(o.deployment)].fetch_add(o.promptTokens, kRelaxed);
    if (o.completionTokens) {
      s.completionTokens[static_cast<size_t>(o.deployment)].fetch_add(o.completionTokens, kRelaxed);
    }
  }
  size_t g = o.group >= 0 ? static_cast<size_t>(o.group) : s.groups.size() - 1;
  auto& gs = s.groups[g];
  gs.total.observe(o.totalUs);
  if (o.upstreamUs) {
    gs.upstream.observe(o.upstreamUs);
    gs.overhead.observe(o.totalUs > o.upstreamUs ? o.totalUs - o.upstreamUs : 0);
  }
  if (o.ttftUs) gs.ttft.observe(o.ttftUs);
}

std::string Metrics::render() const {
  std::string out;
  auto app = std::back_inserter(out);
  auto groupLabel = [&](size_t g) {
    return g < groupNames_.size() ? esc(groupNames_[g]) : std::string();
  };

  out +=
      "# HELP llmux_requests_total Requests answered, by model group, deployment and HTTP "
      "status.\n";
  out += "# TYPE llmux_requests_total counter\n";
  for (size_t d = 0; d <= deploymentIds_.size(); ++d) {
    for (size_t st = 0; st < kStatusSlots; ++st) {
      uint64_t v = 0;
      for (const auto& s : shards_) v += s->requests[d * kStatusSlots + st].load(kRelaxed);
      if (v == 0) continue;
      std::string dep = d == 0 ? "" : esc(deploymentIds_[d - 1]);
      std::string grp = d == 0 ? "" : groupLabel(deploymentGroup_[d - 1]);
      fmt::format_to(
          app, "llmux_requests_total{{model_group=\"{}\",deployment=\"{}\",status=\"{}\"}} {}\n",
          grp, dep, statusLabel(st), v);
    }
  }

  out += "# HELP llmux_tokens_total Tokens reported by upstream usage, by direction.\n";
  out += "# TYPE llmux_tokens_total counter\n";
  for (size_t d = 0; d < deploymentIds_.size(); ++d) {
    uint64_t p = 0, c = 0;
    for (const auto& s : shards_) {
      p += s->promptTokens[d].load(kRelaxed);
      c += s->completionTokens[d].load(kRelaxed);
    }
    std::string grp = groupLabel(deploymentGroup_[d]);
    std::string dep = esc(deploymentIds_[d]);
    fmt::format_to(
        app, "llmux_tokens_total{{model_group=\"{}\",deployment=\"{}\",direction=\"prompt\"}} {}\n",
        grp, dep, p);
    fmt::format_to(
        app,
        "llmux_tokens_total{{model_group=\"{}\",deployment=\"{}\",direction=\"completion\"}} {}\n",
        grp, dep, c);
  }

  struct HistDef {
    const char* name;
    const char* help;
    Histogram GroupStats::*member;
  };
  const HistDef defs[] = {
      {"llmux_request_duration_seconds", "Total time from request read to last byte written.",
       &GroupStats::total},
      {"llmux_upstream_duration_seconds", "Time spent waiting on the upstream provider.",
       &GroupStats::upstream},
      {"llmux_overhead_duration_seconds", "Gateway overhead: total minus upstream time.",
       &GroupStats::overhead},
      {"llmux_time_to_first_token_seconds", "Streams: request read to first chunk relayed.",
       &GroupStats::ttft},
  };
  size_t groups = groupNames_.size() + 1;
  for (const auto& def : defs) {
    fmt::format_to(app, "# HELP {} {}\n# TYPE {} histogram\n", def.name, def.help, def.name);
    for (size_t g = 0; g < groups; ++g) {
      std::array<uint64_t, kBucketsUs.size()> b{};
      uint64_t count = 0, sum = 0;
      for (const auto& s : shards_) {
        const Histogram& h = s->groups[g].*def.member;
        for (size_t i = 0; i < b.size(); ++i) b[i] += h.buckets[i].load(kRelaxed);
        count += h.count.load(kRelaxed);
        sum += h.sumUs.load(kRelaxed);
      }
      if (count == 0 && g == groups - 1) continue;
      std::string grp = groupLabel(g);
      uint64_t cum = 0;
      for (size_t i = 0; i < b.size(); ++i) {
        cum += b[i];
        fmt::format_to(app, "{}_bucket{{model_group=\"{}\",le=\"{}\"}} {}\n", def.name, grp,
                       static_cast<double>(kBucketsUs[i]) / 1e6, cum);
      }
      fmt::format_to(app, "{}_bucket{{model_group=\"{}\",le=\"+Inf\"}} {}\n", def.name, grp, count);
      fmt::format_to(app, "{}_sum{{model_group=\"{}\"}} {}\n", def.name, grp,
                     static_cast<double>(sum) / 1e6);
      fmt::format_to(app, "{}_count{{model_group=\"{}\"}} {}\n", def.name, grp, count);
    }
  }

  int64_t inflight = 0;
  for (const auto& s : shards_) inflight += s->inFlight.load(kRelaxed);
  out += "# HELP llmux_in_flight_requests Requests being processed now.\n";
  out += "# TYPE llmux_in_flight_requests gauge\n";
  fmt::format_to(app, "llmux_in_flight_requests {}\n", inflight);
  if (extra) extra(out);
  return out;
}

std::string escapeLabel(std::string_view v) {
  return esc(v);
}

}  // namespace llmux::observability
