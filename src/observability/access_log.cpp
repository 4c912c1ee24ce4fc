#include "observability/access_log.hpp"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

#include "common/error.hpp"

namespace llmux::observability {

AccessLog::AccessLog(const std::string& target, size_t producers) {
  if (target.empty()) return;
  if (target == "-") {
    out_ = stdout;
  } else {
    out_ = std::fopen(target.c_str(), "ae");
    if (out_ == nullptr) throw std::runtime_error("cannot open access log " + target);
    ownsFile_ = true;
  }
  for (size_t i = 0; i < producers; ++i) rings_.push_back(std::make_unique<Ring>());
  writer_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  stop();
}

void AccessLog::push(size_t producer, const AccessRecord& r) {
  if (out_ == nullptr) return;
  if (!rings_[producer]->push(r)) dropped_.fetch_add(1, std::memory_order_relaxed);
}

void AccessLog::format(const AccessRecord& r, std::string& out) {
  auto app = std::back_inserter(out);
  out += "{\"ts\":";
  fmt::format_to(app, "{}", r.unixMs);
  auto str = [&](const char* key, std::string_view v) {
    out += ",\"";
    out += key;
    out += "\":";
    appendJsonString(out, v);
  };
  str("request_id", r.requestId.view());
  str("method", r.method.view());
  str("path", r.path.view());
  fmt::format_to(app, ",\"status\":{}", r.status);
  str("model_group", r.modelGroup.view());
  str("deployment", r.deployment.view());
  fmt::format_to(app, ",\"stream\":{}", r.stream ? "true" : "false");
  // Milliseconds with 3 decimals from integer microseconds (no floating-point formatting).
  auto millis = [&](const char* key, uint64_t us) {
    fmt::format_to(app, ",\"{}\":{}.{:03}", key, us / 1000, us % 1000);
  };
  millis("total_ms", r.totalUs);
  millis("upstream_ms", r.upstreamUs);
  millis("ttft_ms", r.ttftUs);
  millis("overhead_ms", r.overheadUs);
  fmt::format_to(app,
                 ",\"prompt_tokens\":{},\"completion_tokens\":{},\"bytes_in\":{},\"bytes_out\":{}",
                 r.promptTokens, r.completionTokens, r.bytesIn, r.bytesOut);
  if (r.errorType.len > 0) {
    str("error_type", r.errorType.view());
  } else {
    out += ",\"error_type\":null";
  }
  out += "}\n";
}

bool AccessLog::drainOnce(std::string& line) {
  bool any = false;
  AccessRecord r;
  for (auto& ring : rings_) {
    while (ring->pop(r)) {
      format(r, line);
      any = true;
      if (line.size() > 64 * 1024) {
        std::fwrite(line.data(), 1, line.size(), out_);
        line.clear();
      }
    }
  }
  if (!line.empty()) {
    std::fwrite(line.data(), 1, line.size(), out_);
    line.clear();
  }
  if (any) std::fflush(out_);
  return any;
}

void AccessLog::run() {
  std::string line;
  line.reserve(64 * 1024);
  while (!stop_.load(std::memory_order_acquire)) {
    if (!drainOnce(line)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  drainOnce(line);
}

void AccessLog::stop() {
  if (writer_.joinable()) {
    stop_.store(true, std::memory_order_release);
    writer_.join();
  }
  if (ownsFile_ && out_ != nullptr) {
    std::fclose(out_);
    out_ = nullptr;
    ownsFile_ = false;
  }
}

}  // namespace llmux::observability
