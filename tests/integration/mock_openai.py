#!/usr/bin/env python3
"""A misbehaving-on-demand mock of the OpenAI Chat Completions upstream (stdlib only).

HTTP/1.1 is written by hand so the mock can break it exactly: one thread per connection, keep-alive,
pipelining, chunked bodies in both directions. Every request is recorded (method, path, headers, raw
body, and what the mock answered) and every connection close is recorded (who closed, and whether a
request was still being answered), so tests can assert what the gateway sent upstream and that a client
disconnect cancelled the upstream call.

Behaviour is chosen, first match wins, by:
  1. the fault plan (mock_faults.py), matched against the upstream model in the request body ("model"):
     a. that model's one-shot queue, b. the global one-shot queue, c. that model's rate rules,
     d. the global rate rules (see "Fault plan" below),
  2. an `x-mock-fault: NAME` request header (a deployment can set it through extra_headers),
  3. the upstream model name in the request body ("model").
Names (the model name may carry a suffix such as -2024 or a parameter where noted):
  gpt-fault-<status>[-opt...]   error answer in OpenAI's envelope (4xx: invalid_request_error/mock_error,
                                5xx: server_error; 401, 404 etc. are this too). Options, combinable:
                                  -flat      vLLM's flat envelope {"object":"error",...}
                                  -quota     (429) insufficient_quota, no retry hints
                                  -ra<N>     Retry-After: N (seconds, N may be 0), on any status
                                  -ms<N>     retry-after-ms: N, on any status (429: no Retry-After then)
                                  -nora      (429) no Retry-After / retry-after-ms / x-ratelimit-reset-*
                                  -noretry   x-should-retry: false
                                429 without options: Retry-After: 7 and x-ratelimit-{limit,remaining,reset}-
                                requests (reset follows -ra/-ms: "<N>s" / "<N>ms")
  gpt-fault-529                 Anthropic's overload as an OpenAI-compatible proxy relays it: status 529,
                                {"error":{"message":"Overloaded","type":"overloaded_error","param":null,
                                "code":"overloaded"}}
  gpt-context-length            400 {"error":{"message":"This model's maximum context length is 128000
                                tokens. However, your messages resulted in 131415 tokens. ...",
                                "type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}
  gpt-content-policy[-azure]    400, OpenAI: code content_policy_violation, type invalid_request_error,
                                param null; -azure: code content_filter, type null, param "prompt",
                                "status":400, innererror ResponsibleAIPolicyViolation + content_filter_result
  gpt-slow-first-byte[-<ms>]    sleep (default 3000 ms) before the status line, then answer normally
  gpt-slow-stream-first-byte[-<ms>]  status line and headers at once, the first SSE event (non-streaming:
                                the JSON body) only after ms (default 3000), then the normal answer
  gpt-hang                      read the request, never answer (until the peer closes)
  gpt-reset-before-headers      read the request, then RST (SO_LINGER 0 + close) without a byte of answer
  gpt-reset-mid-stream          a few events (or half the JSON body) then RST (SO_LINGER 0 + close)
  gpt-eof-mid-stream            a few events then a plain FIN in the middle of an HTTP chunk
  gpt-truncated-stream          a few events then a clean end of the chunked body without [DONE]
  gpt-error-mid-stream          a few events then data: {"error":{...}} and a clean end (no [DONE])
  gpt-stream-stall[-<ms>]       a few events then silence (default until the peer closes)
  gpt-pause-mid-stream          a few events, then wait for release(gate) (gate = request "user"), then the rest
  gpt-slow-stream[-<n>x<ms>]    n content events, one every ms (default 20x100)
  gpt-chunked                   non-streaming JSON body sent with Transfer-Encoding: chunked
  gpt-close-delimited           no Content-Length / chunking: body ends when the mock closes
  gpt-keepalive-comments        SSE with `: keep-alive` comments between events
  gpt-crlf                      SSE events with CRLF line endings
  gpt-tools                     parallel tool calls (stream: split argument fragments)
  gpt-big[-<kb>]                large content (default 1024 KiB in the JSON answer / many events)
  gpt-echo                      content echoes the last user message
  anything else                 a normal answer
Error answers ignore "stream" (a JSON error body, as OpenAI does before a stream starts).
Streams honour stream_options.include_usage the way OpenAI does ("usage":null on every chunk, then a
usage-only chunk with "choices":[]); every chunk has an `obfuscation` field and unknown extra fields.
SSE bytes are written split at arbitrary byte boundaries (several events per write, events and even
multi-byte UTF-8 characters split across writes and HTTP chunks) with small sleeps.

Fault plan (chat requests only; MODEL is compared with the body "model", exact string; without "model"
an entry is global and applies to any model). POST /_mock/fault bodies, and the Python equivalents:
  {"fault": NAME, "count": N, "model": M}   set_fault(NAME, count=1, model=None)
      the next N requests of M get NAME, after entries queued before (queues are FIFO per model)
  {"queue": [NAME, NAME, ...], "model": M}  queue_faults(M, [NAME, ...])   one request each, in order;
      an item may be [NAME, N]
  {"fault": NAME, "rate": R, "model": M, "seed": S}   set_fault_rate(NAME, R, model=None, seed=0)
      each request of M reaching this rule fails with NAME with probability R (0..1) until cleared; the
      pass/fail sequence is fixed by the seed; rate 0 removes the rule; rules of one model are tried in
      the order they were set, the same (model, NAME) again replaces its rule
  {"fault": "latency", "ms": MS, "model": M}   set_latency(MS, model=None)
      persistent: every answer of M (faulty or not) waits MS before the status line (or before the
      RST); a model's own value beats the global one; ms 0 removes it
  {"clear": true} / {"clear": true, "model": M}   clear_faults() / clear_faults(M)
      forget queues, rates and latency (all, or only M's; "model": null = only the global ones)
A malformed body answers 400 {"ok":false,"error":"..."}; a count < 1 or a rate outside 0..1 is malformed.
Records carry `injected` (the fault came from the plan) and `latency_ms`.

Counters: GET /_mock/stats (or stats()) ->
  {"by_model": {"gpt-x": {"requests": n, "faults": n, "by_fault": {NAME: n}}},
   "total": {"requests": n, "faults": n}}
counting parsed chat requests by body "model" ("" when absent or not a string); "faults" counts only
faults injected by the plan (not those from x-mock-fault or the model name). reset() zeroes them.

Control endpoints (same port): GET /_mock/requests, GET /_mock/closes, POST /_mock/reset (forget
requests, closes, the whole fault plan and the counters), POST /_mock/release?gate=NAME,
POST /_mock/fault (above), GET /_mock/fault (the pending plan, global entries under "*"),
GET /_mock/stats. Run standalone: python3 mock_openai.py --port 0 (prints `mock-openai listening on
HOST:PORT`).
"""
from __future__ import annotations

