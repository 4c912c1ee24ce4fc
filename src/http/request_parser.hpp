#pragma once
// Incremental HTTP/1.1 request parser on Beast's basic_parser (the well-tested tokenizer, limits
// and chunked decoding), storing into reusable buffers instead of Beast's per-field node
// allocations.
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>
#include <string>
#include <string_view>

#include "http/header_list.hpp"

namespace llmux::http {

struct RequestHead {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string methodString;
  std::string target;
  int version = 11;
  HeaderList headers;
  std::string body;
  void clear() {
    method = boost::beast::http::verb::unknown;
    methodString.clear();
    target.clear();
    version = 11;
    headers.clear();
    body.clear();
  }
};

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // `into` is cleared and filled; it must outlive the parser.
  explicit RequestParser(RequestHead& into) : m_(into) { m_.clear(); }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  using verb = boost::beast::http::verb;
  using field = boost::beast::http::field;
  void on_request_impl(verb method, string_view methodStr, string_view target, int version,
                       error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(field name, string_view nameStr, string_view value, error_code& ec) override;
  void on_header_impl(error_code& ec) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override {}

  RequestHead& m_;
};

}  // namespace llmux::http
