"""Upstream failures after a stream started: the client gets data: {"error":...} and no [DONE]."""
import json
import time

from harness import Conn, chat_stream, check, eq, eq_seq, marker, read_stream, slow_factor, test, user_msg
from shared_env import shared


def _check_error_end(r, rec_events, what, min_before=1):
    eq(r.resp.status, 200, f"{what}: the stream had started (status)")
    check(not (r.error or "").startswith("TimeoutError"), f"{what}: the client stream must end, not hang: "
                                                          f"{r.describe()}")
    check(r.ended, f"{what}: the chunked response should end properly (terminal 0-chunk), not by dropping the "
                   f"connection: {r.describe()}")
    check(not r.done, f"{what}: no [DONE] after an upstream failure: {r.describe()}")
    data = r.data
    check(data, f"{what}: no events at all: {r.describe()}")
    last = data[-1]
    try:
        j = json.loads(last)
    except ValueError:
        raise AssertionError(f"{what}: last event is not JSON: {last!r}")
    check(isinstance(j.get("error"), dict), f"{what}: last event should be {{\"error\":{{...}}}}: {last!r}")
    e = j["error"]
    check(isinstance(e.get("message"), str) and e["message"], f"{what}: error.message: {e!r}")
    check("type" in e, f"{what}: error.type: {e!r}")
    before = data[:-1]
    check(len(before) >= min_before, f"{what}: events sent before the failure were not relayed: {data!r}")
    eq_seq(before, rec_events[:len(before)], f"{what}: events before the failure relayed intact")
    return e


@test
def stream_upstream_reset_mid_stream(ctx):
    env = shared(ctx)
    m = marker("reset")
    r = chat_stream(env.port, {"model": "reset", "stream": True, "messages": user_msg("x"), "user": m})
    rec = env.mock.wait_request(m)
    _check_error_end(r, rec.events, "upstream RST mid-stream", min_before=3)


@test
def stream_upstream_eof_mid_event(ctx):
    env = shared(ctx)
    m = marker("eof")
    r = chat_stream(env.port, {"model": "eof-mid", "stream": True, "messages": user_msg("x"), "user": m})
    rec = env.mock.wait_request(m)
    _check_error_end(r, rec.events, "upstream FIN mid-event", min_before=3)


@test
def stream_upstream_truncated_without_done(ctx):
    env = shared(ctx)
    m = marker("trunc")
    r = chat_stream(env.port, {"model": "truncated", "stream": True, "messages": user_msg("x"), "user": m})
    rec = env.mock.wait_request(m)
    _check_error_end(r, rec.events, "upstream body ended without [DONE]", min_before=3)


@test
def stream_upstream_error_event(ctx):
    env = shared(ctx)
    m = marker("errmid")
    r = chat_stream(env.port, {"model": "error-mid", "stream": True, "messages": user_msg("x"), "user": m})
    rec = env.mock.wait_request(m, done=True)
    e = _check_error_end(r, rec.events, "upstream error event", min_before=3)
    eq(e.get("message"), "The server had an error while processing your request.", "upstream error message kept")


@test
def stream_idle_timeout_per_deployment(ctx):
    env = shared(ctx)
    m = marker("stall")
    t0 = time.monotonic()
    r = chat_stream(env.port, {"model": "stall", "stream": True, "messages": user_msg("x"), "user": m}, timeout=6)
    el = time.monotonic() - t0
    rec = env.mock.wait_request(m)
    _check_error_end(r, rec.events, "stream idle timeout", min_before=3)
    check(0.6 <= el <= 6 * slow_factor(), f"stream ended after {el:.2f}s with stream_idle_timeout_ms: 700")
    env.mock.wait_close(rec.seq, timeout=5)  # and the stalled upstream connection is given up


@test
def stream_idle_timeout_global(ctx):
    """llmux_settings.stream_idle_timeout_ms applies when the deployment does not set one."""
    mock = ctx.mock()
    gw = ctx.gateway({
        "model_list": [{"model_name": "stall", "litellm_params": {
            "model": "openai/gpt-stream-stall", "api_base": mock.base_url, "api_key": "k"}}],
        "llmux_settings": {"stream_idle_timeout_ms": 600, "access_log": ""}})
    m = marker("gstall")
    t0 = time.monotonic()
    r = chat_stream(gw.port, {"model": "stall", "stream": True, "messages": user_msg("x"), "user": m}, auth=None)
    el = time.monotonic() - t0
    rec = mock.wait_request(m)
    _check_error_end(r, rec.events, "global stream idle timeout", min_before=3)
    check(0.5 <= el <= 6 * slow_factor(), f"stream ended after {el:.2f}s with stream_idle_timeout_ms: 600")


@test
def client_disconnect_mid_stream_cancels_upstream(ctx):
    env = shared(ctx)
    m = marker("disc")
    c = Conn(env.port)
    c.request("POST", "/v1/chat/completions", {"model": "slow-stream", "stream": True, "messages": user_msg("x"),
                                               "user": m})
    h = c.read_head()
    eq(h.status, 200, "status")
    got = []
    for piece in c.iter_body(h):
        got.append(piece)
        if b"tick1" in b"".join(got):
            break
    rec = env.mock.wait_request(m)
    t0 = time.monotonic()
    c.abort()
    close = env.mock.wait_close(rec.seq, timeout=5 * slow_factor())
    check(close["in_progress"], f"the upstream stream should still have been running: {close}")
    ctx.note(f"upstream closed {close['t'] - t0:.3f}s after the client left ({close['reason']})")


@test
def client_disconnect_non_stream_cancels_upstream(ctx):
    env = shared(ctx)
    m = marker("discns")
    c = Conn(env.port)
    c.request("POST", "/v1/chat/completions", {"model": "hang", "messages": user_msg("x"), "user": m})
    rec = env.mock.wait_request(m)
    c.close()
    close = env.mock.wait_close(rec.seq, timeout=5 * slow_factor())
    check(close["in_progress"], f"upstream request should have been in progress: {close}")


@test
def stream_after_fault_connection_reusable(ctx):
    """After a failed stream the gateway still serves the next request (on the same client connection if kept)."""
    env = shared(ctx)
    with Conn(env.port) as c:
        c.request("POST", "/v1/chat/completions", {"model": "reset", "stream": True, "messages": user_msg("x")})
        h = c.read_head()
        r = read_stream(c, h)
        if r.done:
            ctx.note("the reset stream ended with [DONE] (stream_upstream_reset_mid_stream covers that)")
        if r.ended and not c.eof and (h.header("connection") or "").lower() != "close":
            c.request("POST", "/v1/chat/completions", {"model": "mock-echo", "messages": user_msg("again")})
            r2 = c.read_response()
            eq(r2.status, 200, "next request on the same connection")
        else:
            ctx.note("gateway closed the client connection after the failed stream")
    with Conn(env.port) as c:
        c.request("POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": user_msg("again")})
        eq(c.read_response().status, 200, "fresh connection after a failed stream")