import argparse
import base64
import json
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse

from mock_faults import ALL_MODELS, FaultPlan

CREATED = 1767225600
MOCK_TEXT = ["Hel", "lo", " from", " the", " mock", " upstream", " — caf", "é ✓", "."]


class PeerClosed(Exception):
    pass


class Record:
    """One request the mock received."""

    def __init__(self, seq, conn_id, method, path, version, headers, raw_head, body):
        self.seq = seq
        self.conn_id = conn_id
        self.t = time.monotonic()
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers  # list of (name, value) in arrival order
        self.raw_head = raw_head
        self.body = body  # bytes, de-chunked
        self.fault = None
        self.injected = False  # the fault came from the fault plan (set_fault / queue_faults / rates)
        self.latency_ms = 0  # latency-knob delay applied before answering
        self.status = None
        self.response_headers = []
        self.response_body = b""  # non-streaming: the exact body bytes (before any transfer coding)
        self.events = []  # streaming: data payloads (str) in order, without "data: "
        self.done = False  # the mock finished answering
        self.aborted = None  # reason if the answer was cut short by the peer

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body)

    def to_dict(self):
        return {
            "seq": self.seq, "conn_id": self.conn_id, "method": self.method, "path": self.path,
            "version": self.version, "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "body_b64": base64.b64encode(self.body).decode(), "fault": self.fault,
            "injected": self.injected, "latency_ms": self.latency_ms, "status": self.status,
            "response_body": self.response_body.decode("utf-8", "replace"), "events": self.events,
            "done": self.done, "aborted": self.aborted,
        }


