#pragma once
// An upstream origin parsed once at startup from a deployment's api_base.
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace llmux::upstream {

struct Target {
  bool tls = false;
  std::string host;  // DNS name or IP literal (no brackets)
  uint16_t port = 0;
  std::string basePath;    // path prefix without trailing '/', e.g. "/v1"
  std::string hostHeader;  // value for the Host header (port omitted when default)
  std::string origin;      // "https://api.openai.com" (for logs and pool keys)
  // TLS settings of this origin when they differ from the client's default (ssl_verify).
  std::shared_ptr<boost::asio::ssl::context> tlsContext;
  bool tlsVerify = true;  // verify the certificate chain and the host name
  // Connect only to public unicast addresses (gateway-side fetches of client-supplied URLs): a
  // name resolving to loopback, private, link-local or unspecified addresses fails to connect.
  bool publicOnly = false;
  // Connection-pool key: deployments with the same origin and TLS settings share connections.
  std::string poolKey;
};

// Parses "http(s)://host[:port][/base/path]". Returns an error message on failure.
std::variant<Target, std::string> parseTarget(std::string_view url);

}  // namespace llmux::upstream
