"""Teams, users, customers, budgets, /model/info and /model_group/info, and the management roles, through the
real binary (issue 5), on SQLite and on PostgreSQL (see test_gov_keys.py for the helpers and `@both`)."""
from __future__ import annotations

import time

from harness import MASTER_KEY, UPSTREAM_KEY, check, check_error, chat, eq, poll, test, user_msg
from test_gov_keys import Gov, both, default_models, iso_ms, new_team, new_user, sha256_hex


def user_with_key(g, user_id, role=None, **fields):
    """/user/new with its auto-created key; returns the raw key."""
    body = {"user_id": user_id, **fields}
    if role:
        body["user_role"] = role
    j = g.P("/user/new", body)
    eq(j["user_id"], user_id, "/user/new user_id")
    if role:
        eq(j["user_role"], role, "/user/new user_role")
    check(isinstance(j.get("key"), str) and j["key"].startswith("sk-"), f"/user/new creates a key: {j!r}")
    eq(j.get("user_id"), user_id, "the key belongs to the user")
    return j["key"]


# ================================================================================================== teams
@both
def gov_mgmt_teams(ctx, backend):
    g = Gov(ctx, backend)
    new_user(g, "alice", user_email="alice@example.com")
    new_user(g, "bob")
    t = g.P("/team/new", {"team_id": "t-core", "team_alias": "core", "models": ["m1", "grp-a"],
                          "max_budget": 100.0, "rpm_limit": 1000, "metadata": {"cc": "42"}, "tags": ["core"],
                          "members_with_roles": [{"role": "admin", "user_id": "alice"}]})
    eq((t["team_id"], t["team_alias"], t["models"], t["max_budget"], t["rpm_limit"], t["metadata"], t["tags"]),
       ("t-core", "core", ["m1", "grp-a"], 100.0, 1000, {"cc": "42"}, ["core"]), "/team/new answer")
    eq(t["admins"], ["alice"], "admins")
    check_error(g.post("/team/new", {"team_id": "t-core"}), 400, param="team_id")
    auto = g.P("/team/new", {"team_alias": "auto-id"})
    check(isinstance(auto["team_id"], str) and len(auto["team_id"]) >= 8, f"generated team_id: {auto!r}")

    # member_add: the user's teams and the membership follow; a duplicate is refused.
    m = g.P("/team/member_add", {"team_id": "t-core", "member": {"role": "user", "user_id": "bob"},
                                 "max_budget_in_team": 5.0})
    check("bob" in m["members"], f"member_add answer members: {m!r}")
    check("t-core" in g.G("/user/info?user_id=bob")["user_info"]["teams"], "bob's teams list the team")
    check_error(g.post("/team/member_add", {"team_id": "t-core", "member": {"role": "user", "user_id": "bob"}}), 400)
    check_error(g.post("/team/member_add", {"team_id": "nope", "member": {"role": "user", "user_id": "bob"}}), 404)
    # An unknown user_id becomes a user (LiteLLM's behaviour).
    g.P("/team/member_add", {"team_id": "t-core", "member": [{"role": "user", "user_id": "carol"}]})
    eq(g.G("/user/info?user_id=carol")["user_info"]["teams"], ["t-core"], "member_add created carol")

    key, _ = g.gen(team_id="t-core", user_id="bob", key_alias="bob-core")
    info = g.G("/team/info?team_id=t-core")
    eq(info["team_id"], "t-core", "/team/info team_id")
    ti = info["team_info"]
    eq((ti["team_alias"], ti["models"], ti["max_budget"]), ("core", ["m1", "grp-a"], 100.0), "team_info fields")
    eq(sorted(x["user_id"] for x in ti["members_with_roles"]), ["alice", "bob", "carol"], "members_with_roles")
    ms = {x["user_id"]: x for x in info["team_memberships"]}
    eq(sorted(ms), ["alice", "bob", "carol"], "team_memberships")
    check(ms["bob"]["budget_id"], f"max_budget_in_team gives bob a membership budget: {ms['bob']!r}")
    eq([k["key_alias"] for k in info["keys"]], ["bob-core"], "/team/info keys")
    check_error(g.get("/team/info?team_id=missing"), 404)

    # Team key: the team's list applies, the team alias shows up in the 403.
    g.chat_ok(key, "m1", "team key")
    check_error(g.chat(key, "m2"), 403, code="team_model_access_denied")
    up = g.P("/team/update", {"team_id": "t-core", "models": ["m1", "m2"], "team_alias": "core-2"})
    eq(up["data"]["team_alias"], "core-2", "/team/update answer")
    g.chat_ok(key, "m2", "team update applies at once")
    check_error(g.post("/team/update", {"team_id": "missing", "models": []}), 404)

    # Team limits apply on top of each key's: two keys share the team's rpm_limit.
    new_team(g, "t-rpm", team_alias="rpm-team", rpm_limit=1)
    ka, _ = g.gen(team_id="t-rpm", rpm_limit=100)
    kb, _ = g.gen(team_id="t-rpm")
    g.chat_ok(ka, "m1", "first request of the team")
    e = check_error(g.chat(kb, "m1"), 429, code="rate_limit_exceeded")
    check("rpm-team" in e["message"], f"the 429 names the team: {e['message']!r}")

    # member_delete.
    g.P("/team/member_delete", {"team_id": "t-core", "user_id": "carol"})
    eq(g.G("/user/info?user_id=carol")["user_info"]["teams"], [], "carol left the team")
    check("carol" not in [x["user_id"] for x in g.G("/team/info?team_id=t-core")["team_memberships"]],
          "carol's membership is gone")
    check_error(g.post("/team/member_delete", {"team_id": "t-core", "user_id": "carol"}), 400)

    # list
    lst = g.G("/team/list")
    check(isinstance(lst, list), f"/team/list is a list: {lst!r}")
    eq(sorted(x["team_id"] for x in lst), sorted(["t-core", "t-rpm", auto["team_id"]]), "/team/list teams")

    # block: the team's keys answer 401 team_blocked at once; unblock restores them.
    b = g.P("/team/block", {"team_id": "t-core"})
    eq(b["blocked"], True, "/team/block answer")
    e = check_error(g.chat(key, "m1"), 401, code="team_blocked")
    check("core-2" in e["message"], f"team_blocked names the team: {e['message']!r}")
    g.P("/team/unblock", {"team_id": "t-core"})
    g.chat_ok(key, "m1", "team unblocked")
    check_error(g.post("/team/block", {"team_id": "missing"}), 404)

    # delete: the team and its keys go.
    d = g.P("/team/delete", {"team_ids": ["t-core"]})
    eq(d["deleted_teams"], ["t-core"], "/team/delete answer")
    check_error(g.chat(key, "m1"), 401, code="invalid_api_key")
    check_error(g.get("/team/info?team_id=t-core"), 404)
    check("t-core" not in g.G("/user/info?user_id=bob")["user_info"]["teams"], "bob's teams after delete")
    check_error(g.post("/team/delete", {"team_ids": ["t-core"]}), 404)
    check_error(g.post("/team/new", {"team_id": "bad", "max_budget": -1}), 400, param="max_budget")
    check_error(g.post("/team/new", {"team_id": "bad", "models": "m1"}), 400, param="models")


