"""Virtual keys through the real binary (issue 5), on SQLite and on PostgreSQL: /key/generate with every
field, key aliases, /key/info, /key/list, /key/update, /key/delete, /key/regenerate, /key/block|unblock,
expiry, unknown/missing keys, model allow-lists (key and team), hashed storage and bad input.

Each `@both` test is registered twice: `<name>_sqlite` (the default llmux.db in the test dir) and `<name>_pg`
(a fresh database on the shared PostgreSQL as general_settings.database_url). The helpers here (Gov,
both, ...) are shared with test_gov_mgmt.py."""
from __future__ import annotations

import datetime
import hashlib
import os
import sqlite3
import time

from harness import (MASTER_KEY, chat, chat_stream, check, check_error, eq, marker, poll, request, test,
                     user_msg)
from services import fresh_database, shared_postgres

BACKENDS = ("sqlite", "pg")


def both(fn=None, *, timeout=60.0):
    """Registers fn(ctx, backend) as `<name>_sqlite` and `<name>_pg`."""
    def reg(f):
        for b in BACKENDS:
            def run(ctx, _f=f, _b=b):
                return _f(ctx, _b)
            run.__name__ = f"{f.__name__}_{b}"
            run.__module__ = f.__module__
            test(run, timeout=timeout)
        return f
    return reg(fn) if fn else reg


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def default_models():
    """Mock deployments: plain groups, an access group "beta", a wildcard route and a priced group."""
    def dep(name, model, info=None, **params):
        d = {"model_name": name, "litellm_params": {"model": model, **params}}
        if info:
            d["model_info"] = info
        return d
    return [
        dep("m1", "mock/a"),
        dep("m2", "mock/b"),
        dep("grp-a", "mock/x", {"access_groups": ["beta"]}),
        dep("grp-b", "mock/y", {"access_groups": ["beta"]}),
        dep("openai/*", "mock/w"),
        dep("priced", "mock/p", input_cost_per_token=0.001, output_cost_per_token=0.002),
    ]


def iso_ms(s):
    """ms since the epoch of an ISO 8601 UTC time ("2025-01-31T12:00:00.000Z")."""
    check(isinstance(s, str) and s.endswith("Z"), f"ISO 8601 UTC time expected, got {s!r}")
    d = datetime.datetime.fromisoformat(s[:-1]).replace(tzinfo=datetime.timezone.utc)
    return d.timestamp() * 1000


class Gov:
    """One gateway with governance on `backend` ("sqlite" | "pg"), with request and database helpers."""

    def __init__(self, ctx, backend, master=True, models=None, general=None, llmux=None, name="llmux"):
        self.ctx = ctx
        self.backend = backend
        self.pg = None
        self.dbname = None
        gs = {"master_key": MASTER_KEY} if master else {}
        if backend == "pg":
            url = fresh_database(ctx)
            self.pg = shared_postgres(ctx)
            self.dbname = url.rsplit("/", 1)[1]
            gs["database_url"] = url
        gs.update(general or {})
        ls = {"access_log": ""}
        ls.update(llmux or {})
        cfg = {"model_list": models or default_models(), "llmux_settings": ls}
        if gs:
            cfg["general_settings"] = gs
        self.gw = ctx.gateway(cfg, name=name)
        self.port = self.gw.port

    # ---- HTTP
    def post(self, path, body, auth=MASTER_KEY, **kw):
        return request(self.port, "POST", path, body, auth=auth, **kw)

    def get(self, path, auth=MASTER_KEY, **kw):
        return request(self.port, "GET", path, auth=auth, **kw)

    def ok(self, resp, what):
        eq(resp.status, 200, f"{what} status ({resp.body[:400]!r})")
        return resp.json()

    def P(self, path, body, auth=MASTER_KEY):
        """POST that must answer 200; returns the JSON."""
        return self.ok(self.post(path, body, auth=auth), f"POST {path}")

    def G(self, path, auth=MASTER_KEY):
        return self.ok(self.get(path, auth=auth), f"GET {path}")

    def gen(self, auth=MASTER_KEY, **fields):
        """/key/generate; returns (raw key, response JSON)."""
        j = self.P("/key/generate", fields, auth=auth)
        k = j.get("key")
        check(isinstance(k, str) and k.startswith("sk-"), f"/key/generate answer lacks the raw key: {j!r}")
        return k, j

    def info(self, key_or_hash, auth=MASTER_KEY):
        return self.G(f"/key/info?key={key_or_hash}", auth=auth)["info"]

    def chat(self, key, model="m1", text="hi", **body):
        return chat(self.port, {"model": model, "messages": user_msg(text), **body}, auth=key)

    def chat_ok(self, key, model="m1", what="chat", **body):
        r = self.chat(key, model, **body)
        eq(r.status, 200, f"{what}: status ({r.body[:400]!r})")
        return r

    # ---- database
    def rows(self, sql):
        """Rows of a query on the gateway's database, every value as str (NULL as None)."""
        if self.backend == "pg":
            return self.pg.query(sql, database=self.dbname)
        con = sqlite3.connect(os.path.join(self.ctx.tmp, "llmux.db"), timeout=10)
        try:
            return [[None if v is None else (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
                     for v in row] for row in con.execute(sql).fetchall()]
        finally:
            con.close()

    def tables(self):
        if self.backend == "pg":
            return [r[0] for r in self.pg.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
                database=self.dbname)]
        return [r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]

    def dump_text(self):
        """Every row of every table as text: {table: [row text, ...]}."""
        out = {}
        for t in self.tables():
            if self.backend == "pg":
                out[t] = [r[0] or "" for r in self.pg.query(f'SELECT t::text FROM "{t}" t', database=self.dbname)]
            else:
                out[t] = ["\x1f".join(v or "" for v in r) for r in self.rows(f'SELECT * FROM "{t}"')]
        return out


