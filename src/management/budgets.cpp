// /budget/new, /budget/update, /budget/info, /budget/delete, /budget/list: shared budget rows that
// keys (budget_id), customers and team memberships point at.
#include <fmt/format.h>

#include "management/fields.hpp"
#include "management/internal.hpp"

namespace llmux::management {
namespace {

Response budgetNotFound(const std::string& id) {
  return notFound(fmt::format("Budget not found, passed budget_id={}", id), "budget_id");
}

std::vector<std::string> splitCommas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    if (comma != 0) out.emplace_back(s.substr(0, comma));
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return out;
}

}  // namespace

Response budgetNew(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto id = r.string("budget_id");
  LimitsPatch p;
  readLimits(r, p);
  if (!r.ok()) return errorResponse(*r.error());
  if (id.has() && id.value->empty()) return badRequest("budget_id must not be empty", "budget_id");

  store::BudgetRow b;
  b.budgetId = id.has() ? *id.value : newUuid();
  if (b.budgetId.empty()) return errorResponse(500, "internal_server_error", "No random source");
  const auto duplicate = [&] {
    return badRequest(fmt::format("Budget with id '{}' already exists.", b.budgetId), "budget_id");
  };
  store::RepoError err;
  auto existing = store::findBudget(e.db(), b.budgetId, err);
  if (!err.message.empty()) return dbFailure(err);
  if (existing) return duplicate();
  applyLimits(p, b.limits, e.ctx.nowMs);
  b.createdAt = b.updatedAt = e.ctx.nowMs;
  b.createdBy = b.updatedBy = actorId(e.caller);
  const auto w = store::insertBudget(e.db(), b, err);
  if (w == store::WriteResult::Duplicate) return duplicate();
  if (w != store::WriteResult::Ok) return dbFailure(err);
  return okJson(budgetJson(b));
}

Response budgetUpdate(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto id = r.string("budget_id");
  LimitsPatch p;
  readLimits(r, p);
  if (!r.ok()) return errorResponse(*r.error());
  if (!id.has()) return badRequest("budget_id is required", "budget_id");
  store::RepoError err;
  auto b = store::findBudget(e.db(), *id.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!b) return budgetNotFound(*id.value);
  // A new budget_duration also moves budget_reset_at (LiteLLM keeps the old reset time).
  applyLimits(p, b->limits, e.ctx.nowMs);
  b->updatedAt = e.ctx.nowMs;
  b->updatedBy = actorId(e.caller);
  const auto w = store::updateBudget(e.db(), *b, err);
  if (w == store::WriteResult::NotFound) return budgetNotFound(b->budgetId);
  if (w != store::WriteResult::Ok) return dbFailure(err);
  Response out = okJson(budgetJson(*b));
  out.invalidate.budgetIds.push_back(b->budgetId);
  return out;
}

Response budgetInfo(const Env& e) {
  std::vector<std::string> ids;
  if (e.req.method == "GET") {
    const Query q(e.req.query);
    if (auto one = q.get("budget_id")) ids.push_back(*one);
    if (auto many = q.get("budgets")) {
      for (auto& id : splitCommas(*many)) ids.push_back(std::move(id));
    }
  } else {
    json::object body;
    Response failure;
    if (!parseBody(e.req.body, body, failure)) return failure;
    Reader r(body);
    const auto f = r.strings("budgets");
    if (!r.ok()) return errorResponse(*r.error());
    if (f.has()) ids = *f.value;
  }
  if (ids.empty())
    return badRequest("Specify list of budget id's to query. Passed in=[]", "budgets");
  store::RepoError err;
  json::array out;
  for (const auto& id : ids) {
    auto b = store::findBudget(e.db(), id, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!b) return budgetNotFound(id);
    out.emplace_back(budgetJson(*b));
  }
  return okJson(out);
}

Response budgetDelete(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  auto id = r.string("id");
  if (!id.present) id = r.string("budget_id");
  if (!r.ok()) return errorResponse(*r.error());
  if (!id.has()) return badRequest("id is required", "id");
  store::RepoError err;
  auto b = store::findBudget(e.db(), *id.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!b) return budgetNotFound(*id.value);
  const auto w = store::deleteBudget(e.db(), b->budgetId, err);
  if (w == store::WriteResult::NotFound) return budgetNotFound(b->budgetId);
  if (w != store::WriteResult::Ok) return dbFailure(err);
  Response out = okJson(budgetJson(*b));
  out.invalidate.budgetIds.push_back(b->budgetId);
  return out;
}

Response budgetList(const Env& e) {
  store::RepoError err;
  const auto budgets = store::listBudgets(e.db(), err);
  if (!err.message.empty()) return dbFailure(err);
  json::array out;
  for (const auto& b : budgets) out.emplace_back(budgetJson(b));
  return okJson(out);
}

}  // namespace llmux::management
