"""The request path through an OpenAI-compatible upstream: what goes up, what comes back."""
import json
import re
import threading
import time

from harness import (ENV_KEY_VALUE, MASTER_KEY, UPSTREAM_KEY, Conn, chat, chat_stream, check, eq, eq_seq,
                     llmux_version, marker, read_stream, slow_factor, test, user_msg)
from shared_env import shared


def _usage_only(payload):
    if payload == "[DONE]":
        return False
    j = json.loads(payload)
    return j.get("choices") == [] and isinstance(j.get("usage"), dict)


@test
def chat_plain_relay_byte_exact(ctx):
    env = shared(ctx)
    m = marker("plain")
    r = chat(env.port, {"model": "gpt-4o", "messages": user_msg("hello"), "user": m})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    rec = env.mock.wait_request(m, done=True)
    eq(r.body, rec.response_body, "client body == upstream body, byte for byte")
    eq(r.header("content-type"), "application/json", "Content-Type relayed")
    j = r.json()
    eq(j["choices"][0]["message"]["content"], "Hello from the mock upstream — café ✓.", "content")
    check(j["usage"]["total_tokens"] > 0, "usage relayed")


@test
def chat_path_without_v1_prefix(ctx):
    env = shared(ctx)
    m = marker("nov1")
    r = chat(env.port, {"model": "gpt-4o", "messages": user_msg("x"), "user": m}, path="/chat/completions")
    eq(r.status, 200, f"POST /chat/completions status ({r.body[:300]!r})")
    rec = env.mock.wait_request(m, done=True)
    eq(r.body, rec.response_body, "body relayed")
    eq(rec.path, "/v1/chat/completions", "upstream path is <api_base>/chat/completions")


@test
def upstream_request_shape(ctx):
    """Model rewritten, every other byte identical; auth, content-type, user-agent, extra_headers."""
    env = shared(ctx)
    m = marker("shape")
    body = ('{ "model" : "gpt-4o",\n  "messages":[{"role":"system","content":"Be terse.\\u00e9 \\"q\\""},'
            '{"role":"user","content":[{"type":"text","text":"' + m + ' café ✓"}]}],\r\n'
            '\t"temperature": 0.20, "max_completion_tokens":17 ,"n":1, "user":"' + m + '",'
            '"metadata":{"model":"gpt-4o","k":"v"},'
            '"x_unknown_field": [1, 2.50e0, null, true, "\\ud83d\\ude00", {"model": "gpt-4o"}],'
            '"logit_bias": {"50256": -100}   }').encode()
    r = chat(env.port, body)
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    rec = env.mock.wait_request(m)
    want = body.replace(b'"model" : "gpt-4o",', b'"model" : "gpt-4o-mini",', 1)
    eq(rec.body, want, "upstream body (only the top-level model value may change)")
    eq(rec.method, "POST", "upstream method")
    eq(rec.path, "/v1/chat/completions", "upstream path")
    eq(rec.header_all("authorization"), [f"Bearer {UPSTREAM_KEY}"], "upstream Authorization")
    eq((rec.header("content-type") or "").split(";")[0].strip(), "application/json", "upstream Content-Type")
    eq(rec.header("user-agent"), f"llmux/{llmux_version()}", "upstream User-Agent")
    eq(rec.header("x-llmux-test"), "extra-1", "extra_headers X-Llmux-Test")
    eq(rec.header("x-team"), "alpha", "extra_headers X-Team")
    check(MASTER_KEY.encode() not in rec.raw_head + rec.body, "the client's key was forwarded upstream")
    cl = rec.header("content-length")
    if cl is not None:
        eq(int(cl), len(rec.body), "upstream Content-Length")


@test
def upstream_model_after_messages(ctx):
    env = shared(ctx)
    m = marker("order")
    body = ('{"messages":[{"role":"user","content":"model: gpt-4o ' + m + '"}],"user":"' + m
            + '","model":"fast","stream":false}').encode()
    r = chat(env.port, body)
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    rec = env.mock.wait_request(m)
    eq(rec.body, body.replace(b'"model":"fast"', b'"model":"gpt-echo"'), "upstream body")
    # hosted_vllm deployment with api_key: os.environ/LLMUX_TEST_ENV_KEY
    eq(rec.header_all("authorization"), [f"Bearer {ENV_KEY_VALUE}"], "api_key from os.environ/ reference")
    eq(r.json()["choices"][0]["message"]["content"], f"model: gpt-4o {m}", "hosted_vllm response relayed")


def _stream_upstream(env, client_obj, marker_):
    r = chat_stream(env.port, client_obj)
    eq(r.resp.status, 200, f"stream status: {r.describe()} {r.resp.body[:300]!r}")
    rec = env.mock.wait_request(marker_, done=True)
    return r, rec


