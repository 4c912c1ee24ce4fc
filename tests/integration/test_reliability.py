"""Retries across a group's deployments, cooldowns, fallbacks (generic, context window, content policy,
default, per request), timeouts and the final error that lists every attempt, driven by the
fault-injecting mock upstream (per-model fault queues)."""
import json
import time

from harness import (Bg, chat, chat_stream, check, check_error, eq, marker, test,
                     user_msg)
from harness import mock_dep as _dep
from harness import routing_settings as _quiet


def _models(mock, m):
    return [json.loads(r.body)["model"] for r in mock.find(m)]


@test
def retry_goes_to_another_deployment_at_once(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-a", order=1), _dep("g", mock, "gpt-b", order=2)],
                      **_quiet()})
    mock.set_fault("gpt-fault-500", 1, model="gpt-a")
    m = marker("retry-other")
    t0 = time.monotonic()
    r = chat(gw.port, {"model": "g", "messages": user_msg("x"), "user": m})
    eq(r.status, 200, f"second deployment answers ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-a", "gpt-b"], "first choice, then the other deployment")
    eq(r.header("x-llmux-attempts"), "2", "attempts header")
    eq(r.header("x-llmux-deployment"), "g/1", "answering deployment")
    eq(r.header("x-llmux-fallback-used"), "false", "same group: no fallback")
    check(time.monotonic() - t0 < 0.4, "no backoff when another deployment is available")


@test
def single_deployment_retries_with_backoff_by_default(ctx):
    # LiteLLM's default num_retries is 2: a lone deployment gets three attempts, with backoff.
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("solo", mock, "gpt-solo"), _dep("none", mock, "gpt-none")],
                      **_quiet(router={"model_group_retry_policy": {"none": {"InternalServerErrorRetries": 0}}})})
    mock.queue_faults("gpt-solo", ["gpt-fault-503", "gpt-fault-429-ra1"])
    m = marker("solo")
    t0 = time.monotonic()
    r = chat(gw.port, {"model": "solo", "messages": user_msg("x"), "user": m}, timeout=20)
    eq(r.status, 200, f"third attempt answers ({r.body[:300]!r})")
    eq(len(mock.find(m)), 3, "three attempts")
    eq(r.header("x-llmux-attempts"), "3", "attempts header")
    dt = time.monotonic() - t0
    check(dt >= 1.3, f"waited 0.5 s backoff then Retry-After 1 s (took {dt:.2f} s)")
    # A retry policy of 0 for the class: the first 5xx is the answer.
    mock.set_fault("gpt-fault-503", 1, model="gpt-none")
    m2 = marker("none")
    r = chat(gw.port, {"model": "none", "messages": user_msg("x"), "user": m2})
    eq(r.status, 503, "no retry under the group's retry policy")
    eq(len(mock.find(m2)), 1, "one attempt")


@test
def rate_limited_deployment_cools_down_and_recovers(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-a", order=1), _dep("g", mock, "gpt-b", order=2)],
                      **_quiet()})
    # 429 with Retry-After: 2 -> cooldown for 2 s (the provider's wait), traffic goes to gpt-b.
    mock.set_fault("gpt-fault-429-ra2", 1, model="gpt-a")
    m = marker("cool")
    for _ in range(5):
        eq(chat(gw.port, {"model": "g", "messages": user_msg("x"), "user": m}).status, 200, "answered")
    eq(_models(mock, m), ["gpt-a"] + ["gpt-b"] * 5, "gpt-a skipped while cooling down")
    time.sleep(2.3)
    m2 = marker("recovered")
    eq(chat(gw.port, {"model": "g", "messages": user_msg("x"), "user": m2}).status, 200, "answered")
    eq(_models(mock, m2), ["gpt-a"], "first choice again after the cooldown")


@test
def every_deployment_cooling_down_is_a_clear_429(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("busy", mock, "gpt-a"), _dep("busy", mock, "gpt-b")],
                      **_quiet(router={"cooldown_time": 30})})
    mock.set_fault("gpt-fault-429-nora", 1, model="gpt-a")
    mock.set_fault("gpt-fault-429-nora", 1, model="gpt-b")
    m = marker("allcool")
    r = chat(gw.port, {"model": "busy", "messages": user_msg("x"), "user": m})
    eq(r.status, 429, "both deployments rate limited")
    err = r.json()["error"]
    eq(sorted(a["deployment"] for a in err["attempts"]), ["busy/0", "busy/1"], "each attempt listed")
    check("All 2 attempts" in err["message"], f"message says how many attempts ({err['message']!r})")
    # Now both are cooling down: no upstream call, a 429 naming the group and when to come back.
    m2 = marker("allcool2")
    r = chat(gw.port, {"model": "busy", "messages": user_msg("x"), "user": m2})
    check_error(r, 429, "rate_limit_error", code="no_deployments_available",
                msg_contains="model group 'busy'")
    ra = int(r.header("retry-after"))
    check(25 <= ra <= 30, f"Retry-After is the remaining cooldown ({ra})")
    check(f"Try again in {ra} second" in r.json()["error"]["message"], "message names the wait")
    eq(len(mock.find(m2)), 0, "no upstream call")


