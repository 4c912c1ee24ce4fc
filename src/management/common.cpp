// Error answers, body parsing and role predicates shared by the handlers.
#include <fmt/format.h>

#include "management/internal.hpp"

namespace llmux::management {

Response errorResponse(int status, std::string_view type, std::string_view message,
                       std::optional<std::string> param) {
  GatewayError e;
  e.status = status;
  e.type = std::string(type);
  e.message = sanitizeUtf8(message);
  if (param) e.param = sanitizeUtf8(*param);
  // LiteLLM's ProxyException carries the status as a string code.
  e.code = std::to_string(status);
  return errorResponse(e);
}

Response errorResponse(const GatewayError& e) {
  Response r;
  r.status = e.status;
  r.body = e.toJson();
  return r;
}

Response badRequest(std::string_view message, std::optional<std::string> param) {
  return errorResponse(400, "bad_request_error", message, std::move(param));
}

Response notFound(std::string_view message, std::optional<std::string> param) {
  return errorResponse(404, "not_found_error", message, std::move(param));
}

Response forbidden(std::string_view message) {
  return errorResponse(403, "auth_error", message);
}

Response dbFailure(const store::RepoError& err) {
  if (err.connectionLost) {
    return errorResponse(503, "no_db_connection",
                         fmt::format("Database unavailable: {}", err.message));
  }
  return errorResponse(500, "internal_server_error",
                       fmt::format("Database error: {}", err.message));
}

Response okJson(const json::value& v) {
  Response r;
  r.body = writeJson(v);
  return r;
}

bool parseBody(std::string_view body, json::object& out, Response& err) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    out = json::object{};
    return true;
  }
  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(body, ec, {}, opts);
  if (ec) {
    err = badRequest(fmt::format("Invalid JSON in request body: {}", ec.message()));
    return false;
  }
  auto* obj = v.if_object();
  if (obj == nullptr) {
    err = badRequest("The request body must be a JSON object");
    return false;
  }
  out = std::move(*obj);
  return true;
}

Transaction::Transaction(store::Db& db) : db_(db) {
  const store::Result r = db_.begin();
  started_ = r.ok;
  if (!r.ok) err_ = {r.error, r.connectionLost};
}

Transaction::~Transaction() {
  if (started_ && !done_) db_.rollback();
}

bool Transaction::commit() {
  if (!started_ || done_) return false;
  const store::Result r = db_.commit();
  if (!r.ok) {
    err_ = {r.error, r.connectionLost};
    return false;
  }
  done_ = true;
  return true;
}

bool isAdmin(const Caller& c) {
  return c.masterKey || c.role == governance::Role::ProxyAdmin;
}

bool canReadAll(const Caller& c) {
  return isAdmin(c) || c.role == governance::Role::ProxyAdminViewer;
}

std::string callerName(const Caller& c) {
  return c.userId.value_or("unknown");
}

std::optional<std::string> actorId(const Caller& c) {
  if (c.userId) return c.userId;
  // LiteLLM's name for the master key in created_by / updated_by.
  if (c.masterKey) return std::string("litellm_proxy_admin_name");
  return std::nullopt;
}

bool isMember(const store::TeamRow& t, const std::string& userId) {
  for (const auto& m : t.members) {
    if (m.userId && *m.userId == userId) return true;
  }
  return false;
}

bool isTeamAdmin(const store::TeamRow& t, const std::string& userId) {
  for (const auto& m : t.members) {
    if (m.userId && *m.userId == userId && m.role == "admin") return true;
  }
  return false;
}

}  // namespace llmux::management
