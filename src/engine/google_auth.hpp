#pragma once
// Google service-account credentials for Vertex AI: the signed JWT (RS256) exchanged at the
// account's token_uri for an OAuth access token (RFC 7523 jwt-bearer grant).
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "upstream/target.hpp"

namespace llmux::engine {

class GoogleServiceAccount {
 public:
  // `pathOrJson`: a service-account JSON file path, or the JSON itself (LiteLLM accepts both).
  // nullptr with `err` set when it cannot be used.
  static std::shared_ptr<const GoogleServiceAccount> load(const std::string& pathOrJson,
                                                          std::string& err);
  ~GoogleServiceAccount();
  GoogleServiceAccount(const GoogleServiceAccount&) = delete;
  GoogleServiceAccount& operator=(const GoogleServiceAccount&) = delete;

  [[nodiscard]] const std::string& projectId() const { return projectId_; }
  [[nodiscard]] const std::string& clientEmail() const { return clientEmail_; }
  [[nodiscard]] const upstream::Target& tokenTarget() const { return tokenTarget_; }

  // The token request: request line and headers (ending in a blank line) and the form body, for
  // an assertion issued at `nowUnix` and valid for an hour. Empty body if signing failed.
  void tokenRequest(int64_t nowUnix, std::string& head, std::string& body) const;

  struct Token {
    std::string accessToken;
    int64_t expiresIn = 0;  // seconds
  };
  // Parses the token endpoint's JSON answer.
  static std::optional<Token> parseTokenResponse(std::string_view body);

  // Exposed for tests: the compact JWS for `nowUnix`.
  [[nodiscard]] std::string assertion(int64_t nowUnix) const;

 private:
  GoogleServiceAccount() = default;
  std::string projectId_;
  std::string clientEmail_;
  std::string privateKeyId_;
  std::string tokenUri_;
  upstream::Target tokenTarget_;
  EVP_PKEY* key_ = nullptr;
};

}  // namespace llmux::engine