# ================================================================================================== users
@both
def gov_mgmt_users(ctx, backend):
    g = Gov(ctx, backend)
    key = user_with_key(g, "u-one", user_email="one@example.com", user_alias="One", max_budget=20.0,
                        models=["m1"])
    g.chat_ok(key, "m1", "/user/new key")
    eq(g.info(key)["user_id"], "u-one", "the key's user")
    check_error(g.post("/user/new", {"user_id": "u-one"}), 409)
    check_error(g.post("/user/new", {"user_id": "x", "user_role": "superuser"}), 400, param="user_role")
    check_error(g.post("/user/new", {"user_id": "x", "max_budget": -2}), 400, param="max_budget")
    nokey = g.P("/user/new", {"user_id": "u-two", "auto_create_key": False, "user_role": "proxy_admin_viewer"})
    eq(nokey.get("key"), None, "auto_create_key false: no key")

    i = g.G("/user/info?user_id=u-one")
    eq(i["user_id"], "u-one", "/user/info user_id")
    ui = i["user_info"]
    eq((ui["user_email"], ui["user_alias"], ui["max_budget"], ui["user_role"]),
       ("one@example.com", "One", 20.0, "internal_user"), "/user/info fields (default role internal_user)")
    eq([k["token"] for k in i["keys"]], [sha256_hex(key)], "/user/info keys")
    check_error(g.get("/user/info?user_id=ghost"), 404)

    u = g.P("/user/update", {"user_id": "u-one", "user_alias": "Uno", "max_budget": 30.0})
    eq((u["data"]["user_alias"], u["data"]["max_budget"]), ("Uno", 30.0), "/user/update answer")
    eq(g.G("/user/info?user_id=u-one")["user_info"]["user_alias"], "Uno", "/user/update persisted")
    check_error(g.post("/user/update", {"user_id": "ghost", "user_alias": "x"}), 404)
    check_error(g.post("/user/update", {"user_id": "u-one", "user_role": "root"}), 400, param="user_role")

    # User limits apply to every key of the user.
    new_user(g, "u-rpm", rpm_limit=1)
    ka, _ = g.gen(user_id="u-rpm")
    kb, _ = g.gen(user_id="u-rpm")
    g.chat_ok(ka, "m1", "first request of the user")
    e = check_error(g.chat(kb, "m1"), 429, code="rate_limit_exceeded")
    check("u-rpm" in e["message"], f"the 429 names the user: {e['message']!r}")

    for n in range(2):
        new_user(g, f"u-page-{n}")
    lst = g.G("/user/list?page_size=2")
    eq((lst["total"], lst["page_size"], lst["total_pages"], len(lst["users"])), (5, 2, 3, 2), "/user/list paging")
    ids = []
    for p in (1, 2, 3):
        ids += [x["user_id"] for x in g.G(f"/user/list?page_size=2&page={p}")["users"]]
    eq(sorted(ids), sorted(["u-one", "u-two", "u-rpm", "u-page-0", "u-page-1"]), "every user once")
    viewers = g.G("/user/list?role=proxy_admin_viewer")
    eq([x["user_id"] for x in viewers["users"]], ["u-two"], "/user/list role filter")
    one = [x for x in g.G("/user/list?page_size=100")["users"] if x["user_id"] == "u-one"][0]
    eq(one["key_count"], 1, "key_count")
    eq([x["key_count"] for x in g.G("/user/list?page_size=100")["users"] if x["user_id"] == "u-rpm"], [2],
       "key_count of a user with two keys")

    d = g.P("/user/delete", {"user_ids": ["u-one"]})
    eq(d["deleted_users"], ["u-one"], "/user/delete answer")
    check_error(g.chat(key, "m1"), 401, code="invalid_api_key")
    check_error(g.get("/user/info?user_id=u-one"), 404)
    check_error(g.post("/user/delete", {"user_ids": ["u-one"]}), 404)