@test
def config_fallbacks_by_error_kind(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("main", mock, "gpt-main"), _dep("backup", mock, "gpt-backup"),
        _dep("big", mock, "gpt-big-ctx"), _dep("safe", mock, "gpt-safe"),
        _dep("small", mock, "gpt-small", info={"max_input_tokens": 20}),
        _dep("other", mock, "gpt-other"), _dep("last", mock, "gpt-last")],
        **_quiet(router={"num_retries": 0, "fallbacks": [{"main": ["backup"]}, {"small": ["backup"]}],
                         "context_window_fallbacks": [{"main": ["big"]}, {"small": ["big"]}],
                         "content_policy_fallbacks": [{"main": ["safe"]}],
                         "default_fallbacks": ["last"]})})
    # Generic failure -> fallbacks.
    mock.set_fault("gpt-fault-500", 1, model="gpt-main")
    m = marker("fb")
    r = chat(gw.port, {"model": "main", "messages": user_msg("x"), "user": m})
    eq(r.status, 200, f"fallback answers ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-main", "gpt-backup"], "main, then its fallback")
    eq(r.header("x-llmux-fallback-used"), "true", "fallback header")
    eq(r.header("x-llmux-model-group"), "backup", "answering group")
    # Context window error -> context_window_fallbacks (not the generic list).
    mock.set_fault("gpt-context-length", 1, model="gpt-main")
    m = marker("ctx")
    r = chat(gw.port, {"model": "main", "messages": user_msg("x"), "user": m})
    eq(r.status, 200, "context fallback answers")
    eq(_models(mock, m), ["gpt-main", "gpt-big-ctx"], "context-window fallback")
    # Content policy -> content_policy_fallbacks.
    mock.set_fault("gpt-content-policy", 1, model="gpt-main")
    m = marker("cp")
    r = chat(gw.port, {"model": "main", "messages": user_msg("x"), "user": m})
    eq(_models(mock, m), ["gpt-main", "gpt-safe"], "content-policy fallback")
    # A prompt longer than the deployment's context window goes to the context fallback before any call.
    m = marker("precall")
    r = chat(gw.port, {"model": "small", "messages": user_msg("x " * 400), "user": m})
    eq(r.status, 200, f"pre-call context fallback ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-big-ctx"], "the small model is never called")
    # default_fallbacks for a group without its own list.
    mock.set_fault("gpt-fault-502", 1, model="gpt-other")
    m = marker("default")
    r = chat(gw.port, {"model": "other", "messages": user_msg("x"), "user": m})
    eq(_models(mock, m), ["gpt-other", "gpt-last"], "default fallbacks")