class MockOpenAI:
    def __init__(self, host="127.0.0.1", port=0, name="mock-openai", ssl_context=None):
        self.host = host
        self.ssl_context = ssl_context  # serve HTTPS with this ssl.SSLContext
        self.name = name
        self._want_port = port
        self.port = None
        self.lock = threading.Condition()
        self.requests: list[Record] = []
        self.closes: list[dict] = []  # {conn_id, t, reason, seq, in_progress}
        self.connections = 0
        self._seq = 0
        self._conn_seq = 0
        self.faults = FaultPlan()  # per-model / global fault queues, rates, latency, counters
        self._gates: dict[str, threading.Event] = {}
        self._stop = threading.Event()
        self._socks: set = set()
        self._listener = None

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.host, self._want_port))
        ls.listen(1024)
        self._listener = ls
        self.port = ls.getsockname()[1]
        threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True).start()
        return self

    def stop(self):
        self._stop.set()
        for g in list(self._gates.values()):
            g.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def base_url(self):
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}/v1"

    # ------------------------------------------------------------------ test API
    def set_fault(self, fault, count=1, model=None):
        """The next `count` chat requests (only those whose body "model" equals `model`, if given) get
        `fault`, after any queued before them."""
        self.faults.add(fault, count, model)

    def queue_faults(self, model, faults):
        """Queues one request's worth of each fault name for `model` (None: any model), in order."""
        self.faults.queue(model, faults)

    def set_fault_rate(self, fault, rate, model=None, seed=0):
        """Each matching request fails with `fault` with probability `rate` (0 removes) until cleared."""
        self.faults.set_rate(fault, rate, model, seed)

    def set_latency(self, ms, model=None):
        """Every answer of `model` (None: of every model without its own value) waits `ms` first."""
        self.faults.set_latency(ms, model)

    def clear_faults(self, model=ALL_MODELS):
        """Forgets queued faults, rates and latency: all, or only those of `model` (None = the global ones).
        Counters are kept (reset() zeroes them)."""
        self.faults.clear(model)

    def stats(self):
        """{"by_model": {model: {"requests": n, "faults": n, "by_fault": {name: n}}}, "total": {...}}"""
        return self.faults.stats()

    def gate(self, name):
        with self.lock:
            return self._gates.setdefault(name, threading.Event())

    def release(self, name="default"):
        self.gate(name).set()

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.closes.clear()
        self.faults.reset()

    def wait_for(self, pred, timeout=10.0, what="condition"):
        """Waits until pred() (called under the lock) returns a truthy value and returns it."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"mock upstream: timed out after {timeout}s waiting for {what}")
                self.lock.wait(min(left, 0.1))

    def find(self, marker):
        m = marker.encode() if isinstance(marker, str) else marker
        with self.lock:
            return [r for r in self.requests if m in r.body]

    def wait_request(self, marker, timeout=10.0, done=False):
        """The first request whose body contains marker; with done=True, once the mock has finished
        answering it (completely, or cut short because the peer went away)."""
        m = marker.encode() if isinstance(marker, str) else marker

        def pred():
            for r in self.requests:
                if m in r.body and (not done or r.done or r.aborted is not None):
                    return r
            return None
        return self.wait_for(pred, timeout, f"a request containing {marker!r}")

    def wait_close(self, seq, timeout=10.0):
        """Waits for the connection that carried request `seq` to be closed; returns the close record."""
        def pred():
            for c in self.closes:
                if c["seq"] == seq:
                    return c
            return None
        return self.wait_for(pred, timeout, f"the upstream connection of request #{seq} to close")

    # ------------------------------------------------------------------ server
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, _ = self._listener.accept()
            except OSError:
                return
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self._conn_seq += 1
                cid = self._conn_seq
                self.connections += 1
                self._socks.add(s)
            threading.Thread(target=self._serve_conn, args=(s, cid), name=f"{self.name}-c{cid}",
                             daemon=True).start()

    def _record_close(self, cid, reason, rec):
        with self.lock:
            self.closes.append({"conn_id": cid, "t": time.monotonic(), "reason": reason,
                                "seq": rec.seq if rec else None,
                                "in_progress": bool(rec and not rec.done)})
            if rec and not rec.done and rec.aborted is None:
                rec.aborted = reason
            self.lock.notify_all()

    def _serve_conn(self, s, cid):
        if self.ssl_context is not None:
            try:
                s = self.ssl_context.wrap_socket(s, server_side=True)
            except (OSError, ValueError):
                self._record_close(cid, "tls_handshake_failed", None)
                return
        conn = _Conn(s)
        last = None
        reason = "server_closed"
        try:
            while not self._stop.is_set():
                req = conn.read_request()
                if req is None:
                    reason = "peer_closed_idle"
                    break
                method, target, version, headers, raw_head, body = req
                with self.lock:
                    self._seq += 1
                    rec = Record(self._seq, cid, method, target, version, headers, raw_head, body)
                    self.requests.append(rec)
                    self.lock.notify_all()
                last = rec
                keep = self._dispatch(conn, rec)
                with self.lock:
                    rec.done = True
                    self.lock.notify_all()
                if not keep:
                    reason = "server_closed"
                    break
        except PeerClosed as e:
            reason = str(e) or "peer_closed"
        except (ConnectionError, OSError) as e:
            reason = f"peer_error:{type(e).__name__}"
        except _Abort as e:
            reason = e.reason
        finally:
            self._record_close(cid, reason, last)
            with self.lock:
                self._socks.discard(s)
            if reason != "server_reset":
                try:
                    s.close()
                except OSError:
                    pass

    # ------------------------------------------------------------------ routing
    def _dispatch(self, conn, rec):
        path = rec.path.split("?", 1)[0]
        keep = (rec.header("connection", "") or "").lower() != "close" and rec.version == "HTTP/1.1"
        if path.startswith("/_mock/"):
            return self._control(conn, rec, keep)
        if rec.method == "POST" and path.endswith("/chat/completions"):
            return self._chat(conn, rec, keep)
        if rec.method == "GET" and path.endswith("/models"):
            body = json.dumps({"object": "list", "data": [
                {"id": "gpt-4o-mini", "object": "model", "created": CREATED, "owned_by": "system"}]})
            return self._send_json(conn, rec, 200, body.encode(), keep)
        return self._send_json(conn, rec, 404, _err_body(
            f"Unknown request URL: {rec.method} {path}.", "invalid_request_error", None, "unknown_url"), keep)

    def _control(self, conn, rec, keep):
        path, _, query = rec.path.partition("?")
        q = urllib.parse.parse_qs(query)
        if path == "/_mock/requests":
            with self.lock:
                data = [r.to_dict() for r in self.requests if not r.path.startswith("/_mock/")]
            return self._send_json(conn, rec, 200, json.dumps(data).encode(), keep)
        if path == "/_mock/closes":
            with self.lock:
                data = list(self.closes)
            return self._send_json(conn, rec, 200, json.dumps(data).encode(), keep)
        if path == "/_mock/reset":
            self.reset()
            return self._send_json(conn, rec, 200, b'{"ok":true}', keep)
        if path == "/_mock/release":
            self.release(q.get("gate", ["default"])[0])
            return self._send_json(conn, rec, 200, b'{"ok":true}', keep)
        if path == "/_mock/fault" and rec.method == "GET":
            return self._send_json(conn, rec, 200, json.dumps(self.faults.describe()).encode(), keep)
        if path == "/_mock/fault":
            try:
                self.faults.apply_control(json.loads(rec.body or b"{}"))
            except (ValueError, KeyError, TypeError) as e:
                body = json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}).encode()
                return self._send_json(conn, rec, 400, body, keep)
            return self._send_json(conn, rec, 200, b'{"ok":true}', keep)
        if path == "/_mock/stats":
            return self._send_json(conn, rec, 200, json.dumps(self.stats()).encode(), keep)
        return self._send_json(conn, rec, 404, b'{"ok":false}', keep)

    def _pick_fault(self, rec, model):
        fault, rec.latency_ms = self.faults.pick(model)
        if fault is not None:
            rec.injected = True
            return fault
        h = rec.header("x-mock-fault")
        if h:
            return h
        return model if isinstance(model, str) else ""

    # ------------------------------------------------------------------ chat
    def _chat(self, conn, rec, keep):
        try:
            req = json.loads(rec.body.decode("utf-8"))
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as e:
            return self._send_json(conn, rec, 400, _err_body(
                f"We could not parse the JSON body of your request. ({e})", "invalid_request_error", None, None),
                keep)
        model = req.get("model")
        fault = self._pick_fault(rec, model)
        rec.fault = fault
        stream = req.get("stream") is True
        so = req.get("stream_options") if isinstance(req.get("stream_options"), dict) else {}
        include_usage = stream and so.get("include_usage") is True
        rng = random.Random(rec.seq * 7919 + len(rec.body))
        model_out = (model or "gpt") + "-2024-07-18"
        cid = f"chatcmpl-mock{rec.seq:06d}"
        stream_req = req.get("stream") is True
        content = list(MOCK_TEXT)
        last_user = _last_user_text(req)
        if fault.startswith("gpt-echo"):
            content = _split_words(last_user or "")
        elif fault.startswith("gpt-big"):
            kb = _num_suffix(fault, 1024)
            piece = "The quick brown fox jumps over the lazy dog. " * (22 if stream_req else 1)
            n = kb * 1024 // len(piece) + 1
            content = [piece] * n

        if rec.latency_ms:  # the latency knob: before anything, faults included
            self._wait_peer_close(conn, rec, rec.latency_ms / 1000.0)
        m = re.match(r"gpt-fault-(\d{3})(.*)$", fault)
        if m:
            return self._fault_status(conn, rec, int(m.group(1)), m.group(2), keep)
        if fault.startswith("gpt-context-length"):
            return self._send_json(conn, rec, 400, _err_body(
                "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                "131415 tokens. Please reduce the length of the messages.",
                "invalid_request_error", "messages", "context_length_exceeded"), keep, extra=_openai_headers(rec.seq))
        if fault.startswith("gpt-content-policy"):
            return self._send_json(conn, rec, 400, _content_policy_body("-azure" in fault), keep,
                                   extra=_openai_headers(rec.seq))
        if fault.startswith("gpt-reset-before-headers"):
            conn.reset()
            raise _Abort("server_reset")
        if fault.startswith("gpt-hang"):
            self._wait_peer_close(conn, rec, None)
            raise _Abort("peer_closed")
        if fault.startswith("gpt-slow-first-byte"):
            ms = _num_suffix(fault, 3000)
            self._wait_peer_close(conn, rec, ms / 1000.0)

        if not stream:
            body = self._completion_json(req, cid, model_out, content, fault)
            rec.response_body = body
            if fault.startswith("gpt-reset-mid-stream") or fault.startswith("gpt-eof-mid-stream"):
                head = _head(200, [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(body)))])
                conn.send(head + body[: len(body) // 2])
                time.sleep(0.05)
                if fault.startswith("gpt-reset"):
                    conn.reset()
                    raise _Abort("server_reset")
                raise _Abort("server_closed")
            if fault.startswith("gpt-slow-stream-first-byte"):  # head now, body after the pause
                hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
                rec.status = 200
                rec.response_headers = hdrs + _openai_headers(rec.seq)
                conn.send(_head(200, rec.response_headers))
                self._wait_peer_close(conn, rec, _num_suffix(fault, 3000) / 1000.0)
                conn.send(body)
                return keep
            if fault.startswith("gpt-chunked"):
                return self._send_chunked_json(conn, rec, body, rng, keep)
            if fault.startswith("gpt-close-delimited"):
                rec.status = 200
                hdrs = [("Content-Type", "application/json"), ("Connection", "close")]
                rec.response_headers = hdrs
                _write_split(conn, _head(200, hdrs) + body, rng, pause=0.002)
                return False
            return self._send_json(conn, rec, 200, body, keep, extra=_openai_headers(rec.seq))

        # ---- streaming
        events = self._stream_events(req, cid, model_out, content, include_usage, fault, rng)
        eol = "\r\n" if fault.startswith("gpt-crlf") else "\n"
        close_delim = fault.startswith("gpt-close-delimited")
        hdrs = [("Content-Type", "text/event-stream; charset=utf-8")]
        if close_delim:
            hdrs.append(("Connection", "close"))
        else:
            hdrs.append(("Transfer-Encoding", "chunked"))
        hdrs += _openai_headers(rec.seq)
        rec.status = 200
        rec.response_headers = hdrs
        w = _StreamWriter(conn, rng, chunked=not close_delim)
        w.raw(_head(200, hdrs))
        first_byte_delay = fault.startswith("gpt-slow-stream-first-byte")
        if first_byte_delay:  # status line and headers are out; the first event waits
            self._wait_peer_close(conn, rec, _num_suffix(fault, 3000) / 1000.0)

        def ev_bytes(payload):
            return f"data: {payload}{eol}{eol}".encode()

        def emit(payloads, comments=False):
            buf = b""
            for p in payloads:
                if comments:
                    buf += f": keep-alive{eol}{eol}".encode()
                buf += ev_bytes(p)
                rec.events.append(p)
            if buf:
                w.write(buf)

        if fault.startswith("gpt-slow-stream") and not first_byte_delay:
            mm = re.search(r"-(\d+)x(\d+)$", fault)
            n, ms = (int(mm.group(1)), int(mm.group(2))) if mm else (20, 100)
            role, rest = events[0], events[1:]
            emit([role])
            for i in range(n):
                self._check_peer(conn, ms / 1000.0)
                emit([_chunk(cid, model_out, {"content": f"tick{i} "}, None, include_usage, rng)])
            emit(rest[-3:] if include_usage else rest[-2:])  # finish (+usage) + [DONE]
            w.end()
            return keep and not close_delim

        first, rest = events[:3], events[3:]
        if fault.startswith("gpt-reset-mid-stream"):
            emit(first)
            w.flush()
            time.sleep(0.05)
            conn.reset()
            raise _Abort("server_reset")
        if fault.startswith("gpt-eof-mid-stream"):
            emit(first)
            partial = ev_bytes(rest[0])
            w.raw(f"{len(partial):x}\r\n".encode() + partial[: len(partial) // 2])
            time.sleep(0.05)
            raise _Abort("server_closed")
        if fault.startswith("gpt-truncated-stream"):
            emit(first)
            w.end()
            return keep and not close_delim
        if fault.startswith("gpt-error-mid-stream"):
            emit(first)
            emit([json.dumps({"error": {"message": "The server had an error while processing your request.",
                                        "type": "server_error", "param": None, "code": None}})])
            w.end()
            return False
        if fault.startswith("gpt-stream-stall"):
            emit(first)
            w.flush()
            ms = _num_suffix(fault, 0)
            self._wait_peer_close(conn, rec, ms / 1000.0 if ms else None)
            if not ms:
                raise _Abort("peer_closed")
            emit(rest)
            w.end()
            return keep and not close_delim
        if fault.startswith("gpt-pause-mid-stream"):
            emit(first)
            w.flush()
            gate = self.gate(str(req.get("user", "default")))
            deadline = time.monotonic() + 30
            while not gate.is_set() and time.monotonic() < deadline and not self._stop.is_set():
                self._check_peer(conn, 0.02)
            emit(rest)
            w.end()
            return keep and not close_delim
        comments = fault.startswith("gpt-keepalive-comments")
        if comments:
            w.write(f": keep-alive{eol}{eol}".encode())
        emit(events, comments=comments)
        if comments:
            w.write(f": keep-alive{eol}{eol}".encode())
        w.end()
        return keep and not close_delim

    def _stream_events(self, req, cid, model, content, include_usage, fault, rng):
        ev = [_chunk(cid, model, {"role": "assistant", "content": "", "refusal": None}, None, include_usage, rng)]
        if fault.startswith("gpt-tools"):
            frags = [
                {"tool_calls": [{"index": 0, "id": "call_A", "type": "function",
                                 "function": {"name": "get_weather", "arguments": ""}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]},
                {"tool_calls": [{"index": 1, "id": "call_B", "type": "function",
                                 "function": {"name": "get_weather", "arguments": ""}}]},
                {"tool_calls": [{"index": 1, "function": {"arguments": "{\"city\":\"Rome\"}"}}]},
            ]
            for d in frags:
                ev.append(_chunk(cid, model, d, None, include_usage, rng))
            finish = "tool_calls"
        else:
            for piece in content:
                ev.append(_chunk(cid, model, {"content": piece}, None, include_usage, rng))
            finish = "stop"
        ev.append(_chunk(cid, model, {}, finish, include_usage, rng))
        if include_usage:
            ev.append(json.dumps({"id": cid, "object": "chat.completion.chunk", "created": CREATED,
                                  "model": model, "system_fingerprint": "fp_mock01", "choices": [],
                                  "usage": _usage(req, content), "obfuscation": _obf(rng)},
                                 ensure_ascii=False, separators=(",", ":")))
        ev.append("[DONE]")
        return ev

    def _completion_json(self, req, cid, model, content, fault):
        if fault.startswith("gpt-tools"):
            message = {"role": "assistant", "content": None, "refusal": None, "annotations": [],
                       "tool_calls": [{"id": "call_A", "type": "function",
                                       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": "".join(content), "refusal": None, "annotations": []}
            finish = "stop"
        obj = {"id": cid, "object": "chat.completion", "created": CREATED, "model": model,
               "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
               "usage": _usage(req, content), "service_tier": "default", "system_fingerprint": "fp_mock01",
               "x_mock_unknown_field": {"nested": [1, 2.5, None, True], "text": "ünïcødé"}}
        # OpenAI pretty-prints non-streaming bodies; keep non-ASCII raw to exercise byte-exact relay.
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()

    def _fault_status(self, conn, rec, status, rest, keep):
        opt = _fault_options(rest)
        hints = []  # retry hints, then x-ratelimit-*, after the usual OpenAI headers
        if opt["ra"] is not None:
            hints.append(("Retry-After", str(opt["ra"])))
        if opt["ms"] is not None:
            hints.append(("retry-after-ms", str(opt["ms"])))
        if status == 429 and opt["quota"]:
            body = _err_body("You exceeded your current quota, please check your plan and billing details.",
                             "insufficient_quota", None, "insufficient_quota")
        elif status == 429:
            # Retry-After: 7 unless -ra<N> / -ms<N> give another hint or -nora asks for none.
            wait = None
            if opt["ra"] is not None:
                wait = f"{opt['ra']}s"
            elif opt["ms"] is not None:
                wait = f"{opt['ms']}ms"
            elif not opt["nora"]:
                wait = "7s"
                hints.append(("Retry-After", "7"))
            hints += [("x-ratelimit-limit-requests", "3"), ("x-ratelimit-remaining-requests", "0")]
            if wait:
                hints.append(("x-ratelimit-reset-requests", wait))
            body = _err_body("Rate limit reached for gpt-4o-mini in organization org-mock on requests per min "
                             "(RPM): Limit 3, Used 3, Requested 1. "
                             + (f"Please try again in {wait}." if wait else "Please try again later."),
                             "requests", "model", "rate_limit_exceeded")
        elif opt["flat"]:
            body = json.dumps({"object": "error", "message": f"Mock vLLM engine is overloaded ({status}).",
                               "type": "ServiceUnavailableError", "param": None, "code": status}).encode()
        elif status == 529:  # Anthropic's "overloaded", as an OpenAI-compatible proxy relays it
            body = _err_body("Overloaded", "overloaded_error", None, "overloaded")
        elif status >= 500:
            body = _err_body("The server had an error while processing your request. Sorry about that!",
                             "server_error", None, None)
        else:
            body = _err_body(f"Mock upstream error {status}.", "invalid_request_error", "messages",
                             "mock_error")
        if opt["noretry"]:
            hints.append(("x-should-retry", "false"))
        rec.response_body = body
        return self._send_json(conn, rec, status, body, keep, extra=_openai_headers(rec.seq) + hints)

    # ------------------------------------------------------------------ writing
    def _send_json(self, conn, rec, status, body, keep, extra=()):
        hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))] + list(extra)
        if not keep:
            hdrs.append(("Connection", "close"))
        rec.status = status
        rec.response_headers = hdrs
        if not rec.response_body:
            rec.response_body = body
        conn.send(_head(status, hdrs) + body)
        return keep

    def _send_chunked_json(self, conn, rec, body, rng, keep):
        hdrs = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")] + _openai_headers(rec.seq)
        rec.status = 200
        rec.response_headers = hdrs
        w = _StreamWriter(conn, rng, chunked=True)
        w.raw(_head(200, hdrs))
        w.write(body)
        w.end()
        return keep

    def _check_peer(self, conn, seconds):
        """Sleeps up to `seconds`, raising _Abort if the peer closes meanwhile."""
        if conn.peer_closed(seconds):
            raise _Abort("peer_closed")

    def _wait_peer_close(self, conn, rec, seconds):
        """Waits until the peer closes (returns) or `seconds` pass (None = forever, bounded by stop)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stop.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return
            if conn.peer_closed(left):
                raise _Abort("peer_closed")
        raise _Abort("server_closed")