# ============================================================================================== customers
@both
def gov_mgmt_customers(ctx, backend):
    g = Gov(ctx, backend)
    key, _ = g.gen()
    c = g.P("/customer/new", {"user_id": "end-1", "alias": "Acme", "max_budget": 10.0, "rpm_limit": 100})
    eq((c["user_id"], c["alias"], c["blocked"]), ("end-1", "Acme", False), "/customer/new answer")
    eq(c["litellm_budget_table"]["max_budget"], 10.0, "customer budget row")
    check_error(g.post("/customer/new", {"user_id": "end-1"}), 400, param="user_id")
    check_error(g.post("/customer/new", {"alias": "no id"}), 400, param="user_id")
    check_error(g.post("/customer/new", {"user_id": "x", "max_budget": -1}), 400, param="max_budget")

    i = g.G("/customer/info?end_user_id=end-1")
    eq((i["user_id"], i["alias"], i["litellm_budget_table"]["max_budget"]), ("end-1", "Acme", 10.0), "/customer/info")
    check_error(g.get("/customer/info?end_user_id=nobody"), 404)
    u = g.P("/customer/update", {"user_id": "end-1", "alias": "Acme Inc", "max_budget": 11.0})
    eq((u["alias"], u["litellm_budget_table"]["max_budget"]), ("Acme Inc", 11.0), "/customer/update answer")
    check_error(g.post("/customer/update", {"user_id": "nobody", "alias": "x"}), 404)
    g.P("/customer/new", {"user_id": "end-2"})
    lst = g.G("/customer/list")
    eq(sorted(x["user_id"] for x in lst), ["end-1", "end-2"], "/customer/list")

    # Blocked end user: requests carrying that `user` are refused with 403; others pass.
    g.chat_ok(key, "m1", "end user before block", user="end-1")
    b = g.P("/customer/block", {"user_ids": ["end-1"]})
    check(any(x["user_id"] == "end-1" and x["blocked"] for x in b["blocked_users"]), f"block answer {b!r}")
    e = check_error(g.chat(key, "m1", user="end-1"), 403)
    check("end-1" in e["message"], f"the 403 names the end user: {e['message']!r}")
    g.chat_ok(key, "m1", "another end user", user="end-2")
    g.chat_ok(key, "m1", "no end user")
    eq(g.G("/customer/info?end_user_id=end-1")["blocked"], True, "blocked in /customer/info")
    g.P("/customer/unblock", {"user_ids": ["end-1"]})
    g.chat_ok(key, "m1", "end user after unblock", user="end-1")
    # Blocking an end user that was never created records it as blocked.
    g.P("/customer/block", {"user_ids": ["end-new"]})
    check_error(g.chat(key, "m1", user="end-new"), 403)

    # A customer budget applies to its requests (priced model, tiny budget).
    g.P("/customer/new", {"user_id": "end-poor", "max_budget": 0.000001})
    check_error(g.chat(key, "priced", user="end-poor", max_tokens=50), 400, code="budget_exceeded")
    g.chat_ok(key, "priced", "the same request for another end user", user="end-2", max_tokens=50)

    # /end_user/* is LiteLLM's older spelling.
    eq(g.G("/end_user/info?end_user_id=end-2")["user_id"], "end-2", "/end_user/info")
    # Spend rows are written in batches, and a row creates its end user if missing (LiteLLM's
    # rule): let the rows of the requests above land (3 for end-1, 2 for end-2) before deleting.
    poll(lambda: sum(1 for r in g.G("/spend/logs") if r.get("end_user") in ("end-1", "end-2")) == 5,
         what="the end users' spend rows written")
    d = g.P("/customer/delete", {"user_ids": ["end-1", "end-2"]})
    eq(d["deleted_customers"], 2, "/customer/delete answer")
    check_error(g.get("/customer/info?end_user_id=end-1"), 404)
    check_error(g.post("/customer/delete", {"user_ids": ["end-1"]}), 404)