def new_user(g, user_id, **fields):
    return g.P("/user/new", {"user_id": user_id, "auto_create_key": False, **fields})


def new_team(g, team_id, members=(), **fields):
    body = {"team_id": team_id, **fields}
    if members:
        body["members_with_roles"] = [{"role": "user", "user_id": m} for m in members]
    return g.P("/team/new", body)


# =========================================================================================== /key/generate
@both
def gov_keys_generate_fields(ctx, backend):
    g = Gov(ctx, backend)
    new_user(g, "u-gen")
    new_team(g, "t-gen", members=["u-gen"], models=["m1", "m2", "priced"])
    t0 = time.time() * 1000
    fields = {
        "key_alias": "gen-all-fields", "duration": "1h", "models": ["m1", "m2"], "max_budget": 12.5,
        "soft_budget": 10.0, "budget_duration": "1d",
        "model_max_budget": {"m1": {"max_budget": 3.0, "budget_duration": "1d"}},
        "rpm_limit": 100, "tpm_limit": 100000, "max_parallel_requests": 7,
        "model_rpm_limit": {"m1": 50}, "model_tpm_limit": {"m1": 5000},
        "team_id": "t-gen", "user_id": "u-gen", "metadata": {"purpose": "it", "n": 1},
        "tags": ["feature-x", "team-y"], "aliases": {"fast": "m1"}, "blocked": False,
    }
    raw, j = g.gen(**fields)
    eq(j["token"], sha256_hex(raw), "token is the SHA-256 hex of the key")
    eq(j["token_id"], j["token"], "token_id")
    check(j["key_name"].startswith("sk-...") and j["key_name"].endswith(raw[-4:]),
          f"key_name shows only the last 4 characters: {j['key_name']!r}")
    check(raw[3:-4] not in j["key_name"], "key_name must not reveal the key")

    def same_fields(o, what):
        for f in ("key_alias", "models", "max_budget", "soft_budget", "budget_duration", "rpm_limit", "tpm_limit",
                  "max_parallel_requests", "model_rpm_limit", "model_tpm_limit", "team_id", "user_id", "tags",
                  "aliases", "blocked", "metadata"):
            eq(o.get(f), fields[f], f"{what}: {f}")
        eq(o["model_max_budget"].get("m1", {}).get("max_budget"), 3.0, f"{what}: model_max_budget")
        exp = iso_ms(o["expires"])
        check(abs(exp - (t0 + 3600_000)) < 120_000, f"{what}: expires should be about 1h from now: {o['expires']}")
        reset = iso_ms(o["budget_reset_at"])
        check(t0 < reset <= t0 + 86400_000 + 120_000, f"{what}: budget_reset_at within a day: {o['budget_reset_at']}")
    same_fields(j, "/key/generate answer")
    info = g.info(raw)
    same_fields(info, "/key/info")
    check("token" not in info or info["token"] == j["token"], "key/info must not show anything but the hash")

    # The key works at once (no cache wait), through its alias too.
    r = g.chat_ok(raw, "m1", "new key, first request")
    eq(r.header("x-llmux-model-group"), "m1", "model group")
    # Outside its allow-list (priced is in the team's list, not the key's).
    e = check_error(g.chat(raw, "priced"), 403, code="key_model_access_denied", param="model")
    check("m1" in e["message"] and "m2" in e["message"] and "priced" in e["message"],
          f"403 should name the model and the allowed ones: {e['message']!r}")


