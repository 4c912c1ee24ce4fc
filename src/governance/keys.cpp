// Virtual key material (keys.hpp): OpenSSL for randomness and SHA-256.
#include "governance/keys.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>

namespace llmux::governance {
namespace {

constexpr std::string_view kPrefix = "sk-";
constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// URL-safe base64 without padding (RFC 4648 §5).
void appendBase64Url(std::string& out, const unsigned char* p, size_t n) {
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kBase64Url[(v >> 18) & 63];
    out += kBase64Url[(v >> 12) & 63];
    out += kBase64Url[(v >> 6) & 63];
    out += kBase64Url[v & 63];
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    out += kBase64Url[(v >> 18) & 63];
    out += kBase64Url[(v >> 12) & 63];
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out += kBase64Url[(v >> 18) & 63];
    out += kBase64Url[(v >> 12) & 63];
    out += kBase64Url[(v >> 6) & 63];
  }
}

// Key text may come from a client header: anything but printable ASCII is shown as '?', so a
// message quoting part of it stays valid UTF-8 and cannot carry control characters.
void appendPrintable(std::string& out, std::string_view s) {
  for (char c : s) out += (c >= 0x21 && c <= 0x7e) ? c : '?';
}

}  // namespace

std::string generateKey() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return {};
  std::string key;
  key.reserve(kPrefix.size() + 22);
  key += kPrefix;
  appendBase64Url(key, bytes.data(), bytes.size());
  return key;
}

std::string hashKey(std::string_view rawKey) {
  // Every request hashes its key. The low-level SHA-256 works on a context on the stack: EVP
  // looks the algorithm up and allocates a context on every call, several times the cost of
  // hashing a key. (Deprecated in OpenSSL 3, not removed; the same assembly does the work.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  SHA256_CTX ctx;
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, rawKey.data(), rawKey.size()) != 1 ||
      SHA256_Final(md.data(), &ctx) != 1) {
    return {};
  }
#pragma GCC diagnostic pop
  std::string out(md.size() * 2, '\0');
  for (size_t i = 0; i < md.size(); ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

bool looksLikeHash(std::string_view key) {
  // A 64-hex hash never starts with "sk-" nor contains "sk", so the second rule covers it.
  if (key.empty()) return false;
  return !key.starts_with(kPrefix) && key.find("sk") == std::string_view::npos;
}

std::string displayKey(std::string_view rawKey) {
  std::string out(kPrefix);
  out += "...";
  // Shorter keys would be shown (almost) whole; they get no suffix.
  if (rawKey.size() >= 8) appendPrintable(out, rawKey.substr(rawKey.size() - 4));
  return out;
}

std::string maskKey(std::string_view key) {
  if (key.size() < 12) return "****";
  std::string out;
  appendPrintable(out, key.substr(0, 4));
  out += "****";
  appendPrintable(out, key.substr(key.size() - 4));
  return out;
}

}  // namespace llmux::governance