# ================================================================================================ budgets
@both
def gov_mgmt_budgets(ctx, backend):
    g = Gov(ctx, backend)
    t0 = time.time() * 1000
    b = g.P("/budget/new", {"budget_id": "b-small", "max_budget": 7.5, "soft_budget": 5.0, "rpm_limit": 1,
                            "tpm_limit": 100000, "max_parallel_requests": 4, "budget_duration": "30d"})
    eq((b["budget_id"], b["max_budget"], b["soft_budget"], b["rpm_limit"], b["tpm_limit"],
        b["max_parallel_requests"], b["budget_duration"]), ("b-small", 7.5, 5.0, 1, 100000, 4, "30d"), "/budget/new")
    reset = iso_ms(b["budget_reset_at"])
    check(t0 < reset <= t0 + 31 * 86400_000 + 60_000, f"budget_reset_at about 30 days ahead: {b['budget_reset_at']}")
    check_error(g.post("/budget/new", {"budget_id": "b-small"}), 400, param="budget_id")
    check_error(g.post("/budget/new", {"budget_id": "neg", "max_budget": -1}), 400, param="max_budget")
    check_error(g.post("/budget/new", {"budget_id": "dur", "budget_duration": "sometimes"}), 400,
                param="budget_duration")
    auto = g.P("/budget/new", {"max_budget": 1.0})
    check(isinstance(auto["budget_id"], str) and auto["budget_id"], f"generated budget_id: {auto!r}")

    info = g.P("/budget/info", {"budgets": ["b-small"]})
    eq([x["budget_id"] for x in info], ["b-small"], "POST /budget/info")
    eq(g.G("/budget/info?budget_id=b-small")[0]["max_budget"], 7.5, "GET /budget/info")
    check_error(g.post("/budget/info", {"budgets": ["missing"]}), 404)
    eq(sorted(x["budget_id"] for x in g.G("/budget/list")), sorted(["b-small", auto["budget_id"]]), "/budget/list")

    # A key linked to the budget takes its limits.
    key, kj = g.gen(budget_id="b-small")
    eq(kj["litellm_budget_table"]["budget_id"], "b-small", "litellm_budget_table on the key")
    g.chat_ok(key, "m1", "first request under the budget's rpm_limit 1")
    check_error(g.chat(key, "m1"), 429, code="rate_limit_exceeded")
    check_error(g.post("/key/generate", {"budget_id": "missing"}), 400, param="budget_id")

    u = g.P("/budget/update", {"budget_id": "b-small", "max_budget": 8.0, "rpm_limit": None})
    eq((u["max_budget"], u["rpm_limit"]), (8.0, None), "/budget/update answer")
    g.chat_ok(key, "m1", "budget rpm_limit cleared: applies at once")
    eq(g.info(key)["litellm_budget_table"]["max_budget"], 8.0, "key sees the updated budget")
    check_error(g.post("/budget/update", {"budget_id": "missing", "max_budget": 1}), 404)
    check_error(g.post("/budget/update", {"budget_id": "b-small", "max_budget": "x"}), 400, param="max_budget")

    g.P("/budget/delete", {"id": auto["budget_id"]})
    check_error(g.post("/budget/info", {"budgets": [auto["budget_id"]]}), 404)
    check_error(g.post("/budget/delete", {"id": auto["budget_id"]}), 404)
    eq([x["budget_id"] for x in g.G("/budget/list")], ["b-small"], "/budget/list after delete")