class _Abort(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class _Conn:
    """A socket with an input buffer and a hand-written HTTP/1.1 request reader."""

    MAX_HEAD = 256 * 1024

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def _fill(self):
        try:
            data = self.s.recv(65536)
        except (ConnectionError, OSError) as e:
            raise PeerClosed(f"peer_error:{type(e).__name__}")
        if not data:
            return False
        self.buf += data
        return True

    def read_request(self):
        if not self.buf and not self._fill():
            return None
        if self.buf[:1] == b"\x16":  # a TLS ClientHello on this plain-HTTP port: answer like a real server
            self.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            raise _Abort("tls_client_hello_on_plain_port")
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > self.MAX_HEAD:
                raise PeerClosed("head_too_large")
            if not self._fill():
                if self.buf:
                    raise PeerClosed("peer_closed_mid_head")
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers.append((k.strip(), v.strip()))
        hmap = {k.lower(): v for k, v in headers}
        body = b""
        if "chunked" in hmap.get("transfer-encoding", "").lower():
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill():
                        raise PeerClosed("peer_closed_mid_body")
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0].strip(), 16)
                while len(self.buf) < size + 2:
                    if not self._fill():
                        raise PeerClosed("peer_closed_mid_body")
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
        else:
            n = int(hmap.get("content-length", "0") or 0)
            while len(self.buf) < n:
                if not self._fill():
                    raise PeerClosed("peer_closed_mid_body")
            body, self.buf = self.buf[:n], self.buf[n:]
        return method, target, version, headers, head + b"\r\n\r\n", body

    def send(self, data):
        try:
            self.s.sendall(data)
        except (ConnectionError, OSError) as e:
            raise _Abort(f"write_failed:{type(e).__name__}")

    def peer_closed(self, timeout):
        """Waits up to timeout for the peer to close; returns True if it did. Extra bytes are buffered."""
        try:
            r, _, _ = select.select([self.s], [], [], max(timeout, 0))
        except (OSError, ValueError):
            return True
        if not r:
            return False
        try:
            data = self.s.recv(65536)
        except (ConnectionError, OSError):
            return True
        if not data:
            return True
        self.buf += data  # a pipelined next request: keep it
        return False

    def reset(self):
        try:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.s.close()


