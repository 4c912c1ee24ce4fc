"""Health, models, auth and the x-llmux-* headers."""
from harness import (MASTER_KEY, Conn, chat, check, check_error, eq, marker, request, test, user_msg)
from shared_env import shared


@test
def health_liveliness(ctx):
    env = shared(ctx)
    r = request(env.port, "GET", "/health/liveliness", auth=None)
    eq(r.status, 200, "status")
    eq(r.json(), "I'm alive!", "liveliness body (JSON string)")
    check(r.header("x-llmux-request-id"), "x-llmux-request-id missing on /health/liveliness")


@test
def health_readiness(ctx):
    env = shared(ctx)
    r = request(env.port, "GET", "/health/readiness", auth=None)
    eq(r.status, 200, "status")
    j = r.json()
    eq(j.get("status"), "healthy", "readiness status")
    check(r.header("x-llmux-request-id"), "x-llmux-request-id missing on /health/readiness")
    # No auth needed even with a master key, and a wrong key does not hurt either.
    r = request(env.port, "GET", "/health/readiness", auth="wrong")
    eq(r.status, 200, "readiness with a wrong key")


def _check_models(env, r, path):
    eq(r.status, 200, f"GET {path} status")
    check((r.header("content-type") or "").startswith("application/json"), f"{path} content-type")
    j = r.json()
    eq(j.get("object"), "list", f"{path} object")
    data = j.get("data")
    check(isinstance(data, list), f"{path} data is a list")
    eq([m.get("id") for m in data], env.groups, f"{path} ids (one per model group, file order)")
    for m in data:
        eq(m.get("object"), "model", f"{path} model.object")
        eq(m.get("owned_by"), "llmux", f"{path} model.owned_by")
        check(isinstance(m.get("created"), int) and m["created"] > 1_600_000_000,
              f"{path} model.created should be a unix time: {m.get('created')!r}")
    check(r.header("x-llmux-request-id"), f"x-llmux-request-id missing on {path}")


@test
def models_v1(ctx):
    env = shared(ctx)
    _check_models(env, request(env.port, "GET", "/v1/models"), "/v1/models")


@test
def models_without_v1(ctx):
    env = shared(ctx)
    _check_models(env, request(env.port, "GET", "/models"), "/models")


@test
def models_require_master_key(ctx):
    env = shared(ctx)
    for path in ("/v1/models", "/models"):
        r = request(env.port, "GET", path, auth=None)
        check_error(r, 401, "authentication_error", "invalid_api_key", None)
        r = request(env.port, "GET", path, auth="sk-wrong")
        check_error(r, 401, "authentication_error", "invalid_api_key", None)


@test
def auth_missing_key_401(ctx):
    env = shared(ctx)
    for path in ("/v1/chat/completions", "/chat/completions"):
        r = chat(env.port, {"model": "mock-echo", "messages": user_msg("hi")}, path=path, auth=None)
        check_error(r, 401, "authentication_error", "invalid_api_key", None)
        check(r.header("x-llmux-request-id"), "x-llmux-request-id missing on 401")


@test
def auth_wrong_key_401(ctx):
    env = shared(ctx)
    m = marker("wrongkey")
    for hdr in ({"Authorization": "Bearer sk-wrong"}, {"Authorization": f"Bearer {MASTER_KEY}x"},
                {"Authorization": f"Basic {MASTER_KEY}"}, {"Authorization": MASTER_KEY}):
        r = chat(env.port, {"model": "gpt-4o", "messages": user_msg(m)}, auth=None, headers=hdr)
        check_error(r, 401, "authentication_error", "invalid_api_key", None)
    check(not env.mock.find(m), "a request with a wrong key reached the upstream")


@test
def auth_ok_bearer_case_insensitive_header(ctx):
    env = shared(ctx)
    r = chat(env.port, {"model": "mock-echo", "messages": user_msg("hi")}, auth=None,
             headers={"authorization": f"Bearer {MASTER_KEY}"})
    eq(r.status, 200, f"lower-case authorization header: {r.body[:200]!r}")


@test
def chat_headers_model_group_and_deployment(ctx):
    env = shared(ctx)
    cases = [("gpt-4o", "dep-gpt4o-primary"), ("mock-echo", env.deployment_id("mock-echo")),
             ("fast", env.deployment_id("fast"))]
    eq(env.deployment_id("mock-echo"), f"mock-echo/{env.groups.index('mock-echo')}", "fixture sanity")
    for group, dep in cases:
        r = chat(env.port, {"model": group, "messages": user_msg("hi")})
        eq(r.status, 200, f"{group} status ({r.body[:200]!r})")
        eq(r.header("x-llmux-model-group"), group, f"{group}: x-llmux-model-group")
        eq(r.header("x-llmux-deployment"), dep, f"{group}: x-llmux-deployment")
        check(r.header("x-llmux-request-id"), f"{group}: x-llmux-request-id missing")
    # Streams carry them too.
    with Conn(env.port) as c:
        c.request("POST", "/v1/chat/completions", {"model": "gpt-4o", "stream": True, "messages": user_msg("s")})
        h = c.read_head()
        eq(h.status, 200, "stream status")
        eq(h.header("x-llmux-model-group"), "gpt-4o", "stream: x-llmux-model-group")
        eq(h.header("x-llmux-deployment"), "dep-gpt4o-primary", "stream: x-llmux-deployment")
        check(h.header("x-llmux-request-id"), "stream: x-llmux-request-id missing")


@test
def request_id_on_every_response(ctx):
    env = shared(ctx)
    ids = []
    resps = [
        request(env.port, "GET", "/health/liveliness", auth=None),
        request(env.port, "GET", "/health/readiness", auth=None),
        request(env.port, "GET", "/metrics", auth=None),
        request(env.port, "GET", "/v1/models"),
        request(env.port, "GET", "/v1/models", auth=None),  # 401
        request(env.port, "GET", "/v1/nope"),  # 404
        request(env.port, "GET", "/v1/chat/completions"),  # 405
        chat(env.port, b"{not json"),  # 400
        chat(env.port, {"model": "no-such-model", "messages": user_msg("x")}),  # 404
        chat(env.port, {"model": "mock-echo", "messages": user_msg("x")}),  # 200
        chat(env.port, {"model": "fault-500", "messages": user_msg("x")}),  # upstream 500
    ]
    for r in resps:
        rid = r.header("x-llmux-request-id")
        check(rid, f"x-llmux-request-id missing on a {r.status} response: {r.headers}")
        ids.append(rid)
    eq(len(set(ids)), len(ids), "request ids are unique")
