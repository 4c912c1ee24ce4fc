#include "api/gov_writer.hpp"

#include <charconv>
#include <chrono>

#include "common/clock.hpp"

namespace llmux::api {

namespace net = boost::asio;

std::span<const http::Header> GovWriter::merge(std::span<const http::Header> headers,
                                               bool withCost) {
  size_t n = 0;
  for (const auto& h : headers) {
    if (n < b_.merged.size()) b_.merged[n++] = h;
  }
  if (!st_.principal) return {b_.merged.data(), n};
  b_.extra.clear();
  const int64_t now = wallMs();
  if (st_.refusal) {
    governance::appendRateLimitHeaders(*st_.refusal, *st_.descriptors, now, b_.extra);
  } else if (st_.admitted) {
    governance::appendRateLimitHeaders(st_.admission, *st_.descriptors, now, b_.extra);
  }
  for (size_t i = 0; i < b_.extra.size(); ++i) {
    const auto [k, v] = b_.extra[i];
    if (n < b_.merged.size()) b_.merged[n++] = {k, v};
  }
  // "%.10g" (to_chars' general format with a precision is printf's).
  auto usd = [](std::array<char, 32>& buf, double v) {
    const auto r =
        std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, 10);
    return std::string_view(buf.data(), r.ec == std::errc{} ? r.ptr - buf.data() : 0);
  };
  if (withCost && o_.deployment >= 0) {
    const double cost = gk_.costOf(o_);
    st_.costUsd = cost;
    if (n < b_.merged.size()) b_.merged[n++] = {"x-llmux-response-cost", usd(b_.cost, cost)};
  }
  if (st_.principal->kind == auth::Principal::Kind::VirtualKey) {
    const double spend = gk_.keySpend(st_, st_.costUsd.value_or(0));
    if (n < b_.merged.size()) b_.merged[n++] = {"x-llmux-key-spend", usd(b_.spend, spend)};
  }
  return {b_.merged.data(), n};
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