@both
def gov_keys_generate_limits_take_effect(ctx, backend):
    """rpm_limit, model_rpm_limit, max_budget and blocked set at creation apply to the very next requests."""
    g = Gov(ctx, backend)
    k_rpm, _ = g.gen(key_alias="rpm-one", rpm_limit=1)
    g.chat_ok(k_rpm, what="rpm_limit 1, first request")
    r = g.chat(k_rpm)
    e = check_error(r, 429, code="rate_limit_exceeded")
    check(r.header("retry-after") is not None, f"429 without Retry-After: {r.headers}")
    check("rpm-one" in e["message"], f"429 should name the key: {e['message']!r}")

    k_mrpm, _ = g.gen(model_rpm_limit={"m1": 1})
    g.chat_ok(k_mrpm, "m1", "model_rpm_limit m1=1, first m1 request")
    check_error(g.chat(k_mrpm, "m1"), 429, code="rate_limit_exceeded")
    g.chat_ok(k_mrpm, "m2", "model_rpm_limit on m1 does not limit m2")

    k_bud, _ = g.gen(key_alias="tiny-budget", max_budget=0.000001)
    e = check_error(g.chat(k_bud, "priced", max_tokens=50), 400, code="budget_exceeded")
    check("tiny-budget" in e["message"], f"budget error should name the key: {e['message']!r}")
    g.chat_ok(k_bud, "m1", "a free model still passes a tiny budget")

    k_blk, _ = g.gen(blocked=True)
    check_error(g.chat(k_blk), 401, code="key_blocked")


@both
def gov_keys_aliases(ctx, backend):
    g = Gov(ctx, backend)
    raw, _ = g.gen(models=["m1"], aliases={"fast": "m1", "cheap": "m2"})
    r = g.chat_ok(raw, "fast", "alias fast -> m1")
    eq(r.header("x-llmux-model-group"), "m1", "the alias is renamed to its target group")
    # The alias target is checked against the allow-list: cheap -> m2 is not allowed.
    check_error(g.chat(raw, "cheap"), 403, code="key_model_access_denied")
    # Team model_aliases apply to the team's keys; the key's own alias wins on a clash.
    new_team(g, "t-al", model_aliases={"smart": "m2", "fast": "m2"})
    k2, _ = g.gen(team_id="t-al", aliases={"fast": "m1"})
    eq(g.chat_ok(k2, "smart", "team alias").header("x-llmux-model-group"), "m2", "team model_aliases")
    eq(g.chat_ok(k2, "fast", "key alias over team alias").header("x-llmux-model-group"), "m1",
       "the key's alias wins over the team's")
    # Aliases are per key: another key sending "fast" gets no renaming (no such group).
    other, _ = g.gen()
    r = g.chat(other, "fast")
    check(r.status in (400, 404), f"'fast' is no model group for a key without aliases: {r.status} {r.body[:200]!r}")


