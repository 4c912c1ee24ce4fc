#include "engine/google_auth.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/text.hpp"

namespace llmux::engine {
namespace {

constexpr std::string_view kScope = "https://www.googleapis.com/auth/cloud-platform";

std::string base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string readWholeFile(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

GoogleServiceAccount::~GoogleServiceAccount() {
  if (key_ != nullptr) EVP_PKEY_free(key_);
}

std::shared_ptr<const GoogleServiceAccount> GoogleServiceAccount::load(
    const std::string& pathOrJson, std::string& err) {
  std::string text = pathOrJson;
  if (text.find('{') == std::string::npos) {
    bool ok = false;
    text = readWholeFile(pathOrJson, ok);
    if (!ok) {
      err = "cannot read " + pathOrJson;
      return nullptr;
    }
  }
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(text).get(obj) != simdjson::SUCCESS) {
    err = "not a JSON object";
    return nullptr;
  }
  std::shared_ptr<GoogleServiceAccount> sa(new GoogleServiceAccount());
  std::string_view v;
  if (obj["type"].get(v) == simdjson::SUCCESS && v != "service_account") {
    err = fmt::format("type is '{}'; only service_account credentials are supported", v);
    return nullptr;
  }
  if (obj["project_id"].get(v) == simdjson::SUCCESS) sa->projectId_ = v;
  if (obj["private_key_id"].get(v) == simdjson::SUCCESS) sa->privateKeyId_ = v;
  if (obj["client_email"].get(v) != simdjson::SUCCESS || v.empty()) {
    err = "client_email is missing";
    return nullptr;
  }
  sa->clientEmail_ = v;
  sa->tokenUri_ = "https://oauth2.googleapis.com/token";
  if (obj["token_uri"].get(v) == simdjson::SUCCESS && !v.empty()) sa->tokenUri_ = v;
  auto target = upstream::parseTarget(sa->tokenUri_);
  if (auto* e = std::get_if<std::string>(&target)) {
    err = "token_uri: " + *e;
    return nullptr;
  }
  sa->tokenTarget_ = std::get<upstream::Target>(std::move(target));
  std::string_view pem;
  if (obj["private_key"].get(pem) != simdjson::SUCCESS || pem.empty()) {
    err = "private_key is missing";
    return nullptr;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  sa->key_ = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  if (bio) BIO_free(bio);
  if (sa->key_ == nullptr || EVP_PKEY_base_id(sa->key_) != EVP_PKEY_RSA) {
    err = "private_key is not a PEM RSA private key";
    return nullptr;
  }
  if (!isSafeHeaderValue(sa->tokenTarget_.hostHeader)) {
    err = "token_uri has invalid characters";
    return nullptr;
  }
  return sa;
}

std::string GoogleServiceAccount::assertion(int64_t nowUnix) const {
  std::string header = R"({"alg":"RS256","typ":"JWT")";
  if (!privateKeyId_.empty()) {
    header += R"(,"kid":)";
    appendJsonString(header, privateKeyId_);
  }
  header += '}';
  std::string claims = R"({"iss":)";
  appendJsonString(claims, clientEmail_);
  claims += R"(,"scope":)";
  appendJsonString(claims, kScope);
  claims += R"(,"aud":)";
  appendJsonString(claims, tokenUri_);
  claims += fmt::format(R"(,"iat":{},"exp":{}}})", nowUnix, nowUnix + 3600);
  std::string signingInput = base64Url(header) + "." + base64Url(claims);

  std::string sig;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len,
                           reinterpret_cast<const unsigned char*>(signingInput.data()),
                           signingInput.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(signingInput.data()),
                        signingInput.size()) == 1;
    sig.resize(len);
  }
  if (ctx) EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  return signingInput + "." + base64Url(sig);
}

void GoogleServiceAccount::tokenRequest(int64_t nowUnix, std::string& head,
                                        std::string& body) const {
  body.clear();
  const std::string jwt = assertion(nowUnix);
  if (jwt.empty()) return;
  // The JWT alphabet (base64url and '.') needs no form encoding.
  body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + jwt;
  std::string path = tokenTarget_.basePath.empty() ? "/" : tokenTarget_.basePath;
  head = fmt::format(
      "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n"
      "content-length: {}\r\naccept: application/json\r\nuser-agent: llmux/" LLMUX_VERSION
      "\r\n\r\n",
      path, tokenTarget_.hostHeader, body.size());
}

std::optional<GoogleServiceAccount::Token> GoogleServiceAccount::parseTokenResponse(
    std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(body.data(), body.size()).get(obj) != simdjson::SUCCESS) return std::nullopt;
  Token t;
  std::string_view tok;
  if (obj["access_token"].get(tok) != simdjson::SUCCESS || tok.empty() || !isSafeHeaderValue(tok)) {
    return std::nullopt;
  }
  t.accessToken = tok;
  int64_t exp = 3600;
  if (obj["expires_in"].get(exp) != simdjson::SUCCESS) exp = 3600;
  t.expiresIn = exp;
  return t;
}

}  // namespace llmux::engine