# ================================================================================================== roles
@both
def gov_mgmt_roles_admin_user(ctx, backend):
    """A key of a proxy_admin user manages everything, like the master key."""
    g = Gov(ctx, backend)
    admin = user_with_key(g, "root-user", role="proxy_admin")
    other = user_with_key(g, "someone")
    g.P("/team/new", {"team_id": "t-adm"}, auth=admin)
    g.P("/user/new", {"user_id": "made-by-admin", "auto_create_key": False}, auth=admin)
    k, j = g.gen(auth=admin, user_id="someone", team_id="t-adm")
    eq(j["user_id"], "someone", "an admin creates keys for other users")
    g.P("/key/update", {"key": other, "models": ["m1"]}, auth=admin)
    g.P("/key/block", {"key": other}, auth=admin)
    g.P("/key/unblock", {"key": other}, auth=admin)
    eq(g.G("/key/list", auth=admin)["total_count"], 3, "the admin sees every key")
    g.P("/key/delete", {"keys": [k]}, auth=admin)
    g.P("/customer/new", {"user_id": "c-adm"}, auth=admin)
    g.P("/budget/new", {"budget_id": "b-adm"}, auth=admin)
    g.G("/user/list", auth=admin)
    g.P("/team/member_add", {"team_id": "t-adm", "member": {"role": "user", "user_id": "someone"}}, auth=admin)
    g.P("/user/update", {"user_id": "someone", "max_budget": 3.0}, auth=admin)
    g.P("/team/delete", {"team_ids": ["t-adm"]}, auth=admin)
    g.chat_ok(admin, "m1", "the admin's key also calls models")


