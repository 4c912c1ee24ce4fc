#include "observability/access_log.hpp"

#include <charconv>
#include <chrono>
#include <stdexcept>

#include "common/error.hpp"
#include "common/text.hpp"

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

namespace {

void appendKey(std::string& out, std::string_view key) {
  out += ",\"";
  out += key;
  out += "\":";
}

// Milliseconds with 3 decimals from integer microseconds (no floating-point formatting).
void appendMillis(std::string& out, std::string_view key, uint64_t us) {
  appendKey(out, key);
  appendDecimal(out, static_cast<int64_t>(us / 1000));
  const auto frac = static_cast<unsigned>(us % 1000);
  const char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                          static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10)};
  out.append(digits, 4);
}
}  // namespace

void AccessLog::format(const AccessRecord& r, std::string& out) {
  out += "{\"ts\":";
  appendDecimal(out, r.unixMs);
  auto str = [&](std::string_view key, std::string_view v) {
    appendKey(out, key);
    appendJsonString(out, v);
  };
  auto num = [&](std::string_view key, uint64_t v) {
    appendKey(out, key);
    appendDecimal(out, static_cast<int64_t>(v));
  };
  str("request_id", r.requestId.view());
  str("method", r.method.view());
  str("path", r.path.view());
  num("status", static_cast<uint64_t>(r.status));
  str("model_group", r.modelGroup.view());
  str("deployment", r.deployment.view());
  out += r.stream ? ",\"stream\":true" : ",\"stream\":false";
  appendMillis(out, "total_ms", r.totalUs);
  appendMillis(out, "upstream_ms", r.upstreamUs);
  appendMillis(out, "ttft_ms", r.ttftUs);
  appendMillis(out, "overhead_ms", r.overheadUs);
  num("prompt_tokens", r.promptTokens);
  num("completion_tokens", r.completionTokens);
  num("bytes_in", r.bytesIn);
  num("bytes_out", r.bytesOut);
  if (r.errorType.len > 0) {
    str("error_type", r.errorType.view());
  } else {
    out += ",\"error_type\":null";
  }
  num("attempts", r.attempts);
  out += r.fallback ? ",\"fallback\":true" : ",\"fallback\":false";
  if (r.attemptLog.len > 0) str("attempt_log", r.attemptLog.view());
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
