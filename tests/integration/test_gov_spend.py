"""Spend tracking through the real binary (issue 5): one spend-log row per request with its fields, the
x-llmux-* cost headers, /spend/logs filters, /global/spend/report groupings, the daily roll-up table,
Prometheus families, streams, durability across SIGTERM and a PostgreSQL outage, and /utils/token_counter.
Key tests run on SQLite (_sqlite) and PostgreSQL (_pg); helpers come from test_gov_limits.py."""
from __future__ import annotations

import datetime
import hashlib
import json
import re
import signal
import sqlite3
import threading
import time
import urllib.parse

import services
from harness import (MASTER_KEY, Conn, chat, chat_stream, check, check_error, deployment, eq, mock_dep, poll, request,
                     slow_factor, test)
from mock_openai import MOCK_TEXT
from test_gov_limits import (CENT, COOKBOOK_CL100K, COOKBOOK_MESSAGES, COOKBOOK_O200K, Store, ask, ask_cent,
                             both, cent_dep, gov_config, key_info, mgmt, new_key)

IN_PRICE = 2e-6
OUT_PRICE = 8e-6


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def today(delta=0):
    return (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=delta)).isoformat()


def spend_logs(g, **q):
    return mgmt(g, "/spend/logs?" + urllib.parse.urlencode(q), method="GET")


def log_of(g, rid):
    """The /spend/logs entry of one request id (polled: rows are written in batches)."""
    rows = poll(lambda: spend_logs(g, request_id=rid), timeout=5, what=f"spend-log row of {rid}")
    eq(len(rows), 1, f"rows for request_id {rid}")
    return rows[0]


def approx(a, b, what, tol=1e-9):
    check(abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b))), f"{what}: expected {b!r}, got {a!r}")


