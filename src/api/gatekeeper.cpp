#include "api/gatekeeper.hpp"

#include <fmt/format.h>

#include <openssl/crypto.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "api/cooldown_sync.hpp"
#include "api/governance_runtime.hpp"
#include "api/request_meta.hpp"
#include "common/clock.hpp"
#include "common/text.hpp"
#include "governance/errors.hpp"
#include "governance/keys.hpp"
#include "governance/local_limiter.hpp"
#include "kv/redis_limiter.hpp"
#include "management/management.hpp"
#include "pricing/price_table.hpp"
#include "store/store.hpp"
#include "tokenizer/count.hpp"

namespace llmux::api {

namespace net = boost::asio;
using governance::Descriptor;

namespace {

// The credential a client sent: Authorization: Bearer, else x-api-key (Anthropic SDKs), else
// api-key (Azure OpenAI clients). Empty when none.
std::string_view credential(const http::Request& req) {
  std::string_view auth = req.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() >= kBearer.size() &&
      boost::beast::iequals(auth.substr(0, kBearer.size()), kBearer)) {
    auth.remove_prefix(kBearer.size());
    while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
    while (!auth.empty() && auth.back() == ' ') auth.remove_suffix(1);
    return auth;
  }
  if (auto k = req.header("x-api-key"); !k.empty()) return k;
  if (auto k = req.header("api-key"); !k.empty()) return k;
  return {};
}

bool equalsSecret(std::string_view a, const std::string& secret) {
  return a.size() == secret.size() && CRYPTO_memcmp(a.data(), secret.data(), a.size()) == 0;
}

// A key's allowed_routes (key_type sets them): LiteLLM's route family names, exact paths, or a
// prefix ending in '*'.
bool routeAllowed(const std::vector<std::string>& allowed, std::string_view path) {
  const bool llm = path.starts_with("/v1/") || path == "/chat/completions" ||
                   path == "/completions" || path == "/embeddings" || path == "/models" ||
                   path == "/utils/token_counter";
  const bool info = governance::isInfoRoute(path);
  const bool management = governance::isManagementRoute(path);
  for (const std::string& a : allowed) {
    if ((a == "llm_api_routes" && llm) || (a == "info_routes" && info) ||
        (a == "management_routes" && management) || a == path ||
        (a.ends_with('*') && path.starts_with(std::string_view(a).substr(0, a.size() - 1)))) {
      return true;
    }
  }
  return false;
}

// A body the counter refuses is the engine's to answer; admission then goes by its size.
tokenizer::Count countOrEstimate(const std::variant<tokenizer::Count, GatewayError>& r,
                                 std::string_view body) {
  if (const auto* c = std::get_if<tokenizer::Count>(&r)) return *c;
  return tokenizer::Count{static_cast<int64_t>(body.size() / 4), false, "estimate"};
}

// The master key's and open mode's principals: immutable, so one of each serves every thread
// (no allocation per request on these paths).
const std::shared_ptr<const auth::Principal>& makeOpen(auth::Principal::Kind kind) {
  auto make = [](auth::Principal::Kind k) {
    auto p = std::make_shared<auth::Principal>();
    p->kind = k;
    p->role = governance::Role::ProxyAdmin;
    return std::shared_ptr<const auth::Principal>(std::move(p));
  };
  static const std::shared_ptr<const auth::Principal> open = make(auth::Principal::Kind::Open);
  static const std::shared_ptr<const auth::Principal> master = make(auth::Principal::Kind::Master);
  return kind == auth::Principal::Kind::Master ? master : open;
}

// Both allow-lists (the key's and its team's) must allow the model.
std::optional<GatewayError> checkModel(const auth::Principal& p, std::string_view model,
                                       const governance::AccessGroups& groups) {
  if (!governance::modelAllowed(p.keyModels, model, groups)) {
    return governance::modelNotAllowedError(governance::ModelScope::Key,
                                            p.keyAlias.empty() ? p.keyName : p.keyAlias, model,
                                            p.keyModels);
  }
  if (!p.teamId.empty() && !governance::modelAllowed(p.teamModels, model, groups)) {
    return governance::modelNotAllowedError(governance::ModelScope::Team,
                                            p.teamAlias.empty() ? p.teamId : p.teamAlias, model,
                                            p.teamModels);
  }
  return std::nullopt;
}

}  // namespace

