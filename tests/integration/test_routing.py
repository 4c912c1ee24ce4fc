"""Deployment choice inside a model group (weight / rpm / order) and per-deployment retries
(litellm_params.max_retries) with the official SDKs' rules."""
import json
import time

from harness import chat, chat_stream, check, eq, marker, test, user_msg
from harness import mock_dep as _dep


def _upstream_models(mock, m):
    return [json.loads(r.body)["model"] for r in mock.find(m)]


@test
def routing_weights_order_and_rpm(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("weighted", mock, "gpt-w3", weight=3), _dep("weighted", mock, "gpt-w1", weight=1),
        _dep("byrpm", mock, "gpt-r100", rpm=100), _dep("byrpm", mock, "gpt-r300", rpm=300),
        _dep("ordered", mock, "gpt-backup", order=2), _dep("ordered", mock, "gpt-primary", order=1),
        _dep("ordered", mock, "gpt-unordered"),
        _dep("plain", mock, "gpt-a"), _dep("plain", mock, "gpt-b")],
        "llmux_settings": {"workers": 1, "access_log": ""}})
    m = marker("route")
    for group in ("weighted", "byrpm", "ordered", "plain"):
        for _ in range(40):
            eq(chat(gw.port, {"model": group, "messages": user_msg("x"), "user": m}).status, 200, group)
    seen = _upstream_models(mock, m)
    count = {k: seen.count(k) for k in set(seen)}
    eq((count.get("gpt-w3"), count.get("gpt-w1")), (30, 10), "weight 3:1")
    eq((count.get("gpt-r300"), count.get("gpt-r100")), (30, 10), "rpm as weight (no weight set)")
    eq((count.get("gpt-primary"), count.get("gpt-backup"), count.get("gpt-unordered")), (40, None, None),
       "lowest order first")
    eq((count.get("gpt-a"), count.get("gpt-b")), (20, 20), "equal shares")


@test
def retries_on_5xx_then_success(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("r", mock, "gpt-4o-mini", max_retries=2),
                                     _dep("n", mock, "gpt-4o-mini")],
                      "llmux_settings": {"access_log": ""}})
    m = marker("retry")
    mock.set_fault("gpt-fault-500", 2)
    t0 = time.monotonic()
    r = chat(gw.port, {"model": "r", "messages": user_msg("x"), "user": m}, timeout=20)
    eq(r.status, 200, f"third attempt succeeds ({r.body[:200]!r})")
    eq(len(mock.find(m)), 3, "attempts made upstream")
    check(time.monotonic() - t0 >= 0.7, "backoff waited between attempts (0.5 s, then 1 s, minus jitter)")
    # Without max_retries the first 5xx is the answer.
    m2 = marker("noretry")
    mock.set_fault("gpt-fault-503", 1)
    r = chat(gw.port, {"model": "n", "messages": user_msg("x"), "user": m2})
    eq(r.status, 503, "no retries by default")
    eq(len(mock.find(m2)), 1, "one attempt")
    # Streams retry too, as long as nothing was sent to the client yet.
    m3 = marker("retry-stream")
    mock.set_fault("gpt-fault-502", 1)
    s = chat_stream(gw.port, {"model": "r", "stream": True, "messages": user_msg("x"), "user": m3}, timeout=20)
    eq(s.resp.status, 200, "stream after a retried 502")
    check(s.data and s.data[-1] == "[DONE]", "stream completed")
    eq(len(mock.find(m3)), 2, "stream attempts")


@test
def retries_respect_quota_and_deadline(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("r", mock, "gpt-4o-mini", max_retries=3, timeout=3)],
                      "llmux_settings": {"access_log": ""}})
    m = marker("quota")
    mock.set_fault("gpt-fault-429-quota", 1)
    r = chat(gw.port, {"model": "r", "messages": user_msg("x"), "user": m})
    eq(r.status, 429, "insufficient_quota is not retried")
    eq(len(mock.find(m)), 1, "one attempt for an exhausted quota")
    # Retry-After: 7 does not fit in the 3 s budget: the 429 is answered at once, not after 7 s.
    m2 = marker("ra")
    mock.set_fault("gpt-fault-429", 1)
    t0 = time.monotonic()
    r = chat(gw.port, {"model": "r", "messages": user_msg("x"), "user": m2})
    eq(r.status, 429, "rate limited")
    eq(r.header("retry-after"), "7", "Retry-After passed to the client")
    check(time.monotonic() - t0 < 2.5, "no wait that cannot fit in the deadline")
    eq(len(mock.find(m2)), 1, "one attempt")
    # A connect failure is retried (and fails again: nothing listens there).
    m3 = marker("conn")
    gw2 = ctx.gateway({"model_list": [{"model_name": "down", "litellm_params": {
        "model": "openai/x", "api_base": "http://127.0.0.1:9/v1", "max_retries": 1}}],
        "llmux_settings": {"access_log": ""}}, name="llmux-down")
    t0 = time.monotonic()
    r = chat(gw2.port, {"model": "down", "messages": user_msg("x"), "user": m3})
    eq(r.status, 502, "connect failure after the retry")
    check(time.monotonic() - t0 >= 0.3, "one backoff before the retry")
