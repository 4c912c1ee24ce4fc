"""Deployment cooldowns shared by several instances through Redis (issue 5: "Redis ... for the
counters all instances share (... cooldowns ...)"): a deployment one instance cools down is skipped
by the others within the sync interval, and comes back when the cooldown ends."""
import json
import time

import services
from harness import chat, check, eq, marker, poll, request, test, user_msg
from harness import mock_dep as _dep
from harness import routing_settings as _quiet


def _models(mock, m):
    return [json.loads(r.body)["model"] for r in mock.find(m)]


@test
def gov_cooldowns_shared_between_instances(ctx):
    redis = services.private_redis(ctx)
    mock = ctx.mock()
    settings = _quiet(router={"cooldown_time": 30})
    settings["router_settings"].update({"redis_host": "127.0.0.1", "redis_port": redis.port})
    config = {"model_list": [_dep("g", mock, "gpt-a", order=1), _dep("g", mock, "gpt-b", order=2)],
              **settings}
    a = ctx.gateway(config, name="llmux-a")
    b = ctx.gateway(config, name="llmux-b")
    # Before: instance b uses its first choice.
    m0 = marker("before")
    eq(chat(b.port, {"model": "g", "messages": user_msg("x"), "user": m0}).status, 200, "answered")
    eq(_models(mock, m0), ["gpt-a"], "b's first choice")
    # Instance a meets a 429 with Retry-After: 4 on gpt-a: a 4 s cooldown, published to Redis.
    mock.set_fault("gpt-fault-429-ra4", 1, model="gpt-a")
    m1 = marker("cool")
    eq(chat(a.port, {"model": "g", "messages": user_msg("x"), "user": m1}).status, 200, "a fails over")
    eq(_models(mock, m1), ["gpt-a", "gpt-b"], "a cooled gpt-a down")
    key = "{llmux:cooldown}:g/0"
    poll(lambda: redis.command("GET", key) is not None, timeout=3, what="the cooldown published")
    ttl = redis.command("PTTL", key)
    check(1000 < ttl <= 4000, f"the Redis key expires with the cooldown ({ttl} ms)")
    # b adopts it within its sync interval and skips gpt-a without trying it.
    time.sleep(1.2)
    m2 = marker("shared")
    for _ in range(3):
        eq(chat(b.port, {"model": "g", "messages": user_msg("x"), "user": m2}).status, 200, "answered")
    eq(_models(mock, m2), ["gpt-b"] * 3, "b skips the deployment a cooled down")
    h = request(b.port, "GET", "/health").json()
    cool = {e["model_id"]: e.get("cooldown_remaining_s") for e in h["healthy_endpoints"] + h["unhealthy_endpoints"]}
    check((cool.get("g/0") or 0) > 0 and cool.get("g/1") == 0, f"b's /health shows g/0 cooling down ({cool})")
    # After the cooldown both use gpt-a again.
    time.sleep(3.5)
    m3 = marker("after")
    eq(chat(b.port, {"model": "g", "messages": user_msg("x"), "user": m3}).status, 200, "answered")
    eq(_models(mock, m3), ["gpt-a"], "first choice again after the shared cooldown")