Gatekeeper::Gatekeeper(GovernanceRuntime& rt, engine::Gateway& gw, net::any_io_executor ex,
                       size_t worker)
    : rt_(rt),
      gw_(gw),
      ex_(ex),
      worker_(worker),
      keys_(rt.epoch(), rt.settings().keyCacheTtl.count(), 100000),
      customers_(rt.epoch(), rt.settings().keyCacheTtl.count(), 100000),
      routerCountsTokens_(gw.cfg.router.enablePreCallChecks ||
                          gw.cfg.router.strategy == config::RoutingStrategy::UsageBased ||
                          !gw.cfg.router.contextWindowFallbacks.empty()) {
  if (rt.redisConfigured()) {
    const auto& s = rt.settings();
    kv::ConnectionConfig o;
    o.host = s.redisHost;
    o.port = s.redisPort;
    o.password = s.redisPassword;
    o.db = s.redisDb;
    redisConn_ = kv::RedisConnection::create(ex, o);
    // A Redis that comes back may have lost its counters; they are seeded again from the keys'
    // database spend, so reload every key view (fresh spend) on each (re)connect.
    redisConn_->onReady([&rt] { rt.invalidateCaches(); });
    redisConn_->start();
    rt.registerRedis(redisConn_);
    redis_ = std::make_unique<kv::RedisLimiter>(redisConn_);
    // One thread per instance shares the router's deployment cooldowns.
    if (worker == 0) {
      cooldowns_ = std::make_shared<CooldownSync>(gw, redisConn_, ex);
      cooldowns_->start();
    }
  }
}

Gatekeeper::~Gatekeeper() {
  if (cooldowns_) cooldowns_->stop();
  redis_.reset();
  if (redisConn_) redisConn_->stop();
}

namespace {
// Parameters, not lambda captures: they live in the coroutine frame until it ends.
net::awaitable<void> closeRedis(std::unique_ptr<kv::RedisLimiter> limiter,
                                std::shared_ptr<kv::RedisConnection> conn) {
  if (limiter->available()) co_await limiter->flush();
  limiter.reset();
  conn->stop();
}
}  // namespace

void Gatekeeper::onDrained() {
  if (cooldowns_) cooldowns_->stop();
  if (!redis_) return;
  net::co_spawn(ex_, closeRedis(std::move(redis_), redisConn_), net::detached);
}

bool Gatekeeper::redisHealthy() const {
  return !redis_ || redis_->available();
}

net::awaitable<std::optional<GatewayError>> Gatekeeper::authenticate(const http::Request& req,
                                                                     RequestGov& st) {
  st.startMs = wallMs();
  const std::string& master = rt_.masterKey();
  if (master.empty()) {
    st.principal = makeOpen(auth::Principal::Kind::Open);
    co_return std::nullopt;
  }
  const std::string_view cred = credential(req);
  if (cred.empty()) {
    rt_.authFailures.fetch_add(1, std::memory_order_relaxed);
    co_return governance::missingKeyError();
  }
  if (equalsSecret(cred, master)) {
    st.principal = makeOpen(auth::Principal::Kind::Master);
    co_return std::nullopt;
  }
  const std::string hash = governance::hashKey(cred);
  const int64_t now = st.startMs;  // one clock read per request start
  auto hit = keys_.find(hash, now);
  if (!hit.found) {
    const uint64_t epoch = keys_.epoch();
    auto loaded = co_await rt_.store().run(
        [hash, now](store::Db& db) { return auth::loadPrincipal(db, hash, now); });
    if ((!loaded || loaded->dbError) && hit.stale) {
      // The database is down but this thread knew the key: keep serving it as it was.
      hit.found = true;
      hit.value = hit.stale;
    } else if (!loaded || loaded->dbError) {
      if (rt_.settings().allowRequestsOnDbUnavailable) {
        st.principal = makeOpen(auth::Principal::Kind::Open);
        co_return std::nullopt;
      }
      GatewayError e = GatewayError::unavailable(
          "The key database is unreachable, so the key cannot be checked; try again shortly.");
      e.code = "no_db_connection";
      e.retryAfterSeconds = 1;
      co_return e;
    } else {
      keys_.put(hash, loaded->principal, epoch, now);
      rt_.notePrincipal(loaded->principal);
      hit.found = true;
      hit.value = loaded->principal;
    }
  }
  if (!hit.value) {
    rt_.authFailures.fetch_add(1, std::memory_order_relaxed);
    co_return governance::unknownKeyError(cred);
  }
  const auth::Principal& p = *hit.value;
  if (p.blocked) {
    rt_.authFailures.fetch_add(1, std::memory_order_relaxed);
    co_return governance::blockedKeyError(p.keyAlias.empty() ? p.keyName : p.keyAlias);
  }
  if (p.teamBlocked) {
    rt_.authFailures.fetch_add(1, std::memory_order_relaxed);
    co_return governance::blockedTeamError(p.teamAlias.empty() ? p.teamId : p.teamAlias);
  }
  if (p.expiresMs && *p.expiresMs <= now) {
    rt_.authFailures.fetch_add(1, std::memory_order_relaxed);
    co_return governance::expiredKeyError(p.keyAlias.empty() ? p.keyName : p.keyAlias, *p.expiresMs,
                                          now);
  }
  if (!p.allowedRoutes.empty() && !routeAllowed(p.allowedRoutes, req.path())) {
    GatewayError e;
    e.status = 403;
    e.type = "permission_denied";
    e.code = "route_not_allowed";
    std::string list;
    for (const auto& r : p.allowedRoutes) list += (list.empty() ? "" : ", ") + r;
    e.message = fmt::format("This key may only call these routes: {}. Tried to call {}.", list,
                            utf8Prefix(req.path(), 200));
    co_return e;
  }
  st.principal = hit.value;
  co_return std::nullopt;
}

