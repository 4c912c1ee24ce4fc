#!/usr/bin/env python3
"""Self-check of mock_openai.py / mock_faults.py (stdlib only): starts MockOpenAI in-process and talks to it
over http.client and raw sockets. Prints one line per check; exit code 0 when every check passes.

    python3 tests/integration/mock_openai_selftest.py
"""
from __future__ import annotations

import http.client
import json
import os
import random
import socket
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mock_openai import MockOpenAI  # noqa: E402

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


class Resp:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return vals[0] if vals else None

    def has(self, name):
        return any(k.lower() == name.lower() for k, _ in self.headers)

    def json(self):
        return json.loads(self.body)


class Client:
    """One keep-alive connection to the mock."""

    def __init__(self, mock):
        self.c = http.client.HTTPConnection(mock.host, mock.port, timeout=10)

    def request(self, method, path, obj=None, headers=None):
        body = None if obj is None else json.dumps(obj).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        t0 = time.monotonic()
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        return Resp(r.status, r.getheaders(), data, time.monotonic() - t0)

    def chat(self, model, stream=False, headers=None):
        obj = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            obj["stream"] = True
        return self.request("POST", "/v1/chat/completions", obj, headers)

    def control(self, obj):
        return self.request("POST", "/_mock/fault", obj)

    def close(self):
        self.c.close()


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


def statuses(cl, model, n):
    return [cl.chat(model).status for _ in range(n)]