@both
def gov_mgmt_roles_viewer(ctx, backend):
    g = Gov(ctx, backend)
    viewer = user_with_key(g, "watcher", role="proxy_admin_viewer")
    other = user_with_key(g, "worker")
    new_team(g, "t-view", members=["worker"])
    g.P("/customer/new", {"user_id": "c-view"})
    g.P("/budget/new", {"budget_id": "b-view"})
    # Reads.
    eq(g.G("/key/list", auth=viewer)["total_count"], 2, "a viewer lists every key")
    eq(g.G(f"/key/info?key={other}", auth=viewer)["info"]["user_id"], "worker", "a viewer reads others' keys")
    eq(g.G("/user/info?user_id=worker", auth=viewer)["user_id"], "worker", "/user/info of another user")
    g.G("/user/list", auth=viewer)
    eq([t["team_id"] for t in g.G("/team/list", auth=viewer)], ["t-view"], "/team/list")
    g.G("/team/info?team_id=t-view", auth=viewer)
    g.G("/customer/list", auth=viewer)
    g.G("/customer/info?end_user_id=c-view", auth=viewer)
    g.G("/budget/list", auth=viewer)
    g.P("/budget/info", {"budgets": ["b-view"]}, auth=viewer)
    # Writes: 403, nothing changes.
    writes = [
        ("/key/generate", {}), ("/key/generate", {"user_id": "watcher"}), ("/key/update", {"key": other, "models": []}),
        ("/key/delete", {"keys": [other]}), ("/key/block", {"key": other}), ("/key/regenerate", {"key": other}),
        ("/team/new", {"team_id": "t-x"}), ("/team/update", {"team_id": "t-view", "models": []}),
        ("/team/member_add", {"team_id": "t-view", "member": {"role": "user", "user_id": "watcher"}}),
        ("/team/delete", {"team_ids": ["t-view"]}), ("/team/block", {"team_id": "t-view"}),
        ("/user/new", {"user_id": "x"}), ("/user/delete", {"user_ids": ["worker"]}),
        ("/customer/new", {"user_id": "c-x"}), ("/customer/block", {"user_ids": ["c-view"]}),
        ("/budget/new", {"budget_id": "b-x"}), ("/budget/delete", {"id": "b-view"}),
    ]
    for path, body in writes:
        check_error(g.post(path, body, auth=viewer), 403, msg_contains=None)
    g.chat_ok(other, "m1", "the other key is untouched")
    eq(g.G("/key/list")["total_count"], 2, "no key was created or deleted by the viewer")
    eq(g.G("/team/info?team_id=t-view")["team_info"]["blocked"], False, "team not blocked by the viewer")
    g.chat_ok(viewer, "m1", "a viewer's key calls models")