net::awaitable<std::optional<GatewayError>> Gatekeeper::admitChat(http::Request& req,
                                                                  types::ChatRequest& chat,
                                                                  engine::RequestOutcome& outcome,
                                                                  RequestGov& st) {
  const auth::Principal& p = *st.principal;
  st.model.assign(chat.model);
  // One parse of the body serves the metadata and the token count (nothing below suspends while
  // the parser's document is in use).
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object root;
  const std::string& body = req.body();
  const bool parsed = parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS;
  RequestMeta meta;
  readRequestMeta(req, parsed ? &root : nullptr, meta);
  // Key (then team) aliases rename the model before anything else looks at it.
  if (auto it = p.aliases.find(st.model); it != p.aliases.end()) {
    chat.modelStorage = it->second;
    chat.model = chat.modelStorage;
    chat.modelOwned = true;
  }
  // Exact counts cost a tokenization of the prompt: only when a limit, a budget or the router
  // uses them. Otherwise the router estimates, and a stream that ends without usage is counted
  // in finish().
  tokenizer::Count count{static_cast<int64_t>(body.size() / 4), false, "estimate"};
  if (parsed && needsTokenCount(p, chat, meta)) {
    count = countOrEstimate(tokenizer::countChatObject(upstreamModelOf(chat.model), root), body);
    outcome.countedPromptTokens = count.tokens;
  }
  const int64_t maxTokens = meta.maxTokens;
  takeMeta(st, std::move(meta));
  co_return co_await admitModel(st, chat.model, count, maxTokens);
}

net::awaitable<std::optional<GatewayError>> Gatekeeper::admitOther(http::Request& req,
                                                                   RequestGov& st) {
  RequestMeta meta;
  readRequestMeta(req, meta);
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object obj;
  std::string_view model;
  const std::string& body = req.body();
  if (parser.parse(body.data(), body.size()).get(obj) != simdjson::SUCCESS ||
      obj["model"].get(model) != simdjson::SUCCESS) {
    co_return std::nullopt;  // the engine answers the malformed request itself
  }
  st.model = std::string(model);
  const std::string_view upstream = upstreamModelOf(st.model);
  const tokenizer::Count count = countOrEstimate(
      st.callType == "anthropic_messages" ? tokenizer::countChatBody(upstream, body)
      : st.callType == "embedding"        ? tokenizer::countPromptBody(upstream, body, "input")
                                          : tokenizer::countPromptBody(upstream, body, "prompt"),
      body);
  const int64_t maxTokens = meta.maxTokens;
  takeMeta(st, std::move(meta));
  co_return co_await admitModel(st, st.model, count, maxTokens);
}

