#pragma once
// Pure AWS Signature Version 4 signer (HMAC-SHA256), for the Bedrock adapter. No I/O, no clock:
// the caller supplies the timestamp, so signatures are reproducible and testable.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::providers::aws {

struct AwsCredentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;  // STS token; empty for long-term keys
};

// Non-owning: every view must outlive the signRequest() call (the caller owns path, body...).
struct SigningInput {
  std::string_view method;
  std::string_view host;
  std::string_view path;   // already percent-encoded request path, exactly as sent
  std::string_view query;  // as sent (without '?'), may be empty
  // Extra headers to sign (e.g. content-type). host, x-amz-date and x-amz-security-token are
  // always derived from the other fields; caller-supplied copies of them are ignored.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
  std::string_view region;
  std::string_view service;
  std::string_view amzDate;  // YYYYMMDDTHHMMSSZ
  // Every non-S3 service (Bedrock included) signs the path encoded a second time; S3 does not.
  bool doubleEncodePath = true;
};

struct SignedHeaders {
  std::string authorization;     // empty only if the crypto library failed
  std::string amzDate;           // value for x-amz-date
  std::string contentSha256;     // hex SHA-256 of the body (for optional x-amz-content-sha256)
  std::string securityToken;     // value for x-amz-security-token; empty = do not send
  std::string canonicalRequest;  // debugging / tests
  std::string stringToSign;      // debugging / tests
};

[[nodiscard]] SignedHeaders signRequest(const SigningInput& in, const AwsCredentials& creds);

// RFC 3986 encoding as SigV4 wants it: unreserved A-Za-z0-9-_.~ kept, everything else (including
// '/' and '%') becomes %XX with uppercase hex.
[[nodiscard]] std::string uriEncodePathSegment(std::string_view s);

// Unix seconds -> "YYYYMMDDTHHMMSSZ" (UTC, proleptic Gregorian; no libc time zone state).
[[nodiscard]] std::string formatAmzDate(int64_t unixSeconds);

// "/model/<modelId as ONE encoded segment>/<op>", e.g. op "converse" or "converse-stream".
[[nodiscard]] std::string bedrockModelPath(std::string_view modelId, std::string_view op);

// Canonical query string: each k=v percent-decoded then re-encoded, sorted by key then value,
// joined by '&'. Exposed for tests.
[[nodiscard]] std::string canonicalQuery(std::string_view query);

}  // namespace llmux::providers::aws