def mock_usage(messages):
    """The usage the mock upstream reports for its normal answer (mock_openai._usage: one completion token
    per content piece)."""
    return max(1, len(json.dumps(messages)) // 4), len(MOCK_TEXT)


def metrics(g):
    r = request(g.port, "GET", "/metrics")
    eq(r.status, 200, "/metrics")
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out, r.text


# ---------------------------------------------------------------------------------------------- row fields
def _priced_env(ctx, backend, **llmux):
    st = Store(ctx, backend)
    mock = ctx.mock()
    g = ctx.gateway(gov_config([mock_dep("g4o-priced", mock, "gpt-4o", info={"id": "dep-g4o-1"},
                                         input_cost_per_token=IN_PRICE, output_cost_per_token=OUT_PRICE)],
                               st, **llmux))
    return st, mock, g


@both()
def gov_spend_row_fields(ctx, backend):
    st, mock, g = _priced_env(ctx, backend)
    team = mgmt(g, "/team/new", {"team_alias": "fin-team"})["team_id"]
    mgmt(g, "/user/new", {"user_id": "fin-user"})
    gen = mgmt(g, "/key/generate", {"key_alias": "fin-key", "team_id": team, "user_id": "fin-user",
                                     "tags": ["key-tag"]})
    k = gen["key"]
    msgs = [{"role": "user", "content": "what does it cost?"}]
    r = chat(g.port, {"model": "g4o-priced", "messages": msgs, "user": "end-user-7",
                      "metadata": {"tags": ["body-tag"], "feature": "search"}},
             auth=k, headers={"x-llmux-tags": "hdr-a, hdr-b", "x-llmux-metadata": '{"from_llmux": 1}',
                              "x-portkey-metadata": '{"_user": "pk-user"}'})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    rid = r.header("x-llmux-request-id")
    check(rid, "x-llmux-request-id header")
    usage = r.json()["usage"]
    eq((usage["prompt_tokens"], usage["completion_tokens"]), mock_usage(msgs), "usage from the mock upstream")
    cost = float(r.header("x-llmux-response-cost"))
    approx(cost, usage["prompt_tokens"] * IN_PRICE + usage["completion_tokens"] * OUT_PRICE,
           "x-llmux-response-cost == tokens x deployment prices")

    row = log_of(g, rid)
    eq(row["request_id"], rid, "request_id")
    eq(row["api_key"], sha256(k), "api_key is the key's SHA-256")
    eq(row["api_key"], gen["token"], "api_key == /key/generate token")
    eq(row["key_alias"], "fin-key", "key_alias")
    eq(row["team_id"], team, "team_id")
    eq(row["user"], "fin-user", "user (the key's user_id)")
    eq(row["end_user"], "end-user-7", "end_user (the request's `user`)")
    eq(row["model"], "g4o-priced", "model")
    eq(row["model_group"], "g4o-priced", "model_group")
    eq(row["model_id"], "dep-g4o-1", "model_id (deployment)")
    eq(row["custom_llm_provider"], "openai", "provider")
    eq(row["call_type"], "chat_completion", "call_type")
    eq((row["prompt_tokens"], row["completion_tokens"]), (usage["prompt_tokens"], usage["completion_tokens"]),
       "tokens == response usage")
    eq(row["total_tokens"], usage["total_tokens"], "total_tokens")
    approx(row["spend"], cost, "spend == x-llmux-response-cost")
    eq((row["status"], row["http_status"]), ("success", 200), "status")
    check(row["startTime"] <= row["endTime"], f"start <= end: {row['startTime']} {row['endTime']}")
    check(row["startTime"].startswith(today()), f"startTime is today (UTC): {row['startTime']}")
    eq(sorted(row["request_tags"]), sorted(["body-tag", "hdr-a", "hdr-b", "key-tag"]),
       "tags from metadata.tags, x-llmux-tags and the key")
    md = row["metadata"]
    eq((md.get("feature"), md.get("from_llmux"), md.get("_user")), ("search", 1, "pk-user"),
       f"metadata from the body, x-llmux-metadata and x-portkey-metadata ({md})")

    # The stored row itself (hashed key, never the raw one).
    db = st.rows(f"SELECT api_key, key_alias, end_user, prompt_tokens, completion_tokens, spend, status "
                 f"FROM llmux_spend_logs WHERE request_id = '{rid}'")
    eq(len(db), 1, "one database row")
    a, alias, eu, p, c, s, status = db[0]
    eq((a, alias, eu, int(p), int(c), int(status)),
       (sha256(k), "fin-key", "end-user-7", usage["prompt_tokens"], usage["completion_tokens"], 200), "db row")
    approx(s, cost, "db spend")
    eq(int(st.scalar(f"SELECT COUNT(*) FROM llmux_spend_logs WHERE api_key = '{k}' OR key_alias = '{k}'")), 0,
       "the raw key is stored nowhere in the spend log")
    # The spend reaches the key, the team and the user.
    poll(lambda: abs(key_info(g, k)["spend"] - cost) < 1e-12, what="key spend")
    approx(mgmt(g, f"/team/info?team_id={team}", method="GET")["team_info"]["spend"], cost, "team spend")
    u = mgmt(g, "/user/info?user_id=fin-user", method="GET")
    approx((u.get("user_info") or u).get("spend"), cost, "user spend")


@both()
def gov_spend_stream_rows(ctx, backend):
    """Streams are settled and logged with their token counts, with and without include_usage."""
    st, mock, g = _priced_env(ctx, backend)
    k = new_key(g, key_alias="stream-key")
    msgs = [{"role": "user", "content": "stream me"}]
    want = mock_usage(msgs)
    for include in (True, False):
        body = {"model": "g4o-priced", "stream": True, "messages": msgs}
        if include:
            body["stream_options"] = {"include_usage": True}
        s = chat_stream(g.port, body, auth=k)
        eq(s.resp.status, 200, f"stream status ({s.describe()})")
        check(s.done, f"stream complete: {s.describe()}")
        rid = s.resp.header("x-llmux-request-id")
        check(rid, "x-llmux-request-id on a stream")
        usage = [c["usage"] for c in s.json_chunks() if c.get("usage")]
        if include:
            eq(len(usage), 1, "one usage chunk with include_usage")
            eq((usage[0]["prompt_tokens"], usage[0]["completion_tokens"]), want, "usage chunk")
        else:
            eq(usage, [], "no usage chunk without include_usage")
        row = log_of(g, rid)
        eq((row["prompt_tokens"], row["completion_tokens"]), want, f"stream row tokens (include_usage={include})")
        approx(row["spend"], want[0] * IN_PRICE + want[1] * OUT_PRICE, "stream spend == tokens x prices")
        check(row["completionStartTime"] is not None, f"completionStartTime set on a stream: {row}")
        check(row["startTime"] <= row["completionStartTime"] <= row["endTime"],
              f"start <= first token <= end: {row}")
        eq(row["status"], "success", "stream row status")
    poll(lambda: abs(key_info(g, k)["spend"] - 2 * (want[0] * IN_PRICE + want[1] * OUT_PRICE)) < 1e-12,
         what="key spend includes both streams")


# ---------------------------------------------------------------------------------------------- one row per request
@both()
def gov_spend_row_per_request(ctx, backend):
    """Every request that reaches a model route with a valid key writes exactly one row, refusals included."""
    st = Store(ctx, backend)
    g = ctx.gateway(gov_config([deployment("m", "mock/anything"), deployment("other", "mock/anything"),
                                deployment("slow", "mock/anything", mock_latency_ms=1500),
                                deployment("emb", "mock/text-embedding-3-small"), cent_dep("priced")], st))
    limited = new_key(g, key_alias="rows-limited", rpm_limit=3, models=["m"])
    broke = new_key(g, key_alias="rows-broke", max_budget=0)
    sent = []  # (request id, status)

    def send(key, model, **kw):
        r = ask(g, key, model, **kw)
        sent.append((r.header("x-llmux-request-id"), r.status))
        return r
    for _ in range(3):
        eq(send(limited, "m").status, 200, "admitted")
    for _ in range(2):
        eq(send(limited, "m").status, 429, "rate limited")
    eq(send(limited, "other").status, 403, "model not allowed")
    eq(send(broke, "priced", max_tokens=1).status, 400, "budget exceeded")
    eq(send(MASTER_KEY, "m").status, 200, "master key")
    eq(send(MASTER_KEY, "no-such-model").status >= 400, True, "unknown model")
    s = chat_stream(g.port, {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
                    auth=limited)
    eq(s.resp.status, 429, "a rate-limited stream is refused before it starts")
    sent.append((s.resp.header("x-llmux-request-id"), 429))
    r = request(g.port, "POST", "/v1/embeddings", {"model": "emb", "input": ["hello world", "again"]},
                auth=MASTER_KEY)
    eq(r.status, 200, f"embeddings ({r.body[:200]!r})")
    emb_id = r.header("x-llmux-request-id")
    sent.append((emb_id, 200))
    for i in range(2):
        r = ask(g, "sk-not-a-real-key-" + str(i), "m")
        eq(r.status, 401, "unknown key")
    # A client that goes away mid-request still leaves a row.
    c = Conn(g.port)
    c.request("POST", "/v1/chat/completions", {"model": "slow", "messages": [{"role": "user", "content": "x"}]},
              auth=MASTER_KEY)
    time.sleep(0.3 * slow_factor())
    c.abort()
    check(all(rid for rid, _ in sent), f"every answer has x-llmux-request-id: {sent}")
    poll(lambda: st.count() >= len(sent) + 1, timeout=8, what=f"{len(sent) + 1} rows")
    time.sleep(0.5)  # one more flush period: nothing else may arrive
    eq(st.count(), len(sent) + 1, "rows == requests with a valid key, incl. the abandoned one "
       "(401s for unknown keys are not logged)")
    eq(st.count("model = 'slow' AND status = 499"), 1, "the abandoned request's row (status 499)")
    emb = st.rows(f"SELECT call_type, prompt_tokens FROM llmux_spend_logs WHERE request_id = '{emb_id}'")
    eq(emb[0][0], "embedding", "embeddings row call_type")
    check(int(emb[0][1]) > 0, f"embeddings row has prompt tokens: {emb}")
    by_id = {r[0]: int(r[1]) for r in st.rows("SELECT request_id, status FROM llmux_spend_logs")}
    for rid, status in sent:
        eq(by_id.get(rid), status, f"row of {rid} carries the answer's status")
    eq(st.count("key_alias = 'master_key'"), 4, "master-key rows (2 chats + 1 embedding answered, 1 abandoned)")
    eq(st.count("status = 429 AND error_type = 'rate_limit_exceeded'"), 3, "429 rows (2 chat + 1 stream)")
    eq(st.count("status = 400 AND error_type = 'budget_exceeded'"), 1, "budget refusal row")
    eq(float(st.scalar("SELECT COALESCE(SUM(spend), 0) FROM llmux_spend_logs WHERE status >= 400")), 0.0,
       "refused requests cost nothing")


# ---------------------------------------------------------------------------------------------- headers
@test
def gov_spend_key_spend_header(ctx):
    """x-llmux-key-spend grows with the key's spend on one instance, whatever limits the key has: on request
    i it lies between the spend before it and the spend including it."""
    g = ctx.gateway(gov_config([cent_dep("priced")], None))
    keys = {"plain": new_key(g), "rpm-only": new_key(g, rpm_limit=100), "budget": new_key(g, max_budget=5.0)}
    bad = []
    for name, k in keys.items():
        seen = []
        for i in range(4):
            r = ask_cent(g, k, "priced")
            eq(r.status, 200, f"{name} request {i + 1}")
            approx(r.header("x-llmux-response-cost"), CENT, "x-llmux-response-cost")
            v = r.header("x-llmux-key-spend")
            check(v is not None, f"x-llmux-key-spend on a virtual-key response ({name})")
            seen.append(float(v))
            time.sleep(0.05)
        ok = all(i * CENT - 1e-9 <= v <= (i + 1) * CENT + 1e-9 for i, v in enumerate(seen))
        if not ok:
            bad.append(f"{name}: {seen}")
    check(not bad, "x-llmux-key-spend should grow by $0.01 per request: " + "; ".join(bad))
    r = ask_cent(g, MASTER_KEY, "priced")
    eq(r.header("x-llmux-key-spend"), None, "no x-llmux-key-spend for the master key")


# ---------------------------------------------------------------------------------------------- queries
@test
def gov_spend_logs_filters(ctx):
    g = ctx.gateway(gov_config([deployment("m", "mock/anything")], None))
    for u in ("flt-user-a", "flt-user-b"):
        mgmt(g, "/user/new", {"user_id": u})
    ka = new_key(g, key_alias="flt-a", user_id="flt-user-a")
    kb = new_key(g, key_alias="flt-b", user_id="flt-user-b")
    ids = {"a": [], "b": []}
    for name, k, n in (("a", ka, 3), ("b", kb, 2)):
        for _ in range(n):
            r = ask(g, k, "m")
            eq(r.status, 200, "request")
            ids[name].append(r.header("x-llmux-request-id"))
    poll(lambda: len(spend_logs(g)) == 5, what="5 rows")
    got = lambda **q: sorted(x["request_id"] for x in spend_logs(g, **q))  # noqa: E731
    eq(got(api_key=ka), sorted(ids["a"]), "api_key=<raw key>")
    eq(got(api_key=sha256(kb)), sorted(ids["b"]), "api_key=<hash>")
    eq(got(user_id="flt-user-b"), sorted(ids["b"]), "user_id")
    eq(got(user_id="nobody"), [], "user_id with no rows")
    eq(got(request_id=ids["a"][1]), [ids["a"][1]], "request_id")
    eq(got(start_date=today(), end_date=today()), sorted(ids["a"] + ids["b"]), "today..today (end inclusive)")
    eq(got(start_date=today(-3), end_date=today(-1)), [], "a range before today")
    eq(got(start_date=today(1)), [], "a range after today")
    eq(got(api_key=ka, start_date=today(-1), end_date=today(1)), sorted(ids["a"]), "filters combine")
    eq(len(spend_logs(g, limit=2)), 2, "limit")
    r = request(g.port, "GET", "/spend/logs?start_date=2024-13-45")
    check_error(r, 400, param="start_date")
    check_error(request(g.port, "GET", f"/spend/logs?start_date={today(1)}&end_date={today()}"), 400)
    # Not for LLM keys of other users: an internal user sees only its own rows.
    mgmt(g, "/user/new", {"user_id": "flt-user-c", "user_role": "internal_user"})
    kc = new_key(g, user_id="flt-user-c")
    r = request(g.port, "GET", "/spend/logs?user_id=flt-user-a", auth=kc)
    check(r.status in (401, 403), f"another user's spend logs are refused: {r.status} {r.body[:200]!r}")


@both()
def gov_spend_report(ctx, backend):
    """/global/spend/report per key/team/user/customer/model/tag and llmux_daily_spend sums."""
    st = Store(ctx, backend)
    g = ctx.gateway(gov_config([cent_dep("rep-a"),
                                deployment("rep-b", "mock/anything", input_cost_per_token=0.0,
                                           output_cost_per_token=2 * CENT, mock_response="ok")], st))
    team = mgmt(g, "/team/new", {"team_alias": "rep-team"})["team_id"]
    mgmt(g, "/user/new", {"user_id": "rep-u1"})
    mgmt(g, "/user/new", {"user_id": "rep-u2"})
    k1 = new_key(g, key_alias="rep-k1", team_id=team, user_id="rep-u1")
    k2 = new_key(g, key_alias="rep-k2", user_id="rep-u2")
    plan = [(k1, "rep-a", "cust-1", ["x"]), (k1, "rep-a", "cust-1", ["x"]), (k1, "rep-b", None, ["y"]),
            (k2, "rep-a", "cust-2", ["x", "y"]), (k2, "rep-b", None, []), (k2, "rep-b", None, [])]
    for k, model, cust, tags in plan:
        body = {"metadata": {"tags": tags}} if tags else {}
        if cust:
            body["user"] = cust
        eq(ask_cent(g, k, model, **body).status, 200, f"request {model}")
    poll(lambda: st.count() == len(plan), what="rows")
    poll(lambda: int(st.scalar("SELECT COALESCE(SUM(api_requests), 0) FROM llmux_daily_spend "
                               "WHERE entity_type = 'model'")) == len(plan), what="daily roll-ups")
    rng = {"start_date": today(-1), "end_date": today(1)}

    def report(by):
        return mgmt(g, "/global/spend/report?" + urllib.parse.urlencode({**rng, "group_by": by}), method="GET")

    keys = {e["api_key"]: e for e in report("api_key")}
    eq(set(keys), {sha256(k1), sha256(k2)}, "api_key groups (hashes)")
    approx(keys[sha256(k1)]["total_cost"], 0.04, "k1 total")
    approx(keys[sha256(k2)]["total_cost"], 0.05, "k2 total")
    eq(keys[sha256(k2)]["api_requests"], 3, "k2 requests")
    eq({d["model"]: d["api_requests"] for d in keys[sha256(k1)]["model_details"]}, {"rep-a": 2, "rep-b": 1},
       "k1 model details")

    def day_groups(by, plural, name):
        days = report(by)
        eq([d["group_by_day"] for d in days], [today()], f"{by}: one day")
        return {e[name]: round(e["total_spend"], 9) for e in days[0][plural]}
    eq(day_groups("team", "teams", "team_name"), {"rep-team": 0.04, "Unassigned Team": 0.05}, "by team")
    eq(day_groups("user", "users", "user"), {"rep-u1": 0.04, "rep-u2": 0.05}, "by user")
    eq(day_groups("customer", "customers", "customer"),
       {"cust-1": 0.02, "cust-2": 0.01, "Unassigned Customer": 0.06}, "by customer")
    eq(day_groups("model", "models", "model"), {"rep-a": 0.03, "rep-b": 0.06}, "by model")
    eq(day_groups("tag", "tags", "tag"), {"x": 0.03, "y": 0.03}, "by tag")
    check_error(request(g.port, "GET", "/global/spend/report?group_by=team"), 400)
    check_error(request(g.port, "GET", "/global/spend/report?" + urllib.parse.urlencode({**rng, "group_by": "x"})),
                400, param="group_by")
    later = {"start_date": today(1), "end_date": today(2), "group_by": "model"}
    eq(mgmt(g, "/global/spend/report?" + urllib.parse.urlencode(later), method="GET"), [], "empty range")
    # The roll-up table itself.
    daily = {(t, i): (round(float(s), 9), int(n)) for t, i, s, n in st.rows(
        "SELECT entity_type, entity_id, SUM(spend), SUM(api_requests) FROM llmux_daily_spend "
        "GROUP BY entity_type, entity_id")}
    eq(daily.get(("key", sha256(k1))), (0.04, 3), "daily key k1")
    eq(daily.get(("team", team)), (0.04, 3), "daily team")
    eq(daily.get(("end_user", "cust-1")), (0.02, 2), "daily end user")
    eq(daily.get(("tag", "y")), (0.03, 2), "daily tag")
    eq(daily.get(("model", "rep-b")), (0.06, 3), "daily model")
    total = float(st.scalar("SELECT SUM(spend) FROM llmux_spend_logs"))
    approx(total, 0.09, "spend-log total")


# ---------------------------------------------------------------------------------------------- metrics
@test
def gov_spend_metrics_families(ctx):
    g = ctx.gateway(gov_config([deployment("m", "mock/anything"), cent_dep("priced")], None))
    k = new_key(g, rpm_limit=1)
    broke = new_key(g, max_budget=0)
    eq(ask(g, k, "m").status, 200, "ok")
    eq(ask(g, k, "m").status, 429, "rate limited")
    eq(ask_cent(g, broke, "priced").status, 400, "over budget")
    for _ in range(2):
        eq(ask(g, "sk-unknown-metrics-key", "m").status, 401, "unknown key")
    eq(ask(g, None, "m").status, 401, "no key")
    m, text = poll(lambda: (lambda mt: mt if mt[0].get('llmux_spend_log_rows_total{outcome="written"}', 0) >= 3
                            else None)(metrics(g)), what="3 rows written in the metrics")
    for fam in ("llmux_spend_log_rows_total", "llmux_limit_refusals_total", "llmux_auth_failures_total"):
        check(f"# TYPE {fam} counter" in text, f"{fam} is a counter family")
    eq(m.get('llmux_spend_log_rows_total{outcome="enqueued"}'), 3.0, "rows enqueued")
    eq(m.get('llmux_spend_log_rows_total{outcome="written"}'), 3.0, "rows written")
    eq(m.get('llmux_spend_log_rows_total{outcome="dropped"}'), 0.0, "rows dropped")
    eq(m.get('llmux_limit_refusals_total{limit="rate"}'), 1.0, "rate refusals")
    eq(m.get('llmux_limit_refusals_total{limit="budget"}'), 1.0, "budget refusals")
    eq(m.get("llmux_auth_failures_total"), 3.0, "auth failures (2 unknown + 1 missing key)")


@test
def gov_spend_metrics_budget_gauges(ctx):
    """The issue asks for Prometheus spend and remaining-budget gauges (LiteLLM: litellm_spend_metric,
    litellm_remaining_api_key_budget_metric / _team_budget_metric)."""
    g = ctx.gateway(gov_config([cent_dep("priced")], None))
    k = new_key(g, key_alias="gauge-key", max_budget=1.0)
    eq(ask_cent(g, k, "priced").status, 200, "request")
    time.sleep(0.5)
    _, text = metrics(g)
    fams = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    spend = [f for f in fams if "spend" in f and "spend_log" not in f]
    remaining = [f for f in fams if "remaining" in f and "budget" in f]
    check(spend and remaining, f"spend and remaining-budget metric families expected, got {sorted(fams)}")


# ---------------------------------------------------------------------------------------------- durability
@both(timeout=90)
def gov_spend_sigterm_flush(ctx, backend):
    """Rows still queued at SIGTERM (flush interval 30 s) and requests in flight are all written on exit."""
    st = Store(ctx, backend)
    g = ctx.gateway(gov_config([deployment("m", "mock/anything"),
                                deployment("slow", "mock/anything", mock_latency_ms=1500)],
                               st, general={"proxy_batch_write_at": 30}, shutdown_grace_ms=10000))
    k = new_key(g, key_alias="flush-key")
    done = [ask(g, k, "m").status for _ in range(10)]
    eq(done, [200] * 10, "quick requests")
    inflight = []
    ts = [threading.Thread(target=lambda: inflight.append(ask(g, k, "slow").status), daemon=True)
          for _ in range(6)]
    for t in ts:
        t.start()
    poll(lambda: metrics(g)[0].get("llmux_in_flight_requests", 0) >= 6, timeout=5, interval=0.02,
         what="6 requests in flight")
    g.signal(signal.SIGTERM)
    for t in ts:
        t.join(20 * slow_factor())
    eq(g.wait(30), 0, "exit code after SIGTERM")
    eq(sorted(inflight), [200] * 6, "requests in flight at SIGTERM complete")
    eq(st.count(), 16, "rows after exit == requests answered")
    eq(st.count("key_alias = 'flush-key' AND status = 200"), 16, "all of them the key's successes")
    if backend == "sqlite":
        eq(sqlite3.connect(st.path).execute("PRAGMA integrity_check").fetchone()[0], "ok", "sqlite integrity")


@test(timeout=120)
def gov_spend_pg_outage(ctx):
    """PostgreSQL stopped for a few seconds under load: the gateway keeps answering (cached key), rows wait
    in the spool, and after PostgreSQL returns the row count equals the completed requests."""
    pg = services.private_postgres(ctx)
    g = ctx.gateway(gov_config([deployment("m", "mock/anything", mock_latency_ms=20)], None,
                               general={"database_url": pg.url}, key_cache_ttl_ms=120000))
    k = new_key(g, key_alias="outage-key")
    eq(ask(g, k, "m").status, 200, "warm-up")
    results, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                results.append(ask(g, k, "m").status)
            except Exception as e:  # noqa: BLE001 - counted as a failure below
                results.append(repr(e))
    ts = [threading.Thread(target=load, daemon=True) for _ in range(2)]
    for t in ts:
        t.start()
    time.sleep(1.0)
    pg.stop("fast")
    down_at = len(results)
    seen = {"spooled": 0.0, "writer_down": False}

    def watch():
        m, _ = metrics(g)
        seen["spooled"] = max(seen["spooled"], m.get("llmux_spend_log_spooled_rows", 0.0))
        seen["writer_down"] |= m.get('llmux_database_up{connection="writer"}') == 0.0
        return seen["spooled"] > 0 and seen["writer_down"]
    t_end = time.monotonic() + 4.0
    while time.monotonic() < t_end:
        watch()
        time.sleep(0.2)
    during = len(results) - down_at
    pg.start()
    time.sleep(1.5)
    stop.set()
    for t in ts:
        t.join(20 * slow_factor())
    bad = [s for s in results if s != 200]
    check(not bad, f"every request answered 200 during the outage: {bad[:5]} ({len(bad)} of {len(results)})")
    check(during >= 5, f"requests were served while PostgreSQL was down ({during})")
    check(seen["writer_down"], "llmux_database_up{connection=\"writer\"} went to 0 during the outage")
    check(seen["spooled"] > 0, f"rows waited in the on-disk spool during the outage ({seen})")
    want = len(results) + 1
    count = lambda: int(pg.scalar("SELECT COUNT(*) FROM llmux_spend_logs"))  # noqa: E731
    poll(lambda: count() >= want, timeout=20, what=f"{want} rows after PostgreSQL returns")
    time.sleep(0.5)
    eq(count(), want, "rows == completed requests (none lost, none doubled)")
    m, _ = metrics(g)
    eq(m.get('llmux_spend_log_rows_total{outcome="dropped"}'), 0.0, "no row dropped")
    eq(m.get("llmux_spend_log_spooled_rows"), 0.0, "spool drained")
    eq(m.get('llmux_database_up{connection="writer"}'), 1.0, "writer up again")
    ctx.note(f"outage: {len(results)} requests, {during} while PostgreSQL was down, max spooled {seen}")


# ---------------------------------------------------------------------------------------------- token counter
@test
def gov_spend_token_counter(ctx):
    g = ctx.gateway(gov_config([
        deployment("g4o", "openai/gpt-4o", api_base="http://127.0.0.1:9/v1", api_key="x"),
        deployment("g35", "azure/gpt-35-turbo", api_base="http://127.0.0.1:9", api_key="x", api_version="2024-06-01"),
        deployment("claude", "anthropic/claude-sonnet-4-5", api_key="x")], None))

    def count(body, auth=MASTER_KEY, want=200):
        r = request(g.port, "POST", "/utils/token_counter", body, auth=auth)
        eq(r.status, want, f"token_counter {body} ({r.body[:300]!r})")
        return r.json()
    j = count({"model": "g4o", "messages": COOKBOOK_MESSAGES})
    eq(j, {**j, "total_tokens": COOKBOOK_O200K, "request_model": "g4o", "model_used": "gpt-4o",
           "tokenizer_type": "openai_tokenizer"}, "cookbook chat, gpt-4o deployment (o200k)")
    j = count({"model": "g35", "messages": COOKBOOK_MESSAGES})
    eq((j["total_tokens"], j["model_used"], j["tokenizer_type"]),
       (COOKBOOK_CL100K, "gpt-35-turbo", "openai_tokenizer"), "cookbook chat, Azure gpt-35-turbo (cl100k)")
    j = count({"model": "gpt-3.5-turbo", "messages": COOKBOOK_MESSAGES})
    eq((j["total_tokens"], j["model_used"]), (COOKBOOK_CL100K, "gpt-3.5-turbo"), "a model name not in the config")
    goldens = [("hello world", 2, 2), ("Hello, world!", 4, 4),
               ("I'm sure they'll say it's what we've done, DON'T YOU'D?", 18, 13),
               ("日本語のテキスト、中文测试。", 13, 10), ("<|endoftext|> is special", 9, 9)]
    for text, cl, o2 in goldens:
        eq(count({"model": "g35", "prompt": text})["total_tokens"], cl, f"cl100k prompt {text!r}")
        eq(count({"model": "g4o", "prompt": text})["total_tokens"], o2, f"o200k prompt {text!r}")
    eq(count({"model": "g4o", "messages": [{"role": "user", "content": "hello world"}]})["total_tokens"], 9,
       "3 per message + role + content + 3 priming")
    j = count({"model": "claude", "prompt": "tiktoken is great!"})
    eq((j["model_used"], j["tokenizer_type"]), ("claude-sonnet-4-5", "estimate"), "non-OpenAI models are estimates")
    check(j["total_tokens"] > 0, "an estimate is still a count")
    # Any valid key may count tokens.
    eq(count({"model": "g4o", "prompt": "hello world"}, auth=new_key(g))["total_tokens"], 2, "virtual key")
    # Errors.
    bad = (({"prompt": "x"}, "model"), ({"model": "g4o"}, None), ({"model": "g4o", "prompt": "a", "messages": []}, None),
           ({"model": "", "prompt": "x"}, "model"), ({"model": "g4o", "messages": "hi"}, None),
           ({"model": "g4o", "prompt": {"a": 1}}, "prompt"))
    for body, param in bad:
        r = request(g.port, "POST", "/utils/token_counter", body)
        check_error(r, 400, **({"param": param} if param else {}))
    check_error(request(g.port, "POST", "/utils/token_counter", "{not json"), 400)
    check_error(request(g.port, "GET", "/utils/token_counter"), 405)
    check_error(request(g.port, "POST", "/utils/token_counter", {"model": "g4o", "prompt": "x"}, auth=None), 401,
                code="invalid_api_key")
    check_error(request(g.port, "POST", "/utils/token_counter", {"model": "g4o", "prompt": "x"},
                        auth="sk-bogus-key"), 401)