bool Gatekeeper::needsTokenCount(const auth::Principal& p, const types::ChatRequest& chat,
                                 const RequestMeta& meta) const {
  // Admission: a tpm limit or a budget on any descriptor the request may be checked against
  // (an end user may bring a budget of its own).
  if (!meta.user.empty() || !p.modelTpm.empty() || !p.modelBudget.empty()) return true;
  for (const Descriptor& d : p.descriptors) {
    if (d.tpm || d.maxBudgetNano) return true;
  }
  // Routing: deployment tpm limits, context-window checks, token-based strategies, or routing
  // fields in the request (per-request context fallbacks).
  if (chat.hasRouterFields || routerCountsTokens_) return true;
  const engine::GroupMatch match = gw_.matchGroup(chat.model);
  if (match.group == nullptr) return false;
  if (!match.group->contextFallbacks.empty()) return true;
  for (size_t idx : match.group->deployments) {
    if (gw_.deployments[idx].cfg->tpm) return true;
  }
  return false;
}

std::string_view Gatekeeper::upstreamModelOf(std::string_view model) const {
  const engine::GroupMatch match = gw_.matchGroup(model);
  if (match.group == nullptr || match.group->deployments.empty()) return model;
  const engine::DeploymentRt& d = gw_.deployments[match.group->deployments.front()];
  // "openai/*": the model is what the client's name filled in.
  return d.wildcard ? match.capture : d.upstreamModel;
}

// A cache miss: its own (rarely allocated) coroutine frame, not admitModel's.
net::awaitable<std::shared_ptr<const auth::CustomerView>> Gatekeeper::loadCustomer(std::string id,
                                                                                   int64_t now) {
  const uint64_t epoch = customers_.epoch();
  auto loaded = co_await rt_.store().run(
      [id, now](store::Db& db) { return auth::loadCustomer(db, id, now); });
  if (!loaded || loaded->dbError) co_return nullptr;
  customers_.put(id, loaded->view, epoch, now);
  co_return loaded->view;
}

void Gatekeeper::takeMeta(RequestGov& st, RequestMeta&& meta) {
  st.endUser = std::move(meta.user);
  st.metadata = std::move(meta.metadata);
  st.tags = std::move(meta.tags);
}

namespace {

GatewayError endUserBlockedError(std::string_view endUser) {
  GatewayError e;
  e.status = 403;
  e.type = "permission_denied";
  e.code = "end_user_blocked";
  e.message =
      fmt::format("End user '{}' is blocked. An admin can unblock it with POST /customer/unblock.",
                  utf8Prefix(endUser, 200));
  return e;
}

}  // namespace

// The suspending parts (a customer lookup on a cache miss, a Redis round trip) are the only ones
// left in this coroutine; the rest is in plain functions, which keeps its frame small.
net::awaitable<std::optional<GatewayError>> Gatekeeper::admitModel(RequestGov& st,
                                                                   std::string_view model,
                                                                   const tokenizer::Count& count,
                                                                   int64_t maxTokens) {
  const auth::Principal& p = *st.principal;
  st.tokensEstimated = !count.exact;
  if (p.kind == auth::Principal::Kind::VirtualKey) {
    if (auto e = checkModel(p, model, rt_.accessGroups())) co_return e;
  }
  // End-user limits (the customer's budget row).
  if (!st.endUser.empty()) {
    auto hit = customers_.find(st.endUser, st.startMs);
    st.customer = hit.found ? std::move(hit.value) : co_await loadCustomer(st.endUser, st.startMs);
    if (st.customer && st.customer->blocked) co_return endUserBlockedError(st.endUser);
  }
  governance::AdmitRequest ar;
  if (!prepareAdmission(st, model, count, maxTokens, ar)) co_return std::nullopt;
  co_return co_await admit(st, ar);
}