@test
def request_fallbacks_retries_timeout_and_mock_switches(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-ra"), _dep("b", mock, "gpt-rb"),
                                     _dep("c", mock, "gpt-rc")],
                      **_quiet(router={"fallbacks": [{"a": ["c"]}]})})
    # Body fallbacks replace the configured ones; num_retries 0 means one attempt per group.
    mock.set_fault("gpt-fault-500", 3, model="gpt-ra")
    m = marker("bodyfb")
    r = chat(gw.port, {"model": "a", "messages": user_msg("x"), "user": m, "fallbacks": ["b"],
                       "num_retries": 0})
    eq(r.status, 200, "body fallback answers")
    eq(_models(mock, m), ["gpt-ra", "gpt-rb"], "body fallbacks, no retry")
    mock.clear_faults()
    for r_ in mock.find(m):
        check("fallbacks" not in json.loads(r_.body) and "num_retries" not in json.loads(r_.body),
              "routing fields are not sent upstream")
    # mock_testing_fallbacks: the first group fails without being called.
    m = marker("mocktest")
    r = chat(gw.port, {"model": "a", "messages": user_msg("x"), "user": m, "mock_testing_fallbacks": True})
    eq(r.status, 200, "fallback answers")
    eq(_models(mock, m), ["gpt-rc"], "configured fallback only")
    m = marker("mockctx")
    r = chat(gw.port, {"model": "a", "messages": user_msg("x"), "user": m,
                       "mock_testing_context_fallbacks": True, "context_window_fallbacks": [{"a": ["b"]}]})
    eq(_models(mock, m), ["gpt-rb"], "context-window fallback from the body")
    # disable_fallbacks: the error is the answer.
    m = marker("nofb")
    r = chat(gw.port, {"model": "a", "messages": user_msg("x"), "user": m, "mock_testing_fallbacks": True,
                       "disable_fallbacks": True})
    check_error(r, 500, msg_contains="mock_testing_fallbacks")
    # timeout in the body: a hanging upstream fails over after it.
    mock.set_fault("gpt-hang", 1, model="gpt-ra")
    m = marker("timeout")
    t0 = time.monotonic()
    r = chat(gw.port, {"model": "a", "messages": user_msg("x"), "user": m, "timeout": 0.5,
                       "num_retries": 0}, timeout=20)
    eq(r.status, 200, f"fallback after the timeout ({r.body[:300]!r})")
    check(time.monotonic() - t0 < 3, "the timeout was the request's")
    eq(_models(mock, m), ["gpt-ra", "gpt-rc"], "timed out, then fallback")


@test
def invalid_routing_input_is_a_400(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-a")], **_quiet()})
    for body, param in [({"fallbacks": "b"}, "fallbacks"), ({"num_retries": -1}, "num_retries"),
                        ({"num_retries": 99}, "num_retries"), ({"timeout": "soon"}, "timeout"),
                        ({"models": [1]}, "models[0]"), ({"fallbacks": [{"a": 3}]}, "fallbacks")]:
        r = chat(gw.port, {"model": "a", "messages": user_msg("x"), **body})
        check_error(r, 400, "invalid_request_error", code="invalid_routing", param=param)


@test
def every_attempt_is_listed_when_all_fail(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-x1"), _dep("g", mock, "gpt-x2"),
                                     _dep("fb", mock, "gpt-x3")],
                      **_quiet(router={"num_retries": 1, "fallbacks": [{"g": ["fb"]}]})})
    mock.set_fault("gpt-fault-500", 5, model="gpt-x1")
    mock.set_fault("gpt-fault-503", 5, model="gpt-x2")
    mock.set_fault("gpt-fault-429-nora", 5, model="gpt-x3")
    m = marker("allfail")
    r = chat(gw.port, {"model": "g", "messages": user_msg("x"), "user": m})
    err = r.json()["error"]
    check(r.status in (500, 503), f"the first group's error is the answer ({r.status})")
    got = [(a["deployment"], a["status"]) for a in err["attempts"]]
    # The group's two deployments, then the fallback group's one deployment with its own retry.
    eq(sorted(got[:2]), [("g/0", 500), ("g/1", 503)], "the group's attempts")
    eq(got[2:], [("fb/2", 429), ("fb/2", 429)], "the fallback's attempts")
    eq(r.header("x-llmux-attempts"), "4", "attempts header")
    eq(r.header("x-llmux-fallback-used"), "true", "a fallback was tried")


@test
def stream_fails_over_before_the_first_byte_only(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("s", mock, "gpt-s1", order=1, stream_timeout=0.5),
                                     _dep("s", mock, "gpt-s2", order=2),
                                     _dep("t", mock, "gpt-t1", order=1), _dep("t", mock, "gpt-t2", order=2)],
                      **_quiet(router={"num_retries": 1})})
    # No first chunk within stream_timeout: the other deployment streams the answer.
    mock.set_fault("gpt-slow-stream-first-byte-3000", 1, model="gpt-s1")
    m = marker("st")
    res = chat_stream(gw.port, {"model": "s", "messages": user_msg("x"), "stream": True, "user": m})
    eq(res.resp.status, 200, "stream answered")
    check(res.done, "complete stream")
    eq(res.resp.header("x-llmux-deployment"), "s/1", "by the second deployment")
    eq(_models(mock, m), ["gpt-s1", "gpt-s2"], "failover before the first byte")
    # Reset before any answer: fails over too.
    mock.set_fault("gpt-reset-before-headers", 1, model="gpt-s1")
    m = marker("rst")
    res = chat_stream(gw.port, {"model": "s", "messages": user_msg("x"), "stream": True, "user": m})
    check(res.done, "complete stream after the reset")
    # A reset after content reached the client: a final SSE error event, no failover.
    # (gpt-s1 is cooling down now: one failure and no success this minute. Group t is fresh.)
    mock.set_fault("gpt-reset-mid-stream", 1, model="gpt-t1")
    m = marker("mid")
    res = chat_stream(gw.port, {"model": "t", "messages": user_msg("x"), "stream": True, "user": m})
    eq(res.resp.status, 200, "stream had begun")
    check(not res.done, "no [DONE]")
    last = res.json_chunks()[-1]
    check("error" in last, f"final event is an error ({last})")
    eq(_models(mock, m), ["gpt-t1"], "no second attempt once bytes were sent")


