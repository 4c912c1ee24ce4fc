// Remote images for providers that take no image URLs (Bedrock, Ollama, Vertex AI, Gemini): the
// gateway downloads each http(s) image_url of the request and hands the adapter a data: URL
// instead. Downloads are bounded (size, time, count, redirects) and, unless the config allows it,
// never reach private, loopback or link-local addresses: the URLs come from clients.
#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <unordered_map>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/engine_detail.hpp"
#include "providers/mock/mock.hpp"

namespace llmux::engine {

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr size_t kMaxImages = 32;
constexpr int kMaxRedirects = 3;

namespace dom = simdjson::dom;

bool isRemote(std::string_view url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

// YouTube links are videos Gemini reads itself, not images to download.
bool isVideoLink(std::string_view url) {
  return url.find("://www.youtube.com/") != std::string_view::npos ||
         url.find("://youtube.com/") != std::string_view::npos ||
         url.find("://youtu.be/") != std::string_view::npos;
}

std::string_view imageUrlOf(dom::object part) {
  std::string_view type, url;
  if (part["type"].get(type) != simdjson::SUCCESS || type != "image_url") return {};
  dom::element iu;
  if (part["image_url"].get(iu) != simdjson::SUCCESS) return {};
  if (iu.get(url) == simdjson::SUCCESS) return url;
  if (iu["url"].get(url) == simdjson::SUCCESS) return url;
  return {};
}

// Every occurrence counts (each one is inlined): `occurrences` stops growing past the limit, so a
// body full of URLs costs one bounded pass.
void collectUrls(dom::element req, std::vector<std::string_view>& urls, size_t& occurrences) {
  dom::array messages;
  if (req["messages"].get(messages) != simdjson::SUCCESS) return;
  for (dom::element m : messages) {
    dom::array content;
    if (m["content"].get(content) != simdjson::SUCCESS) continue;
    for (dom::element part : content) {
      dom::object obj;
      if (part.get(obj) != simdjson::SUCCESS) continue;
      std::string_view url = imageUrlOf(obj);
      if (!isRemote(url) || isVideoLink(url)) continue;
      if (++occurrences > kMaxImages) return;
      if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
    }
  }
}

// Re-serialises `e`, replacing the url of image_url parts found in `dataUrls`.
void writeJson(dom::element e, const std::unordered_map<std::string_view, std::string>& dataUrls,
               std::string& out, bool inImageUrl) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      out += '{';
      bool first = true;
      dom::object obj;
      if (e.get(obj) != simdjson::SUCCESS) return;
      for (auto [key, value] : obj) {
        if (!first) out += ',';
        first = false;
        appendJsonString(out, key);
        out += ':';
        std::string_view s;
        if (inImageUrl && key == "url" && value.get(s) == simdjson::SUCCESS) {
          if (auto it = dataUrls.find(s); it != dataUrls.end()) {
            appendJsonString(out, it->second);
            continue;
          }
        }
        if (key == "image_url" && value.get(s) == simdjson::SUCCESS) {
          if (auto it = dataUrls.find(s); it != dataUrls.end()) {
            appendJsonString(out, it->second);
            continue;
          }
        }
        writeJson(value, dataUrls, out, key == "image_url");
      }
      out += '}';
      break;
    }
    case dom::element_type::ARRAY: {
      out += '[';
      bool first = true;
      dom::array arr;
      if (e.get(arr) != simdjson::SUCCESS) return;
      for (dom::element v : arr) {
        if (!first) out += ',';
        first = false;
        writeJson(v, dataUrls, out, false);
      }
      out += ']';
      break;
    }
    default:
      out += simdjson::minify(e);
  }
}

std::string_view mimeFromExtension(std::string_view path) {
  const auto q = path.find_first_of("?#");
  path = path.substr(0, q);
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return {};
  std::string ext(path.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "heic") return "image/heic";
  if (ext == "pdf") return "application/pdf";
  return {};
}

GatewayError imageError(std::string_view url, std::string_view why) {
  return GatewayError::invalidRequest(
      fmt::format("Could not fetch image '{}': {}.", utf8Prefix(url, 200), why), "messages",
      "image_fetch_failed");
}

}  // namespace