bool Gatekeeper::prepareAdmission(RequestGov& st, std::string_view model,
                                  const tokenizer::Count& count, int64_t maxTokens,
                                  governance::AdmitRequest& ar) const {
  const auth::Principal& p = *st.principal;
  // Worst case: the group's dearest deployment; the output cap is the request's max_tokens,
  // else the largest the group's deployments allow.
  const engine::GroupMatch match = gw_.matchGroup(model);
  double maxIn = 0, maxOut = 0;
  int64_t maxOutputCap = 0;
  if (match.group != nullptr) {
    for (size_t idx : match.group->deployments) {
      const engine::DeploymentRt& d = gw_.deployments[idx];
      maxIn = std::max(maxIn, d.inputCostPerToken.value_or(d.price ? d.price->inputPerToken : 0));
      maxOut =
          std::max(maxOut, d.outputCostPerToken.value_or(d.price ? d.price->outputPerToken : 0));
      if (d.price && d.price->maxOutputTokens) {
        maxOutputCap = std::max(maxOutputCap, *d.price->maxOutputTokens);
      }
    }
  }
  // Budgets reserve the worst case; tpm only what the request says it may use (prompt plus an
  // explicit max_tokens): a tpm smaller than a model's output cap must still admit requests.
  const int64_t explicitOutput = st.callType == "embedding" ? 0 : maxTokens;
  const int64_t outputTokens = st.callType == "embedding" ? 0
                               : maxTokens > 0            ? maxTokens
                               : maxOutputCap > 0         ? maxOutputCap
                                                          : kDefaultOutputReservation;

  // The descriptors: the principal's, plus per-model and end-user ones when they apply.
  const std::string modelKey(model);
  const auto mrpm = p.modelRpm.find(modelKey);
  const auto mtpm = p.modelTpm.find(modelKey);
  const auto mbud = p.modelBudget.find(modelKey);
  const bool perModel =
      mrpm != p.modelRpm.end() || mtpm != p.modelTpm.end() || mbud != p.modelBudget.end();
  const bool endUserLimits = st.customer && st.customer->descriptor;
  if (!perModel && !endUserLimits) {
    st.descriptors = &p.descriptors;
  } else {
    st.owned = p.descriptors;
    if (perModel) {
      Descriptor d;
      d.id = fmt::format("key_model:{}:{}", p.keyHash, model);
      d.kind = "model_per_key";
      d.name = fmt::format("{} on model {}", p.keyAlias.empty() ? p.keyName : p.keyAlias, model);
      if (mrpm != p.modelRpm.end()) d.rpm = mrpm->second;
      if (mtpm != p.modelTpm.end()) d.tpm = mtpm->second;
      if (mbud != p.modelBudget.end()) d.maxBudgetNano = mbud->second.maxNano;
      st.owned.push_back(std::move(d));
    }
    if (endUserLimits) st.owned.push_back(*st.customer->descriptor);
    st.descriptors = &st.owned;
  }
  if (st.descriptors->empty()) return false;

  ar.descriptors = st.descriptors;
  ar.tokens = count.tokens + explicitOutput;
  ar.costNano = governance::toNano(static_cast<double>(count.tokens) * maxIn +
                                   static_cast<double>(outputTokens) * maxOut);
  ar.reserveBudget = rt_.settings().reserveBudget;
  // Admission counts the request when it arrived (this is at most a key or customer lookup
  // later).
  ar.nowMs = st.startMs;
  return true;
}

net::awaitable<std::optional<GatewayError>> Gatekeeper::admit(RequestGov& st,
                                                              governance::AdmitRequest& ar) {
  governance::AdmitResult r;
  bool local = true;
  if (redis_) {
    // Every instance counts windows on Redis' clock, not its own.
    const int64_t localNow = ar.nowMs;
    ar.nowMs = 0;
    r = co_await redis_->admit(ar);
    ar.nowMs = localNow;
    if (r.unavailable != redisWasDown_) {
      redisWasDown_ = r.unavailable;
      if (r.unavailable) {
        spdlog::warn("Redis {}:{} is unreachable ({}): {}", rt_.settings().redisHost,
                     rt_.settings().redisPort, redisConn_->lastError(),
                     rt_.settings().redisFailOpen
                         ? "limits are per instance (limit / llmux_settings.instances) until it "
                           "returns (fail_open)"
                         : "refusing requests until it returns (fail_closed)");
      } else {
        spdlog::info("Redis {}:{} is reachable again: limits are shared again",
                     rt_.settings().redisHost, rt_.settings().redisPort);
      }
    }
    if (r.unavailable) {
      rt_.redisFailures.fetch_add(1, std::memory_order_relaxed);
      if (!rt_.settings().redisFailOpen) {
        rt_.redisFailClosed.fetch_add(1, std::memory_order_relaxed);
        GatewayError e = GatewayError::unavailable(
            "Rate limits and budgets cannot be checked: Redis is unreachable and "
            "redis_failure_mode is fail_closed. Try again shortly.");
        e.code = "limits_unavailable";
        e.retryAfterSeconds = 1;
        co_return e;
      }
      rt_.redisFailOpen.fetch_add(1, std::memory_order_relaxed);
      r = rt_.degraded().admit(ar);
    } else {
      local = false;
    }
  } else {
    r = rt_.local().admit(ar);
  }
  if (!r.ok) {
    const bool budget = r.kind == governance::LimitKind::Budget;
    (budget ? rt_.refusedBudget : rt_.refusedLimits).fetch_add(1, std::memory_order_relaxed);
    st.refusal = std::move(r);
    co_return governance::admissionError(*st.refusal, *ar.descriptors);
  }
  st.admitted = true;
  st.viaRedis = !local;
  st.degraded = local && redis_ != nullptr;
  st.admittedMs = ar.nowMs;
  st.reservedTokens = ar.tokens;
  st.reservedCostNano = ar.costNano;
  st.admission = std::move(r);
  co_return std::nullopt;
}

