"""A key's allowed routes (`key_type` / `allowed_routes`): an LLM-only key cannot manage, a management
or read-only key cannot call models."""
from harness import MASTER_KEY, chat, check_error, eq, request, test, user_msg


@test
def gov_routes_key_type_limits_routes(ctx):
    g = ctx.gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
                     "general_settings": {"master_key": MASTER_KEY}})
    request(g.port, "POST", "/user/new", {"user_id": "admin1", "user_role": "proxy_admin",
                                          "auto_create_key": False})

    def key(**fields):
        r = request(g.port, "POST", "/key/generate", {"user_id": "admin1", **fields})
        eq(r.status, 200, f"generated ({r.body[:200]!r})")
        return r.json()["key"]
    llm = key(key_type="llm_api")
    mgmt = key(key_type="management")
    ro = key(key_type="read_only")
    custom = key(allowed_routes=["/v1/chat/completions", "/key/*"])
    body = {"model": "m", "messages": user_msg("x")}
    eq(chat(g.port, body, auth=llm).status, 200, "an llm_api key calls models")
    check_error(request(g.port, "POST", "/key/generate", {}, auth=llm), 403, code="route_not_allowed",
                msg_contains="/key/generate")
    check_error(chat(g.port, body, auth=mgmt), 403, code="route_not_allowed", msg_contains="management_routes")
    eq(request(g.port, "POST", "/key/generate", {}, auth=mgmt).status, 200, "a management key of an admin manages")
    check_error(chat(g.port, body, auth=ro), 403, code="route_not_allowed")
    eq(request(g.port, "GET", "/key/info", auth=ro).status, 200, "a read-only key reads its own info")
    eq(chat(g.port, body, auth=custom).status, 200, "an exact route")
    eq(request(g.port, "GET", "/key/info", auth=custom).status, 200, "a prefix with *")
    check_error(request(g.port, "POST", "/v1/embeddings", {"model": "m", "input": "x"}, auth=custom), 403,
                code="route_not_allowed")
