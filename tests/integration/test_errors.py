"""Every row of the error table."""
import json
import threading
import time

from harness import (MASTER_KEY, Conn, ConnectionClosed, build_request, chat, chat_stream, check, check_error, eq,
                     marker, request, slow_factor, test, user_msg)
from shared_env import shared

MSGS = user_msg("hi")


@test
def err_invalid_json(ctx):
    env = shared(ctx)
    for body in (b'{"model": "mock-echo", "messages": [', b"not json at all", b'{"model":"mock-echo",}', b""):
        r = chat(env.port, body)
        check_error(r, 400, "invalid_request_error")


@test
def err_body_not_object(ctx):
    env = shared(ctx)
    for body in (b"[1,2]", b'"str"', b"42", b"null"):
        r = chat(env.port, body)
        check_error(r, 400, "invalid_request_error")


@test
def err_bad_utf8(ctx):
    env = shared(ctx)
    body = b'{"model":"mock-echo","messages":[{"role":"user","content":"bad \xff\xfe \xc3"}]}'
    r = chat(env.port, body)
    check_error(r, 400, "invalid_request_error", msg_contains="utf")


@test
def err_model_missing_or_wrong(ctx):
    env = shared(ctx)
    for obj in ({"messages": MSGS}, {"model": 42, "messages": MSGS}, {"model": None, "messages": MSGS},
                {"model": ["gpt-4o"], "messages": MSGS}, {"model": "", "messages": MSGS}):
        r = chat(env.port, obj)
        check_error(r, 400, "invalid_request_error", param="model")


@test
def err_messages_wrong(ctx):
    env = shared(ctx)
    for msgs in ("__missing__", "hi", {"role": "user"}, [], [5], [{"content": "no role"}], [{"role": 5}],
                 [{"role": "user", "content": "ok"}, {"role": None}]):
        obj = {"model": "mock-echo"}
        if msgs != "__missing__":
            obj["messages"] = msgs
        r = chat(env.port, obj)
        check_error(r, 400, "invalid_request_error", param="messages")


@test
def err_stream_fields_wrong_type(ctx):
    env = shared(ctx)
    r = chat(env.port, {"model": "mock-echo", "messages": MSGS, "stream": "yes"})
    check_error(r, 400, "invalid_request_error", param="stream")
    r = chat(env.port, {"model": "mock-echo", "messages": MSGS, "stream": 1})
    check_error(r, 400, "invalid_request_error", param="stream")
    r = chat(env.port, {"model": "mock-echo", "messages": MSGS, "stream": True, "stream_options": "x"})
    check_error(r, 400, "invalid_request_error", param="stream_options")
    r = chat(env.port, {"model": "mock-echo", "messages": MSGS, "stream": True,
                        "stream_options": {"include_usage": "yes"}})
    e = check_error(r, 400, "invalid_request_error")
    check(str(e["param"]).startswith("stream_options"), f"param should name stream_options: {e!r}")


@test
def err_unknown_model_lists_groups(ctx):
    env = shared(ctx)
    m = marker("nomodel")
    r = chat(env.port, {"model": "no-such-model-" + m, "messages": MSGS})
    e = check_error(r, 404, code="model_not_found")
    for g in env.groups:
        check(g in e["message"], f"404 message should list available group {g!r}: {e['message']!r}")


def _send_bg(conn, data, chunk=16384, delay=0.0):
    """Sends in a background thread so the test can read an early response; errors are swallowed."""
    def run():
        try:
            for i in range(0, len(data), chunk):
                conn.sock.sendall(data[i:i + chunk])
                if delay:
                    time.sleep(delay)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@test
def err_body_too_large_413(ctx):
    env = shared(ctx)
    big = '{"model":"mock-echo","messages":[{"role":"user","content":"' + "x" * 300_000 + '"}]}'
    with Conn(env.port) as c:
        raw = build_request("POST", "/v1/chat/completions", big.encode())
        _send_bg(c, raw)
        try:
            r = c.read_response()
        except ConnectionClosed as ex:
            raise AssertionError(f"connection dropped without a 413 response ({ex}); the gateway should send "
                                 "the response and drain/linger before closing")
        check_error(r, 413, code="request_too_large")


