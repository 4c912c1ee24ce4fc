#include "api/gov_writer.hpp"

#include <fmt/format.h>

#include <chrono>

namespace llmux::api {

namespace net = boost::asio;

std::span<const http::Header> GovWriter::merge(std::span<const http::Header> headers,
                                               bool withCost) {
  size_t n = 0;
  for (const auto& h : headers) {
    if (n < merged_.size()) merged_[n++] = h;
  }
  if (!st_.principal) return {merged_.data(), n};
  extra_.clear();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (st_.refusal) {
    governance::appendRateLimitHeaders(*st_.refusal, *st_.descriptors, now, extra_);
  } else if (st_.admitted) {
    governance::appendRateLimitHeaders(st_.admission, *st_.descriptors, now, extra_);
  }
  for (const auto& [k, v] : extra_) {
    if (n < merged_.size()) merged_[n++] = {k, v};
  }
  if (withCost && o_.deployment >= 0) {
    const double cost = gk_.costOf(o_);
    st_.costUsd = cost;
    cost_ = fmt::format("{:.10g}", cost);
    if (n < merged_.size()) merged_[n++] = {"x-llmux-response-cost", cost_};
  }
  if (st_.principal->kind == auth::Principal::Kind::VirtualKey) {
    spend_ = fmt::format("{:.10g}", gk_.keySpend(st_, st_.costUsd.value_or(0)));
    if (n < merged_.size()) merged_[n++] = {"x-llmux-key-spend", spend_};
  }
  return {merged_.data(), n};
}

net::awaitable<bool> GovWriter::respond(int status, std::span<const http::Header> headers,
                                        std::string_view body) {
  const auto merged = merge(headers, status < 400);
  // The usage of a whole answer is known now: settle before the client can send its next request.
  if (st_.principal) gk_.settle(st_, o_, st_.costUsd.value_or(gk_.costOf(o_)));
  co_return co_await inner_.respond(status, merged, body);
}

net::awaitable<bool> GovWriter::beginStream(int status, std::span<const http::Header> headers) {
  co_return co_await inner_.beginStream(status, merge(headers, false));
}

}  // namespace llmux::api
