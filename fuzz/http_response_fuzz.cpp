// Fuzzes the upstream response parser (status line, headers, content-length / chunked /
// close-delimited bodies) fed in socket-sized pieces, as the upstream client does.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "upstream/response_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 128;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  llmux::http::HeaderList headers;
  std::string body;
  llmux::upstream::ResponseParser parser(headers, body);
  parser.eager(true);
  parser.header_limit(64 * 1024);
  parser.body_limit(boost::none);
  std::string buffer;
  size_t fed = 0;
  while (!parser.is_done()) {
    if (fed == input.size()) {
      boost::beast::error_code ec;
      if (parser.got_some()) parser.put_eof(ec);
      break;
    }
    size_t n = std::min(piece, input.size() - fed);
    buffer.append(input.substr(fed, n));
    fed += n;
    boost::beast::error_code ec;
    for (;;) {
      size_t used = parser.put(boost::asio::buffer(buffer.data(), buffer.size()), ec);
      buffer.erase(0, used);
      if (ec || used == 0 || buffer.empty() || parser.is_done()) break;
    }
    if (ec && ec != boost::beast::http::error::need_more) break;
  }
  (void)headers.get("content-type");
  LLMUX_FUZZ_CHECK(body.size() <= input.size());  // decoded body can never exceed the input
  return 0;
}
