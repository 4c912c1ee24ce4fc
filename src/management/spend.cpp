// GET /spend/logs and GET /global/spend/report.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "management/internal.hpp"

namespace llmux::management {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// start_date / end_date: YYYY-MM-DD (UTC days).
std::optional<Response> readDay(const Query& q, std::string_view name,
                                std::optional<int64_t>& out) {
  const auto v = q.get(name);
  if (!v) return std::nullopt;
  out = parseDay(*v);
  if (!out) {
    return badRequest(fmt::format("Invalid {} '{}': use YYYY-MM-DD", name, *v), std::string(name));
  }
  return std::nullopt;
}

// LiteLLM's summarize=true shape: one entry per day from start to end (zero-filled) with the
// day's spend, spend per key hash (as members), per user and per model.
json::array summarize(const std::vector<store::SpendRow>& rows, int64_t startMs, int64_t endMs) {
  struct Day {
    double spend = 0;
    std::map<std::string, double> keys, users, models;
  };
  std::map<int64_t, Day> days;
  for (int64_t d = startMs; d < endMs && days.size() < 3700; d += kDayMs) days[d];
  for (const auto& r : rows) {
    const int64_t d = r.startTime - ((r.startTime % kDayMs) + kDayMs) % kDayMs;
    Day& day = days[d];
    day.spend += r.spend;
    day.keys[r.apiKey] += r.spend;
    if (!r.userId.empty()) day.users[r.userId] += r.spend;
    day.models[r.model] += r.spend;
  }
  json::array out;
  for (const auto& [d, day] : days) {
    json::object o;
    o["startTime"] = dayOf(d);
    o["spend"] = day.spend;
    for (const auto& [k, v] : day.keys) {
      if (!k.empty()) o[k] = v;
    }
    json::object users;
    for (const auto& [u, v] : day.users) users[u] = v;
    json::object models;
    for (const auto& [m, v] : day.models) models[m] = v;
    o["users"] = std::move(users);
    o["models"] = std::move(models);
    out.emplace_back(std::move(o));
  }
  return out;
}

struct GroupNames {
  std::string_view plural;  // member holding the day's groups
  std::string_view name;    // member naming one group
  std::string_view unassigned;
};

GroupNames namesFor(std::string_view groupBy) {
  if (groupBy == "team") return {"teams", "team_name", "Unassigned Team"};
  if (groupBy == "customer") return {"customers", "customer", "Unassigned Customer"};
  if (groupBy == "user") return {"users", "user", "Unassigned User"};
  if (groupBy == "tag") return {"tags", "tag", "Untagged"};
  return {"models", "model", "Unknown Model"};
}

// group_by=api_key: LiteLLM's per-key totals with per-model details, most expensive first.
json::array reportByKey(const std::vector<store::SpendReportLine>& lines) {
  struct Totals {
    double cost = 0;
    int64_t in = 0, out = 0, requests = 0;
  };
  std::map<std::string, std::pair<Totals, std::map<std::string, Totals>>> keys;
  for (const auto& l : lines) {
    auto& [total, models] = keys[l.group];
    for (Totals* t : {&total, &models[l.model]}) {
      t->cost += l.spend;
      t->in += l.promptTokens;
      t->out += l.completionTokens;
      t->requests += l.requests;
    }
  }
  std::vector<std::pair<std::string, const std::pair<Totals, std::map<std::string, Totals>>*>>
      order;
  for (const auto& [k, v] : keys) order.emplace_back(k, &v);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->first.cost > b.second->first.cost;
  });
  json::array out;
  for (const auto& [key, v] : order) {
    json::object o;
    o["api_key"] = key;
    o["total_cost"] = v->first.cost;
    o["total_input_tokens"] = v->first.in;
    o["total_output_tokens"] = v->first.out;
    o["api_requests"] = v->first.requests;
    json::array details;
    for (const auto& [model, t] : v->second) {
      json::object d;
      d["model"] = model;
      d["total_cost"] = t.cost;
      d["total_input_tokens"] = t.in;
      d["total_output_tokens"] = t.out;
      d["api_requests"] = t.requests;
      details.emplace_back(std::move(d));
    }
    o["model_details"] = std::move(details);
    out.emplace_back(std::move(o));
  }
  return out;
}