class _StreamWriter:
    """Writes a response body as HTTP chunks, split at arbitrary byte boundaries with small sleeps."""

    def __init__(self, conn, rng, chunked=True):
        self.conn = conn
        self.rng = rng
        self.chunked = chunked

    def raw(self, data):
        self.conn.send(data)

    def write(self, data):
        i = 0
        # Force one split inside the first multi-byte UTF-8 character, if any.
        forced = next((k + 1 for k, b in enumerate(data) if b >= 0xC0), None)
        scale = 32 if len(data) > 200_000 else 1  # keep multi-megabyte bodies fast
        while i < len(data):
            n = self.rng.choice([1, 3, 7, 20, 64, 150, 400, 1200, 5000]) * scale
            if forced is not None and i < forced < i + n:
                n = forced - i
                forced = None
            piece = data[i:i + n]
            i += len(piece)
            wire = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if self.chunked else piece
            # Sometimes split the chunk framing itself across two TCP writes.
            if self.chunked and len(wire) > 4 and self.rng.random() < 0.2:
                cut = self.rng.randrange(1, len(wire))
                self.conn.send(wire[:cut])
                time.sleep(0.001)
                self.conn.send(wire[cut:])
            else:
                self.conn.send(wire)
            if self.rng.random() < 0.5:
                time.sleep(self.rng.choice([0.0005, 0.001, 0.003]))

    def flush(self):
        pass

    def end(self):
        if self.chunked:
            self.conn.send(b"0\r\n\r\n")