net::awaitable<std::optional<GatewayError>> Engine::fetchImage(std::string_view url,
                                                               std::string& dataUrl) {
  const auto& server = gw_.cfg.server;
  std::string current(url);
  std::string head, body, readBuf;
  http::HeaderList headers;
  const auto deadline = Clock::now() + server.imageFetchTimeout;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    auto parsed = boost::urls::parse_uri(current);
    if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
        !parsed->has_authority() || parsed->encoded_host().empty() || parsed->has_userinfo()) {
      co_return imageError(url, "not an http(s) URL");
    }
    std::string origin = fmt::format("{}://{}", std::string_view(parsed->scheme()),
                                     std::string_view(parsed->encoded_host_and_port()));
    auto target = upstream::parseTarget(origin);
    if (auto* e = std::get_if<std::string>(&target)) co_return imageError(url, *e);
    upstream::Target t = std::get<upstream::Target>(std::move(target));
    if (!isSafeHeaderValue(t.host) || t.host.find('\0') != std::string::npos) {
      co_return imageError(url, "invalid host");
    }
    t.publicOnly = !server.imageFetchAllowPrivate;
    // Never reuse a pooled connection of a deployment (an api_base may be private): a pool key
    // of its own, and the connection is closed after use.
    t.poolKey += "|image-fetch";
    std::string path(parsed->encoded_path());
    if (path.empty()) path = "/";
    if (parsed->has_query()) path += "?" + std::string(parsed->encoded_query());
    if (!isSafeHeaderValue(path) || path.find(' ') != std::string::npos) {
      co_return imageError(url, "invalid path");
    }
    head = fmt::format(
        "GET {} HTTP/1.1\r\nhost: {}\r\naccept: image/*, application/pdf;q=0.9\r\n"
        "user-agent: llmux/" LLMUX_VERSION "\r\n\r\n",
        path, t.hostHeader);
    upstream::Timeouts to;
    to.connect = std::min(server.connectTimeout, server.imageFetchTimeout);
    to.firstByte = server.imageFetchTimeout;
    to.idle = server.imageFetchTimeout;
    to.deadline = deadline;
    upstream::Exchange ex(client_, t, to, headers, readBuf);
    // The target lives in this frame: the connection must never go back to the shared pool.
    struct Closer {
      upstream::Exchange& e;
      ~Closer() { e.abort(); }
    } closer{ex};
    auto f = co_await ex.start(head, {});
    if (f != upstream::Failure::None) {
      co_return imageError(url, fmt::format("{} ({})", upstream::failureName(f), ex.errorDetail()));
    }
    const int status = ex.status();
    if (status >= 300 && status < 400) {
      std::string_view location = ex.header("location");
      if (location.empty())
        co_return imageError(url, fmt::format("HTTP {} without Location", status));
      auto ref = boost::urls::parse_uri_reference(location);
      if (!ref) co_return imageError(url, "bad redirect");
      boost::urls::url next(*parsed);
      if (!next.resolve(*ref)) co_return imageError(url, "bad redirect");
      current = std::string(next.buffer());
      continue;
    }
    if (status != 200) co_return imageError(url, fmt::format("HTTP {}", status));
    std::string mime(ex.header("content-type"));
    mime = mime.substr(0, mime.find(';'));
    while (!mime.empty() && mime.back() == ' ') mime.pop_back();
    if (!mime.starts_with("image/") && mime != "application/pdf") {
      mime = std::string(mimeFromExtension(path));
      if (mime.empty()) co_return imageError(url, "the answer is not an image");
    }
    body.clear();
    for (;;) {
      auto [rf, data] = co_await ex.read();
      if (rf != upstream::Failure::None) {
        co_return imageError(url,
                             fmt::format("{} ({})", upstream::failureName(rf), ex.errorDetail()));
      }
      if (data.empty()) break;
      if (body.size() + data.size() > static_cast<size_t>(server.imageFetchMaxBytes)) {
        co_return imageError(url, fmt::format("larger than {} bytes", server.imageFetchMaxBytes));
      }
      body.append(data);
    }
    dataUrl = "data:" + mime + ";base64," + providers::mock::base64Encode(body);
    co_return std::nullopt;
  }
  co_return imageError(url, "too many redirects");
}

net::awaitable<std::optional<GatewayError>> Engine::inlineRemoteImages(std::string_view body,
                                                                       std::string& out,
                                                                       bool& replaced) {
  replaced = false;
  if (body.find("http") == std::string_view::npos) co_return std::nullopt;  // the common case
  // The DOM is the engine's parser's: copy the URLs out before any co_await.
  std::vector<std::string> urls;
  {
    dom::element doc;
    if (json_.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) co_return std::nullopt;
    std::vector<std::string_view> views;
    size_t occurrences = 0;
    collectUrls(doc, views, occurrences);
    if (occurrences > kMaxImages) {
      co_return GatewayError::invalidRequest(
          fmt::format("Too many remote images; at most {} per request.", kMaxImages), "messages");
    }
    for (auto v : views) urls.emplace_back(v);
  }
  if (urls.empty()) co_return std::nullopt;
  std::vector<std::string> dataUrls(urls.size());
  // All images of one request together stay within a few single-image limits.
  const size_t totalLimit = static_cast<size_t>(gw_.cfg.server.imageFetchMaxBytes) * 3;
  size_t total = 0;
  for (size_t i = 0; i < urls.size(); ++i) {
    if (auto err = co_await fetchImage(urls[i], dataUrls[i])) co_return err;
    total += dataUrls[i].size();
    if (total > totalLimit * 4 / 3 + 64) {
      co_return GatewayError::invalidRequest(
          fmt::format("The request's remote images exceed {} bytes together.", totalLimit),
          "messages", "image_fetch_failed");
    }
  }
  dom::element doc;
  if (json_.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) co_return std::nullopt;
  std::unordered_map<std::string_view, std::string> map;
  for (size_t i = 0; i < urls.size(); ++i) map.emplace(urls[i], std::move(dataUrls[i]));
  out.clear();
  writeJson(doc, map, out, false);
  replaced = true;
  co_return std::nullopt;
}

}  // namespace llmux::engine
