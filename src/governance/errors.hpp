#pragma once
// What a client sees when governance refuses a request: the GatewayError of a refused admission,
// an unusable key, a model outside the allow-list or a management route the role may not call,
// and the x-ratelimit-* headers. Messages name the limit and the entity (kind and readable
// name), never a raw key: a name starting with "sk-" is shown as "sk-...abcd".
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "governance/access.hpp"
#include "governance/limits.hpp"

namespace llmux::governance {

// A refused admission (r.ok false), `descriptors` being the AdmitRequest's:
// - rpm / tpm / parallel: 429, type and code "rate_limit_exceeded", retryAfterSeconds =
//   r.retryAfterS, e.g. "Rate limit exceeded for api_key 'my-alias': requests per minute limit
//   600 reached (600 used). Try again in 12 s."
// - budget: 400, type and code "budget_exceeded", no Retry-After, e.g. "Budget exceeded for team
//   'ml': spend $10.0012 of max_budget $10.00. The budget resets at 2025-07-01T00:00:00Z." (the
//   reset when r.windowResetMs is set; with reservation the message says when spend plus requests
//   in flight plus this request's worst case would exceed the budget).
// - r.unavailable: limiterUnavailableError().
GatewayError admissionError(const AdmitResult& r, std::span<const Descriptor> descriptors);
// 503 when the shared limit store is unreachable and fail_closed is configured.
GatewayError limiterUnavailableError();

// Response headers, appended to `out` (the caller clears or reuses it; about 16 entries). Values
// are decimal numbers or OpenAI reset durations ("59s", "1m0s", "250ms"); names are lower case.
// Success (r.ok): OpenAI's x-ratelimit-limit-requests / -remaining-requests for the descriptor
// with the fewest requests left, -limit-tokens / -remaining-tokens for the one with the fewest
// tokens left, x-ratelimit-reset-requests (or -reset-tokens when no rpm applies) from
// r.windowResetMs; then LiteLLM's per-descriptor x-ratelimit-{kind}-limit-{requests|tokens|
// max_parallel_requests} and x-ratelimit-{kind}-remaining-{...} (first descriptor of each kind;
// kinds outside [a-z0-9_] are skipped). Limits are the configured ones (in per-instance mode the
// remaining counts refer to the divided limit). Refused by rpm/tpm/parallel: the same names for
// the failed descriptor with its limit, what is left, and the reset. Budget or unavailable:
// nothing.
//
// The headers are built in a HeaderList's own fixed storage, so the request path allocates
// nothing for them; what does not fit is left out (the sizes hold about twice what is written).
class HeaderList {
 public:
  static constexpr size_t kMaxHeaders = 40;
  static constexpr size_t kMaxBytes = 2048;
  using Entry = std::pair<std::string_view, std::string_view>;

  void clear() {
    used_ = 0;
    n_ = 0;
  }
  [[nodiscard]] size_t size() const { return n_; }
  [[nodiscard]] bool empty() const { return n_ == 0; }
  [[nodiscard]] Entry operator[](size_t i) const {
    const Slot& s = slots_[i];
    return {{buf_.data() + s.name, s.nameLen}, {buf_.data() + s.value, s.valueLen}};
  }
  class Iterator {
   public:
    Iterator(const HeaderList* l, size_t i) : l_(l), i_(i) {}
    Entry operator*() const { return (*l_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return i_ != o.i_; }

   private:
    const HeaderList* l_;
    size_t i_;
  };
  [[nodiscard]] Iterator begin() const { return {this, 0}; }
  [[nodiscard]] Iterator end() const { return {this, n_}; }
  // A header whose name is the concatenation of `nameParts`; false when it did not fit.
  bool add(std::initializer_list<std::string_view> nameParts, std::string_view value);
  bool addNumber(std::initializer_list<std::string_view> nameParts, int64_t value);
  // OpenAI's reset duration ("59s", "1m0s", "250ms") of `ms`.
  bool addReset(std::initializer_list<std::string_view> nameParts, int64_t ms);

 private:
  struct Slot {
    uint16_t name, nameLen, value, valueLen;
  };
  bool reserve(std::initializer_list<std::string_view> nameParts, size_t valueRoom, Slot& s);
  std::array<char, kMaxBytes> buf_;
  std::array<Slot, kMaxHeaders> slots_;
  size_t used_ = 0;
  size_t n_ = 0;
};
void appendRateLimitHeaders(const AdmitResult& r, std::span<const Descriptor> descriptors,
                            int64_t nowMs, HeaderList& out);

// 401s of the key check (type "authentication_error" unless stated).
GatewayError missingKeyError();  // code "invalid_api_key" (as for a wrong key)
GatewayError unknownKeyError(std::string_view presented);  // code "invalid_api_key"
// type and code "expired_key"; `keyName` is the alias or "sk-...abcd".
GatewayError expiredKeyError(std::string_view keyName, int64_t expiresMs, int64_t nowMs);
GatewayError blockedKeyError(std::string_view keyName);    // code "key_blocked"
GatewayError blockedTeamError(std::string_view teamName);  // code "team_blocked"

// 403, param "model", type and code "{key|team|user}_model_access_denied", listing at most 20
// allowed entries.
enum class ModelScope { Key, Team, User };
GatewayError modelNotAllowedError(ModelScope scope, std::string_view name, std::string_view model,
                                  std::span<const std::string> allowed);

// A refused checkRoute: its status, type "auth_error", code the status ("401"/"403"), as LiteLLM.
GatewayError routeDeniedError(const GateResult& gate);

// "$"-less USD from nano-USD with 2 to 6 decimals: 10'001'200'000 -> "10.0012", 10e9 -> "10.00".
std::string formatUsd(int64_t nano);
// OpenAI's reset format: "250ms", "12s", "1m0s", "2h5m0s" (whole seconds rounded up from 1 s).
std::string formatReset(int64_t ms);
// "2025-07-01T00:00:00Z" (UTC, clamped to years 0001..9999).
std::string formatUtc(int64_t ms);

}  // namespace llmux::governance
