// /customer/* (and the /end_user/* aliases): end users, the OpenAI `user` field. Budget fields
// live in a budget row the customer links to (LiteLLM_EndUserTable.budget_id).
#include <fmt/format.h>

#include <map>

#include "management/fields.hpp"
#include "management/internal.hpp"

namespace llmux::management {
namespace {

struct CustomerPatch {
  Field<std::string> alias, budgetId, region, defaultModel;
  Field<bool> blocked;
  LimitsPatch limits;
};

std::optional<Response> readCustomerPatch(const Env& e, Reader& r, CustomerPatch& p) {
  p.alias = r.string("alias");
  p.budgetId = r.string("budget_id");
  p.region = r.string("allowed_model_region");
  p.defaultModel = r.string("default_model");
  p.blocked = r.boolean("blocked");
  readLimits(r, p.limits);
  if (!r.ok()) return errorResponse(*r.error());
  if (p.region.has() && *p.region.value != "eu" && *p.region.value != "us") {
    return badRequest("Invalid allowed_model_region: use eu or us", "allowed_model_region");
  }
  if (p.defaultModel.has() && e.ctx.modelExists && !e.ctx.modelExists(*p.defaultModel.value)) {
    return badRequest(
        fmt::format("default_model={} is not a model group on this proxy", *p.defaultModel.value),
        "default_model");
  }
  if (p.budgetId.has() && p.limits.any()) {
    return badRequest("Set either 'max_budget' or 'budget_id', not both.", "budget_id");
  }
  if (p.budgetId.has()) {
    store::RepoError err;
    auto b = store::findBudget(e.db(), *p.budgetId.value, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!b) {
      return badRequest(fmt::format("Budget not found, passed budget_id={}", *p.budgetId.value),
                        "budget_id");
    }
  }
  return std::nullopt;
}

Response customerNotFound(const std::string& id) {
  return notFound(fmt::format("End User Id={} does not exist in db", id), "user_id");
}

// Budget fields on a customer: update the linked budget row, or create one and link it.
std::optional<Response> applyCustomerBudget(const Env& e, const LimitsPatch& limits,
                                            store::CustomerRow& c, Invalidation& inv) {
  if (!limits.any()) return std::nullopt;
  store::RepoError err;
  std::optional<store::BudgetRow> b;
  if (c.budgetId) {
    b = store::findBudget(e.db(), *c.budgetId, err);
    if (!err.message.empty()) return dbFailure(err);
  }
  if (b) {
    applyLimits(limits, b->limits, e.ctx.nowMs);
    b->updatedAt = e.ctx.nowMs;
    b->updatedBy = actorId(e.caller);
    if (store::updateBudget(e.db(), *b, err) != store::WriteResult::Ok) return dbFailure(err);
    inv.budgetIds.push_back(b->budgetId);
    return std::nullopt;
  }
  store::BudgetRow nb;
  nb.budgetId = newUuid();
  if (nb.budgetId.empty()) return errorResponse(500, "internal_server_error", "No random source");
  applyLimits(limits, nb.limits, e.ctx.nowMs);
  nb.createdAt = nb.updatedAt = e.ctx.nowMs;
  nb.createdBy = nb.updatedBy = actorId(e.caller);
  if (store::insertBudget(e.db(), nb, err) != store::WriteResult::Ok) return dbFailure(err);
  c.budgetId = nb.budgetId;
  return std::nullopt;
}

void applyCustomerPatch(const CustomerPatch& p, store::CustomerRow& c) {
  if (p.alias.present) c.alias = p.alias.value;
  if (p.budgetId.present) c.budgetId = p.budgetId.value;
  if (p.region.present) c.allowedModelRegion = p.region.value;
  if (p.defaultModel.present) c.defaultModel = p.defaultModel.value;
  if (p.blocked.present) c.blocked = p.blocked.value.value_or(false);
}

Response customerAnswer(const Env& e, const store::CustomerRow& c, Invalidation inv) {
  store::RepoError err;
  std::optional<store::BudgetRow> b;
  if (c.budgetId) b = store::findBudget(e.db(), *c.budgetId, err);
  Response out = okJson(customerJson(c, b));
  out.invalidate = std::move(inv);
  out.invalidate.customerIds.push_back(c.userId);
  return out;
}

// user_ids of /customer/delete|block|unblock.
std::optional<Response> readIds(const Env& e, std::vector<std::string>& ids) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto f = r.strings("user_ids");
  if (!r.ok()) return errorResponse(*r.error());
  if (!f.has() || f.value->empty()) return badRequest("user_ids is required", "user_ids");
  ids = *f.value;
  return std::nullopt;
}

}  // namespace

