#include "upstream/target.hpp"

#include <boost/url/parse.hpp>
#include <charconv>

namespace llmux::upstream {

std::variant<Target, std::string> parseTarget(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return std::string("not an absolute URL: ") + std::string(url);
  const auto& u = *parsed;
  Target t;
  auto scheme = u.scheme();
  if (scheme == "https") {
    t.tls = true;
  } else if (scheme != "http") {
    return "unsupported URL scheme '" + std::string(scheme) + "' (use http or https)";
  }
  if (!u.has_authority() || u.host().empty())
    return std::string("URL has no host: ") + std::string(url);
  t.host = u.host_address();
  if (u.host_type() == boost::urls::host_type::ipv6) {
    // host_address() has no brackets; the Host header needs them.
  }
  uint16_t defPort = t.tls ? 443 : 80;
  t.port = defPort;
  if (u.has_port()) {
    auto ps = u.port();
    unsigned v = 0;
    auto r = std::from_chars(ps.data(), ps.data() + ps.size(), v);
    if (r.ec != std::errc{} || r.ptr != ps.data() + ps.size() || v == 0 || v > 65535) {
      return "invalid port in URL: " + std::string(url);
    }
    t.port = static_cast<uint16_t>(v);
  }
  if (u.has_query() || u.has_fragment())
    return "URL must not have a query or fragment: " + std::string(url);
  std::string path(u.encoded_path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  t.basePath = std::move(path);
  std::string hostForHeader =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + t.host + "]" : t.host;
  t.hostHeader = t.port == defPort ? hostForHeader : hostForHeader + ":" + std::to_string(t.port);
  t.origin = std::string(scheme) + "://" + t.hostHeader;
  t.poolKey = t.origin;
  return t;
}

}  // namespace llmux::upstream
