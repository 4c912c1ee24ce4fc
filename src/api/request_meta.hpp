#pragma once
// What governance reads from a request besides the routing fields: the end user (`user`), the
// output cap, and the tags and metadata spend logs carry (body `metadata`, LiteLLM's
// `metadata.tags`, the x-llmux-tags / x-llmux-metadata headers and Portkey's
// x-portkey-metadata); and the spend-log row built from a finished request.
#include <simdjson.h>

#include <cstdint>
#include <string>

#include "api/gatekeeper.hpp"
#include "engine/engine.hpp"
#include "http/handler.hpp"
#include "store/records.hpp"
#include "types/chat_request.hpp"

namespace llmux::api {

// Metadata beyond this is replaced by {"_truncated":true} in spend rows.
inline constexpr size_t kMaxMetadataBytes = 8192;
inline constexpr size_t kMaxTags = 64;

// Reads the body's fields (`body`: the request parsed by the caller, null when it is not a JSON
// object) and the headers.
void readRequestMeta(const http::Request& req, const simdjson::dom::object* body, RequestMeta& out);
// Same, parsing the body itself.
void readRequestMeta(const http::Request& req, RequestMeta& out);

// The spend-log row of a finished request, written into `row`: a default or cleared row
// (SpendWriter::take), since fields the request does not have are left as they are.
void fillSpendRow(const http::Request& req, const RequestGov& st, const engine::RequestOutcome& o,
                  int status, double cost, int64_t endMs, const engine::Gateway& gw,
                  store::SpendRow& row);

}  // namespace llmux::api