@test
def err_body_too_large_by_content_length(ctx):
    """A declared Content-Length over max_body_bytes is rejected at once (no waiting for the body)."""
    env = shared(ctx)
    with Conn(env.port) as c:
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
                "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{\"model\":")
        t0 = time.monotonic()
        c.send(head)
        r = c.read_response(timeout=5)
        check_error(r, 413, code="request_too_large")
        el = time.monotonic() - t0
        check(el < 0.9 * slow_factor(), f"413 took {el:.2f}s; expected before body_timeout_ms (1s)")


@test
def err_headers_too_large_431(ctx):
    env = shared(ctx)
    with Conn(env.port) as c:
        c.request("GET", "/v1/models", headers={"X-Big": "a" * 10000})
        try:
            r = c.read_response()
        except ConnectionClosed as ex:
            raise AssertionError(f"no 431 response: {ex}")
        eq(r.status, 431, f"status ({r.body[:200]!r})")
        check(c.wait_closed(5), "connection should be closed after 431")
    # Many small headers adding up over the limit count too.
    with Conn(env.port) as c:
        c.request("GET", "/v1/models", headers=[(f"X-H{i}", "v" * 90) for i in range(120)])
        r = c.read_response()
        eq(r.status, 431, "many headers over max_header_bytes")
        check(c.wait_closed(5), "connection should be closed after 431")


@test
def err_malformed_http_400(ctx):
    env = shared(ctx)
    bad = [b"THIS IS NOT HTTP\r\n\r\n",
           b"GET /health/liveliness HTTP/1.1\r\nNoColonHere\r\n\r\n",
           b"GET /health/liveliness HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
           b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
           b"GET  HTTP/1.1\r\n\r\n"]
    for raw in bad:
        with Conn(env.port) as c:
            c.send(raw)
            try:
                r = c.read_response(timeout=5)
            except ConnectionClosed as ex:
                raise AssertionError(f"{raw!r}: no 400 response ({ex})")
            eq(r.status, 400, f"status for {raw!r}")
            check(c.wait_closed(5), f"connection should be closed after 400 for {raw!r}")


@test
def err_body_timeout_408(ctx):
    env = shared(ctx)
    with Conn(env.port) as c:
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":\"mock-echo\"")
        t0 = time.monotonic()
        c.send(head)
        try:
            r = c.read_response(timeout=10)
        except ConnectionClosed as ex:
            raise AssertionError(f"no 408 response ({ex})")
        el = time.monotonic() - t0
        eq(r.status, 408, f"status ({r.body[:200]!r})")
        check(0.8 <= el <= 5 * slow_factor(), f"408 after {el:.2f}s, expected about body_timeout_ms=1000")
        check(c.wait_closed(5), "connection should be closed after 408")


@test
def err_unknown_path_404(ctx):
    env = shared(ctx)
    for method, path in (("GET", "/v1/nope"), ("POST", "/v1/embeddingz"), ("GET", "/"), ("GET", "/v2/models")):
        r = request(env.port, method, path, body=b"{}" if method == "POST" else None)
        check_error(r, 404, "invalid_request_error")


@test
def err_wrong_method_405(ctx):
    env = shared(ctx)
    for method, path in (("GET", "/v1/chat/completions"), ("PUT", "/chat/completions"), ("POST", "/v1/models"),
                         ("DELETE", "/models"), ("POST", "/health/liveliness"), ("POST", "/metrics")):
        r = request(env.port, method, path, body=b"{}" if method in ("POST", "PUT") else None)
        check_error(r, 405, "invalid_request_error")


@test
def err_upstream_connect_failed_502(ctx):
    env = shared(ctx)
    r = chat(env.port, {"model": "dead", "messages": MSGS})
    check_error(r, 502, "upstream_error", "upstream_connect_failed")
    s = chat_stream(env.port, {"model": "dead", "messages": MSGS, "stream": True})
    check_error(s.resp, 502, "upstream_error", "upstream_connect_failed")