@both
def gov_mgmt_roles_internal_user(ctx, backend):
    g = Gov(ctx, backend)
    mine = user_with_key(g, "iu-a")
    theirs = user_with_key(g, "iu-b")
    new_team(g, "t-b", members=["iu-b"])
    # Own keys: create (owned by the caller even without user_id), use, update, block, delete.
    k, j = g.gen(auth=mine, key_alias="a-own")
    eq(j["user_id"], "iu-a", "a key an internal user creates is its own")
    g.chat_ok(k, "m1", "own new key")
    g.P("/key/update", {"key": k, "models": ["m2"]}, auth=mine)
    check_error(g.chat(k, "m1"), 403, code="key_model_access_denied")
    eq(g.G(f"/key/info?key={k}", auth=mine)["info"]["key_alias"], "a-own", "own key info")
    lst = g.G("/key/list", auth=mine)
    eq(lst["total_count"], 2, "an internal user lists only its own keys (2 of 3)")
    g.P("/user/update", {"user_id": "iu-a", "user_alias": "A"}, auth=mine)
    eq(g.G("/user/info", auth=mine)["user_id"], "iu-a", "own /user/info")
    g.P("/key/delete", {"keys": [k]}, auth=mine)
    check_error(g.chat(k), 401, code="invalid_api_key")

    # Another user's key or data: 403, nothing changes.
    for path, body in [
        ("/key/generate", {"user_id": "iu-b"}), ("/key/generate", {"team_id": "t-b"}),
        ("/key/update", {"key": theirs, "models": []}), ("/key/delete", {"keys": [theirs]}),
        ("/key/block", {"key": theirs}), ("/key/regenerate", {"key": theirs}),
        ("/team/new", {"team_id": "t-mine"}), ("/user/new", {"user_id": "x"}),
        ("/user/update", {"user_id": "iu-b", "user_alias": "hacked"}),
        ("/user/update", {"user_id": "iu-a", "max_budget": 1000.0}),
        ("/user/update", {"user_id": "iu-a", "user_role": "proxy_admin"}),
        ("/customer/new", {"user_id": "c"}), ("/budget/new", {"budget_id": "b"}),
        ("/team/member_add", {"team_id": "t-b", "member": {"role": "user", "user_id": "iu-a"}}),
    ]:
        check_error(g.post(path, body, auth=mine), 403)
    for path in (f"/key/info?key={theirs}", "/key/list?user_id=iu-b", "/user/info?user_id=iu-b", "/user/list",
                 "/customer/list", "/budget/list", "/team/info?team_id=t-b"):
        check_error(g.get(path, auth=mine), 403)
    eq([t["team_id"] for t in g.G("/team/list", auth=theirs)], ["t-b"], "an internal user lists its own teams")
    eq(g.G("/team/list", auth=mine), [], "no teams for a user in none")
    g.G("/team/info?team_id=t-b", auth=theirs)
    g.chat_ok(theirs, "m1", "the other user's key still works")
    eq(g.G(f"/key/info?key={theirs}")["info"]["models"], [], "the other user's key is unchanged")
    eq(g.G("/user/info?user_id=iu-a")["user_info"]["user_role"], "internal_user", "no self-promotion")
    check("t-mine" not in [t["team_id"] for t in g.G("/team/list")], "no team was created")


@both
def gov_mgmt_roles_llm_key(ctx, backend):
    """A key with no user (an LLM key) cannot call management write routes: 401."""
    g = Gov(ctx, backend)
    k, _ = g.gen(key_alias="llm-only")
    g.chat_ok(k, "m1", "an LLM key calls models")
    for path, body in [("/key/generate", {}), ("/key/generate", {"user_id": "x"}), ("/team/new", {}),
                       ("/user/new", {"user_id": "x"}), ("/key/delete", {"keys": [k]}),
                       ("/customer/new", {"user_id": "c"}), ("/budget/new", {})]:
        check_error(g.post(path, body, auth=k), 401)
    for path in ("/user/list", "/customer/list", "/budget/list"):
        check_error(g.get(path, auth=k), 401)
    r = g.get("/key/list", auth=k)
    check(r.status in (401, 403), f"an LLM key cannot list keys: {r.status} {r.body[:200]!r}")
    check_error(r, r.status)
    # Its own info is readable.
    eq(g.G("/key/info", auth=k)["info"]["key_alias"], "llm-only", "own /key/info")
    eq(g.G("/key/list")["total_count"], 1, "nothing was created")
    g.chat_ok(k, "m1", "the key was not deleted")


@test
def gov_mgmt_open_mode(ctx):
    """No master key: every LLM request is accepted; the management API answers 403 master_key_required."""
    g = Gov(ctx, "sqlite", master=False)
    r = chat(g.port, {"model": "m1", "messages": user_msg("x")}, auth=None)
    eq(r.status, 200, f"open mode chat ({r.body[:200]!r})")
    r = chat(g.port, {"model": "m1", "messages": user_msg("x")}, auth="sk-anything-goes-1234")
    eq(r.status, 200, "open mode accepts any key")
    for path, body in [("/key/generate", {}), ("/team/new", {}), ("/user/new", {"user_id": "x"}),
                       ("/customer/new", {"user_id": "c"}), ("/budget/new", {})]:
        check_error(g.post(path, body, auth=None), 403, code="master_key_required")
        check_error(g.post(path, body, auth=MASTER_KEY), 403, code="master_key_required")
    for path in ("/key/list", "/user/list", "/team/list", "/key/info?key=sk-x"):
        check_error(g.get(path, auth=None), 403, code="master_key_required")


