#include "http/request_parser.hpp"

namespace llmux::http {

void RequestParser::on_request_impl(verb method, string_view methodStr, string_view target,
                                    int version, error_code& ec) {
  m_.method = method;
  m_.methodString.assign(methodStr.data(), methodStr.size());
  m_.target.assign(target.data(), target.size());
  m_.version = version;
}

void RequestParser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = boost::beast::http::error::bad_version;  // unreachable for a request parser
}

void RequestParser::on_field_impl(field, string_view nameStr, string_view value, error_code&) {
  m_.headers.add({nameStr.data(), nameStr.size()}, {value.data(), value.size()});
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
  // Reserve at most 64 KiB up front: a client that only sends headers must not make us allocate its
  // whole declared Content-Length (up to the body limit) before any byte of the body arrives.
  constexpr std::uint64_t kMaxReserve = 64 * 1024;
  if (length) m_.body.reserve(static_cast<size_t>(*length < kMaxReserve ? *length : kMaxReserve));
}

std::size_t RequestParser::on_body_impl(string_view body, error_code&) {
  m_.body.append(body.data(), body.size());
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  m_.body.append(body.data(), body.size());
  return body.size();
}

}  // namespace llmux::http
