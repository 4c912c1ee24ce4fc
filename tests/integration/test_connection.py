"""Client-side HTTP/1.1 handling: keep-alive, pipelining, slowloris, idle connections."""
import json
import socket
import time

from harness import (MASTER_KEY, Conn, build_request, check, eq, marker, read_stream, slow_factor, test, user_msg)
from shared_env import shared


@test
def keepalive_several_requests_one_connection(ctx):
    env = shared(ctx)
    ids = []
    with Conn(env.port) as c:
        c.request("GET", "/v1/models")
        r = c.read_response()
        eq(r.status, 200, "models")
        ids.append(r.header("x-llmux-request-id"))
        for i in range(3):
            m = marker(f"ka{i}")
            c.request("POST", "/v1/chat/completions", {"model": "fast", "messages": user_msg(m)})
            r = c.read_response()
            eq(r.status, 200, f"chat #{i}")
            eq(r.json()["choices"][0]["message"]["content"], m, f"chat #{i} content")
            ids.append(r.header("x-llmux-request-id"))
        c.request("POST", "/v1/chat/completions", {"model": "gpt-4o", "stream": True, "messages": user_msg("s")})
        h = c.read_head()
        s = read_stream(c, h)
        check(s.done and s.ended, f"stream on a kept-alive connection: {s.describe()}")
        ids.append(h.header("x-llmux-request-id"))
        c.request("POST", "/v1/chat/completions", {"model": "no-such-model", "messages": user_msg("x")})
        r = c.read_response()
        eq(r.status, 404, "a JSON error keeps the connection open")
        ids.append(r.header("x-llmux-request-id"))
        c.request("POST", "/v1/chat/completions", {"model": "mock-echo", "messages": user_msg("last")})
        r = c.read_response()
        eq(r.status, 200, "request after an error on the same connection")
        ids.append(r.header("x-llmux-request-id"))
        c.request("GET", "/health/liveliness", auth=None)
        eq(c.read_response().status, 200, "health on the same connection")
    eq(len(set(ids)), len(ids), "a distinct request id per request")


@test
def keepalive_connection_close_honoured(ctx):
    env = shared(ctx)
    with Conn(env.port) as c:
        c.request("GET", "/health/liveliness", auth=None, close=True)
        r = c.read_response()
        eq(r.status, 200, "status")
        check(c.wait_closed(5), "server should close after Connection: close")
    # HTTP/1.0 without keep-alive: closed after the response.
    with Conn(env.port) as c:
        c.send(b"GET /health/liveliness HTTP/1.0\r\n\r\n")
        r = c.read_response()
        eq(r.status, 200, "HTTP/1.0 status")
        check(c.wait_closed(5), "server should close an HTTP/1.0 connection")


@test
def pipelined_requests(ctx):
    env = shared(ctx)
    m1, m3 = marker("p1"), marker("p3")
    raw = (build_request("POST", "/v1/chat/completions", json.dumps({"model": "gpt-4o", "messages": user_msg(m1),
                                                                      "user": m1}).encode())
           + build_request("GET", "/v1/models")
           + build_request("POST", "/v1/chat/completions",
                           json.dumps({"model": "mock-echo", "messages": user_msg(m3)}).encode())
           + build_request("GET", "/health/liveliness", auth=None))
    with Conn(env.port) as c:
        c.send(raw)
        r1 = c.read_response()
        r2 = c.read_response()
        r3 = c.read_response()
        r4 = c.read_response()
    eq(r1.status, 200, "pipelined #1 (upstream)")
    eq(r1.body, env.mock.wait_request(m1, done=True).response_body, "pipelined #1 body")
    eq(r2.status, 200, "pipelined #2 (models)")
    eq(r2.json().get("object"), "list", "pipelined #2 body")
    eq(r3.status, 200, "pipelined #3 (mock)")
    eq(r3.json()["choices"][0]["message"]["content"], m3, "pipelined #3 body, in order")
    eq(r4.json(), "I'm alive!", "pipelined #4 body")


@test
def pipelined_byte_by_byte(ctx):
    env = shared(ctx)
    m = marker("bb")
    raw = build_request("POST", "/v1/chat/completions", json.dumps({"model": "mock-echo",
                                                                     "messages": user_msg(m)}).encode())
    with Conn(env.port) as c:
        for i in range(len(raw)):
            c.send(raw[i:i + 1])
        r = c.read_response()
    eq(r.status, 200, "request sent one byte per write")
    eq(r.json()["choices"][0]["message"]["content"], m, "content")


@test
def slowloris_headers_closed(ctx):
    """Headers trickled past header_timeout_ms (1000) -> the connection is closed (a 408 first is fine)."""
    env = shared(ctx)
    c = Conn(env.port)
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
            + "".join(f"X-Slow-{i}: {'v' * 10}\r\n" for i in range(200))).encode()
    t0 = time.monotonic()
    closed_at = None
    limit = 8 * slow_factor()
    i = 0
    c.sock.settimeout(0.01)
    while time.monotonic() - t0 < limit:
        try:
            c.sock.sendall(head[i:i + 1])
        except OSError:
            closed_at = time.monotonic()
            break
        i += 1
        try:
            d = c.sock.recv(4096)
            if not d:
                closed_at = time.monotonic()
                break
            c.buf += d
        except socket.timeout:
            pass
        except OSError:
            closed_at = time.monotonic()
            break
        time.sleep(0.09)
    c.close()
    check(closed_at is not None, f"connection still open after trickling headers for {limit:.0f}s "
                                 "(header_timeout_ms: 1000)")
    el = closed_at - t0
    check(el >= 0.8, f"closed after {el:.2f}s, before header_timeout_ms")
    if c.buf:
        check(c.buf.startswith(b"HTTP/1.1 408"), f"only a 408 may precede the close: {c.buf[:100]!r}")
    ctx.note(f"slowloris connection closed after {el:.2f}s; response bytes: {c.buf[:40]!r}")


@test
def keepalive_idle_timeout(ctx):
    """A kept-alive connection idle for idle_timeout_ms is closed by the gateway."""
    gw = ctx.gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
                      "llmux_settings": {"idle_timeout_ms": 500, "access_log": ""}})
    with Conn(gw.port) as c:
        c.request("POST", "/v1/chat/completions", {"model": "m", "messages": user_msg("x")}, auth=None)
        eq(c.read_response().status, 200, "status")
        t0 = time.monotonic()
        check(c.wait_closed(8), "idle keep-alive connection still open 8s after idle_timeout_ms: 500")
        el = time.monotonic() - t0
        check(el >= 0.4, f"closed after {el:.2f}s, before idle_timeout_ms")
        ctx.note(f"idle connection closed after {el:.2f}s")