# ====================================================================================== /key/info, /key/list
@both
def gov_keys_info_and_list(ctx, backend):
    g = Gov(ctx, backend)
    new_user(g, "u-list")
    new_team(g, "t-list", members=["u-list"])
    keys = {}
    for i in range(5):
        raw, j = g.gen(key_alias=f"list-{i}", user_id="u-list")
        keys[j["token"]] = raw
    for i in range(5, 7):
        raw, j = g.gen(key_alias=f"list-{i}", team_id="t-list")
        keys[j["token"]] = raw
    any_raw, any_hash = keys[next(iter(keys))], next(iter(keys))

    # /key/info by raw key and by hash; unknown key 404.
    a = g.G(f"/key/info?key={any_raw}")
    b = g.G(f"/key/info?key={any_hash}")
    eq(a["info"], b["info"], "/key/info by key and by hash")
    check_error(g.get("/key/info?key=sk-doesnotexist00000000"), 404)
    # A key reading itself without ?key=.
    eq(g.G("/key/info", auth=any_raw)["info"]["key_alias"], a["info"]["key_alias"], "/key/info of the caller's key")

    # Pagination: every key exactly once over the pages.
    j = g.G("/key/list?size=2")
    eq(j["total_count"], 7, "total_count")
    eq(j["total_pages"], 4, "total_pages")
    seen = []
    for page in range(1, 5):
        p = g.G(f"/key/list?size=2&page={page}")
        eq(p["current_page"], page, "current_page")
        check(len(p["keys"]) == (2 if page < 4 else 1), f"page {page} size: {p['keys']!r}")
        seen += p["keys"]
    eq(sorted(seen), sorted(keys), "the pages list every key hash exactly once")
    eq(g.G("/key/list?size=2&page=9")["keys"], [], "a page past the end is empty")

    # Filters.
    eq(g.G("/key/list?user_id=u-list")["total_count"], 5, "filter user_id")
    eq(sorted(g.G("/key/list?team_id=t-list")["keys"]),
       sorted(h for h, r in keys.items() if g.info(h)["team_id"] == "t-list"), "filter team_id")
    one = g.G("/key/list?key_alias=list-3")
    eq(one["total_count"], 1, "filter key_alias")
    eq(g.info(one["keys"][0])["key_alias"], "list-3", "key_alias filter finds that key")
    eq(g.G(f"/key/list?key_hash={any_hash}")["keys"], [any_hash], "filter key_hash")
    eq(g.G("/key/list?user_id=nobody")["total_count"], 0, "filter on an unknown user")

    # Full objects and sorting.
    full = g.G("/key/list?return_full_object=true&size=100&sort_by=key_alias&sort_order=asc")["keys"]
    eq([k["key_alias"] for k in full], [f"list-{i}" for i in range(7)], "sorted by key_alias ascending")
    for k in full:
        check(k["token"] in keys, f"full object carries the hash: {k!r}")
        check("key" not in k or k["key"] in (None, k["token"]), f"list must not show raw keys: {k!r}")
    desc = g.G("/key/list?return_full_object=true&size=100&sort_by=key_alias&sort_order=desc")["keys"]
    eq([k["key_alias"] for k in desc], [f"list-{i}" for i in reversed(range(7))], "descending")

    # Bad parameters name themselves.
    check_error(g.get("/key/list?size=0"), 400, param="size")
    check_error(g.get("/key/list?page=abc"), 400, param="page")
    check_error(g.get("/key/list?sort_by=nonsense"), 400, param="sort_by")


# ============================================================================================== /key/update
@both
def gov_keys_update_takes_effect(ctx, backend):
    g = Gov(ctx, backend)
    raw, j = g.gen(key_alias="upd", models=["m1"])
    g.chat_ok(raw, "m1", "before update")  # now cached by the gateway
    check_error(g.chat(raw, "m2"), 403, code="key_model_access_denied")

    u = g.P("/key/update", {"key": raw, "models": ["m2"]})
    eq(u["models"], ["m2"], "update answer models")
    check_error(g.chat(raw, "m1"), 403, code="key_model_access_denied")
    g.chat_ok(raw, "m2", "m2 allowed right after the update")

    # Update by hash: block, then unblock through update.
    g.P("/key/update", {"key": j["token"], "blocked": True})
    check_error(g.chat(raw, "m2"), 401, code="key_blocked")
    g.P("/key/update", {"key": j["token"], "blocked": False})
    g.chat_ok(raw, "m2", "unblocked by /key/update")

    # Limits apply at once.
    g.P("/key/update", {"key": raw, "rpm_limit": 1})
    g.chat_ok(raw, "m2", "first request under rpm_limit 1")
    check_error(g.chat(raw, "m2"), 429, code="rate_limit_exceeded")
    g.P("/key/update", {"key": raw, "rpm_limit": None})
    g.chat_ok(raw, "m2", "rpm_limit cleared with null")

    # Other fields round-trip; an alias renames nothing but itself.
    g.P("/key/update", {"key": raw, "key_alias": "upd-2", "metadata": {"a": "b"}, "tags": ["t1"],
                        "max_budget": 9.0, "aliases": {"fast": "m2"}, "models": ["m2", "beta"]})
    i = g.info(raw)
    eq((i["key_alias"], i["metadata"], i["tags"], i["max_budget"], i["aliases"], i["models"]),
       ("upd-2", {"a": "b"}, ["t1"], 9.0, {"fast": "m2"}, ["m2", "beta"]), "updated fields")
    eq(g.chat_ok(raw, "fast", "new alias").header("x-llmux-model-group"), "m2", "new alias applies at once")
    g.chat_ok(raw, "grp-a", "access group added by update")
    # Only the spend writer changes spend; untouched fields stay.
    eq(i["spend"], 0.0, "spend untouched (free models)")

    # Updating an unknown key: 404.
    check_error(g.post("/key/update", {"key": "sk-not-a-real-key-1234", "models": []}), 404)
    check_error(g.post("/key/update", {"models": []}), 400, param="key")