def _write_split(conn, data, rng, pause=0.001):
    i = 0
    while i < len(data):
        n = rng.choice([5, 50, 500, 4000])
        conn.send(data[i:i + n])
        i += n
        time.sleep(pause)


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           408: "Request Timeout", 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout", 529: "Site Overloaded"}


def _head(status, headers):
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _openai_headers(seq):
    return [("x-request-id", f"req_mock{seq:08d}"), ("openai-processing-ms", "12"),
            ("openai-version", "2020-10-01"), ("openai-organization", "org-mock")]


def _err_body(message, type_, param, code):
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}},
                      indent=2).encode() + b"\n"


def _fault_options(rest):
    """The options after gpt-fault-<status>: -quota -flat -nora -noretry -ra<N> -ms<N> (others ignored)."""
    opt = {"quota": False, "flat": False, "nora": False, "noretry": False, "ra": None, "ms": None}
    for tok in rest.split("-")[1:]:
        if tok in ("quota", "flat", "nora", "noretry"):
            opt[tok] = True
        elif re.fullmatch(r"(ra|ms)\d+", tok):
            opt[tok[:2]] = int(tok[2:])
    return opt


def _content_policy_body(azure):
    if azure:  # Azure OpenAI: prompt filtered, with the per-category verdicts
        cats = {k: {"filtered": False, "severity": "safe"} for k in ("hate", "self_harm", "sexual")}
        cats["violence"] = {"filtered": True, "severity": "medium"}
        cats["jailbreak"] = {"filtered": False, "detected": False}
        err = {"message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                          "management policy. Please modify your prompt and retry. To learn more about our "
                          "content filtering policies please read our documentation: "
                          "https://go.microsoft.com/fwlink/?linkid=2198766",
               "type": None, "param": "prompt", "code": "content_filter", "status": 400,
               "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": cats}}
        return json.dumps({"error": err}, indent=2).encode() + b"\n"
    return _err_body("Your request was rejected as a result of our safety system. Your prompt may contain text "
                     "that is not allowed by our safety system.", "invalid_request_error", None,
                     "content_policy_violation")


