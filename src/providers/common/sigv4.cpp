#include "providers/common/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace llmux::providers::aws {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";
constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

using Digest = std::array<unsigned char, 32>;

std::string toHex(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kHexLower[p[i] >> 4];
    out += kHexLower[p[i] & 0xF];
  }
  return out;
}

bool sha256(std::string_view data, Digest& out) {
  unsigned int len = 0;
  return EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) == 1 &&
         len == out.size();
}

bool hmacSha256(std::string_view key, std::string_view data, Digest& out) {
  unsigned int len = 0;
  // One-shot HMAC() is not deprecated in OpenSSL 3 (only the HMAC_CTX API is).
  return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
              &len) != nullptr &&
         len == out.size();
}

std::string_view asView(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Malformed escapes are kept literally so the re-encoding step still signs what was sent.
std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexValue(s[i + 1]);
      int lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t';
}

// SigV4 header value rule: trim, and collapse inner runs of spaces to one.
std::string normalizeValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pendingSpace = false;
  for (char c : v) {
    if (isSpace(c)) {
      pendingSpace = !out.empty();
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    out += c;
  }
  return out;
}

std::string canonicalUri(std::string_view path, bool doubleEncode) {
  if (path.empty()) return "/";
  if (!doubleEncode) return std::string(path);
  std::string out;
  out.reserve(path.size() + 16);
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    out += uriEncodePathSegment(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

// Days since 1970-01-01 -> proleptic Gregorian date, via 400-year eras starting on March 1st so
// the leap day is the last day of each computational year.
void civilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d) {
  days += 719468;  // shift epoch to 0000-03-01
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);                 // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                                     // March = 0
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

}  // namespace

std::string uriEncodePathSegment(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (isUnreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xF];
    }
  }
  return out;
}

std::string formatAmzDate(int64_t unixSeconds) {
  int64_t days = unixSeconds / 86400;
  int64_t secs = unixSeconds % 86400;
  if (secs < 0) {  // floor division for pre-1970 instants
    secs += 86400;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civilFromDays(days, y, m, d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02uT%02d%02d%02dZ", static_cast<long long>(y), m, d,
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

std::string bedrockModelPath(std::string_view modelId, std::string_view op) {
  std::string out = "/model/";
  out += uriEncodePathSegment(modelId);
  out += '/';
  out += op;
  return out;
}

std::string canonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string_view item =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!item.empty()) {
      size_t eq = item.find('=');
      std::string_view k = item.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
      // Decode first so both pre-encoded and raw input end up in the one canonical encoding.
      params.emplace_back(uriEncodePathSegment(percentDecode(k)),
                          uriEncodePathSegment(percentDecode(v)));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

SignedHeaders signRequest(const SigningInput& in, const AwsCredentials& creds) {
  SignedHeaders res;
  res.amzDate = std::string(in.amzDate);
  res.securityToken = creds.sessionToken;

  Digest bodyHash{};
  if (!sha256(in.body, bodyHash)) return res;
  res.contentSha256 = toHex(bodyHash.data(), bodyHash.size());

  std::vector<std::pair<std::string, std::string>> hdrs;
  hdrs.reserve(in.headers.size() + 3);
  hdrs.emplace_back("host", normalizeValue(in.host));
  hdrs.emplace_back("x-amz-date", normalizeValue(in.amzDate));
  if (!creds.sessionToken.empty())
    hdrs.emplace_back("x-amz-security-token", normalizeValue(creds.sessionToken));
  for (const auto& [name, value] : in.headers) {
    std::string n = lower(normalizeValue(name));
    if (n == "host" || n == "x-amz-date" || n == "x-amz-security-token") continue;
    hdrs.emplace_back(std::move(n), normalizeValue(value));
  }
  // Stable: repeated names keep their send order when merged below.
  std::stable_sort(hdrs.begin(), hdrs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string canonicalHeaders;
  std::string signedHeaders;
  for (size_t i = 0; i < hdrs.size(); ++i) {
    if (i > 0 && hdrs[i].first == hdrs[i - 1].first) {
      // SigV4 folds repeated headers into one comma-separated value.
      canonicalHeaders.pop_back();
      canonicalHeaders += ',';
    } else {
      if (!signedHeaders.empty()) signedHeaders += ';';
      signedHeaders += hdrs[i].first;
      canonicalHeaders += hdrs[i].first;
      canonicalHeaders += ':';
    }
    canonicalHeaders += hdrs[i].second;
    canonicalHeaders += '\n';
  }

  std::string& cr = res.canonicalRequest;
  cr += in.method;
  cr += '\n';
  cr += canonicalUri(in.path, in.doubleEncodePath);
  cr += '\n';
  cr += canonicalQuery(in.query);
  cr += '\n';
  cr += canonicalHeaders;
  cr += '\n';
  cr += signedHeaders;
  cr += '\n';
  cr += res.contentSha256;

  Digest crHash{};
  if (!sha256(cr, crHash)) return res;

  const std::string_view date = in.amzDate.substr(0, 8);
  std::string scope;
  scope += date;
  scope += '/';
  scope += in.region;
  scope += '/';
  scope += in.service;
  scope += "/aws4_request";

  std::string& sts = res.stringToSign;
  sts += kAlgorithm;
  sts += '\n';
  sts += in.amzDate;
  sts += '\n';
  sts += scope;
  sts += '\n';
  sts += toHex(crHash.data(), crHash.size());

  Digest kDate{}, kRegion{}, kService{}, kSigning{}, sig{};
  const std::string secretKey = "AWS4" + creds.secretAccessKey;
  if (!hmacSha256(secretKey, date, kDate) || !hmacSha256(asView(kDate), in.region, kRegion) ||
      !hmacSha256(asView(kRegion), in.service, kService) ||
      !hmacSha256(asView(kService), "aws4_request", kSigning) ||
      !hmacSha256(asView(kSigning), sts, sig))
    return res;

  std::string& auth = res.authorization;
  auth += kAlgorithm;
  auth += " Credential=";
  auth += creds.accessKeyId;
  auth += '/';
  auth += scope;
  auth += ", SignedHeaders=";
  auth += signedHeaders;
  auth += ", Signature=";
  auth += toHex(sig.data(), sig.size());
  return res;
}

}  // namespace llmux::providers::aws