# ================================================================================= /key/delete, block, regenerate
@both
def gov_keys_delete(ctx, backend):
    g = Gov(ctx, backend)
    k1, j1 = g.gen(key_alias="del-1")
    k2, _ = g.gen(key_alias="del-2")
    k3, j3 = g.gen(key_alias="del-3")
    for k in (k1, k2, k3):
        g.chat_ok(k, what="before delete")  # cached
    d = g.P("/key/delete", {"keys": [k1, j3["token"]]})
    check(k1 in d["deleted_keys"] and j3["token"] in d["deleted_keys"], f"deleted_keys: {d!r}")
    check_error(g.chat(k1), 401, code="invalid_api_key")
    check_error(g.chat(k3), 401, code="invalid_api_key")
    g.chat_ok(k2, what="the other key keeps working")
    check_error(g.get(f"/key/info?key={j1['token']}"), 404)
    g.P("/key/delete", {"key_aliases": ["del-2"]})
    check_error(g.chat(k2), 401, code="invalid_api_key")
    eq(g.G("/key/list")["total_count"], 0, "no keys left")
    # Unknown keys: 404, nothing deleted.
    k4, _ = g.gen()
    check_error(g.post("/key/delete", {"keys": [k4, "sk-never-existed-0000"]}), 404)
    g.chat_ok(k4, what="a failed delete deletes nothing")
    check_error(g.post("/key/delete", {}), 400)


@both
def gov_keys_block_unblock(ctx, backend):
    g = Gov(ctx, backend)
    raw, j = g.gen(key_alias="blk")
    g.chat_ok(raw, what="before block")
    b = g.P("/key/block", {"key": raw})
    eq(b.get("blocked"), True, "block answer")
    e = check_error(g.chat(raw), 401, code="key_blocked")
    check("blk" in e["message"] and raw not in e["message"], f"blocked message names the alias only: {e['message']!r}")
    eq(g.info(raw)["blocked"], True, "/key/info blocked")
    # Streaming requests are refused too.
    s = chat_stream(g.port, {"model": "m1", "stream": True, "messages": user_msg("x")}, auth=raw)
    eq(s.resp.status, 401, "blocked key, stream")
    u = g.P("/key/unblock", {"key": j["token"]})  # by hash
    eq(u.get("blocked"), False, "unblock answer")
    g.chat_ok(raw, what="after unblock")
    eq(g.info(raw)["blocked"], False, "/key/info after unblock")
    check_error(g.post("/key/block", {"key": "sk-unknown-key-99999"}), 404)
    check_error(g.post("/key/block", {}), 400, param="key")


@both
def gov_keys_regenerate(ctx, backend):
    g = Gov(ctx, backend)
    old, j = g.gen(key_alias="regen", rpm_limit=1000, max_budget=50.0, models=["priced", "m1"],
                   metadata={"m": 1}, tags=["x"])
    g.chat_ok(old, "priced", "spend something")
    spent = poll(lambda: g.info(old)["spend"] > 0 and g.info(old)["spend"], timeout=10, what="spend on the key")

    r = g.P("/key/regenerate", {"key": old})
    new = r["key"]
    check(isinstance(new, str) and new.startswith("sk-") and new != old, f"a new key: {r!r}")
    eq(r["token"], sha256_hex(new), "new token is the hash of the new key")
    check_error(g.chat(old, "m1"), 401, code="invalid_api_key")
    g.chat_ok(new, "m1", "regenerated key works at once")
    i = g.info(new)
    eq((i["key_alias"], i["rpm_limit"], i["max_budget"], i["models"], i["metadata"], i["tags"]),
       ("regen", 1000, 50.0, ["priced", "m1"], {"m": 1}, ["x"]), "limits and fields kept")
    check(i["spend"] >= spent, f"spend kept across regeneration: {i['spend']} < {spent}")
    check_error(g.get(f"/key/info?key={j['token']}"), 404)
    eq(g.G("/key/list")["total_count"], 1, "still one key")

    # /key/{key}/regenerate with a change applied in the same call.
    r2 = g.P(f"/key/{new}/regenerate", {"max_budget": 60.0})
    newer = r2["key"]
    check(newer not in (old, new), "another new key")
    check_error(g.chat(new, "m1"), 401, code="invalid_api_key")
    g.chat_ok(newer, "m1", "second regeneration")
    eq(g.info(newer)["max_budget"], 60.0, "body fields apply on regeneration")
    check_error(g.post("/key/regenerate", {"key": "sk-not-there-000000"}), 404)


