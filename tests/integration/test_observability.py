"""/metrics and the access log."""
import json
import os
import re
import time

from harness import (Bg, ENV_KEY_VALUE, MASTER_KEY, UPSTREAM_KEY, chat, chat_stream, check, eq, marker, poll, request,
                     test, user_msg)
from shared_env import shared

METRIC_NAMES = ["llmux_requests_total", "llmux_request_duration_seconds", "llmux_upstream_duration_seconds",
                "llmux_overhead_duration_seconds", "llmux_time_to_first_token_seconds", "llmux_tokens_total",
                "llmux_in_flight_requests"]

ACCESS_KEYS = ["ts", "request_id", "method", "path", "status", "model_group", "deployment", "stream", "total_ms",
               "upstream_ms", "ttft_ms", "overhead_ms", "prompt_tokens", "completion_tokens", "bytes_in",
               "bytes_out", "error_type"]


def _samples(text):
    """Prometheus text -> list of (name, labels dict, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            raise AssertionError(f"bad Prometheus sample line: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def _value(samples, name, **labels):
    tot = 0.0
    found = False
    for n, l, v in samples:
        if n == name and all(l.get(k) == val for k, val in labels.items()):
            tot += v
            found = True
    return tot if found else 0.0


def _metrics(port):
    r = request(port, "GET", "/metrics", auth=None)
    eq(r.status, 200, "/metrics status")
    return r


@test
def metrics_names_and_format(ctx):
    env = shared(ctx)
    # Make sure every family has had at least one observation.
    chat(env.port, {"model": "mock-echo", "messages": user_msg("warm")})
    chat_stream(env.port, {"model": "mock-echo", "stream": True, "messages": user_msg("warm stream")})
    r = _metrics(env.port)
    ct = r.header("content-type") or ""
    check(ct.startswith("text/plain"), f"/metrics Content-Type should be Prometheus text (text/plain...): {ct!r}")
    text = r.text
    s = _samples(text)
    names = {n for n, _, _ in s}
    for n in METRIC_NAMES:
        check(n in text, f"metric {n} missing from /metrics")
    for h in ("llmux_request_duration_seconds", "llmux_upstream_duration_seconds", "llmux_overhead_duration_seconds",
              "llmux_time_to_first_token_seconds"):
        check(f"# TYPE {h} histogram" in text, f"{h} should be declared a histogram")
        for suffix in ("_bucket", "_sum", "_count"):
            check(h + suffix in names, f"{h}{suffix} samples missing")
    check("# TYPE llmux_requests_total counter" in text, "llmux_requests_total should be a counter")
    check("# TYPE llmux_in_flight_requests gauge" in text, "llmux_in_flight_requests should be a gauge")
    check(any(n == "llmux_request_duration_seconds_bucket" and l.get("model_group") == "mock-echo" for n, l, _ in s),
          "llmux_request_duration_seconds should be labelled by model_group")
    check(MASTER_KEY not in text and UPSTREAM_KEY not in text, "a key leaked into /metrics")


@test
def metrics_count_a_request(ctx):
    env = shared(ctx)
    dep = env.deployment_id("metrics-probe")
    before = _samples(_metrics(env.port).text)
    b200 = _value(before, "llmux_requests_total", model_group="metrics-probe", status="200")
    bp = _value(before, "llmux_tokens_total", model_group="metrics-probe", direction="prompt")
    bc = _value(before, "llmux_tokens_total", model_group="metrics-probe", direction="completion")
    bh = _value(before, "llmux_request_duration_seconds_count", model_group="metrics-probe")
    r = chat(env.port, {"model": "metrics-probe", "messages": user_msg("count me please")})
    eq(r.status, 200, "status")
    usage = r.json()["usage"]

    def counted():
        after = _samples(_metrics(env.port).text)
        return after if _value(after, "llmux_requests_total", model_group="metrics-probe", status="200") > b200 \
            else None
    after = poll(counted, timeout=5, what="llmux_requests_total to count the request")
    eq(_value(after, "llmux_requests_total", model_group="metrics-probe", status="200") - b200, 1.0,
       "llmux_requests_total increment")
    eq(_value(after, "llmux_requests_total", model_group="metrics-probe", deployment=dep, status="200") > 0, True,
       f"llmux_requests_total labelled with deployment={dep}")
    eq(_value(after, "llmux_tokens_total", model_group="metrics-probe", direction="prompt") - bp,
       float(usage["prompt_tokens"]), "llmux_tokens_total prompt increment")
    eq(_value(after, "llmux_tokens_total", model_group="metrics-probe", direction="completion") - bc,
       float(usage["completion_tokens"]), "llmux_tokens_total completion increment")
    eq(_value(after, "llmux_request_duration_seconds_count", model_group="metrics-probe") - bh, 1.0,
       "llmux_request_duration_seconds_count increment")
    # An error is counted with its status.
    e_before = _value(after, "llmux_requests_total", model_group="fault-429", status="429")
    chat(env.port, {"model": "fault-429", "messages": user_msg("x")})
    poll(lambda: _value(_samples(_metrics(env.port).text), "llmux_requests_total", model_group="fault-429",
                        status="429") > e_before, timeout=5, what="a 429 counted under status=\"429\"")


@test
def metrics_in_flight_gauge(ctx):
    env = shared(ctx)
    m = marker("inflight")
    t = Bg(chat_stream, env.port, {"model": "pause", "stream": True, "messages": user_msg("x"), "user": m})
    try:
        env.mock.wait_request(m)
        v = _value(_samples(_metrics(env.port).text), "llmux_in_flight_requests")
        check(v >= 1, f"llmux_in_flight_requests should be >= 1 during a stream, got {v}")
    finally:
        env.mock.release(m)
        t.join(30)


def _access_lines(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, "rb") as f:
        for raw in f.read().decode("utf-8", "replace").splitlines():
            if raw.strip():
                out.append(raw)
    return out


@test
def access_log_json_lines(ctx):
    env = shared(ctx)
    secret_text = marker("SECRET-MESSAGE-TEXT")
    r = chat(env.port, {"model": "access-probe", "messages": user_msg(secret_text), "user": secret_text})
    eq(r.status, 200, "status")
    rid = r.header("x-llmux-request-id")
    s = chat_stream(env.port, {"model": "access-probe", "stream": True, "messages": user_msg(secret_text + "-s")})
    check(s.done, "stream ok")
    sid = s.resp.header("x-llmux-request-id")
    r401 = chat(env.port, {"model": "access-probe", "messages": user_msg(secret_text)}, auth="sk-wrong-key-zzz")
    eq(r401.status, 401, "401")
    eid = r401.header("x-llmux-request-id")

    def lines_for():
        objs = {}
        for ln in _access_lines(env.access_log):
            try:
                o = json.loads(ln)
            except ValueError:
                raise AssertionError(f"access log line is not JSON: {ln[:300]!r}")
            check(isinstance(o, dict), f"access log line is not an object: {ln[:300]!r}")
            objs[o.get("request_id")] = o
        return objs if all(k in objs for k in (rid, sid, eid)) else None
    objs = poll(lines_for, timeout=5, what=f"access log lines for {rid}, {sid}, {eid} in {env.access_log}")
    o = objs[rid]
    for k in ACCESS_KEYS:
        check(k in o, f"access log key {k!r} missing: {o}")
    eq(o["method"], "POST", "method")
    eq(o["path"], "/v1/chat/completions", "path")
    eq(o["status"], 200, "status")
    eq(o["model_group"], "access-probe", "model_group")
    eq(o["deployment"], env.deployment_id("access-probe"), "deployment")
    eq(o["stream"], False, "stream")
    usage = r.json()["usage"]
    eq(o["prompt_tokens"], usage["prompt_tokens"], "prompt_tokens from the upstream usage")
    eq(o["completion_tokens"], usage["completion_tokens"], "completion_tokens from the upstream usage")
    for k in ("total_ms", "upstream_ms", "overhead_ms", "bytes_in", "bytes_out"):
        check(isinstance(o[k], (int, float)) and o[k] >= 0, f"{k} should be a non-negative number: {o[k]!r}")
    check(o["bytes_out"] >= len(r.body), f"bytes_out {o['bytes_out']} < body {len(r.body)}")
    check(o["bytes_in"] > 0, "bytes_in")
    check(o["total_ms"] >= o["upstream_ms"], f"total_ms {o['total_ms']} < upstream_ms {o['upstream_ms']}")
    so = objs[sid]
    eq(so["stream"], True, "stream line: stream")
    check(isinstance(so["ttft_ms"], (int, float)) and so["ttft_ms"] >= 0, f"stream line ttft_ms: {so['ttft_ms']!r}")
    check(isinstance(so["prompt_tokens"], int) and so["prompt_tokens"] > 0,
          f"stream line prompt_tokens from the forced usage chunk: {so['prompt_tokens']!r}")
    eo = objs[eid]
    eq(eo["status"], 401, "401 line status")
    check(eo["error_type"], f"401 line error_type should be set: {eo!r}")
    # Never a key or a message body, anywhere in the file.
    text = "\n".join(_access_lines(env.access_log))
    for secret, what in ((MASTER_KEY, "master key"), (UPSTREAM_KEY, "deployment api_key"),
                         (ENV_KEY_VALUE, "env api_key"), ("sk-wrong-key-zzz", "client's wrong key"),
                         (secret_text, "message text")):
        check(secret not in text, f"the access log contains the {what}")
    # And each line is exactly one JSON object.
    for ln in _access_lines(env.access_log):
        json.loads(ln)


@test
def access_log_stdout_default(ctx):
    """access_log "-" (the default) writes JSON lines to stdout."""
    gw = ctx.gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
                      "llmux_settings": {"log_level": "info"}})
    r = chat(gw.port, {"model": "m", "messages": user_msg("zz-private")}, auth=None)
    eq(r.status, 200, "status")
    rid = r.header("x-llmux-request-id")

    def found():
        for ln in gw.stdout_text().splitlines():
            try:
                o = json.loads(ln)
            except ValueError:
                continue
            if isinstance(o, dict) and o.get("request_id") == rid:
                return o
        return None
    o = poll(found, timeout=5, what="the access log line on stdout")
    eq(o["status"], 200, "status")
    check("zz-private" not in gw.stdout_text(), "message text on stdout")


@test
def access_log_off(ctx):
    gw = ctx.gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
                      "llmux_settings": {"access_log": ""}})
    r = chat(gw.port, {"model": "m", "messages": user_msg("x")}, auth=None)
    eq(r.status, 200, "status")
    rid = r.header("x-llmux-request-id")
    time.sleep(0.5)
    check(rid not in gw.stdout_text(), "access_log: \"\" should disable the access log")
