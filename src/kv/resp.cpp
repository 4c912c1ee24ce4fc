#include "kv/resp.hpp"

#include <charconv>

namespace llmux::kv {
namespace {

void appendHeader(std::string& out, char kind, size_t n) {
  char buf[24];
  buf[0] = kind;
  const auto r = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  char* p = r.ptr;
  *p++ = '\r';
  *p++ = '\n';
  out.append(buf, static_cast<size_t>(p - buf));
}

}  // namespace

void appendResp(std::string& out, std::span<const std::string_view> argv) {
  size_t total = 16;
  for (const std::string_view a : argv) total += a.size() + 16;
  out.reserve(out.size() + total);
  appendHeader(out, '*', argv.size());
  for (const std::string_view a : argv) {
    appendHeader(out, '$', a.size());
    out.append(a);
    out.append("\r\n", 2);
  }
}

}  // namespace llmux::kv