@test
def upstream_stream_forces_include_usage(ctx):
    env = shared(ctx)
    variants = [
        None,  # no stream_options at all
        {"include_usage": False},
        {"include_usage": False, "include_obfuscation": False},
        {"include_obfuscation": False},
        {"include_usage": True},
    ]
    for so in variants:
        m = marker("so")
        obj = {"model": "gpt-4o", "stream": True, "messages": user_msg(m), "temperature": 0.5, "user": m}
        if so is not None:
            obj["stream_options"] = so
        _, rec = _stream_upstream(env, obj, m)
        up = rec.json()
        want = dict(obj)
        want["model"] = "gpt-4o-mini"
        want["stream_options"] = dict(so or {})
        want["stream_options"]["include_usage"] = True
        eq(up, want, f"upstream JSON for stream_options={so!r}")
    # stream_options: null is replaced too; raw bytes of the other members survive verbatim.
    m = marker("sonull")
    raw = ('{"model":"gpt-4o","stream":true,"stream_options":null,"messages":[{"role":"user","content":"'
           + m + '"}],"temperature": 0.50 ,"user":"' + m + '"}').encode()
    with Conn(env.port) as c:
        c.request("POST", "/v1/chat/completions", raw)
        resp = c.read_head()
        eq(resp.status, 200, "stream_options null status")
        read_stream(c, resp)
    rec = env.mock.wait_request(m)
    eq(rec.json().get("stream_options", {}).get("include_usage"), True, "stream_options:null -> include_usage true")
    check(b'"temperature": 0.50 ,' in rec.body, f"other members not byte-identical: {rec.body!r}")
    check(b'"messages":[{"role":"user","content":"' + m.encode() + b'"}]' in rec.body, "messages not verbatim")


@test
def stream_relay_without_include_usage(ctx):
    env = shared(ctx)
    m = marker("relay")
    r, rec = _stream_upstream(env, {"model": "gpt-4o", "stream": True, "messages": user_msg("x"), "user": m}, m)
    h = r.resp
    check((h.header("content-type") or "").startswith("text/event-stream"), f"content-type {h.header('content-type')}")
    eq(h.header("cache-control"), "no-cache", "Cache-Control")
    eq((h.header("x-accel-buffering") or "").lower(), "no", "X-Accel-Buffering")
    check(h.chunked, "stream response should use chunked transfer encoding")
    check(r.ended and not r.error, f"stream did not end cleanly: {r.describe()}")
    want = [p for p in rec.events if not _usage_only(p)]
    check(any(_usage_only(p) for p in rec.events), "fixture: mock should have sent a usage chunk")
    eq_seq(r.data, want, "relayed events (usage-only chunk dropped, everything else identical)")
    check(r.done, "[DONE] relayed")
    eq(r.content(), "Hello from the mock upstream — café ✓.", "assembled content")


@test
def stream_relay_with_include_usage(ctx):
    env = shared(ctx)
    m = marker("relayu")
    r, rec = _stream_upstream(env, {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
                                    "messages": user_msg("x"), "user": m}, m)
    check(r.ended and not r.error, f"stream did not end cleanly: {r.describe()}")
    eq_seq(r.data, rec.events, "relayed events (all, incl. the usage chunk)")
    eq(r.data[-1], "[DONE]", "last event")
    u = json.loads(r.data[-2])
    eq(u["choices"], [], "usage chunk choices")
    check(u["usage"]["total_tokens"] > 0, "usage chunk usage")


@test
def stream_relay_tool_calls(ctx):
    env = shared(ctx)
    m = marker("tools")
    r, rec = _stream_upstream(env, {"model": "tools", "stream": True, "messages": user_msg("x"), "user": m}, m)
    eq_seq(r.data, [p for p in rec.events if not _usage_only(p)], "tool-call stream relayed intact")


@test
def stream_relayed_as_events_arrive(ctx):
    """The mock sends 3 events and pauses until released: the client must see them before the release."""
    env = shared(ctx)
    m = marker("pause")
    seen_before_release = []
    released = threading.Event()

    def on_event(ev, res):
        if not released.is_set() and ev["data"] is not None:
            seen_before_release.append(ev["data"])
            if len(seen_before_release) >= 3:
                released.set()
                env.mock.release(m)

    def safety_release():
        # If the gateway buffers, release after a while so the test ends (and fails) instead of hanging.
        if not released.wait(8 * slow_factor()):
            env.mock.release(m)
    threading.Thread(target=safety_release, daemon=True).start()
    r = chat_stream(env.port, {"model": "pause", "stream": True, "messages": user_msg("x"), "user": m},
                    on_event=on_event)
    check(len(seen_before_release) >= 3 and released.is_set(),
          f"only {len(seen_before_release)} events reached the client while the upstream was paused "
          "(events must be relayed as soon as they are complete)")
    rec = env.mock.wait_request(m, done=True)
    eq_seq(r.data, [p for p in rec.events if not _usage_only(p)], "all events after release")
    check(r.done, "[DONE]")


@test
def stream_keepalive_comments(ctx):
    env = shared(ctx)
    m = marker("kac")
    r, rec = _stream_upstream(env, {"model": "keepalive-comments", "stream": True, "messages": user_msg("x"),
                                    "user": m}, m)
    eq_seq(r.data, [p for p in rec.events if not _usage_only(p)], "data events relayed (comments ignored)")
    check(r.done, "[DONE]")


