#pragma once
// Upstream response parser on Beast's basic_parser: status and header fields into a reusable
// HeaderList, decoded body bytes (chunked encoding removed) appended to a caller-owned string.
#include <boost/beast/http/basic_parser.hpp>
#include <string>

#include "http/header_list.hpp"

namespace llmux::upstream {

class ResponseParser final : public boost::beast::http::basic_parser<false> {
 public:
  ResponseParser(http::HeaderList& headers, std::string& body) : headers_(headers), body_(body) {
    headers_.clear();
  }
  [[nodiscard]] int status() const { return status_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  using verb = boost::beast::http::verb;
  using field = boost::beast::http::field;
  void on_request_impl(verb, string_view, string_view, int, error_code& ec) override {
    ec = boost::beast::http::error::bad_version;  // unreachable for a response parser
  }
  void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(field, string_view name, string_view value, error_code&) override {
    // Chunked trailers arrive here too; they are dropped so header views stay valid while the
    // body is read (adding could reallocate the arena under them).
    if (is_header_done()) return;
    headers_.add({name.data(), name.size()}, {value.data(), value.size()});
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  http::HeaderList& headers_;
  std::string& body_;
  int status_ = 0;
};

}  // namespace llmux::upstream