# ===================================================================================== expiry, auth errors
@both
def gov_keys_expiry(ctx, backend):
    g = Gov(ctx, backend)
    raw, j = g.gen(key_alias="short", duration="2s")
    exp = iso_ms(j["expires"])
    g.chat_ok(raw, what="before expiry")
    wait = exp / 1000 - time.time() + 0.3
    if wait > 0:
        time.sleep(wait)
    e = check_error(g.chat(raw), 401, type_="expired_key")
    check("short" in e["message"], f"expired message names the key: {e['message']!r}")
    # Extending it with /key/update makes it usable again at once.
    g.P("/key/update", {"key": raw, "duration": "1h"})
    g.chat_ok(raw, what="after extending the duration")
    # duration null: never expires.
    g.P("/key/update", {"key": raw, "duration": None})
    eq(g.info(raw)["expires"], None, "duration null clears expires")


@both
def gov_keys_auth_errors(ctx, backend):
    g = Gov(ctx, backend)
    check_error(g.chat(None), 401, code="invalid_api_key")
    check_error(g.chat("sk-unknown-key-abcdef123456"), 401, code="invalid_api_key")
    check_error(g.chat("garbage"), 401)
    e = check_error(g.chat("sk-unknown-key-abcdef123456"), 401)
    check("abcdef123456" not in e["message"], f"the presented key is masked: {e['message']!r}")
    raw, _ = g.gen()
    # The key in x-api-key and api-key headers.
    for h in ("x-api-key", "api-key"):
        r = chat(g.port, {"model": "m1", "messages": user_msg("x")}, auth=None, headers={h: raw})
        eq(r.status, 200, f"key in {h} ({r.body[:200]!r})")
    # Unknown key twice (the negative answer may be cached), then created with that value: works at once.
    custom = "sk-custom-" + marker("k")
    check_error(g.chat(custom), 401, code="invalid_api_key")
    g.gen(key=custom)
    g.chat_ok(custom, what="a custom key created after a failed lookup")
    # Management routes need a key too.
    check_error(g.get("/key/list", auth=None), 401)
    check_error(g.get("/key/list", auth="sk-nope-nope-nope-0000"), 401)


# =========================================================================================== model access
@both
def gov_keys_model_access(ctx, backend):
    g = Gov(ctx, backend)
    k, _ = g.gen(key_alias="acl", models=["m1", "beta", "openai/*"])
    g.chat_ok(k, "m1", "exact entry")
    g.chat_ok(k, "grp-a", "access group member")
    g.chat_ok(k, "grp-b", "access group member")
    g.chat_ok(k, "openai/gpt-4o-mini", "wildcard entry")
    e = check_error(g.chat(k, "m2"), 403, type_="key_model_access_denied", code="key_model_access_denied",
                    param="model")
    for s in ("'m2'", "m1", "beta", "openai/*", "acl"):
        check(s in e["message"], f"403 should mention {s}: {e['message']!r}")
    # The streaming path enforces it too.
    s = chat_stream(g.port, {"model": "m2", "stream": True, "messages": user_msg("x")}, auth=k)
    eq(s.resp.status, 403, "stream to a model outside the list")
    # all-proxy-models / empty list: everything.
    for models in ([], ["all-proxy-models"]):
        k2, _ = g.gen(models=models)
        g.chat_ok(k2, "m2", f"models={models}")

    # The team's list applies on top of the key's.
    new_team(g, "t-acl", team_alias="acl-team", models=["m1", "grp-a"])
    kt, _ = g.gen(team_id="t-acl")
    g.chat_ok(kt, "m1", "team key, model in the team list")
    e = check_error(g.chat(kt, "m2"), 403, code="team_model_access_denied", param="model")
    check("acl-team" in e["message"] and "grp-a" in e["message"], f"team 403 names team and list: {e['message']!r}")
    kt2, _ = g.gen(team_id="t-acl", models=["m1", "m2"])
    check_error(g.chat(kt2, "m2"), 403, code="team_model_access_denied")
    check_error(g.chat(kt2, "grp-a"), 403, code="key_model_access_denied")
    # Changing the team's list takes effect at once for its cached keys.
    g.P("/team/update", {"team_id": "t-acl", "models": ["m1", "m2"]})
    g.chat_ok(kt2, "m2", "team list widened")

    # "all-team-models" (what LiteLLM's UI stores for team keys): exactly the team's models.
    new_team(g, "t-atm", models=["m1", "grp-a"])
    kat, _ = g.gen(team_id="t-atm", models=["all-team-models"])
    g.chat_ok(kat, "m1", "all-team-models: a model of the team")
    g.chat_ok(kat, "grp-a", "all-team-models: another model of the team")
    check_error(g.chat(kat, "m2"), 403, param="model")