def raw_chat(mock, model, stream):
    """Sends one chat request on a fresh socket; returns the socket (request fully written)."""
    body = json.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": "x"}]}).encode()
    s = socket.create_connection((mock.host, mock.port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return s


# ---------------------------------------------------------------------------------------------- existing
@check
def existing_normal_answer_and_global_one_shot(mock, cl):
    r = cl.chat("gpt-4o-mini")
    eq(r.status, 200, "normal answer")
    eq(r.json()["choices"][0]["message"]["content"], "Hello from the mock upstream — café ✓.", "content")
    mock.set_fault("gpt-fault-503", 2)  # global: any model
    eq([cl.chat("gpt-a").status, cl.chat("gpt-b").status, cl.chat("gpt-a").status], [503, 503, 200],
       "global set_fault(count=2) hits the next two requests of any model")
    eq(cl.control({"fault": "gpt-fault-500"}).status, 200, "control without count")
    eq(cl.chat("gpt-z").status, 500, "global control fault, count defaults to 1")
    eq(cl.chat("gpt-z").status, 200, "then normal again")


@check
def existing_default_429_unchanged(mock, cl):
    r = cl.chat("gpt-fault-429")
    eq(r.status, 429, "status")
    eq(r.header("Retry-After"), "7", "Retry-After")
    eq([r.header(h) for h in ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                              "x-ratelimit-reset-requests")], ["3", "0", "7s"], "x-ratelimit-*")
    ok(not r.has("retry-after-ms"), "no retry-after-ms")
    e = r.json()["error"]
    eq((e["type"], e["param"], e["code"]), ("requests", "model", "rate_limit_exceeded"), "error fields")
    ok(e["message"].endswith("Please try again in 7s."), f"message: {e['message']!r}")
    q = cl.chat("gpt-fault-429-quota")
    eq((q.status, q.json()["error"]["code"], q.has("Retry-After")), (429, "insufficient_quota", False),
       "429-quota")


@check
def existing_header_and_model_name_faults(mock, cl):
    eq(cl.chat("gpt-4o", headers={"x-mock-fault": "gpt-fault-502"}).status, 502, "x-mock-fault header")
    r = cl.chat("gpt-fault-500")
    eq((r.status, r.json()["error"]["type"]), (500, "server_error"), "gpt-fault-500")
    r = cl.chat("gpt-fault-503-flat")
    eq((r.status, r.json()["type"]), (503, "ServiceUnavailableError"), "-flat envelope")
    r = cl.chat("gpt-fault-400")
    eq((r.status, r.json()["error"]["code"]), (400, "mock_error"), "gpt-fault-400")
    for st in (401, 404):
        r = cl.chat(f"gpt-fault-{st}")
        eq((r.status, r.json()["error"]["type"]), (st, "invalid_request_error"), f"gpt-fault-{st}")
    # The plan beats the header, which beats the model name.
    mock.set_fault("gpt-fault-418", 1, model="gpt-fault-500")
    eq(cl.chat("gpt-fault-500", headers={"x-mock-fault": "gpt-fault-502"}).status, 418, "plan first")


@check
def existing_stream_normal(mock, cl):
    r = cl.chat("gpt-4o-mini", stream=True)
    eq(r.status, 200, "status")
    ok(r.header("Content-Type").startswith("text/event-stream"), "content type")
    ok(r.body.rstrip().endswith(b"data: [DONE]"), "ends with [DONE]")


# ---------------------------------------------------------------------------------------------- plan
@check
def per_model_queue_order_and_isolation(mock, cl):
    mock.queue_faults("gpt-a", ["gpt-fault-429", "gpt-fault-429", "gpt-fault-500"])
    mock.set_fault("gpt-fault-502", 1, model="gpt-a")  # appended after the queue
    got = []
    for _ in range(5):
        got.append(("a", cl.chat("gpt-a").status))
        got.append(("b", cl.chat("gpt-b").status))
    eq([s for m, s in got if m == "a"], [429, 429, 500, 502, 200], "gpt-a: queued faults in order, then normal")
    eq([s for m, s in got if m == "b"], [200] * 5, "gpt-b unaffected")
    recs = [r for r in mock.requests if r.path.endswith("/chat/completions")]
    eq([(r.fault, r.injected) for r in recs[:2]], [("gpt-fault-429", True), ("gpt-b", False)], "records")


@check
def per_model_over_http_and_count(mock, cl):
    eq(cl.control({"fault": "gpt-fault-503", "count": 2, "model": "gpt-x"}).status, 200, "set")
    eq(cl.control({"queue": ["gpt-fault-401", ["gpt-fault-404", 2]], "model": "gpt-x"}).status, 200, "queue")
    eq(statuses(cl, "gpt-y", 2), [200, 200], "other model untouched")
    eq(statuses(cl, "gpt-x", 6), [503, 503, 401, 404, 404, 200], "gpt-x sequence")


@check
def model_queue_before_global_queue(mock, cl):
    mock.set_fault("gpt-fault-500", 2)  # global
    mock.set_fault("gpt-fault-429-nora", 1, model="gpt-m")
    eq(cl.chat("gpt-m").status, 429, "model entry first")
    eq(cl.chat("gpt-m").status, 500, "then the global one")
    eq(cl.chat("gpt-other").status, 500, "global one for another model")
    eq(cl.chat("gpt-m").status, 200, "all consumed")


@check
def bad_control_bodies(mock, cl):
    for bad in ({"fault": "gpt-fault-500", "count": 0}, {"fault": "x", "rate": 1.5}, {"count": 2},
                {"fault": "latency"}, {"fault": "latency", "ms": -1}, {"fault": ""}, {"queue": "gpt-fault-500"},
                {"fault": "x", "model": 3}, [1, 2]):
        r = cl.control(bad)
        eq((r.status, r.json()["ok"]), (400, False), f"malformed {bad!r}")
    r = cl.request("POST", "/_mock/fault", None)
    eq(r.status, 400, "empty body")
    eq(mock.faults.describe(), {"queues": {}, "rates": {}, "latency_ms": {}}, "nothing was registered")


@check
def rate_deterministic_and_isolated(mock, cl):
    def run():
        mock.set_fault_rate("gpt-fault-503", 0.3, model="gpt-r", seed=42)
        seq = []
        for _ in range(60):
            seq.append(cl.chat("gpt-r").status)
            eq(cl.chat("gpt-s").status, 200, "other model never fails")
        mock.clear_faults()
        return seq

    first = run()
    rng = random.Random(42)
    want = [503 if rng.random() < 0.3 else 200 for _ in range(60)]
    eq(first, want, "sequence = random.Random(seed).random() < rate")
    eq(run(), first, "same seed, same sequence")
    ok(8 <= first.count(503) <= 30, f"about 30% failed: {first.count(503)}/60")
    eq(cl.control({"fault": "gpt-fault-503", "rate": 0.3, "model": "gpt-r", "seed": 7}).status, 200, "http rate")
    seq7 = statuses(cl, "gpt-r", 60)
    rng = random.Random(7)
    eq(seq7, [503 if rng.random() < 0.3 else 200 for _ in range(60)], "seed over HTTP")
    eq(cl.control({"clear": True}).status, 200, "clear")
    eq(statuses(cl, "gpt-r", 20), [200] * 20, "cleared")
    mock.set_fault_rate("gpt-fault-500", 1.0)  # global rate 1
    eq(statuses(cl, "gpt-any", 3), [500] * 3, "global rate 1.0")
    mock.set_fault_rate("gpt-fault-500", 0)
    eq(statuses(cl, "gpt-any", 3), [200] * 3, "rate 0 removes the rule")


@check
def queue_beats_rate(mock, cl):
    mock.set_fault_rate("gpt-fault-500", 1.0, model="gpt-q")
    mock.set_fault("gpt-fault-429-ra0", 1, model="gpt-q")
    eq(statuses(cl, "gpt-q", 2), [429, 500], "one-shot first, then the rate rule")


@check
def clear_one_model_only(mock, cl):
    mock.set_fault("gpt-fault-500", 3, model="gpt-c1")
    mock.set_fault("gpt-fault-500", 3, model="gpt-c2")
    mock.set_latency(300, model="gpt-c1")
    eq(cl.control({"clear": True, "model": "gpt-c1"}).status, 200, "clear gpt-c1")
    r = cl.chat("gpt-c1")
    eq(r.status, 200, "gpt-c1 cleared")
    ok(r.elapsed < 0.25, f"gpt-c1 latency cleared ({r.elapsed:.3f}s)")
    eq(cl.chat("gpt-c2").status, 500, "gpt-c2 kept")
    mock.clear_faults("gpt-c2")
    eq(cl.chat("gpt-c2").status, 200, "clear_faults(model)")


# ---------------------------------------------------------------------------------------------- new faults
@check
def fault_529(mock, cl):
    r = cl.chat("gpt-fault-529")
    eq(r.status, 529, "status")
    eq(r.json(), {"error": {"message": "Overloaded", "type": "overloaded_error", "param": None,
                            "code": "overloaded"}}, "body")
    ok(not r.has("Retry-After"), "no Retry-After")


@check
def fault_429_retry_after_variants(mock, cl):
    for n in (0, 3):
        r = cl.chat(f"gpt-fault-429-ra{n}")
        eq((r.status, r.header("Retry-After"), r.has("retry-after-ms")), (429, str(n), False), f"ra{n}")
        eq(r.header("x-ratelimit-reset-requests"), f"{n}s", f"ra{n} reset")
        ok(r.json()["error"]["message"].endswith(f"try again in {n}s."), "ra message")
    r = cl.chat("gpt-fault-429-ms250")
    eq((r.status, r.header("retry-after-ms"), r.has("Retry-After")), (429, "250", False), "ms250")
    eq(r.json()["error"]["code"], "rate_limit_exceeded", "ms250 code")
    r = cl.chat("gpt-fault-429-nora")
    eq(r.status, 429, "nora status")
    ok(not any(r.has(h) for h in ("Retry-After", "retry-after-ms", "x-ratelimit-reset-requests")),
       f"nora has no retry hint: {r.headers}")
    eq(r.json()["error"]["code"], "rate_limit_exceeded", "nora code")
    r = cl.chat("gpt-fault-503-ra2-noretry")
    eq((r.status, r.header("Retry-After"), r.header("x-should-retry")), (503, "2", "false"), "5xx options")
    r = cl.chat("gpt-4o", headers={"x-mock-fault": "gpt-fault-429-ra1"})
    eq(r.header("Retry-After"), "1", "variant through the header")


@check
def fault_context_length(mock, cl):
    r = cl.chat("gpt-context-length")
    eq(r.status, 400, "status")
    e = r.json()["error"]
    eq((e["type"], e["param"], e["code"]), ("invalid_request_error", "messages", "context_length_exceeded"),
       "fields")
    ok(e["message"].startswith("This model's maximum context length is "), f"message {e['message']!r}")
    eq(cl.chat("gpt-context-length", stream=True).status, 400, "stream request: same JSON error")


@check
def fault_content_policy(mock, cl):
    r = cl.chat("gpt-content-policy")
    eq(r.status, 400, "openai status")
    e = r.json()["error"]
    eq((e["type"], e["param"], e["code"]), ("invalid_request_error", None, "content_policy_violation"), "openai")
    ok("safety system" in e["message"], "openai message")
    r = cl.chat("gpt-content-policy-azure")
    eq(r.status, 400, "azure status")
    e = r.json()["error"]
    eq((e["type"], e["param"], e["code"], e["status"]), (None, "prompt", "content_filter", 400), "azure")
    eq(e["innererror"]["code"], "ResponsibleAIPolicyViolation", "azure innererror")
    eq(e["innererror"]["content_filter_result"]["violence"], {"filtered": True, "severity": "medium"},
       "azure verdicts")
    ok("content management policy" in e["message"], "azure message")


@check
def fault_slow_stream_first_byte(mock, cl):
    s = raw_chat(mock, "gpt-slow-stream-first-byte-400", True)
    t0 = time.monotonic()
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    t_head = time.monotonic() - t0
    head, rest = buf.split(b"\r\n\r\n", 1)
    ok(head.startswith(b"HTTP/1.1 200"), f"head {head[:40]!r}")
    ok(b"text/event-stream" in head, "SSE content type")
    ok(t_head < 0.25, f"head arrived at once ({t_head:.3f}s)")
    while b"data:" not in rest:
        rest += s.recv(65536)
    t_ev = time.monotonic() - t0
    ok(t_ev >= 0.38, f"first event after the delay ({t_ev:.3f}s)")
    while b"[DONE]" not in rest:
        rest += s.recv(65536)
    s.close()
    # Non-streaming: the head at once, the body after the delay.
    s = raw_chat(mock, "gpt-slow-stream-first-byte-300", False)
    t0 = time.monotonic()
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    t_head = time.monotonic() - t0
    while b"chat.completion" not in buf:
        buf += s.recv(65536)
    t_body = time.monotonic() - t0
    s.close()
    ok(t_head < 0.2 and t_body >= 0.28, f"non-stream head {t_head:.3f}s, body {t_body:.3f}s")
    r = cl.chat("gpt-slow-stream-first-byte-50", stream=True)
    ok(r.body.count(b"data: ") >= 10 and b"tick" not in r.body, "then a normal stream (no slow-stream ticks)")


@check
def fault_reset_before_headers(mock, cl):
    s = raw_chat(mock, "gpt-reset-before-headers", False)
    got = b""
    err = None
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except ConnectionResetError as e:
        err = e
    s.close()
    eq(got, b"", "no byte of answer")
    ok(err is not None, "connection reset (RST), not a FIN")
    rec = mock.requests[-1]
    close = mock.wait_close(rec.seq, timeout=5)
    eq((close["reason"], close["in_progress"]), ("server_reset", True), "close record")
    eq(rec.status, None, "no status recorded")


@check
def latency_knob(mock, cl):
    eq(cl.control({"fault": "latency", "ms": 200, "model": "gpt-slow"}).status, 200, "set latency")
    for _ in range(2):
        r = cl.chat("gpt-slow")
        ok(r.status == 200 and r.elapsed >= 0.19, f"gpt-slow delayed ({r.elapsed:.3f}s)")
        f = cl.chat("gpt-fast")
        ok(f.status == 200 and f.elapsed < 0.15, f"gpt-fast not delayed ({f.elapsed:.3f}s)")
    mock.set_fault("gpt-fault-500", 1, model="gpt-slow")
    r = cl.chat("gpt-slow")
    ok(r.status == 500 and r.elapsed >= 0.19, f"faults are delayed too ({r.elapsed:.3f}s)")
    eq(mock.requests[-1].latency_ms, 200, "record latency_ms")
    mock.set_latency(120)  # global, the model's own value wins
    g = cl.chat("gpt-fast")
    ok(g.elapsed >= 0.11, f"global latency ({g.elapsed:.3f}s)")
    r = cl.chat("gpt-slow")
    ok(0.19 <= r.elapsed < 0.35, f"model latency beats the global one ({r.elapsed:.3f}s)")
    eq(cl.control({"fault": "latency", "ms": 0, "model": "gpt-slow"}).status, 200, "ms 0 removes")
    eq(mock.faults.describe()["latency_ms"], {"*": 120}, "plan after removal")
    # Latency on a stream delays the status line.
    s = raw_chat(mock, "gpt-4o", True)
    t0 = time.monotonic()
    s.recv(1)
    el = time.monotonic() - t0
    s.close()
    ok(el >= 0.11, f"stream status line delayed ({el:.3f}s)")


@check
def stats_counters_and_reset(mock, cl):
    mock.queue_faults("gpt-a", ["gpt-fault-429", "gpt-fault-429", "gpt-fault-500"])
    statuses(cl, "gpt-a", 5)
    statuses(cl, "gpt-b", 2)
    cl.chat("gpt-fault-500")  # a model-name fault is not an injected one
    r = cl.request("GET", "/_mock/stats")
    eq(r.status, 200, "GET /_mock/stats")
    st = r.json()
    eq(st["by_model"]["gpt-a"], {"requests": 5, "faults": 3, "by_fault": {"gpt-fault-429": 2,
                                                                           "gpt-fault-500": 1}}, "gpt-a")
    eq(st["by_model"]["gpt-b"], {"requests": 2, "faults": 0, "by_fault": {}}, "gpt-b")
    eq(st["by_model"]["gpt-fault-500"]["faults"], 0, "model-name fault not counted as injected")
    eq(st["total"], {"requests": 8, "faults": 3}, "total")
    eq(mock.stats(), st, "stats() = GET /_mock/stats")
    mock.set_fault("gpt-fault-500", 5, model="gpt-a")
    mock.set_latency(100, model="gpt-a")
    eq(cl.request("POST", "/_mock/reset").status, 200, "reset")
    eq(mock.stats(), {"by_model": {}, "total": {"requests": 0, "faults": 0}}, "reset zeroes the counters")
    r = cl.chat("gpt-a")
    ok(r.status == 200 and r.elapsed < 0.09, "reset also forgets the plan")
    plan = cl.request("GET", "/_mock/fault").json()
    eq(plan, {"queues": {}, "rates": {}, "latency_ms": {}}, "GET /_mock/fault")


@check
def plan_describe(mock, cl):
    mock.set_fault("gpt-fault-500", 2)
    mock.queue_faults("gpt-a", ["gpt-fault-429", "gpt-fault-502"])
    mock.set_fault_rate("gpt-fault-503", 0.25, model="gpt-a", seed=9)
    mock.set_latency(50, model="gpt-a")
    eq(cl.request("GET", "/_mock/fault").json(), {
        "queues": {"*": [["gpt-fault-500", 2]], "gpt-a": [["gpt-fault-429", 1], ["gpt-fault-502", 1]]},
        "rates": {"gpt-a": [{"fault": "gpt-fault-503", "rate": 0.25, "seed": 9}]},
        "latency_ms": {"gpt-a": 50}}, "plan")


@check
def concurrent_queue_is_exact(mock, cl):
    """Many connections at once consume exactly N queued faults (no double use, no loss)."""
    import threading
    mock.set_fault("gpt-fault-500", 25, model="gpt-cc")
    res = []
    lock = threading.Lock()

    def worker():
        c = Client(mock)
        got = [c.chat("gpt-cc").status for _ in range(10)]
        c.close()
        with lock:
            res.extend(got)

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    eq((res.count(500), res.count(200)), (25, 55), "exactly 25 faults")
    eq(mock.stats()["by_model"]["gpt-cc"], {"requests": 80, "faults": 25, "by_fault": {"gpt-fault-500": 25}},
       "stats under concurrency")


@check
def throughput_info(mock, cl):
    mock.set_fault_rate("gpt-fault-503", 0.1, model="gpt-t")
    mock.set_fault("gpt-fault-500", 1000, model="gpt-u")
    n = 400
    t0 = time.monotonic()
    for _ in range(n):
        cl.chat("gpt-t")
    el = time.monotonic() - t0
    return f"{n / el:.0f} req/s on one keep-alive connection"


def main():
    failed = 0
    for fn in CHECKS:
        mock = MockOpenAI().start()
        cl = Client(mock)
        try:
            note = fn(mock, cl)
            print(f"PASS {fn.__name__}" + (f" ({note})" if note else ""), flush=True)
        except Exception as e:  # noqa: BLE001 — report every failing check, keep going
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}", flush=True)
            if os.environ.get("VERBOSE"):
                traceback.print_exc()
        finally:
            cl.close()
            mock.stop()
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