def _obf(rng):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                   for _ in range(rng.randint(1, 12)))


def _chunk(cid, model, delta, finish, include_usage, rng):
    obj = {"id": cid, "object": "chat.completion.chunk", "created": CREATED, "model": model,
           "service_tier": "default", "system_fingerprint": "fp_mock01",
           "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    if include_usage:
        obj["usage"] = None
    obj["obfuscation"] = _obf(rng)
    obj["x_mock_unknown"] = {"p": 1}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _usage(req, content):
    prompt = max(1, len(json.dumps(req.get("messages", ""))) // 4)
    completion = max(1, len(content))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def _last_user_text(req):
    msgs = req.get("messages")
    if not isinstance(msgs, list):
        return None
    for m in reversed(msgs):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return "".join(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text")
    return None


def _split_words(text):
    out = re.findall(r"\S+\s*|\s+", text)
    return out or [""]


def _num_suffix(name, default):
    m = re.search(r"-(\d+)$", name)
    return int(m.group(1)) if m else default


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port to this file once listening")
    a = ap.parse_args()
    m = MockOpenAI(a.host, a.port).start()
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(m.port))
        import os
        os.replace(a.port_file + ".tmp", a.port_file)
    print(f"mock-openai listening on {a.host}:{m.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        m.stop()


if __name__ == "__main__":
    sys.exit(main())