# =========================================================================================== hashed storage
@both(timeout=90)
def gov_keys_hashed_storage(ctx, backend):
    # SQLite: access log in a file; PostgreSQL: on stdout (the default).
    access = os.path.join(ctx.tmp, "access.log") if backend == "sqlite" else "-"
    g = Gov(ctx, backend, llmux={"access_log": access, "log_level": "debug"})
    raws = {}
    k1, j1 = g.gen(key_alias="hs-1", models=["m1", "priced"], rpm_limit=2)
    raws[k1] = j1
    u = g.P("/user/new", {"user_id": "hs-user"})
    raws[u["key"]] = u
    custom = "sk-custom-" + marker("raw")
    _, jc = g.gen(key=custom, metadata={"note": "custom"})
    raws[custom] = jc
    k2, j2 = g.gen(key_alias="hs-2")
    g.P("/key/block", {"key": k2})
    old, _ = g.gen(key_alias="hs-regen")
    g.chat_ok(old, what="regen source")
    rr = g.P("/key/regenerate", {"key": old})
    raws[rr["key"]] = rr
    all_raw = [k1, u["key"], custom, k2, old, rr["key"]]

    # Requests of every kind: success, stream, other header, 403, 401 blocked, 429, management with ?key=.
    n_ok = 0
    for k in (k1, u["key"], custom, rr["key"]):
        g.chat_ok(k, "m1", "hashed-storage traffic")
        n_ok += 1
    g.chat_ok(k1, "priced", "priced request")
    s = chat_stream(g.port, {"model": "m1", "stream": True, "messages": user_msg("s")}, auth=custom)
    eq(s.resp.status, 200, "stream")
    r = chat(g.port, {"model": "m1", "messages": user_msg("h")}, auth=None, headers={"x-api-key": u["key"]})
    eq(r.status, 200, "x-api-key")
    check_error(g.chat(k1, "m2"), 403)
    check_error(g.chat(k2), 401, code="key_blocked")
    check_error(g.chat(old), 401, code="invalid_api_key")
    check_error(g.chat(k1), 429)
    for k in all_raw:
        g.get(f"/key/info?key={k}")
    g.post("/key/update", {"key": custom, "tags": ["t"]})

    # Keys are shown once: no listing or info answer repeats them.
    new_team(g, "hs-team")
    g.P("/key/update", {"key": k1, "team_id": "hs-team"})
    for path in ("/key/list?return_full_object=true&size=100", "/key/list", "/user/info?user_id=hs-user",
                 "/user/list", "/team/info?team_id=hs-team", "/team/list", "/spend/logs"):
        body = g.get(path).text
        for k in all_raw:
            check(k not in body and k[3:] not in body, f"GET {path} shows a raw key: {body[:300]!r}")

    want = {sha256_hex(k) for k in (k1, u["key"], custom, k2, rr["key"])}
    eq({r[0] for r in g.rows("SELECT token FROM llmux_keys")}, want, "stored tokens are the SHA-256 hex of the keys")
    poll(lambda: int(g.rows("SELECT count(*) FROM llmux_spend_logs")[0][0]) >= 7, timeout=10,
         what="spend-log rows")
    logged = {r[0] for r in g.rows("SELECT api_key FROM llmux_spend_logs")}
    check(logged and logged <= {sha256_hex(k) for k in all_raw},
          f"spend logs carry key hashes only: {logged!r}")

    def scan(when):
        dump = g.dump_text()
        check("llmux_keys" in dump and "llmux_spend_logs" in dump, f"tables found: {sorted(dump)}")
        check(any(sha256_hex(k1) in row for row in dump["llmux_keys"]), "the dump holds the key rows")
        for k in all_raw:
            for t, rows in dump.items():
                for row in rows:
                    check(k not in row and k[3:] not in row, f"{when}: raw key found in table {t}: {row[:300]!r}")
        files = []
        for root, _, names in os.walk(ctx.tmp):
            for n in names:
                if n.endswith(".yaml"):
                    continue
                files.append(os.path.join(root, n))
        if g.pg is not None:
            files.append(g.pg.stderr_path)
        for path in files:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for k in all_raw:
                check(k.encode() not in data and k[3:].encode() not in data,
                      f"{when}: raw key found in {path}")
        return files
    scan("while running")
    g.gw.stop()
    eq(g.gw.returncode, 0, "clean exit")
    files = scan("after shutdown")
    names = {os.path.basename(p) for p in files}
    check({"llmux.stdout", "llmux.stderr"} <= names, f"logs scanned: {sorted(names)}")
    log = os.path.join(ctx.tmp, "access.log" if backend == "sqlite" else "llmux.stdout")
    with open(log, "rb") as f:
        check(f.read().count(b'"path":"/v1/chat/completions"') >= n_ok,
              f"the access log ({log}) recorded the requests, so the scan saw them")