Response customerNew(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto userId = r.string("user_id");
  CustomerPatch p;
  if (auto bad = readCustomerPatch(e, r, p)) return std::move(*bad);
  if (!userId.has() || userId.value->empty()) return badRequest("user_id is required", "user_id");
  store::RepoError err;
  auto existing = store::findCustomer(e.db(), *userId.value, err);
  if (!err.message.empty()) return dbFailure(err);
  const auto duplicate = [&] {
    return errorResponse(400, "bad_request_error",
                         fmt::format("Customer already exists, passed user_id={}. Please pass a "
                                     "new user_id.",
                                     *userId.value),
                         "user_id");
  };
  if (existing) return duplicate();

  store::CustomerRow c;
  c.userId = *userId.value;
  applyCustomerPatch(p, c);
  c.createdAt = c.updatedAt = e.ctx.nowMs;
  Invalidation inv;
  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  if (auto bad = applyCustomerBudget(e, p.limits, c, inv)) return std::move(*bad);
  const auto w = store::insertCustomer(e.db(), c, err);
  if (w == store::WriteResult::Duplicate) return duplicate();
  if (w != store::WriteResult::Ok) return dbFailure(err);
  if (!tx.commit()) return dbFailure(tx.error());
  return customerAnswer(e, c, std::move(inv));
}

Response customerUpdate(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto userId = r.string("user_id");
  CustomerPatch p;
  if (auto bad = readCustomerPatch(e, r, p)) return std::move(*bad);
  if (!userId.has()) return badRequest("user_id is required", "user_id");
  store::RepoError err;
  auto c = store::findCustomer(e.db(), *userId.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!c) return customerNotFound(*userId.value);
  // Unlike LiteLLM, false and 0 are applied: blocked=false unblocks, max_budget=0 sets 0.
  applyCustomerPatch(p, *c);
  c->updatedAt = e.ctx.nowMs;
  Invalidation inv;
  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  if (auto bad = applyCustomerBudget(e, p.limits, *c, inv)) return std::move(*bad);
  const auto w = store::updateCustomer(e.db(), *c, err);
  if (w == store::WriteResult::NotFound) return customerNotFound(c->userId);
  if (w != store::WriteResult::Ok) return dbFailure(err);
  if (!tx.commit()) return dbFailure(tx.error());
  return customerAnswer(e, *c, std::move(inv));
}

Response customerDelete(const Env& e) {
  std::vector<std::string> ids;
  if (auto bad = readIds(e, ids)) return std::move(*bad);
  store::RepoError err;
  std::string missing;
  for (const auto& id : ids) {
    auto c = store::findCustomer(e.db(), id, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!c) missing += (missing.empty() ? "" : ", ") + id;
  }
  if (!missing.empty()) {
    return notFound(fmt::format("End User Id(s)={} do not exist in db", missing), "user_ids");
  }
  if (store::deleteCustomers(e.db(), ids, err) != store::WriteResult::Ok) return dbFailure(err);
  json::object o;
  o["deleted_customers"] = static_cast<int64_t>(ids.size());
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "'" : ", '") + id + "'";
  o["message"] = fmt::format("Successfully deleted customers with ids: [{}]", list);
  Response out = okJson(o);
  out.invalidate.customerIds = ids;
  return out;
}

Response customerInfo(const Env& e) {
  const Query q(e.req.query);
  auto id = q.get("end_user_id");
  if (!id) id = q.get("user_id");
  if (!id) return badRequest("end_user_id is required", "end_user_id");
  store::RepoError err;
  auto c = store::findCustomer(e.db(), *id, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!c) return customerNotFound(*id);
  return customerAnswer(e, *c, {});
}

Response customerList(const Env& e) {
  store::RepoError err;
  const auto customers = store::listCustomers(e.db(), err);
  if (!err.message.empty()) return dbFailure(err);
  const auto budgets = store::listBudgets(e.db(), err);
  if (!err.message.empty()) return dbFailure(err);
  std::map<std::string, const store::BudgetRow*> byId;
  for (const auto& b : budgets) byId[b.budgetId] = &b;
  json::array out;
  for (const auto& c : customers) {
    std::optional<store::BudgetRow> b;
    if (c.budgetId) {
      if (auto it = byId.find(*c.budgetId); it != byId.end()) b = *it->second;
    }
    out.emplace_back(customerJson(c, b));
  }
  return okJson(out);
}

Response customerBlock(const Env& e, bool block) {
  std::vector<std::string> ids;
  if (auto bad = readIds(e, ids)) return std::move(*bad);
  store::RepoError err;
  json::array rows;
  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  // Block and unblock are symmetric upserts of the blocked flag (LiteLLM's unblock does not
  // clear it in the database).
  for (const auto& id : ids) {
    auto c = store::findCustomer(e.db(), id, err);
    if (!err.message.empty()) return dbFailure(err);
    store::WriteResult w;
    if (c) {
      c->blocked = block;
      c->updatedAt = e.ctx.nowMs;
      w = store::updateCustomer(e.db(), *c, err);
    } else {
      c.emplace();
      c->userId = id;
      c->blocked = block;
      c->createdAt = c->updatedAt = e.ctx.nowMs;
      w = store::insertCustomer(e.db(), *c, err);
    }
    if (w != store::WriteResult::Ok) return dbFailure(err);
    rows.emplace_back(customerJson(*c, std::nullopt));
  }
  if (!tx.commit()) return dbFailure(tx.error());
  json::object o;
  o[block ? "blocked_users" : "unblocked_users"] = std::move(rows);
  Response out = okJson(o);
  out.invalidate.customerIds = ids;
  return out;
}

}  // namespace llmux::management
