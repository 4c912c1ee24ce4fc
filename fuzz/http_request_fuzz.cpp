// Fuzzes the request side of the server: HTTP/1.1 parsing with the production limits, fed in pieces
// the way a socket delivers them, then the Chat Completions body validation on whatever parsed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/request_parser.hpp"
#include "types/chat_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the piece size, so splits at every position get explored.
  const size_t piece = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  llmux::http::RequestHead head;
  for (int round = 0; round < 2 && !input.empty(); ++round) {  // two pipelined requests at most
    llmux::http::RequestParser parser(head);
    parser.eager(true);
    parser.header_limit(16 * 1024);
    parser.body_limit(1 << 20);
    std::string buffer;
    size_t fed = 0;
    bool failed = false;
    // Mirrors Session::readRequest: parse what is buffered, read more only when stuck.
    for (;;) {
      if (!buffer.empty()) {
        boost::beast::error_code ec;
        size_t used = parser.put(boost::asio::buffer(buffer.data(), buffer.size()), ec);
        buffer.erase(0, used);
        if (ec && ec != boost::beast::http::error::need_more) {
          failed = true;
          break;
        }
        if (parser.is_done()) break;
        if (!ec && used > 0) continue;
      }
      if (fed == input.size()) {
        boost::beast::error_code ec;
        if (parser.got_some()) parser.put_eof(ec);
        failed = ec || !parser.is_done();
        break;
      }
      size_t n = std::min(piece, input.size() - fed);
      buffer.append(input.substr(fed, n));
      fed += n;
    }
    if (failed) return 0;
    (void)head.headers.get("authorization");
    auto parsed = llmux::types::parseChatRequest(head.body);
    if (auto* req = std::get_if<llmux::types::ChatRequest>(&parsed)) {
      LLMUX_FUZZ_CHECK(req->modelSpan.end <= head.body.size() && req->objectEnd < head.body.size());
    }
    input.remove_prefix(fed - buffer.size());
  }
  return 0;
}