# ================================================================================================ bad input
@both
def gov_keys_bad_input(ctx, backend):
    g = Gov(ctx, backend)
    raw, _ = g.gen(key_alias="exists")
    bad_json = g.post("/key/generate", "{\"models\": [\"m1\"")
    check_error(bad_json, 400)
    check_error(g.post("/key/generate", "[1, 2]"), 400)
    cases = [
        ({"max_budget": "lots"}, "max_budget"),
        ({"max_budget": -1}, "max_budget"),
        ({"soft_budget": -0.5}, "soft_budget"),
        ({"models": "m1"}, "models"),
        ({"models": [1, 2]}, "models"),
        ({"rpm_limit": "10"}, "rpm_limit"),
        ({"rpm_limit": -5}, "rpm_limit"),
        ({"tpm_limit": 1.5}, "tpm_limit"),
        ({"max_parallel_requests": -1}, "max_parallel_requests"),
        ({"duration": "forever"}, "duration"),
        ({"budget_duration": "5x"}, "budget_duration"),
        ({"model_rpm_limit": {"m1": -1}}, "model_rpm_limit"),
        ({"model_tpm_limit": [1]}, "model_tpm_limit"),
        ({"model_max_budget": {"m1": {"max_budget": -2}}}, "model_max_budget"),
        ({"metadata": "x"}, "metadata"),
        ({"tags": "x"}, "tags"),
        ({"aliases": {"a": 1}}, "aliases"),
        ({"blocked": "yes"}, "blocked"),
        ({"key_alias": 5}, "key_alias"),
        ({"key_alias": "exists"}, "key_alias"),
        ({"team_id": "no-such-team"}, "team_id"),
        ({"user_id": "no-such-user"}, "user_id"),
        ({"key": "not-sk-prefixed"}, "key"),
    ]
    for body, field in cases:
        r = g.post("/key/generate", body)
        e = check_error(r, 400, param=field)
        check(field in e["message"] or field.replace("_", " ") in e["message"].lower()
              or field in ("team_id", "user_id", "key"),
              f"{body}: message should name {field}: {e['message']!r}")
    check_error(g.post("/key/update", {"key": raw, "max_budget": -3}), 400, param="max_budget")
    check_error(g.post("/key/update", {"key": raw, "rpm_limit": "x"}), 400, param="rpm_limit")
    eq(g.G("/key/list")["total_count"], 1, "no key was created by a refused request")
    eq(g.info(raw)["max_budget"], None, "a refused update changes nothing")

    # Routes and methods.
    check_error(g.get("/key/nonexistent"), 404)
    check_error(g.post("/key/nonexistent", {}), 404)
    no_allow = []
    for path in ("/key/generate", "/key/update", "/key/delete", "/key/block", "/key/regenerate", "/team/new"):
        r = g.get(path)
        check_error(r, 405)
        if "POST" not in (r.header("allow") or ""):
            no_allow.append(f"GET {path}")
    for path in ("/key/info", "/key/list"):
        r = g.post(path, {})
        check_error(r, 405)
        if "GET" not in (r.header("allow") or ""):
            no_allow.append(f"POST {path}")
    # RFC 9110 15.5.6: a 405 response MUST carry Allow (the gateway's other routes send it).
    check(not no_allow, f"405 answers without an Allow header: {no_allow}")
