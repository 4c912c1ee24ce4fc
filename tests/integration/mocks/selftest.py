#!/usr/bin/env python3
"""Self-test of the provider mocks, without llmux: every mock is driven directly with urllib (and a raw
socket client where the HTTP framing itself is under test).

    python3 tests/integration/mocks/selftest.py [-k PATTERN] [-v]

Independent checkers live here, not in the mocks: a SigV4 signer (verified against AWS's published
test vectors and the Bedrock vector of wire_formats.md before it is used to prove that the Bedrock mock
accepts a correct signature and rejects wrong ones), an AWS event-stream decoder (verified against the
codec test vectors; it checks both CRCs of every frame the Bedrock mock sends), an SSE parser and a
chunked-body reader. Exit code 1 on any failure.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from mocks import (ANTHROPIC_KEY, AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY,  # noqa: E402
                   AZURE_AD_TOKEN, AZURE_KEY, COHERE_KEY, GEMINI_KEY, MockAnthropic, MockAzure, MockBedrock,
                   MockCohere, MockGemini, MockOllama, MockVertexOAuth)
from mocks import bedrock as bedrock_mod  # noqa: E402
from mocks.vertex_oauth import generate_rsa_key, sign_jwt  # noqa: E402

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ================================================================================================ clients
class R:
    def __init__(self, status, headers, body, elapsed=0.0):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8")

    def __repr__(self):
        return f"<R {self.status} {self.body[:300]!r}>"


def call(method, url, body=None, headers=None, timeout=15):
    headers = dict(headers or {})
    data = None
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        data = body.encode()
    elif isinstance(body, bytes):
        data = body
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    t0 = time.monotonic()
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            return R(resp.status, resp.headers, resp.read(), time.monotonic() - t0)
    except urllib.error.HTTPError as e:
        return R(e.code, e.headers, e.read(), time.monotonic() - t0)


class Raw:
    """A raw HTTP/1.1 exchange that keeps the chunk framing and notices resets."""

    def __init__(self, port, method, path, body=b"", headers=(), timeout=15):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        hdrs = [("Host", f"127.0.0.1:{port}"), ("Content-Length", str(len(body)))] + list(headers)
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
        self.s.sendall(head.encode() + body)
        self.buf = b""
        self.status = None
        self.headers = {}
        self.chunks = []
        self.ended = False
        self.error = None
        self.t_first = None
        self.t0 = time.monotonic()

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            raise EOFError("reset")
        except socket.timeout:
            raise EOFError("timeout")
        if not d:
            raise EOFError("eof")
        if self.t_first is None:
            self.t_first = time.monotonic() - self.t0
        self.buf += d

    def read(self):
        try:
            while b"\r\n\r\n" not in self.buf:
                self._fill()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            if "chunked" not in self.headers.get("transfer-encoding", ""):
                n = int(self.headers.get("content-length", "0"))
                while len(self.buf) < n:
                    self._fill()
                self.chunks = [self.buf[:n]]
                self.ended = True
                return self
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line, 16)
                while len(self.buf) < size + 2:
                    self._fill()
                data, self.buf = self.buf[:size], self.buf[size + 2:]
                if size == 0:
                    self.ended = True
                    return self
                self.chunks.append(data)
        except EOFError as e:
            self.error = str(e)
            return self
        finally:
            self.s.close()

    @property
    def body(self):
        return b"".join(self.chunks)


def parse_sse(body):
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        ev = {"event": None, "data": None}
        datas = []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            f, _, v = line.partition(":")
            if v.startswith(" "):
                v = v[1:]
            if f == "event":
                ev["event"] = v
            elif f == "data":
                datas.append(v)
        if datas:
            ev["data"] = "\n".join(datas)
        out.append(ev)
    return out


# ================================================================================================ AWS helpers
class Truncated(Exception):
    pass


def es_decode(buf):
    """Decodes a whole application/vnd.amazon.eventstream body; verifies both CRCs of every message."""
    msgs = []
    i = 0
    while i < len(buf):
        if len(buf) - i < 12:
            raise Truncated(f"{len(buf) - i} trailing bytes (less than a prelude)")
        total, hlen = struct.unpack_from(">II", buf, i)
        (pcrc,) = struct.unpack_from(">I", buf, i + 8)
        if zlib.crc32(buf[i:i + 8]) & 0xFFFFFFFF != pcrc:
            raise ValueError(f"bad prelude CRC at {i}")
        if total < 16 or hlen > total - 16:
            raise ValueError(f"bad lengths at {i}")
        if len(buf) - i < total:
            raise Truncated(f"frame at {i} needs {total} bytes, has {len(buf) - i}")
        (mcrc,) = struct.unpack_from(">I", buf, i + total - 4)
        if zlib.crc32(buf[i:i + total - 4]) & 0xFFFFFFFF != mcrc:
            raise ValueError(f"bad message CRC at {i}")
        headers = {}
        j, end = i + 12, i + 12 + hlen
        while j < end:
            nl = buf[j]
            name = buf[j + 1:j + 1 + nl].decode()
            j += 1 + nl
            t = buf[j]
            j += 1
            if t in (0, 1):
                val = t == 0
            elif t == 2:
                val = struct.unpack_from(">b", buf, j)[0]
                j += 1
            elif t == 3:
                val = struct.unpack_from(">h", buf, j)[0]
                j += 2
            elif t == 4:
                val = struct.unpack_from(">i", buf, j)[0]
                j += 4
            elif t in (5, 8):
                val = struct.unpack_from(">q", buf, j)[0]
                j += 8
            elif t in (6, 7):
                (ln,) = struct.unpack_from(">H", buf, j)
                val = buf[j + 2:j + 2 + ln]
                val = val.decode() if t == 7 else val
                j += 2 + ln
            elif t == 9:
                val = buf[j:j + 16]
                j += 16
            else:
                raise ValueError(f"bad header type {t}")
            headers[name] = val
        msgs.append((headers, buf[end:i + total - 4]))
        i += total
    return msgs


def sigv4(method, host, path, body, amz_date, akid=AWS_ACCESS_KEY_ID, secret=AWS_SECRET_ACCESS_KEY,
          region=AWS_REGION, service="bedrock", extra=None, double=True, query=""):
    """Client-side SigV4: returns (headers to send, canonical request, signature)."""
    hs = {"host": host, "x-amz-date": amz_date}
    for k, v in (extra or {}).items():
        hs[k.lower()] = v
    names = sorted(hs)
    if double:
        cpath = "/".join(urllib.parse.quote(p, safe="-_.~") for p in path.split("/"))
    else:
        cpath = path
    cq = "&".join(sorted(f"{urllib.parse.quote(urllib.parse.unquote(k), safe='-_.~')}="
                         f"{urllib.parse.quote(urllib.parse.unquote(v), safe='-_.~')}"
                         for k, _, v in (x.partition("=") for x in query.split("&") if x)))
    creq = (f"{method}\n{cpath}\n{cq}\n" + "".join(f"{n}:{' '.join(str(hs[n]).split())}\n" for n in names)
            + "\n" + ";".join(names) + "\n" + hashlib.sha256(body).hexdigest())
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    sts = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + hashlib.sha256(creq.encode()).hexdigest()
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in hs.items() if k != "host"}
    out["Host"] = host
    out["Authorization"] = f"AWS4-HMAC-SHA256 Credential={akid}/{scope}, SignedHeaders={';'.join(names)}, " \
                           f"Signature={sig}"
    return out, creq, sig


def amz_now(offset=0):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + offset))


# ================================================================================================ runner
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: expected {want!r}, got {got!r}")


class Env:
    pass


ENV = Env()


def start_all():
    ENV.tmp = tempfile.mkdtemp(prefix="mocks-selftest-")
    ENV.anthropic = MockAnthropic().start()
    ENV.oauth = MockVertexOAuth(workdir=os.path.join(ENV.tmp, "sa")).start()
    ENV.gemini = MockGemini(oauth=ENV.oauth).start()
    ENV.bedrock = MockBedrock().start()
    ENV.azure = MockAzure().start()
    ENV.cohere = MockCohere().start()
    ENV.ollama = MockOllama().start()


def stop_all():
    for m in (ENV.anthropic, ENV.gemini, ENV.oauth, ENV.bedrock, ENV.azure, ENV.cohere, ENV.ollama):
        m.stop()


# ================================================================================================ Anthropic
AH = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}


def anth(body, headers=None, **kw):
    return call("POST", ENV.anthropic.url("/v1/messages"), body, dict(AH, **(headers or {})), **kw)


def amsg(text, **extra):
    b = {"model": "claude-sonnet-4-5", "max_tokens": 2048, "messages": [{"role": "user", "content": text}]}
    b.update(extra)
    return b


def anth_err(r, status, type_, contains=None):
    eq(r.status, status, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(j.get("type"), "error", "error envelope type")
    eq(j["error"]["type"], type_, "error.type")
    check(isinstance(j.get("request_id"), str), "request_id")
    if contains:
        check(contains in j["error"]["message"], f"message should contain {contains!r}: {j['error']['message']!r}")


@test
def anthropic_auth_checks():
    m = ENV.anthropic
    anth_err(call("POST", m.url("/v1/messages"), amsg("x"), {"anthropic-version": "2023-06-01"}), 401,
             "authentication_error", "x-api-key")
    anth_err(anth(amsg("x"), {"x-api-key": "wrong"}), 401, "authentication_error", "invalid x-api-key")
    anth_err(call("POST", m.url("/v1/messages"), amsg("x"), {"x-api-key": ANTHROPIC_KEY}), 400,
             "invalid_request_error", "anthropic-version")
    r = call("POST", m.url("/v1/messages"), json.dumps(amsg("x")), AH)  # urllib's default form content type
    anth_err(r, 400, "invalid_request_error", "Content-Type")


@test
def anthropic_body_checks():
    anth_err(anth({"model": "c", "messages": [{"role": "user", "content": "x"}]}), 400, "invalid_request_error",
             "max_tokens: Field required")
    anth_err(anth(amsg("x", stream_options={"include_usage": True})), 400, "invalid_request_error",
             "stream_options: Extra inputs are not permitted")
    b = amsg("x")
    b["messages"].insert(0, {"role": "system", "content": "s"})
    anth_err(anth(b), 400, "invalid_request_error", "Unexpected role \"system\"")
    b = amsg("x")
    b["messages"].append({"role": "user", "content": "again"})
    anth_err(anth(b), 400, "invalid_request_error", "roles must alternate")
    b = amsg("x", tools=[{"name": "get_weather", "input_schema": {"type": "object"}}])
    b["messages"] += [{"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                                          "input": {}}]},
                      {"role": "user", "content": "no result"}]
    anth_err(anth(b), 400, "invalid_request_error", "`tool_use` ids were found without `tool_result` blocks")
    anth_err(anth(amsg("x", thinking={"type": "enabled", "budget_tokens": 100})), 400, "invalid_request_error",
             "budget_tokens")
    anth_err(anth(amsg("x", temperature=1.5)), 400, "invalid_request_error", "temperature")
    anth_err(anth(amsg("")), 400, "invalid_request_error", "non-empty")


@test
def anthropic_non_stream_echo_and_record():
    m = ENV.anthropic
    txt = "marker-anth-1 hello café ✓ <b>"
    r = anth(amsg(txt, system=[{"type": "text", "text": "be terse", "cache_control": {"type": "ephemeral"}}]))
    eq(r.status, 200, f"status {r}")
    j = r.json()
    eq(j["type"], "message", "type")
    eq(j["content"], [{"type": "text", "text": txt}], "content echoes the last user text")
    eq(j["stop_reason"], "end_turn", "stop_reason")
    check(r.header("request-id").startswith("req_"), "request-id header")
    rec = m.wait_request("marker-anth-1", done=True)
    eq(rec.json["messages"][0]["content"], txt, "recorded parsed body")
    eq(rec.header("x-api-key"), ANTHROPIC_KEY, "recorded headers")
    eq(j["usage"], rec.usage, "usage recorded")
    eq(j["usage"]["cache_read_input_tokens"], 100, "cache_control -> cache read tokens")
    eq(j["usage"]["input_tokens"], 3 + len(txt.split()) + 2, "input_tokens formula")
    reqs = call("GET", m.url("/__mock/requests")).json()
    check(any("marker-anth-1" in x["body"] and x["json"]["model"] == "claude-sonnet-4-5" for x in reqs),
          "GET /__mock/requests lists it with the parsed body")


@test
def anthropic_stream_event_sequence():
    m = ENV.anthropic
    txt = "marker-anth-2 one two three four ünï"
    raw = Raw(m.port, "POST", "/v1/messages", amsg(txt, stream=True),
              [("x-api-key", ANTHROPIC_KEY), ("anthropic-version", "2023-06-01"),
               ("Content-Type", "application/json")]).read()
    eq(raw.status, 200, "status")
    check(raw.ended and not raw.error, f"stream ended cleanly ({raw.error})")
    check(raw.headers["content-type"].startswith("text/event-stream"), "content-type")
    evs = parse_sse(raw.body)
    names = [e["event"] for e in evs]
    for e in evs:
        eq(json.loads(e["data"])["type"], e["event"], "event name == data.type")
    eq(names[:3], ["message_start", "content_block_start", "ping"], "start of the sequence")
    eq(names[-3:], ["content_block_stop", "message_delta", "message_stop"], "end of the sequence")
    check(all(n == "content_block_delta" for n in names[3:-3]), f"deltas in between: {names}")
    text = "".join(json.loads(e["data"])["delta"]["text"] for e in evs if e["event"] == "content_block_delta")
    eq(text, txt, "assembled text")
    rec = m.wait_request("marker-anth-2", done=True)
    md = json.loads(evs[-2]["data"])
    eq(md["usage"]["output_tokens"], rec.usage["output_tokens"], "cumulative usage in message_delta")
    eq(json.loads(evs[0]["data"])["message"]["usage"]["input_tokens"], rec.usage["input_tokens"], "input tokens")
    eq([e["event"] for e in rec.events], names, "recorded events")
    check(len(raw.chunks) > len(evs), f"written in small pieces: {len(raw.chunks)} chunks for {len(evs)} events")
    check(len(set(len(c) for c in raw.chunks)) > 3, "irregular chunk sizes")
    body, bounds, i = raw.body, set(), 0
    while True:
        i = body.find(b"\n\n", i)
        if i < 0:
            break
        i += 2
        bounds.add(i)
    pos, inside = 0, 0
    for c in raw.chunks:
        pos += len(c)
        inside += pos not in bounds
    check(inside > len(evs) // 2, f"events split across chunks ({inside} chunk ends inside events)")
    check(any(_splits_utf8(c) for c in raw.chunks), "a multi-byte character split across chunks")


def _splits_utf8(chunk):
    try:
        chunk.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


@test
def anthropic_tool_call_stream_and_json():
    tools = [{"name": "get_weather", "description": "w", "input_schema": {"type": "object",
                                                                          "properties": {"city": {"type": "string"}}}},
             {"name": "other", "input_schema": {"type": "object"}}]
    r = anth(amsg("please call tool now", tools=tools))
    j = r.json()
    eq(j["stop_reason"], "tool_use", "stop_reason")
    eq([(c["type"], c["name"], c["input"]) for c in j["content"]], [("tool_use", "get_weather", {"city": "Paris"})],
       "one tool_use to the first tool")
    check(j["content"][0]["id"].startswith("toolu_"), "tool id")
    r = anth(amsg("narrate and call tool in parallel", tools=tools, stream=True))
    evs = [json.loads(e["data"]) for e in parse_sse(r.body)]
    starts = [e for e in evs if e["type"] == "content_block_start"]
    eq([s["content_block"]["type"] for s in starts], ["text", "tool_use", "tool_use"], "text then two tool blocks")
    for s in starts[1:]:
        frags = [e["delta"]["partial_json"] for e in evs if e["type"] == "content_block_delta"
                 and e["index"] == s["index"]]
        eq(frags[0], "", "first input_json_delta is empty")
        check(len(frags) >= 3, "arguments split in several fragments")
        json.loads("".join(frags))
    eq([e for e in evs if e["type"] == "message_delta"][0]["delta"]["stop_reason"], "tool_use", "stream stop_reason")
    # forced tool choice without trigger text; tool_result follow-up
    r = anth(amsg("whatever", tools=tools, tool_choice={"type": "tool", "name": "other"}))
    eq(r.json()["content"][0]["name"], "other", "named tool_choice forces that tool")
    b = amsg("call tool", tools=tools)
    b["messages"] += [{"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "get_weather",
                                                          "input": {"city": "Paris"}}]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9",
                                                    "content": "18C sunny"}]}]
    eq(anth(b).json()["content"][0]["text"], "Tool result: 18C sunny", "reply after a tool result")
    r = anth(amsg("give json", output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}}))
    eq(json.loads(r.json()["content"][0]["text"]), {"echo": "give json", "mock": "anthropic"}, "JSON mode")


@test
def anthropic_thinking_and_limits():
    r = anth(amsg("deep question", thinking={"type": "enabled", "budget_tokens": 1024}))
    c = r.json()["content"]
    eq(c[0]["type"], "thinking", "thinking block first")
    check(c[0]["signature"] and c[0]["thinking"] == "Thinking about: deep question", "thinking text + signature")
    r = anth(amsg("deep question", thinking={"type": "enabled", "budget_tokens": 1024}, stream=True))
    evs = [json.loads(e["data"]) for e in parse_sse(r.body)]
    d0 = [e["delta"]["type"] for e in evs if e["type"] == "content_block_delta" and e["index"] == 0]
    check(d0[-1] == "signature_delta" and set(d0[:-1]) == {"thinking_delta"}, f"thinking deltas {d0}")
    r = anth(amsg("a b c d e f", max_tokens=3))
    eq((r.json()["stop_reason"], r.json()["content"][0]["text"]), ("max_tokens", "a b c "), "max_tokens cut")
    r = anth(amsg("say hello STOP world", stop_sequences=["STOP"]))
    eq((r.json()["stop_reason"], r.json()["stop_sequence"]), ("stop_sequence", "STOP"), "stop sequence")


@test
def anthropic_faults():
    m = ENV.anthropic
    r = anth(amsg("x", model="claude-fault-429"))
    anth_err(r, 429, "rate_limit_error")
    eq(r.header("retry-after"), "1", "retry-after")
    check(r.header("retry-after-ms") is None, "Anthropic sends no retry-after-ms")
    eq(r.header("anthropic-ratelimit-requests-remaining"), "0", "ratelimit headers")
    r = anth(amsg("x"), {"x-mock-fault": "fault-529"})
    anth_err(r, 529, "overloaded_error", "Overloaded")
    m.set_fault("fault-500-ra3", 1)
    r = anth(amsg("x"))
    anth_err(r, 500, "api_error")
    eq(r.header("retry-after"), "3", "-ra3")
    eq(anth(amsg("x")).status, 200, "one-shot override used up")
    eq(call("POST", m.url("/__mock/fault"), {"fault": "fault-503", "count": 2}).status, 200, "POST /__mock/fault")
    eq([anth(amsg("x")).status for _ in range(3)], [503, 503, 200], "fault via HTTP, count 2")
    r = anth(amsg("one two three four five six", stream=True), {"x-mock-fault": "error-mid-stream"})
    evs = parse_sse(r.body)
    eq(evs[-1]["event"], "error", "last event is an error")
    eq(json.loads(evs[-1]["data"])["error"]["type"], "overloaded_error", "overloaded_error")
    check("message_stop" not in [e["event"] for e in evs], "no message_stop after the error")
    check(len(evs) >= 4, "some events before the error")
    r = anth(amsg("one two three four five six", stream=True), {"x-mock-fault": "truncated-stream"})
    evs = parse_sse(r.body)
    check(evs and "message_stop" not in [e["event"] for e in evs], "truncated: no message_stop")
    raw = Raw(m.port, "POST", "/v1/messages", amsg("one two three four", stream=True),
              [("x-api-key", ANTHROPIC_KEY), ("anthropic-version", "2023-06-01"), ("Content-Type", "application/json"),
               ("x-mock-fault", "reset-mid-stream")]).read()
    check(raw.status == 200 and not raw.ended and raw.error in ("reset", "eof"), f"reset mid-stream: {raw.error}")
    check(b"message_start" in raw.body and b"message_stop" not in raw.body, "some events before the reset")
    raw = Raw(m.port, "POST", "/v1/messages", amsg("one two three four", stream=True),
              [("x-api-key", ANTHROPIC_KEY), ("anthropic-version", "2023-06-01"), ("Content-Type", "application/json"),
               ("x-mock-fault", "eof-mid-stream")]).read()
    check(raw.status == 200 and not raw.ended and raw.error == "eof", f"FIN mid-chunk: {raw.error}")
    r = anth(amsg("x", model="claude-slow-first-byte-300"))
    check(r.status == 200 and r.elapsed >= 0.3, f"slow first byte ({r.elapsed:.3f}s)")
    eq(call("POST", m.url("/_mock/reset")).status, 200, "reset")
    eq(call("GET", m.url("/_mock/requests")).json(), [], "requests cleared")


@test
def anthropic_hang_and_closes():
    m = ENV.anthropic
    try:
        anth(amsg("marker-hang-1", model="claude-hang"), timeout=0.5)
        raise AssertionError("hang answered")
    except (TimeoutError, socket.timeout, urllib.error.URLError):
        pass
    rec = m.wait_request("marker-hang-1")
    c = m.wait_close(rec.seq, timeout=5)
    check(c["in_progress"] and c["reason"] == "peer_closed", f"close recorded: {c}")


@test
def anthropic_stall_pause_slow():
    m = ENV.anthropic
    raw = Raw(m.port, "POST", "/v1/messages", amsg("a b c d e f", model="claude-stream-stall-400", stream=True),
              [("x-api-key", ANTHROPIC_KEY), ("anthropic-version", "2023-06-01"),
               ("Content-Type", "application/json")])
    t0 = time.monotonic()
    raw.read()
    check(raw.ended and time.monotonic() - t0 >= 0.4, "stall of 400 ms then the rest")
    check(b"message_stop" in raw.body, "complete after the stall")
    res = {}

    def run():
        res["r"] = anth(amsg("a b c d e f", model="claude-pause-mid-stream", stream=True), {"x-mock-gate": "g1"})
    th = threading.Thread(target=run)
    th.start()
    time.sleep(0.3)
    check(th.is_alive(), "paused stream waits for the gate")
    call("POST", m.url("/_mock/release?gate=g1"))
    th.join(5)
    check(b"message_stop" in res["r"].body, "released stream completes")
    r = anth(amsg("x", model="claude-slow-stream-5x50", stream=True))
    text = "".join(json.loads(e["data"])["delta"].get("text", "") for e in parse_sse(r.body)
                   if e["event"] == "content_block_delta")
    eq(text, "tick0 tick1 tick2 tick3 tick4", "slow-stream ticks")
    check(r.elapsed >= 0.4, "slow-stream paced")


# ================================================================================================ Gemini / Vertex
def gem(model, body, method="generateContent", key=GEMINI_KEY, query="", headers=None, **kw):
    h = dict(headers or {})
    if key is not None:
        h["x-goog-api-key"] = key
    return call("POST", ENV.gemini.url(f"/v1beta/models/{model}:{method}{query}"), body, h, **kw)


def gbody(text, **extra):
    b = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    b.update(extra)
    return b


def gerr(r, status, st, contains=None):
    eq(r.status, status, f"status {r}")
    e = r.json()["error"]
    eq((e["code"], e["status"]), (status, st), "google error")
    if contains:
        check(contains in e["message"], f"message should contain {contains!r}: {e['message']!r}")
    return e


@test
def gemini_auth():
    gerr(gem("gemini-2.5-flash", gbody("x"), key=None), 403, "PERMISSION_DENIED", "unregistered callers")
    e = gerr(gem("gemini-2.5-flash", gbody("x"), key="AIzaWRONG"), 400, "INVALID_ARGUMENT", "API key not valid")
    eq(e["details"][0]["reason"], "API_KEY_INVALID", "ErrorInfo reason")
    r = gem("gemini-2.5-flash", gbody("marker-gkey"), key=None, query=f"?key={GEMINI_KEY}")
    eq(r.status, 200, "?key= works")
    eq(ENV.gemini.wait_request("marker-gkey").auth, "key-query", "auth recorded")


@test
def gemini_body_checks():
    gerr(gem("gemini-2.5-flash", {"messages": [{"role": "user", "content": "x"}]}), 400, "INVALID_ARGUMENT",
         'Unknown name "messages"')
    gerr(gem("gemini-2.5-flash", {"contents": []}), 400, "INVALID_ARGUMENT", "contents is not specified")
    gerr(gem("gemini-2.5-flash", {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}), 400,
         "INVALID_ARGUMENT", "valid role")
    gerr(gem("gemini-2.5-flash", gbody("x", generationConfig={"max_tokens": 5})), 400, "INVALID_ARGUMENT",
         'Unknown name "max_tokens"')
    decl = {"name": "get_weather", "parameters": {"type": "object", "additionalProperties": False,
                                                  "properties": {"city": {"type": "string"}}}}
    gerr(gem("gemini-2.5-flash", gbody("x", tools=[{"functionDeclarations": [decl]}])), 400, "INVALID_ARGUMENT",
         'Unknown name "additionalProperties"')
    decl = {"name": "get_weather", "parametersJsonSchema": {"type": "object", "additionalProperties": False}}
    eq(gem("gemini-2.5-flash", gbody("x", tools=[{"functionDeclarations": [decl]}])).status, 200,
       "parametersJsonSchema takes any JSON Schema")
    gerr(gem("gemini-2.5-flash", {"contents": [{"role": "user", "parts": [{"text": "a", "inlineData": {}}]}]}), 400,
         "INVALID_ARGUMENT", "Oneof")


@test
def gemini_non_stream_tools_json_thinking():
    txt = "marker-g1 hello <world> ✓"
    r = gem("gemini-2.5-flash", gbody(txt))
    eq(r.status, 200, f"status {r}")
    check("\\u003c" in r.text, "'<' escaped as \\u003c like Google")
    j = r.json()
    eq(j["candidates"][0]["content"], {"parts": [{"text": txt}], "role": "model"}, "echo")
    eq(j["candidates"][0]["finishReason"], "STOP", "finishReason")
    rec = ENV.gemini.wait_request("marker-g1", done=True)
    eq(j["usageMetadata"]["candidatesTokenCount"], rec.usage["candidatesTokenCount"], "usage")
    eq(j["usageMetadata"]["totalTokenCount"], j["usageMetadata"]["promptTokenCount"]
       + j["usageMetadata"]["candidatesTokenCount"], "total")
    tools = [{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": {"type": "object"}}]}]
    j = gem("gemini-2.5-flash", gbody("call tool please", tools=tools)).json()
    p = j["candidates"][0]["content"]["parts"]
    eq(p[0]["functionCall"], {"name": "get_weather", "args": {"city": "Paris"}}, "functionCall part")
    check(p[0].get("thoughtSignature"), "thoughtSignature on gemini-2.5 function call")
    eq(j["candidates"][0]["finishReason"], "STOP", "finishReason STOP for tool calls")
    j = gem("gemini-2.0-flash", gbody("x", tools=tools, toolConfig={"functionCallingConfig": {"mode": "ANY"}})).json()
    check("functionCall" in j["candidates"][0]["content"]["parts"][0], "mode ANY forces a call")
    check("thoughtSignature" not in j["candidates"][0]["content"]["parts"][0], "no signature on 2.0")
    j = gem("gemini-2.5-flash", gbody("jj", generationConfig={"responseMimeType": "application/json"})).json()
    eq(json.loads(j["candidates"][0]["content"]["parts"][0]["text"]), {"echo": "jj", "mock": "gemini"}, "JSON mode")
    j = gem("gemini-2.5-flash", gbody("hmm", generationConfig={"thinkingConfig": {"includeThoughts": True,
                                                                                  "thinkingBudget": 1024}})).json()
    p = j["candidates"][0]["content"]["parts"]
    eq(p[0], {"text": "Thinking about: hmm", "thought": True}, "thought part")
    check(j["usageMetadata"]["thoughtsTokenCount"] > 0, "thoughtsTokenCount")
    # gemini-3 thought-signature round trip
    hist = [{"role": "user", "parts": [{"text": "call tool"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": "18C"}}}]}]
    gerr(gem("gemini-3-pro-preview", {"contents": hist, "tools": tools}), 400, "INVALID_ARGUMENT",
         "missing a thought_signature")
    sig = gem("gemini-3-pro-preview", {"contents": hist[:1], "tools": tools}).json()[
        "candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    hist[1]["parts"][0]["thoughtSignature"] = sig
    r = gem("gemini-3-pro-preview", {"contents": hist, "tools": tools})
    eq(r.json()["candidates"][0]["content"]["parts"][0]["text"], 'Tool result: {"t": "18C"}', "issued signature ok")
    hist[1]["parts"][0]["thoughtSignature"] = "forged"
    gerr(gem("gemini-3-pro-preview", {"contents": hist, "tools": tools}), 400, "INVALID_ARGUMENT", "Corrupted")


@test
def gemini_streams():
    txt = "marker-g2 alpha beta gamma delta epsilon"
    r = gem("gemini-2.5-flash", gbody(txt), method="streamGenerateContent", query="?alt=sse")
    eq(r.status, 200, "status")
    check(r.header("content-type").startswith("text/event-stream"), "content-type")
    check(r.body.count(b"\r\n\r\n") >= 2 and b"\n\n" not in r.body.replace(b"\r\n\r\n", b""), "CRLF CRLF separators")
    chunks = [json.loads(e["data"]) for e in parse_sse(r.body)]
    check(len(chunks) >= 3, "several chunks")
    eq("".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"]), txt, "assembled text")
    check(all("finishReason" not in c["candidates"][0] for c in chunks[:-1]), "no finishReason before the last")
    eq(chunks[-1]["candidates"][0]["finishReason"], "STOP", "finishReason on the last")
    check(all("usageMetadata" in c and c["responseId"] == chunks[0]["responseId"] for c in chunks), "usage everywhere")
    rec = ENV.gemini.wait_request("marker-g2", done=True)
    eq(chunks[-1]["usageMetadata"]["candidatesTokenCount"], rec.usage["candidatesTokenCount"], "final usage")
    r = gem("gemini-2.5-flash", gbody(txt), method="streamGenerateContent")
    arr = json.loads(r.body)
    check(isinstance(arr, list) and len(arr) == len(chunks), "JSON-array mode without alt=sse")
    r = gem("gemini-2.5-flash", gbody(txt), method="streamGenerateContent", query="?alt=sse",
            headers={"x-mock-fault": "error-mid-stream"})
    evs = [json.loads(e["data"]) for e in parse_sse(r.body)]
    eq(evs[-1]["error"]["status"], "UNAVAILABLE", "error chunk last")
    check("candidates" in evs[0], "chunks before the error")
    r = gem("gemini-2.5-flash", gbody("x"), headers={"x-mock-fault": "blocked"})
    j = r.json()
    check(j["promptFeedback"]["blockReason"] == "SAFETY" and "candidates" not in j, "blocked prompt")


@test
def gemini_faults():
    r = gem("gemini-fault-429", gbody("x"))
    e = gerr(r, 429, "RESOURCE_EXHAUSTED")
    eq([d["retryDelay"] for d in e["details"] if d["@type"].endswith("RetryInfo")], ["7s"], "RetryInfo")
    gerr(gem("gemini-fault-503", gbody("x")), 503, "UNAVAILABLE", "overloaded")
    gerr(gem("gemini-notfound", gbody("x")), 404, "NOT_FOUND")


def vertex_token():
    r = call("POST", ENV.oauth.token_uri, urllib.parse.urlencode({
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": ENV.oauth.make_assertion()}),
        {"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 200, f"token {r}")
    return r.json()["access_token"]


def vtx(token, body, model="gemini-2.5-flash", project=None, method="generateContent", query=""):
    url = ENV.gemini.vertex_url(model, method, project=project) + query
    h = {"Authorization": f"Bearer {token}"} if token else {}
    return call("POST", url, body, h)


@test
def vertex_oauth_token_endpoint():
    o = ENV.oauth
    sa = json.load(open(o.credentials_path))
    for k in ("type", "project_id", "private_key_id", "private_key", "client_email", "token_uri"):
        check(k in sa, f"service account has {k}")
    eq(sa["token_uri"], o.token_uri, "token_uri points at the mock")
    rc = subprocess.run(["openssl", "pkey", "-in", o.key_path, "-noout"], capture_output=True).returncode
    eq(rc, 0, "private key is a valid PEM")
    n0 = o.issued_count
    r = call("POST", o.token_uri, urllib.parse.urlencode({
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": o.make_assertion()}),
        {"Content-Type": "application/x-www-form-urlencoded"})
    eq(r.status, 200, f"status {r}")
    j = r.json()
    check(j["access_token"].startswith("ya29.") and j["token_type"] == "Bearer" and j["expires_in"] == 3599, str(j))
    eq(o.issued_count, n0 + 1, "issuance counted")
    eq(o.check_token(j["access_token"]), "ok", "token valid")

    def tok(assertion, grant="urn:ietf:params:oauth:grant-type:jwt-bearer", ctype="application/x-www-form-urlencoded"):
        return call("POST", o.token_uri, urllib.parse.urlencode({"grant_type": grant, "assertion": assertion}),
                    {"Content-Type": ctype})

    def oerr(r, status, err, contains=None):
        eq(r.status, status, f"status {r}")
        eq(r.json()["error"], err, "error")
        if contains:
            check(contains in r.json()["error_description"], f"{contains!r} in {r.json()}")

    other = os.path.join(ENV.tmp, "other")
    os.makedirs(other, exist_ok=True)
    generate_rsa_key(os.path.join(other, "k.pem"), os.path.join(other, "p.pem"))
    oerr(tok(o.make_assertion(key_path=os.path.join(other, "k.pem"))), 400, "invalid_grant", "Invalid JWT Signature")
    good = o.make_assertion()
    h, p, s = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["scope"] += " https://www.googleapis.com/auth/admin"
    p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    oerr(tok(f"{h}.{p2}.{s}"), 400, "invalid_grant", "Invalid JWT Signature")
    oerr(tok(o.make_assertion(aud="https://oauth2.googleapis.com/token")), 400, "invalid_grant", "audience")
    oerr(tok(o.make_assertion(scope=None)), 400, "invalid_scope")
    oerr(tok(o.make_assertion(iss="someone@else.iam.gserviceaccount.com")), 400, "invalid_grant", "account")
    now = int(time.time())
    oerr(tok(o.make_assertion(iat=now, exp=now + 7200)), 400, "invalid_grant", "short-lived")
    oerr(tok(o.make_assertion(iat=now - 4000, exp=now - 400)), 400, "invalid_grant", "short-lived")
    oerr(tok(good, grant="client_credentials"), 400, "unsupported_grant_type")
    oerr(tok(good, ctype="application/json"), 400, "invalid_request")
    oerr(tok(sign_jwt({"iss": o.client_email}, o.key_path, header={"alg": "HS256", "typ": "JWT"})), 400,
         "invalid_grant", "alg")
    eq(o.issued_count, n0 + 1, "rejections issue nothing")
    eq(call("GET", o.url("/_mock/state")).json()["issued_count"], n0 + 1, "state endpoint")


@test
def vertex_generate_with_oauth():
    o, g = ENV.oauth, ENV.gemini
    r = vtx(None, gbody("x"))
    e = gerr(r, 401, "UNAUTHENTICATED")
    eq(e["details"][0]["reason"], "CREDENTIALS_MISSING", "reason")
    e = gerr(vtx("ya29.forged", gbody("x")), 401, "UNAUTHENTICATED")
    eq(e["details"][0]["reason"], "ACCESS_TOKEN_TYPE_UNSUPPORTED", "reason")
    t = vertex_token()
    r = vtx(t, gbody("marker-vtx hello"))
    eq(r.status, 200, f"status {r}")
    j = r.json()
    eq(j["candidates"][0]["content"]["parts"][0]["text"], "marker-vtx hello", "echo")
    check("createTime" in j, "Vertex createTime")
    rec = g.wait_request("marker-vtx")
    eq((rec.auth, rec.info["api"], rec.info["project"]), ("oauth", "vertex", o.project_id), "recorded")
    gerr(vtx(t, gbody("x"), project="other-project"), 403, "PERMISSION_DENIED")
    gerr(vtx(t, {"contents": [{"parts": [{"text": "x"}]}]}), 400, "INVALID_ARGUMENT", "valid role")
    r = vtx(t, gbody("a b c d"), method="streamGenerateContent", query="?alt=sse")
    parts = [p for e in parse_sse(r.body) for p in json.loads(e["data"])["candidates"][0]["content"]["parts"]]
    eq("".join(p["text"] for p in parts), "a b c d", "Vertex SSE stream")
    eq(call("GET", g.url("/v1beta/models"), headers={"x-goog-api-key": GEMINI_KEY}).status, 200, "model list")
    call("POST", o.url("/_mock/config"), {"expires_in": 1})
    t2 = vertex_token()
    eq(vtx(t2, gbody("x")).status, 200, "short-lived token works at first")
    time.sleep(1.2)
    e = gerr(vtx(t2, gbody("x")), 401, "UNAUTHENTICATED")
    eq(e["details"][0]["reason"], "ACCESS_TOKEN_EXPIRED", "expired token")
    o.configure(expires_in=3599)
    t3 = vertex_token()
    o.revoke_all()
    gerr(vtx(t3, gbody("x")), 401, "UNAUTHENTICATED")


# ================================================================================================ Bedrock
BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def bpath(model=BEDROCK_MODEL, op="converse"):
    return f"/model/{urllib.parse.quote(model, safe='')}/{op}"


def bcall(body, model=BEDROCK_MODEL, op="converse", amz=None, extra=None, sign_kw=None, mutate=None, raw=False,
          path=None):
    m = ENV.bedrock
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    path = path or bpath(model, op)
    host = f"127.0.0.1:{m.port}"
    hdrs = {"content-type": "application/json"}
    hdrs.update(extra or {})
    out, _, _ = sigv4("POST", host, path, data, amz or amz_now(), extra=hdrs, **(sign_kw or {}))
    if mutate:
        mutate(out)
    if raw:
        return Raw(m.port, "POST", path, data, [(k, v) for k, v in out.items() if k != "Host"]).read()
    return call("POST", m.url(path), data, out)


def bbody(text, **extra):
    b = {"messages": [{"role": "user", "content": [{"text": text}]}], "inferenceConfig": {"maxTokens": 256}}
    b.update(extra)
    return b


def berr(r, status, type_, contains=None):
    eq(r.status, status, f"status {r}")
    eq(r.header("x-amzn-ErrorType").split(":")[0], type_, "x-amzn-ErrorType")
    msg = r.json()["message"]
    if contains:
        check(contains in msg, f"message should contain {contains!r}: {msg!r}")
    return msg


@test
def sigv4_signer_matches_aws_vectors():
    akid, secret = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    _, _, sig = sigv4("GET", "example.amazonaws.com", "/", b"", "20150830T123600Z", akid, secret, "us-east-1",
                      "service")
    eq(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "get-vanilla")
    _, _, sig = sigv4("POST", "example.amazonaws.com", "/", b"", "20150830T123600Z", akid, secret, "us-east-1",
                      "service")
    eq(sig, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b", "post-vanilla")
    body = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":16}}'
    eq(hashlib.sha256(body).hexdigest(), "5903c58ae9037766e41ea3e3ef4368cbac6b3f82d1c1f15a67ac4a7520b79d7f",
       "body hash")
    path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    hdrs, creq, sig = sigv4("POST", "bedrock-runtime.us-east-1.amazonaws.com", path, body, "20250101T000000Z", akid,
                            secret, "us-east-1", "bedrock", extra={"content-type": "application/json"})
    check("/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n" in creq, "double-encoded canonical path")
    eq(sig, "e55d2d3d43d559030b5ac40103458a8192f8d9e8b6757fc279f66699ded79d6f", "Bedrock Converse vector")
    check("SignedHeaders=content-type;host;x-amz-date," in hdrs["Authorization"], "signed headers")
    _, _, single = sigv4("POST", "bedrock-runtime.us-east-1.amazonaws.com", path, body, "20250101T000000Z", akid,
                         secret, "us-east-1", "bedrock", extra={"content-type": "application/json"}, double=False)
    check(single.startswith("29d56eb2"), "single-encoded path gives the classic wrong signature")
    # the mock's server-side computation agrees with the vector too
    _, _, msig = bedrock_mod.expected_signature(
        "POST", path, "", [("Host", "bedrock-runtime.us-east-1.amazonaws.com"), ("Content-Type", "application/json"),
                           ("X-Amz-Date", "20250101T000000Z")], ["content-type", "host", "x-amz-date"], body,
        "20250101T000000Z", "us-east-1", secret)
    eq(msig, "e55d2d3d43d559030b5ac40103458a8192f8d9e8b6757fc279f66699ded79d6f", "mock's own SigV4 computation")


ES_VECTORS = {
    "messageStart": "000000760000005296d5fade0b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74656e74"
                    "2d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b2272"
                    "6f6c65223a22617373697374616e74227d6fa8c599",
    "contentBlockDelta": "0000009400000057b4ab9aee0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a"
                         "636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d7479706507"
                         "00056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a"
                         "224869227d7d1f944657",
    "throttling": "00000090000000618e91a9b70f3a657863657074696f6e2d747970650700137468726f74746c696e67457863657074696f6e"
                  "0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d7479706507"
                  "0009657863657074696f6e7b226d657373616765223a22546f6f206d616e79207265717565737473227de67f8005",
    "empty": "000000100000000005c248eb7d98c8ff",
    "noheaders": "0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936",
}


@test
def eventstream_decoder_and_encoder_vectors():
    for name, hx in ES_VECTORS.items():
        msgs = es_decode(bytes.fromhex(hx))
        eq(len(msgs), 1, f"{name}: one message")
    eq(es_decode(bytes.fromhex(ES_VECTORS["messageStart"]))[0][0][":event-type"], "messageStart", "header")
    eq(es_decode(bytes.fromhex(ES_VECTORS["noheaders"]))[0][1], b"{'foo':'bar'}", "payload")
    eq(bedrock_mod.event_frame("messageStart", {"role": "assistant"}).hex(), ES_VECTORS["messageStart"],
       "mock encodes messageStart byte for byte")
    eq(bedrock_mod.event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}).hex(),
       ES_VECTORS["contentBlockDelta"], "mock encodes contentBlockDelta byte for byte")
    eq(bedrock_mod.exception_frame("throttlingException", {"message": "Too many requests"}).hex(),
       ES_VECTORS["throttling"], "mock encodes the exception frame byte for byte")
    bad = bytearray.fromhex(ES_VECTORS["contentBlockDelta"])
    bad[-5] ^= 1
    try:
        es_decode(bytes(bad))
        raise AssertionError("corrupted payload accepted")
    except ValueError:
        pass
    try:
        es_decode(bytes.fromhex(ES_VECTORS["messageStart"])[:-3])
        raise AssertionError("truncated frame accepted")
    except Truncated:
        pass


@test
def bedrock_sigv4_accepts_correct_signature():
    m = ENV.bedrock
    r = bcall(bbody("marker-b1 hello"))
    eq(r.status, 200, f"status {r}")
    rec = m.wait_request("marker-b1", done=True)
    eq((rec.auth, rec.model, rec.info["model_id_raw"]), ("sigv4", BEDROCK_MODEL,
                                                         "anthropic.claude-3-haiku-20240307-v1%3A0"), "recorded")
    check(rec.info["sigv4"]["ok"] and "%253A" in rec.info["sigv4"]["canonical_request"], "verified, double-encoded")
    j = r.json()
    eq(j["output"]["message"]["content"], [{"text": "marker-b1 hello"}], "echo")
    eq(j["stopReason"], "end_turn", "stopReason")
    eq(j["usage"], rec.usage, "usage")
    body = bbody("x")
    eq(bcall(body, extra={"x-amz-content-sha256": hashlib.sha256(json.dumps(body).encode()).hexdigest()}).status, 200,
       "signed x-amz-content-sha256 accepted")
    eq(bcall(bbody("x"), model="us.anthropic.claude-3-5-sonnet-20241022-v2:0").status, 200, "inference profile id")
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
    r = bcall(bbody("x"), model=arn)
    eq(r.status, 200, f"ARN model id (':' and '/' encoded in one segment) {r}")
    eq(m.last().model, arn, "decoded ARN")


@test
def bedrock_sigv4_rejects_wrong_signatures():
    m = ENV.bedrock
    msg = berr(bcall(bbody("x"), sign_kw={"secret": "wrong-secret"}), 403, "InvalidSignatureException",
               "signature we calculated does not match")
    check("The Canonical String for this request should have been" in msg, "canonical string in the message")
    berr(bcall(bbody("x"), sign_kw={"double": False}), 403, "InvalidSignatureException")
    check("single-encoded" in m.last().info["sigv4"].get("hint", ""), "hint about the single-encoded path")
    berr(bcall(bbody("x"), sign_kw={"akid": "AKIAOTHER"}), 403, "UnrecognizedClientException")
    berr(bcall(bbody("x"), sign_kw={"region": "eu-west-1"}), 403, "InvalidSignatureException", "region")
    berr(bcall(bbody("x"), sign_kw={"service": "bedrock-runtime"}), 403, "InvalidSignatureException", "service")
    berr(bcall(bbody("x"), amz=amz_now(-1200)), 403, "InvalidSignatureException", "Signature expired")
    berr(bcall(bbody("x"), extra={"x-amz-content-sha256": "0" * 64}), 400, "InvalidSignatureException",
         "x-amz-content-sha256")

    def tamper_body_header(out):
        out["X-Extra"] = "unsigned is fine"
    eq(bcall(bbody("x"), mutate=tamper_body_header).status, 200, "unsigned extra headers are fine")

    def drop_date(out):
        del out["x-amz-date"]
    berr(bcall(bbody("x"), mutate=drop_date), 403, "IncompleteSignatureException", "X-Amz-Date")
    r = call("POST", m.url(bpath()), bbody("x"))
    berr(r, 403, "MissingAuthenticationTokenException")
    body = json.dumps(bbody("x")).encode()
    out, _, _ = sigv4("POST", f"127.0.0.1:{m.port}", bpath(), body, amz_now(),
                      extra={"content-type": "application/json"})
    r = call("POST", m.url(bpath()), body.replace(b'"x"', b'"y"'), out)
    berr(r, 403, "InvalidSignatureException", "does not match")
    m.configure(session_token="mock-session-token")
    try:
        berr(bcall(bbody("x")), 403, "UnrecognizedClientException")
        eq(bcall(bbody("x"), extra={"x-amz-security-token": "mock-session-token"}).status, 200, "STS token signed")
    finally:
        m.configure(session_token=None)


@test
def bedrock_body_checks():
    b = bbody("x")
    b["messages"] += [{"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
                      {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "r"}]}}]}]
    berr(bcall(b), 400, "ValidationException", "The toolConfig field must be defined when using toolUse and "
                                               "toolResult content blocks.")
    b["toolConfig"] = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}
    r = bcall(b)
    eq(r.json()["output"]["message"]["content"][0]["text"], "Tool result: r", "tool result follow-up")
    berr(bcall({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}), 400, "ValidationException",
         "start with a user message")
    two_users = [{"role": "user", "content": [{"text": "x"}]}, {"role": "user", "content": [{"text": "y"}]}]
    berr(bcall({"messages": two_users}), 400, "ValidationException", "alternate")
    berr(bcall({"messages": [{"role": "user", "content": []}]}), 400, "ValidationException", "is empty")
    berr(bcall({"messages": [{"role": "user", "content": "x"}]}), 400, "ValidationException")
    berr(bcall(bbody("x", max_tokens=5)), 400, "ValidationException", "max_tokens")
    berr(bcall(bbody("x", outputConfig={"textFormat": {"type": "json_schema", "structure": {
        "jsonSchema": {"schema": {"type": "object"}}}}})), 400, "ValidationException", "string")
    r = bcall(bbody("js", outputConfig={"textFormat": {"type": "json_schema", "structure": {
        "jsonSchema": {"schema": json.dumps({"type": "object"})}}}}))
    eq(json.loads(r.json()["output"]["message"]["content"][0]["text"]), {"echo": "js", "mock": "bedrock"}, "JSON mode")


def bstream(body, **kw):
    r = bcall(body, op="converse-stream", raw=True, **kw)
    return r


@test
def bedrock_converse_stream_frames():
    m = ENV.bedrock
    txt = "marker-b2 one two three four five"
    raw = bstream(bbody(txt))
    eq(raw.status, 200, "status")
    eq(raw.headers["content-type"], "application/vnd.amazon.eventstream", "content-type")
    check(raw.ended, "chunked body ended")
    msgs = es_decode(raw.body)
    types = [h.get(":event-type") for h, _ in msgs]
    eq(types[0], "messageStart", "first")
    eq(types[-2:], ["messageStop", "metadata"], "metadata AFTER messageStop")
    check("contentBlockStart" not in types, "no start event for text blocks")
    payloads = [json.loads(p) for _, p in msgs]
    check(all(isinstance(p.get("p"), str) and p["p"] for p in payloads), "p padding on every event")
    check(all(h[":message-type"] == "event" and h[":content-type"] == "application/json" for h, _ in msgs), "headers")
    eq("".join(p["delta"]["text"] for p, t in zip(payloads, types) if t == "contentBlockDelta"), txt, "text")
    rec = m.wait_request("marker-b2", done=True)
    eq(payloads[-1]["usage"], rec.usage, "metadata usage")
    # frames are split across HTTP chunks (not aligned to frame boundaries)
    bounds, pos = set(), 0
    for h, p in msgs:
        pos += 16 + len(bedrock_mod.encode_headers([(k, v) for k, v in h.items()])) + len(p)
        bounds.add(pos)
    cpos, unaligned = 0, 0
    for c in raw.chunks:
        cpos += len(c)
        unaligned += cpos not in bounds
    check(unaligned > len(msgs), f"frames split across chunks ({unaligned} unaligned chunk ends)")
    # tool use + reasoning
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]}
    raw = bstream(bbody("narrate and call tool", toolConfig=tools,
                        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}}))
    msgs = es_decode(raw.body)
    types = [h[":event-type"] for h, _ in msgs]
    payloads = [json.loads(p) for _, p in msgs]
    eq(payloads[0], {"role": "assistant", "p": payloads[0]["p"]}, "messageStart")
    r0 = [p["delta"]["reasoningContent"] for p, t in zip(payloads, types) if t == "contentBlockDelta"
          and p["contentBlockIndex"] == 0]
    check("signature" in r0[-1] and all("text" in x for x in r0[:-1]), f"reasoning deltas {r0}")
    st = [p for p, t in zip(payloads, types) if t == "contentBlockStart"]
    eq(len(st), 1, "one toolUse start")
    eq(st[0]["start"]["toolUse"]["name"], "get_weather", "toolUse start")
    idx = st[0]["contentBlockIndex"]
    args = "".join(p["delta"]["toolUse"]["input"] for p, t in zip(payloads, types)
                   if t == "contentBlockDelta" and p["contentBlockIndex"] == idx)
    eq(json.loads(args), {"city": "Paris"}, "toolUse input fragments")
    eq([p for p, t in zip(payloads, types) if t == "messageStop"][0]["stopReason"], "tool_use", "stopReason")


@test
def bedrock_faults():
    r = bcall(bbody("x"), model="anthropic.claude-fault-429-v1:0")
    berr(r, 429, "ThrottlingException", "Too many requests")
    berr(bcall(bbody("x"), extra={"x-mock-fault": "fault-503"}), 503, "ServiceUnavailableException")
    raw = bstream(bbody("a b c d e f"), extra={"x-mock-fault": "error-mid-stream"})
    msgs = es_decode(raw.body)
    eq((msgs[-1][0][":message-type"], msgs[-1][0][":exception-type"]), ("exception", "throttlingException"),
       "exception frame last")
    check(raw.ended and msgs[0][0][":event-type"] == "messageStart", "events before it, clean end")
    raw = bstream(bbody("a b c d e f"), extra={"x-mock-fault": "error-mid-stream-modelstream"})
    p = json.loads(es_decode(raw.body)[-1][1])
    eq(p["originalStatusCode"], 500, "modelStreamErrorException payload")
    raw = bstream(bbody("a b c d e f"), extra={"x-mock-fault": "error-frame-mid-stream"})
    h = es_decode(raw.body)[-1][0]
    eq((h[":message-type"], h[":error-code"]), ("error", "InternalFailure"), "unmodeled error frame")
    raw = bstream(bbody("a b c d e f"), extra={"x-mock-fault": "truncated-frame"})
    check(raw.ended, "clean HTTP end")
    try:
        es_decode(raw.body)
        raise AssertionError("truncated final frame decoded")
    except Truncated:
        pass
    raw = bstream(bbody("a b c d e f"), extra={"x-mock-fault": "truncated-stream"})
    types = [x[0][":event-type"] for x in es_decode(raw.body)]
    check("messageStop" not in types and "metadata" not in types, "truncated stream: no messageStop/metadata")


# ================================================================================================ Azure
def az(dep, body, ver="2024-10-21", headers=None, **kw):
    q = f"?api-version={ver}" if ver else ""
    h = {"api-key": AZURE_KEY} if headers is None else headers
    return call("POST", ENV.azure.url(f"/openai/deployments/{dep}/chat/completions{q}"), body, h, **kw)


def azb(text, **extra):
    b = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": text}]}
    b.update(extra)
    return b


@test
def azure_paths_auth_versions():
    r = az("gpt4o-prod", azb("marker-az1 hi"))
    eq(r.status, 200, f"status {r}")
    j = r.json()
    eq(j["choices"][0]["message"]["content"], "marker-az1 hi", "echo")
    eq(j["model"], "gpt-4o-2024-11-20", "model = underlying version")
    check(j["prompt_filter_results"] and j["choices"][0]["content_filter_results"], "filter results")
    check(list(j) == sorted(j), "keys sorted like Azure")
    rec = ENV.azure.wait_request("marker-az1")
    eq((rec.auth, rec.info["deployment"], rec.info["api_version"]), ("api-key", "gpt4o-prod", "2024-10-21"), "recorded")
    r = az("gpt4o-prod", azb("x"), ver=None)
    eq((r.status, r.json()["error"]["code"]), (404, "404"), "missing api-version")
    eq(az("gpt4o-prod", azb("x"), ver="bogus").status, 400, "bad api-version")
    r = az("gpt4o-prod", azb("x"), headers={"api-key": "wrong"})
    eq((r.status, r.json()["error"]["code"]), (401, "401"), "wrong key")
    eq(az("gpt4o-prod", azb("x"), headers={"Authorization": f"Bearer {AZURE_AD_TOKEN}"}).status, 200, "Entra token")
    eq(az("gpt4o-prod", azb("x"), headers={"Authorization": f"Bearer {AZURE_KEY}"}).status, 401,
       "key as Bearer only on v1")
    r = call("POST", ENV.azure.url("/openai/v1/chat/completions"), dict(azb("v1"), model="gpt4o-prod"),
             {"Authorization": f"Bearer {AZURE_KEY}"})
    eq(r.status, 200, f"v1 path {r}")
    r = call("POST", ENV.azure.url("/openai/v1/chat/completions"), azb("v1"), {"api-key": AZURE_KEY})
    eq(r.status, 400, "v1 needs model")
    r = az("gpt4o-prod", azb("x", stream=True, stream_options={"include_usage": True}), ver="2024-06-01")
    eq(r.status, 400, "stream_options needs a newer api-version")
    check("Unrecognized request argument supplied: stream_options" in r.json()["error"]["message"], "message")
    r = az("notfound-dep", azb("x"))
    eq((r.status, r.json()["error"]["code"]), (404, "DeploymentNotFound"), "deployment not found")
    r = az("o3-mini", azb("x", max_tokens=10))
    eq((r.status, r.json()["error"]["code"]), (400, "unsupported_parameter"), "reasoning model max_tokens")
    r = az("o3-mini", azb("x", max_completion_tokens=100))
    eq(r.json()["usage"]["completion_tokens_details"]["reasoning_tokens"], 64, "reasoning tokens")
    b = azb("x", tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    b["messages"] += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "no tool message"}]
    eq(az("gpt4o-prod", b).status, 400, "tool_calls must be answered")


@test
def azure_stream_and_faults():
    txt = "marker-az2 one two three"
    r = az("gpt4o-prod", azb(txt, stream=True, stream_options={"include_usage": True}))
    eq(r.status, 200, "status")
    data = [e["data"] for e in parse_sse(r.body)]
    eq(data[-1], "[DONE]", "[DONE]")
    first = json.loads(data[0])
    eq((first["id"], first["choices"], first["created"]), ("", [], 0), "prompt_filter_results chunk first")
    check(first["prompt_filter_results"], "prompt filter results")
    chunks = [json.loads(d) for d in data[1:-1]]
    eq(chunks[0]["choices"][0]["delta"]["role"], "assistant", "role chunk")
    eq("".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]), txt, "content")
    eq(chunks[-1]["choices"], [], "usage chunk")
    check(chunks[-1]["usage"]["total_tokens"] > 0 and all(c["usage"] is None for c in chunks[:-1]), "usage")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    r = az("gpt4o-prod", azb("call tool in parallel", tools=tools, stream=True))
    calls = {}
    for d in [e["data"] for e in parse_sse(r.body)][1:-1]:
        for ch in json.loads(d)["choices"]:
            for tc in ch["delta"].get("tool_calls") or []:
                calls.setdefault(tc["index"], "")
                calls[tc["index"]] += tc["function"].get("arguments", "")
    eq({k: json.loads(v) for k, v in calls.items()}, {0: {"city": "Paris"}, 1: {"city": "Rome"}}, "parallel calls")
    r = az("gpt4o-fault-429", azb("x"))
    eq((r.status, r.header("retry-after"), r.header("retry-after-ms")), (429, "1", "1000"), "429 retry hints")
    r = az("gpt4o-prod", azb("x"), headers={"api-key": AZURE_KEY, "x-mock-fault": "content-filter"})
    j = r.json()["error"]
    eq((r.status, j["code"], j["innererror"]["code"]), (400, "content_filter", "ResponsibleAIPolicyViolation"),
       "prompt filtered")
    r = az("gpt4o-prod", azb("x"), headers={"api-key": AZURE_KEY, "x-mock-fault": "content-filter-output"})
    eq(r.json()["choices"][0]["finish_reason"], "content_filter", "output filtered")
    r = az("gpt4o-prod", azb("a b c d e", stream=True),
           headers={"api-key": AZURE_KEY, "x-mock-fault": "error-mid-stream"})
    data = [e["data"] for e in parse_sse(r.body)]
    check("error" in json.loads(data[-1]) and "[DONE]" not in data, "error event, no [DONE]")
    r = az("gpt4o-prod", azb("json please", response_format={"type": "json_object"}))
    eq(json.loads(r.json()["choices"][0]["message"]["content"])["echo"], "json please", "JSON mode")


# ================================================================================================ Cohere
def co(body, key=COHERE_KEY, headers=None):
    h = {"Authorization": f"Bearer {key}"}
    h.update(headers or {})
    return call("POST", ENV.cohere.url("/v2/chat"), body, h)


def cob(text, **extra):
    b = {"model": "command-a-03-2025", "messages": [{"role": "user", "content": text}]}
    b.update(extra)
    return b


@test
def cohere_checks_and_answers():
    r = co(cob("x"), key="wrong")
    eq((r.status, r.json()["message"]), (401, "invalid api token"), "auth")
    r = co(cob("x", max_completion_tokens=5))
    check(r.status == 400 and "max_completion_tokens" in r.json()["message"], f"unknown field {r}")
    eq(co(cob("x", tool_choice="auto", tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]))
       .status, 400, "tool_choice auto")
    r = co(cob("marker-co1 hello"))
    j = r.json()
    eq(j["message"]["content"], [{"type": "text", "text": "marker-co1 hello"}], "echo")
    eq(j["finish_reason"], "COMPLETE", "finish")
    eq(j["usage"]["tokens"]["input_tokens"], j["usage"]["billed_units"]["input_tokens"] + 64, "tokens vs billed")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    j = co(cob("call tool", tools=tools)).json()
    eq((j["finish_reason"], j["message"]["tool_calls"][0]["function"]["arguments"]), ("TOOL_CALL", '{"city":"Paris"}'),
       "tool call")
    check(j["message"]["tool_plan"], "tool_plan")
    b = cob("call tool", tools=tools)
    b["messages"] += [{"role": "assistant", "tool_calls": j["message"]["tool_calls"], "tool_plan": "p"},
                      {"role": "tool", "tool_call_id": j["message"]["tool_calls"][0]["id"],
                       "content": [{"type": "document", "document": {"data": "18C"}}]}]
    eq(co(b).json()["message"]["content"][0]["text"], "Tool result: 18C", "tool result follow-up")
    r = co(cob("one two three", stream=True))
    evs = parse_sse(r.body)
    for e in evs:
        eq(json.loads(e["data"])["type"], e["event"], "event: line mirrors type")
    eq([e["event"] for e in evs][:2] + [e["event"] for e in evs][-2:],
       ["message-start", "content-start", "content-end", "message-end"], "sequence")
    eq("".join(json.loads(e["data"])["delta"]["message"]["content"]["text"] for e in evs
               if e["event"] == "content-delta"), "one two three", "text")
    eq(json.loads(evs[-1]["data"])["delta"]["finish_reason"], "COMPLETE", "finish")
    evs = parse_sse(co(cob("call tool", tools=tools, stream=True)).body)
    names = [e["event"] for e in evs]
    check("tool-plan-delta" in names and "tool-call-start" in names and "tool-call-end" in names, str(names))
    args = "".join(json.loads(e["data"])["delta"]["message"]["tool_calls"]["function"]["arguments"] for e in evs
                   if e["event"] in ("tool-call-start", "tool-call-delta"))
    eq(json.loads(args), {"city": "Paris"}, "streamed arguments")
    evs = parse_sse(co(cob("why", thinking={"type": "enabled", "token_budget": 1000}, stream=True)).body)
    eq(json.loads(evs[1]["data"])["delta"]["message"]["content"]["type"], "thinking", "thinking block first")
    evs = parse_sse(co(cob("a b c d e", stream=True), headers={"x-mock-fault": "error-mid-stream"}).body)
    eq(json.loads(evs[-1]["data"])["delta"]["finish_reason"], "ERROR", "error mid-stream")
    r = co(cob("x", model="command-fault-429"))
    check(r.status == 429 and "per minute" in r.json()["message"], "429")


# ================================================================================================ Ollama
def ol(body, path="/api/chat", headers=None):
    return call("POST", ENV.ollama.url(path), body, headers or {})


def olb(text, **extra):
    b = {"model": "llama3.2", "messages": [{"role": "user", "content": text}]}
    b.update(extra)
    return b


@test
def ollama_checks_and_answers():
    r = ol(olb("x"))
    check(r.status == 400 and "stream" in r.json()["error"], "explicit stream required")
    r = ol(olb("x", stream=False, messages=[{"role": "user", "content": [{"type": "text", "text": "x"}]}]))
    check(r.status == 400 and "cannot unmarshal array" in r.json()["error"], "content must be a string")
    b = olb("x", stream=False)
    b["messages"] += [{"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "f", "arguments": "{\"a\":1}"}}]}]
    r = ol(b)
    check(r.status == 400 and "ToolCallFunctionArguments" in r.json()["error"], "arguments must be an object")
    r = ol(olb("marker-ol1 hello", stream=False))
    j = r.json()
    eq((j["message"]["content"], j["done"], j["done_reason"]), ("marker-ol1 hello", True, "stop"), "non-stream")
    rec = ENV.ollama.wait_request("marker-ol1")
    eq((j["prompt_eval_count"], j["eval_count"]), (rec.usage["prompt_eval_count"], rec.usage["eval_count"]), "usage")
    r = ol(olb("one two three", stream=True))
    eq(r.header("content-type"), "application/x-ndjson", "ndjson")
    lines = [json.loads(x) for x in r.body.decode().splitlines()]
    check(all(not x["done"] for x in lines[:-1]) and lines[-1]["done"], "done only on the last line")
    eq("".join(x["message"]["content"] for x in lines), "one two three", "text")
    check(lines[-1]["eval_count"] > 0 and lines[-1]["total_duration"] > 0, "counters on the last line")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    j = ol(olb("call tool", tools=tools, stream=False)).json()
    eq(j["message"]["tool_calls"], [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
       "object arguments, no id")
    lines = [json.loads(x) for x in ol(olb("hmm", think=True, stream=True)).body.decode().splitlines()]
    check(lines[0]["message"].get("thinking") and lines[0]["message"]["content"] == "", "thinking lines first")
    j = ol(olb("a b c d e", stream=False, options={"num_predict": 2})).json()
    eq((j["done_reason"], j["message"]["content"]), ("length", "a b "), "num_predict")
    j = ol(olb("jj", stream=False, format="json")).json()
    eq(json.loads(j["message"]["content"])["echo"], "jj", "format json")
    lines = ol(olb("a b c d e", stream=True), headers={"x-mock-fault": "error-mid-stream"}).body.decode().splitlines()
    eq(list(json.loads(lines[-1])), ["error"], "{\"error\"} line last")
    r = ol(olb("x", stream=False, model="notfound-model"))
    check(r.status == 404 and "not found" in r.json()["error"], "model not found")
    j = ol({"model": "llama3.2", "prompt": "gen text", "stream": False}, path="/api/generate").json()
    eq(j["response"], "gen text", "/api/generate")
    j = ol({"model": "llama3.2", "messages": [], "stream": False}).json()
    eq(j["done_reason"], "load", "empty messages = load")


# ================================================================================================ misc
def _raw_stream(provider, fault, text="one two three four five six"):
    fh = [("x-mock-fault", fault)]
    js = [("Content-Type", "application/json")]
    if provider == "anthropic":
        return Raw(ENV.anthropic.port, "POST", "/v1/messages", amsg(text, stream=True),
                   [("x-api-key", ANTHROPIC_KEY), ("anthropic-version", "2023-06-01")] + js + fh).read()
    if provider == "gemini":
        return Raw(ENV.gemini.port, "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                   gbody(text), [("x-goog-api-key", GEMINI_KEY)] + js + fh).read()
    if provider == "bedrock":
        return bstream(bbody(text), extra={"x-mock-fault": fault})
    if provider == "azure":
        return Raw(ENV.azure.port, "POST", "/openai/deployments/d1/chat/completions?api-version=2024-10-21",
                   azb(text, stream=True), [("api-key", AZURE_KEY)] + js + fh).read()
    if provider == "cohere":
        return Raw(ENV.cohere.port, "POST", "/v2/chat", cob(text, stream=True),
                   [("Authorization", f"Bearer {COHERE_KEY}")] + js + fh).read()
    return Raw(ENV.ollama.port, "POST", "/api/chat", olb(text, stream=True), js + fh).read()


END_MARKERS = {"anthropic": b"event: message_stop", "gemini": b"finishReason", "bedrock": b"messageStop",
               "azure": b"[DONE]", "cohere": b"event: message-end", "ollama": b'"done":true'}


@test
def stream_fault_matrix_all_providers():
    for p, marker in END_MARKERS.items():
        r = _raw_stream(p, "none")
        check(r.status == 200 and r.ended and marker in r.body, f"{p}: normal stream has its end marker")
        r = _raw_stream(p, "truncated-stream")
        check(r.status == 200 and r.ended and r.body and marker not in r.body,
              f"{p}: truncated-stream = clean end without the end marker ({r.error}, {r.body[-80:]!r})")
        r = _raw_stream(p, "truncated-mid-event")
        if p == "bedrock":
            try:
                es_decode(r.body)
                raise AssertionError("bedrock: truncated-mid-event decoded cleanly")
            except Truncated:
                pass
        check(r.ended and r.body and (p == "bedrock" or not r.body.endswith(b"\n")),
              f"{p}: truncated-mid-event ends inside an event")
        r = _raw_stream(p, "reset-mid-stream")
        check(r.status == 200 and not r.ended and r.error in ("reset", "eof") and r.body,
              f"{p}: reset-mid-stream ({r.error})")
        r = _raw_stream(p, "eof-mid-stream")
        check(r.status == 200 and not r.ended and r.error == "eof", f"{p}: eof-mid-stream ({r.error})")
        r = _raw_stream(p, "stream-stall-200")
        check(r.ended and marker in r.body, f"{p}: stall then complete")


@test
def non_stream_reset_all_providers():
    cases = {
        "anthropic": lambda: Raw(ENV.anthropic.port, "POST", "/v1/messages", amsg("a b c"),
                                 [("x-api-key", ANTHROPIC_KEY), ("anthropic-version", "2023-06-01"),
                                  ("Content-Type", "application/json"), ("x-mock-fault", "reset-mid-stream")]),
        "gemini": lambda: Raw(ENV.gemini.port, "POST", "/v1beta/models/gemini-2.5-flash:generateContent",
                              gbody("a b c"), [("x-goog-api-key", GEMINI_KEY), ("Content-Type", "application/json"),
                                               ("x-mock-fault", "reset-mid-stream")]),
        "azure": lambda: Raw(ENV.azure.port, "POST", "/openai/deployments/d1/chat/completions?api-version=2024-10-21",
                             azb("a b c"), [("api-key", AZURE_KEY), ("Content-Type", "application/json"),
                                            ("x-mock-fault", "eof-mid-stream")]),
        "cohere": lambda: Raw(ENV.cohere.port, "POST", "/v2/chat", cob("a b c"),
                              [("Authorization", f"Bearer {COHERE_KEY}"), ("Content-Type", "application/json"),
                               ("x-mock-fault", "reset-mid-stream")]),
        "ollama": lambda: Raw(ENV.ollama.port, "POST", "/api/chat", olb("a b c", stream=False),
                              [("x-mock-fault", "reset-mid-stream")]),
    }
    for p, mk in cases.items():
        r = mk().read()
        check(r.status == 200 and not r.ended and r.error in ("reset", "eof"), f"{p}: half body then cut ({r.error})")
    r = bcall(bbody("a b c"), extra={"x-mock-fault": "reset-mid-stream"}, raw=True)
    check(r.status == 200 and not r.ended and r.error in ("reset", "eof"), f"bedrock: half body then cut ({r.error})")


@test
def control_api_everywhere():
    for m in (ENV.anthropic, ENV.gemini, ENV.bedrock, ENV.azure, ENV.cohere, ENV.ollama, ENV.oauth):
        r = call("GET", m.url("/__mock/requests"))
        check(r.status == 200 and isinstance(r.json(), list), f"{m.name}: requests")
        check(isinstance(call("GET", m.url("/_mock/closes")).json(), list), f"{m.name}: closes")
        eq(call("POST", m.url("/__mock/config"), {"no_such_key": 1}).status, 400, f"{m.name}: config rejects")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("-k", action="append", default=[])
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    tests = [t for t in TESTS if not a.k or any(k in t.__name__ for k in a.k)]
    t_start = time.monotonic()
    start_all()
    failed = []
    try:
        for t in tests:
            t0 = time.monotonic()
            try:
                t()
                print(f"PASS  {t.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
            except Exception:
                failed.append(t.__name__)
                print(f"FAIL  {t.__name__} ({time.monotonic() - t0:.2f}s)\n{traceback.format_exc()}", flush=True)
    finally:
        stop_all()
    print(f"\nmocks selftest: {len(tests) - len(failed)} passed, {len(failed)} failed "
          f"({time.monotonic() - t_start:.1f}s)")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