double Gatekeeper::costOf(const engine::RequestOutcome& o) const {
  if (o.deployment < 0) return 0;
  const engine::DeploymentRt& d = gw_.deployments[static_cast<size_t>(o.deployment)];
  const int64_t in = std::max<int64_t>(o.promptTokens, 0);
  const int64_t out = std::max<int64_t>(o.completionTokens, 0);
  if (d.inputCostPerToken || d.outputCostPerToken) {
    return static_cast<double>(in) * d.inputCostPerToken.value_or(0) +
           static_cast<double>(out) * d.outputCostPerToken.value_or(0);
  }
  if (d.price == nullptr) return 0;
  pricing::Usage u;
  u.promptTokens = in;
  u.completionTokens = out;
  u.cacheReadTokens = std::max<int64_t>(o.cachedTokens, 0);
  u.reasoningTokens = std::max<int64_t>(o.reasoningTokens, 0);
  return pricing::costOf(*d.price, u);
}

double Gatekeeper::keySpend(const RequestGov& st, double thisRequest) const {
  if (!st.principal || st.principal->kind != auth::Principal::Kind::VirtualKey) return 0;
  const auth::Principal& p = *st.principal;
  // What this instance has settled for the key (budget or spend counter), never less than the
  // database's figure when the key was loaded; this request is not settled yet.
  const auto snap = rt_.local().peek(p.spendView.id, 0);
  const int64_t known = std::max(snap.exists ? snap.spentNano : 0, p.spendView.dbSpendNano);
  return governance::fromNano(known) + thisRequest;
}

void Gatekeeper::settle(RequestGov& st, const engine::RequestOutcome& o, double cost) {
  if (st.settled) return;
  st.settled = true;
  const int64_t now = wallMs();
  if (cost > 0) rt_.spendNano.fetch_add(governance::toNano(cost), std::memory_order_relaxed);
  if (st.admitted) {
    governance::SettleRequest s;
    s.descriptors = st.descriptors;
    s.reservedTokens = st.reservedTokens;
    s.actualTokens =
        std::max<int64_t>(o.promptTokens, 0) + std::max<int64_t>(o.completionTokens, 0);
    s.reservedCostNano = st.reservedCostNano;
    s.actualCostNano = governance::toNano(cost);
    s.reserveBudget = rt_.settings().reserveBudget;
    s.nowMs = now;
    if (st.viaRedis) {
      if (redis_) redis_->settle(s);
    } else if (st.degraded) {
      rt_.degraded().settle(s, st.admittedMs);
    } else {
      rt_.local().settle(s, st.admittedMs);
    }
  }
  // The key's spend counter, when no local budget settlement above already moved it.
  if (st.principal->kind == auth::Principal::Kind::VirtualKey && cost > 0) {
    bool counted = false;
    if (st.admitted && !st.viaRedis && !st.degraded) {
      for (const Descriptor& d : *st.descriptors) {
        if (d.maxBudgetNano && d.id == st.principal->spendView.id) counted = true;
      }
    }
    if (!counted) rt_.local().recordSpend(st.principal->spendView, governance::toNano(cost));
  }
}