@test
def deployment_limits_are_enforced(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("par", mock, "gpt-slow-first-byte-800", max_parallel_requests=1),
        _dep("rpm", mock, "gpt-rpm", rpm=3)], **_quiet(router={"num_retries": 0})})
    # max_parallel_requests: 1 -> the second concurrent request is refused, not queued upstream.
    m = marker("par")
    first = Bg(chat, gw.port, {"model": "par", "messages": user_msg("x"), "user": m}, timeout=20)
    time.sleep(0.3)
    r = chat(gw.port, {"model": "par", "messages": user_msg("x"), "user": m})
    check_error(r, 429, "rate_limit_error", code="rate_limit_exceeded", msg_contains="'par'")
    eq(first.join(20).status, 200, "the first one completes")
    eq(len(mock.find(m)), 1, "one upstream call")
    # rpm: 3 per minute (counted per wall-clock minute: keep clear of a minute boundary).
    if time.time() % 60 > 50:
        time.sleep(60.5 - time.time() % 60)
    codes = [chat(gw.port, {"model": "rpm", "messages": user_msg("x")}).status for _ in range(5)]
    eq(codes, [200, 200, 200, 429, 429], "three admitted, the rest refused this minute")


@test
def overloaded_529_fails_over_and_retry_after_ms_is_honoured(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-o1", order=1), _dep("g", mock, "gpt-o2", order=2),
                                     _dep("solo", mock, "gpt-ms")], **_quiet()})
    # Anthropic-style 529 overloaded: another deployment answers at once (stream, before any byte).
    mock.set_fault("gpt-fault-529", 1, model="gpt-o1")
    m = marker("529")
    res = chat_stream(gw.port, {"model": "g", "messages": user_msg("x"), "stream": True, "user": m})
    check(res.done, "complete stream from the other deployment")
    eq(_models(mock, m), ["gpt-o1", "gpt-o2"], "529, then the other deployment")
    # retry-after-ms on the only deployment: the retry waits that long (not the 0.5 s backoff).
    mock.set_fault("gpt-fault-429-ms1200", 1, model="gpt-ms")
    m = marker("ms")
    t0 = time.monotonic()
    r = chat(gw.port, {"model": "solo", "messages": user_msg("x"), "user": m})
    dt = time.monotonic() - t0
    eq(r.status, 200, "the retry answers")
    eq(len(mock.find(m)), 2, "two attempts")
    check(1.15 <= dt <= 2.5, f"waited retry-after-ms 1200 plus jitter ({dt:.2f} s)")


@test
def request_stream_timeout_shortens_but_never_lengthens(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("s", mock, "gpt-q1", order=1, stream_timeout=0.6),
                                     _dep("s", mock, "gpt-q2", order=2)],
                      **_quiet(router={"disable_cooldowns": True})})
    # The request's stream_timeout (0.4 s) is shorter than the deployment's: it applies.
    mock.set_fault("gpt-slow-stream-first-byte-1500", 1, model="gpt-q1")
    m = marker("short")
    t0 = time.monotonic()
    res = chat_stream(gw.port, {"model": "s", "messages": user_msg("x"), "stream": True, "user": m,
                                "stream_timeout": 0.4})
    check(res.done, "the other deployment streamed the answer")
    eq(_models(mock, m), ["gpt-q1", "gpt-q2"], "failover after the request's stream_timeout")
    check(time.monotonic() - t0 < 1.4, "within the request's shorter limit")
    # A longer one does not lengthen the deployment's 0.6 s.
    mock.set_fault("gpt-slow-stream-first-byte-1500", 1, model="gpt-q1")
    m = marker("long")
    res = chat_stream(gw.port, {"model": "s", "messages": user_msg("x"), "stream": True, "user": m,
                                "stream_timeout": 30})
    check(res.done, "answered")
    eq(_models(mock, m), ["gpt-q1", "gpt-q2"], "the deployment's limit still applied")