// Other groupings: per day, per group (team alias for teams), with per-model metadata.
json::array reportByDay(const Env& e, const std::vector<store::SpendReportLine>& lines,
                        std::string_view groupBy) {
  const GroupNames names = namesFor(groupBy);
  std::map<std::string, std::map<std::string, std::vector<const store::SpendReportLine*>>> days;
  for (const auto& l : lines) days[l.day][l.group].push_back(&l);
  std::map<std::string, std::string> teamNames;  // id -> alias (cache)
  json::array out;
  for (const auto& [day, groups] : days) {
    std::vector<std::pair<double, json::object>> entries;
    for (const auto& [group, ls] : groups) {
      json::object g;
      std::string display = group.empty() ? std::string(names.unassigned) : group;
      if (groupBy == "team" && !group.empty()) {
        g["team_id"] = group;
        auto it = teamNames.find(group);
        if (it == teamNames.end()) {
          store::RepoError err;
          auto t = store::findTeam(e.db(), group, err);
          it = teamNames.emplace(group, t && t->teamAlias ? *t->teamAlias : group).first;
        }
        display = it->second;
      }
      g[names.name] = display;
      double total = 0;
      json::array meta;
      for (const auto* l : ls) {
        total += l->spend;
        json::object m;
        m["model"] = l->model;
        m["spend"] = l->spend;
        m["prompt_tokens"] = l->promptTokens;
        m["completion_tokens"] = l->completionTokens;
        m["total_tokens"] = l->promptTokens + l->completionTokens;
        m["api_requests"] = l->requests;
        meta.emplace_back(std::move(m));
      }
      g["total_spend"] = total;
      g["metadata"] = std::move(meta);
      entries.emplace_back(total, std::move(g));
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    json::array gs;
    for (auto& [total, g] : entries) gs.emplace_back(std::move(g));
    json::object d;
    d["group_by_day"] = day;
    d[names.plural] = std::move(gs);
    out.emplace_back(std::move(d));
  }
  return out;
}

}  // namespace

Response spendLogs(const Env& e) {
  const Query q(e.req.query);
  store::SpendQuery sq;
  if (auto k = q.get("api_key")) sq.apiKey = keyHashOf(*k);
  sq.userId = q.get("user_id");
  sq.teamId = q.get("team_id");
  sq.requestId = q.get("request_id");
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  if (auto bad = readDay(q, "start_date", start)) return std::move(*bad);
  if (auto bad = readDay(q, "end_date", end)) return std::move(*bad);
  if (start && end && *start > *end) {
    return badRequest("start_date must not be after end_date", "start_date");
  }
  sq.startMs = start;
  // end_date is inclusive (the whole day), unlike LiteLLM, which stops at its midnight.
  if (end) sq.endMs = *end + kDayMs;
  const auto summarizeParam = q.get("summarize");
  if (summarizeParam && *summarizeParam != "true" && *summarizeParam != "false") {
    return badRequest("Invalid value for 'summarize': expected true or false", "summarize");
  }
  const bool summary = summarizeParam == "true";
  if (summary && (!start || !end)) {
    return badRequest("summarize=true needs start_date and end_date", "summarize");
  }
  if (auto l = q.get("limit")) {
    int64_t n = 0;
    const auto [ptr, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
    if (ec != std::errc() || ptr != l->data() + l->size() || n < 1 || n > 10000) {
      return badRequest("Invalid value for 'limit': expected an integer from 1 to 10000", "limit");
    }
    sq.limit = n;
  }
  if (summary) sq.limit = 1'000'000;

  if (!canReadAll(e.caller)) {
    // Internal users see their own spend only.
    if (!e.caller.userId) {
      return forbidden(
          "You are not authorized to view spend logs. No 'user_id' is associated "
          "with your API key.");
    }
    if (sq.userId && *sq.userId != *e.caller.userId) {
      return forbidden("You are not authorized to view another user's spend");
    }
    sq.userId = e.caller.userId;
  }
  store::RepoError err;
  const auto rows = store::querySpend(e.db(), sq, err);
  if (!err.message.empty()) return dbFailure(err);
  if (summary) return okJson(summarize(rows, *sq.startMs, *sq.endMs));
  json::array out;
  for (const auto& r : rows) out.emplace_back(spendJson(r));
  return okJson(out);
}

Response globalSpendReport(const Env& e) {
  const Query q(e.req.query);
  const auto startText = q.get("start_date");
  const auto endText = q.get("end_date");
  if (!startText || !endText) {
    return badRequest("Please provide start_date and end_date", "start_date");
  }
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  if (auto bad = readDay(q, "start_date", start)) return std::move(*bad);
  if (auto bad = readDay(q, "end_date", end)) return std::move(*bad);
  if (*start > *end) return badRequest("start_date must not be after end_date", "start_date");
  const std::string groupBy = q.get("group_by").value_or("team");
  static constexpr std::string_view kGroups[] = {"api_key",  "team",  "user",
                                                 "customer", "model", "tag"};
  if (std::find(std::begin(kGroups), std::end(kGroups), groupBy) == std::end(kGroups)) {
    return badRequest(fmt::format("Invalid group_by '{}'. Use one of: api_key, team, user, "
                                  "customer, model, tag",
                                  groupBy),
                      "group_by");
  }
  store::RepoError err;
  const auto lines = store::spendReport(e.db(), groupBy, *startText, *endText, err);
  if (!lines) return dbFailure(err);
  if (groupBy == "api_key") return okJson(reportByKey(*lines));
  return okJson(reportByDay(e, *lines, groupBy));
}

}  // namespace llmux::management