# ================================================================================ /model/info, /model_group/info
@test
def gov_mgmt_model_info(ctx):
    models = default_models() + [{"model_name": "secret-upstream", "litellm_params": {
        "model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9", "api_key": UPSTREAM_KEY}}]
    g = Gov(ctx, "sqlite", models=models)

    def model_info(q, auth=MASTER_KEY):
        r = g.get("/model/info" + q, auth=auth)
        eq(r.status, 200, f"/model/info{q} ({r.body[:300]!r})")
        check(UPSTREAM_KEY not in r.text, "/model/info must not reveal upstream api keys")
        return r.json()["data"]

    def group_info(q, auth=MASTER_KEY):
        r = g.get("/model_group/info" + q, auth=auth)
        eq(r.status, 200, f"/model_group/info{q} ({r.body[:300]!r})")
        return r.json()["data"]

    data = model_info("?x=1")
    eq(sorted(d["model_name"] for d in data), sorted(m["model_name"] for m in models), "one entry per deployment")
    for d in data:
        check(isinstance(d["litellm_params"].get("model"), str), f"litellm_params.model: {d!r}")
        mi = d["model_info"]
        check(isinstance(mi.get("id"), str) and mi["id"], f"model_info.id: {d!r}")
        check(isinstance(mi.get("access_groups"), list), f"model_info.access_groups: {d!r}")
    by = {d["model_name"]: d for d in data}
    eq(by["grp-a"]["model_info"]["access_groups"], ["beta"], "access_groups")
    eq((by["priced"]["model_info"]["input_cost_per_token"], by["priced"]["model_info"]["output_cost_per_token"]),
       (0.001, 0.002), "custom prices in model_info")

    groups = group_info("?x=1")
    eq(sorted(x["model_group"] for x in groups), sorted(m["model_name"] for m in models), "one entry per group")
    for x in groups:
        for f in ("providers", "max_input_tokens", "max_output_tokens", "input_cost_per_token",
                  "output_cost_per_token", "mode", "tpm", "rpm"):
            check(f in x, f"/model_group/info entry lacks {f}: {x!r}")
    one = group_info("?model_group=priced")
    eq([x["model_group"] for x in one], ["priced"], "model_group filter")
    eq(one[0]["input_cost_per_token"], 0.001, "group price")

    # A restricted key sees only what it may call (key list ∩ team list).
    k, _ = g.gen(models=["m1", "beta"])
    eq(sorted(d["model_name"] for d in model_info("?x=1", auth=k)), ["grp-a", "grp-b", "m1"], "key-visible models")
    eq(sorted(x["model_group"] for x in group_info("?x=1", auth=k)), ["grp-a", "grp-b", "m1"], "key-visible groups")
    new_team(g, "t-mi", models=["m1"])
    kt, _ = g.gen(models=["m1", "m2"], team_id="t-mi")
    eq([d["model_name"] for d in model_info("?x=1", auth=kt)], ["m1"], "team list applies to /model/info")
    check_error(g.get("/model/info", auth=None), 401)

    # The plain paths, as clients call them (no query string).
    for path in ("/model/info", "/model_group/info", "/v1/model/info"):
        r = g.get(path)
        eq(r.status, 200, f"GET {path} without a query string ({r.body[:200]!r})")
        eq(len(r.json()["data"]), len(data) if "group" not in path else len(groups), f"{path} entries")
    poll(lambda: g.gw.proc.poll() is None, timeout=1, what="the gateway still running")