@test
def err_upstream_dns_failure_502(ctx):
    env = shared(ctx)
    r = chat(env.port, {"model": "dns-fail", "messages": MSGS})
    check_error(r, 502, "upstream_error", "upstream_connect_failed")


@test
def err_upstream_tls_failure_502(ctx):
    """https:// api_base pointing at a plain-HTTP port: the TLS handshake fails."""
    env = shared(ctx)
    r = chat(env.port, {"model": "tls-fail", "messages": MSGS}, timeout=10)
    check_error(r, 502, "upstream_error", "upstream_connect_failed")


@test
def err_upstream_timeout_504(ctx):
    env = shared(ctx)
    m = marker("hang1")
    t0 = time.monotonic()
    r = chat(env.port, {"model": "hang-1s", "messages": MSGS, "user": m})
    el = time.monotonic() - t0
    check_error(r, 504, "timeout_error", "upstream_timeout")
    check(0.9 <= el <= 4 * slow_factor(), f"504 after {el:.2f}s with timeout: 1")
    # The hung upstream connection is given up (closed).
    rec = env.mock.wait_request(m)
    env.mock.wait_close(rec.seq, timeout=5)


@test
def err_upstream_stream_first_byte_timeout_504(ctx):
    env = shared(ctx)
    t0 = time.monotonic()
    s = chat_stream(env.port, {"model": "slow-first-byte", "messages": MSGS, "stream": True})
    el = time.monotonic() - t0
    check_error(s.resp, 504, "timeout_error", "upstream_timeout")
    check(0.9 <= el <= 3.5, f"504 after {el:.2f}s with stream_timeout: 1 (upstream answers after 4s)")


@test
def err_upstream_429_passthrough(ctx):
    env = shared(ctx)
    for stream in (False, True):
        m = marker("429")
        obj = {"model": "fault-429", "messages": MSGS, "user": m}
        if stream:
            obj["stream"] = True
        s = chat_stream(env.port, obj)
        r = s.resp
        e = check_error(r, 429)
        rec = env.mock.wait_request(m, done=True)
        up = json.loads(rec.response_body)["error"]
        eq(e["message"], up["message"], f"429 message kept (stream={stream})")
        eq(e["type"], up["type"], "429 type kept")
        eq(e["param"], up["param"], "429 param kept")
        eq(e["code"], "rate_limit_exceeded", "429 code kept")
        eq(r.header("retry-after"), "7", "Retry-After passed through")


@test
def err_upstream_500(ctx):
    env = shared(ctx)
    r = chat(env.port, {"model": "fault-500", "messages": MSGS})
    e = check_error(r, 500, "server_error")
    eq(e["message"], "The server had an error while processing your request. Sorry about that!", "500 message")


@test
def err_upstream_400_fields_kept(ctx):
    env = shared(ctx)
    r = chat(env.port, {"model": "fault-400", "messages": MSGS})
    check_error(r, 400, "invalid_request_error", "mock_error", "messages", msg_contains="Mock upstream error 400")


@test
def err_upstream_503_flat_envelope(ctx):
    env = shared(ctx)
    r = chat(env.port, {"model": "fault-503-flat", "messages": MSGS})
    e = check_error(r, 503)
    eq(e["message"], "Mock vLLM engine is overloaded (503).", "flat envelope message kept")
    eq(e["type"], "ServiceUnavailableError", "flat envelope type kept")


@test
def err_upstream_reset_before_response(ctx):
    """Upstream resets half way through a non-streaming body: a 502 upstream_error, not a hang or a crash."""
    env = shared(ctx)
    r = chat(env.port, {"model": "reset", "messages": MSGS})
    check_error(r, 502, "upstream_error")
    r = chat(env.port, {"model": "eof-mid", "messages": MSGS})
    check_error(r, 502, "upstream_error")