void Gatekeeper::finish(const http::Request& req, RequestGov& st,
                        const engine::RequestOutcome& outcome, int status) {
  if (!st.principal) return;  // refused before authentication: nothing to settle or log
  // An answer without usage (a stream from a provider that sends none): the prompt is billed at
  // admission's count, and the row says the tokens are llmux's own.
  const engine::RequestOutcome* op = &outcome;
  engine::RequestOutcome patched;
  int64_t counted = outcome.countedPromptTokens;
  if (!st.settled && outcome.deployment >= 0 && outcome.status == 200 &&
      outcome.promptTokens <= 0 && counted < 0 &&
      (st.callType == "chat_completion" || st.callType == "anthropic_messages")) {
    // Admission did not need the count; the bill does now.
    const engine::DeploymentRt& d = gw_.deployments[static_cast<size_t>(outcome.deployment)];
    const std::string_view model = d.wildcard ? std::string_view(st.model) : d.upstreamModel;
    const auto c = tokenizer::countChatBody(model, req.body());
    if (const auto* n = std::get_if<tokenizer::Count>(&c)) counted = n->tokens;
  }
  if (!st.settled && outcome.deployment >= 0 && outcome.status == 200 &&
      outcome.promptTokens <= 0 && counted > 0) {
    patched = outcome;
    patched.promptTokens = counted;
    patched.admission = nullptr;
    st.tokensEstimated = true;
    op = &patched;
  }
  const engine::RequestOutcome& o = *op;
  const double cost = st.costUsd.value_or(costOf(o));
  settle(st, o, cost);  // streams and refusals; whole answers settled before they went out
  store::SpendWriter* w = rt_.spend();
  if (w == nullptr) return;
  std::unique_ptr<store::SpendRow> row = w->take(worker_);
  fillSpendRow(req, st, o, status, cost, wallMs(), gw_, *row);
  w->push(worker_, std::move(row));
}

net::awaitable<void> Gatekeeper::management(http::Request& req, http::ResponseWriter& out,
                                            engine::RequestOutcome& o, RequestGov& st) {
  static constexpr http::Header kJson[] = {{"content-type", "application/json"}};
  const auth::Principal& p = *st.principal;
  if (p.kind == auth::Principal::Kind::Open) {
    GatewayError e;
    e.status = 403;
    e.type = "permission_denied";
    e.code = "master_key_required";
    e.message =
        "The management API needs a master key: set general_settings.master_key and call it "
        "with 'Authorization: Bearer <master key>'.";
    co_await engine::Engine::sendError(out, e, o);
    co_return;
  }
  management::Caller caller;
  caller.masterKey = p.kind == auth::Principal::Kind::Master;
  caller.role = caller.masterKey ? governance::Role::ProxyAdmin : p.role;
  if (!p.userId.empty()) caller.userId = p.userId;
  if (!p.teamId.empty()) caller.teamId = p.teamId;
  caller.keyHash = p.keyHash;
  management::Request mreq;
  mreq.method = req.head.methodString;
  mreq.path = req.path();
  mreq.query = req.query();
  mreq.body = req.body();
  const int64_t now = wallMs();
  // The job runs on the store thread while this coroutine waits: the request's memory and the
  // gateway's (immutable) model table stay valid meanwhile.
  auto res = co_await rt_.store().run([this, &caller, &mreq, now](store::Db& db) {
    management::Context ctx{db, now, rt_.accessGroups(), [this](std::string_view m) {
                              return gw_.matchGroup(m).group != nullptr;
                            }};
    return management::handle(ctx, caller, mreq);
  });
  if (!res) {
    GatewayError e = GatewayError::unavailable(
        "The management database is busy or unreachable; try again shortly.");
    e.retryAfterSeconds = 1;
    co_await engine::Engine::sendError(out, e, o);
    co_return;
  }
  if (!res->invalidate.empty()) rt_.invalidateCaches();
  o.status = res->status;
  if (res->status >= 400) o.errorType = "management_error";
  if (!res->allow.empty()) {
    const http::Header h[] = {{"content-type", "application/json"}, {"allow", res->allow}};
    co_await out.respond(res->status, h, res->body);
    co_return;
  }
  co_await out.respond(res->status, kJson, res->body);
}

}  // namespace llmux::api