@test
def stream_crlf_upstream(ctx):
    env = shared(ctx)
    m = marker("crlf")
    r, rec = _stream_upstream(env, {"model": "crlf", "stream": True, "messages": user_msg("x"), "user": m}, m)
    eq_seq(r.data, [p for p in rec.events if not _usage_only(p)], "CRLF-framed upstream events relayed")
    check(r.done, "[DONE]")


@test
def upstream_chunked_json_body(ctx):
    env = shared(ctx)
    m = marker("chunked")
    r = chat(env.port, {"model": "chunked", "messages": user_msg("x"), "user": m})
    eq(r.status, 200, f"status {r.body[:200]!r}")
    rec = env.mock.wait_request(m, done=True)
    eq(r.body, rec.response_body, "de-chunked upstream body relayed byte for byte")


@test
def upstream_close_delimited_body(ctx):
    env = shared(ctx)
    m = marker("closedelim")
    r = chat(env.port, {"model": "close-delimited", "messages": user_msg("x"), "user": m})
    eq(r.status, 200, f"status {r.body[:200]!r}")
    rec = env.mock.wait_request(m, done=True)
    eq(r.body, rec.response_body, "close-delimited upstream body relayed")
    m2 = marker("closedelim-s")
    s, rec2 = _stream_upstream(env, {"model": "close-delimited", "stream": True, "messages": user_msg("x"),
                                     "user": m2}, m2)
    eq_seq(s.data, [p for p in rec2.events if not _usage_only(p)], "close-delimited stream relayed")
    check(s.done, "[DONE]")


@test
def upstream_big_response(ctx):
    env = shared(ctx)
    m = marker("big")
    r = chat(env.port, {"model": "big", "messages": user_msg("x"), "user": m}, timeout=30)
    eq(r.status, 200, "status")
    rec = env.mock.wait_request(m, done=True)
    check(len(rec.response_body) > 2_000_000, "fixture: big body")
    eq(len(r.body), len(rec.response_body), "big body length")
    check(r.body == rec.response_body, "big body relayed byte for byte")
    m2 = marker("bigs")
    s, rec2 = _stream_upstream(env, {"model": "big", "stream": True, "messages": user_msg("x"), "user": m2}, m2)
    eq(len(s.data), len([p for p in rec2.events if not _usage_only(p)]), "big stream event count")
    check(s.done, "[DONE]")


@test
def concurrent_requests(ctx):
    env = shared(ctx)
    errors = []
    n = 48

    def one(i):
        try:
            mk = marker(f"conc{i}")
            if i % 3 == 0:
                s = chat_stream(env.port, {"model": "gpt-4o", "stream": True, "messages": user_msg(mk), "user": mk})
                if s.resp.status != 200 or not s.done:
                    errors.append(f"{i}: stream {s.describe()}")
            elif i % 3 == 1:
                r = chat(env.port, {"model": "fast", "messages": user_msg(mk)})
                if r.status != 200 or r.json()["choices"][0]["message"]["content"] != mk:
                    errors.append(f"{i}: fast {r.status} {r.body[:200]!r}")
            else:
                r = chat(env.port, {"model": "mock-echo", "messages": user_msg(mk)})
                if r.status != 200 or r.json()["choices"][0]["message"]["content"] != mk:
                    errors.append(f"{i}: mock {r.status} {r.body[:200]!r}")
        except Exception as e:  # noqa: BLE001
            errors.append(f"{i}: {type(e).__name__}: {e}")
    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    check(not errors, f"{len(errors)} of {n} concurrent requests failed: {errors[:5]}")
    ctx.note(f"{n} concurrent requests in {time.monotonic() - t0:.2f}s")


@test
def concurrent_streams_not_mixed(ctx):
    """Many simultaneous streams through one deployment: each client gets exactly its own upstream events."""
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [{"model_name": "s", "litellm_params": {
        "model": "openai/gpt-4o", "api_base": mock.base_url, "api_key": "k"}}],
        "llmux_settings": {"access_log": "", "workers": 2}})
    n = 24
    out = {}

    def one(i):
        mk = f"cs{i:03d}-{marker()}"
        try:
            r = chat_stream(gw.port, {"model": "s", "stream": True, "messages": user_msg(mk), "user": mk},
                            auth=None, timeout=15)
            rec = mock.wait_request(mk, done=True)
            want = [p for p in rec.events if not _usage_only(p)]
            if r.resp.status != 200 or r.data != want:
                got_ids = sorted(set(re.findall(r'"id":"(chatcmpl-[A-Za-z0-9]+)"', "".join(r.data))))
                out[i] = (f"status {r.resp.status}, {len(r.data)} events (want {len(want)}), upstream "
                          f"#{rec.seq} on mock connection {rec.conn_id}; ids seen {got_ids}; "
                          f"utf8-broken events {sum(1 for e in r.events if e.get('bad_utf8'))}")
        except Exception as e:  # noqa: BLE001
            out[i] = f"{type(e).__name__}: {e}"
    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    check(not out, f"{len(out)} of {n} concurrent streams were wrong; e.g. "
                   + "; ".join(f"#{k}: {v}" for k, v in sorted(out.items())[:3]))
