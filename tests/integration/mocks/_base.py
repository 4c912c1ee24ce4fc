"""Shared machinery of the provider mocks in this package (stdlib only).

Every mock is an `http.server.ThreadingHTTPServer` (HTTP/1.1, keep-alive, one thread per connection) that

* records every request (method, raw target, headers in arrival order, raw body, parsed JSON / form body,
  the fault it applied, what it answered, the usage it reported, the events it streamed) and every
  connection close (who closed, and whether a request was still being answered), like mock_openai.py;
* checks what it receives the way the real provider does and answers the provider's own 4xx error shape
  when something is wrong (the reason is also kept in `Record.rejected`);
* answers deterministically from the request (see `plan_reply`);
* writes streamed bodies as HTTP chunks of small, irregular sizes (events, frames and even multi-byte
  UTF-8 characters split across writes; chunk framing itself sometimes split across two TCP writes;
  short sleeps in between).

Fault selection (first match wins), as in mock_openai.py:
  1. a one-shot override: `mock.set_fault(NAME, count)` or `POST /_mock/fault {"fault": NAME, "count": N}`,
  2. an `x-mock-fault: NAME` request header (a deployment can set it through extra_headers),
  3. the upstream model name (wherever the provider puts it: body, URL path, deployment name).
Fault names are searched for as tokens anywhere in that string, so `claude-fault-429`,
`anthropic.claude-3-haiku-fault-503-v1:0` and `x-mock-fault: fault-529` all work. See FAULTS below.

Control endpoints (same port; both `/_mock/...` and `/__mock/...` prefixes work):
  GET  /_mock/requests   every recorded request except control ones (JSON list of Record.to_dict())
  GET  /_mock/closes     connection closes
  GET  /_mock/state      mock-specific state (e.g. tokens issued by vertex_oauth)
  POST /_mock/reset      forget requests, closes and pending overrides
  POST /_mock/fault      {"fault": NAME, "count": N}
  POST /_mock/config     {"key": value, ...} for the mock's CONFIG_KEYS
  POST /_mock/release?gate=NAME   (opens a gate for the `pause-mid-stream` fault)
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HERE = os.path.dirname(os.path.abspath(__file__))
_PARENT = os.path.dirname(_HERE)
if _PARENT not in sys.path:
    sys.path.insert(0, _PARENT)

from mock_openai import CREATED, _split_words  # noqa: E402  (reused helpers)

FAULTS = """\
Common faults (every mock; provider-specific ones are listed in each module's docstring):
  fault-<status>[-ra<N>][-noretry]  the provider's own error answer for that HTTP status (429 adds the
                                    provider's retry hints; -ra<N> forces Retry-After: N on any status;
                                    -noretry adds x-should-retry: false)
  slow-first-byte[-<ms>]            wait (default 3000 ms) before the status line, then answer normally
  hang                              read the request, never answer (until the peer closes)
  reset-mid-stream                  a few events (or half the body) then RST
  eof-mid-stream                    a few events then FIN in the middle of an HTTP chunk
  truncated-stream                  a few events then a clean end of the chunked body, without the
                                    provider's end-of-stream event
  truncated-frame | truncated-mid-event
                                    a few events, then the first half of the next event / frame / line,
                                    then a clean end of the chunked body
  error-mid-stream                  a few events then the provider's in-stream error, then a clean end
  stream-stall[-<ms>]               a few events then silence (default: until the peer closes)
  pause-mid-stream                  a few events, then wait for POST /_mock/release?gate=<gate> (gate =
                                    the x-mock-gate request header, else "default"), then the rest
  slow-stream[-<n>x<ms>]            n text pieces "tick0 tick1 ..." (default 20), one event every ms
                                    (default 100)
  big[-<kb>]                        a long answer (default 256 KiB of text)
"""

PIECE_SIZES = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233)
TOOL_ARGS = ({"city": "Paris"}, {"city": "Rome"})
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
           413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
           424: "Failed Dependency", 429: "Too Many Requests", 498: "Invalid Token", 499: "Client Closed Request",
           500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout", 529: "Overloaded"}


class Abort(Exception):
    """Ends the connection without finishing the answer (reason is recorded)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------- records
class Record:
    """One request the mock received."""

    def __init__(self, seq, conn_id, method, target, version, headers, body):
        self.seq = seq
        self.conn_id = conn_id
        self.t = time.monotonic()
        self.method = method
        self.path = target  # raw request target, query included, exactly as received
        self.route, _, self.query_string = target.partition("?")
        self.query = urllib.parse.parse_qs(self.query_string, keep_blank_values=True)
        self.version = version
        self.headers = headers  # list of (name, value) in arrival order
        self.body = body  # bytes, de-chunked
        self.json = None  # parsed JSON body, if it parsed
        self.form = None  # parsed x-www-form-urlencoded body (dict name -> first value)
        self.kind = None  # what the mock took the request for ("messages", "converse-stream", ...)
        self.model = None
        self.stream = None
        self.fault = None
        self.auth = None  # how the request authenticated ("x-api-key", "sigv4", "bearer", ...)
        self.rejected = None  # why the mock refused the request (its 4xx answer), else None
        self.status = None
        self.response_headers = []
        self.response_body = b""  # non-streaming: the exact body bytes
        self.events = []  # streaming: what was written, one entry per event / frame / line
        self.usage = None  # the usage the mock reported, in the provider's own field names
        self.reply = None  # the reply plan (text, thinking, tool calls, stop reason)
        self.info = {}  # provider extras (e.g. the SigV4 canonical request the mock computed)
        self.done = False
        self.aborted = None

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def to_dict(self):
        return {
            "seq": self.seq, "conn_id": self.conn_id, "method": self.method, "path": self.path,
            "route": self.route, "query": {k: v[0] if len(v) == 1 else v for k, v in self.query.items()},
            "version": self.version, "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"), "body_b64": base64.b64encode(self.body).decode(),
            "json": self.json, "form": self.form, "kind": self.kind, "model": self.model, "stream": self.stream,
            "fault": self.fault, "auth": self.auth, "rejected": self.rejected, "status": self.status,
            "response_headers": self.response_headers,
            "response_body": self.response_body.decode("utf-8", "replace"), "events": self.events,
            "usage": self.usage, "reply": self.reply, "info": self.info, "done": self.done,
            "aborted": self.aborted,
        }


class Fault:
    """A fault name (or a model name that carries one) with token lookups."""

    def __init__(self, spec):
        self.spec = spec if isinstance(spec, str) else ""
        self.low = self.spec.lower()

    def has(self, name):
        return re.search(r"(?<![a-z0-9])" + re.escape(name) + r"(?![a-z])", self.low) is not None

    def num(self, name, default):
        m = re.search(r"(?<![a-z0-9])" + re.escape(name) + r"-(\d+)(?![0-9x])", self.low)
        return int(m.group(1)) if m else default

    def status(self):
        m = re.search(r"(?<![a-z0-9])fault-(\d{3})(?!\d)", self.low)
        return int(m.group(1)) if m else None

    def retry_after(self, default=None):
        m = re.search(r"-ra(\d+)(?![0-9])", self.low)
        return int(m.group(1)) if m else default

    @property
    def noretry(self):
        return self.has("noretry")

    def __bool__(self):
        return bool(self.spec)

    def __repr__(self):
        return f"Fault({self.spec!r})"


# ---------------------------------------------------------------------------------------------- replies
class Ask:
    """What a provider module extracted from a request, in provider-neutral terms."""

    def __init__(self):
        self.last_user_text = ""
        self.input_words = 0  # words in every text of the conversation (system, messages, tool results)
        self.tools = []  # declared tool names, in order
        self.tool_choice = None  # None/"auto", "none", "any" (must call some tool) or ("tool", name)
        self.tool_results = None  # texts of the tool results in the last user turn, else None
        self.thinking = False
        self.json_mode = False
        self.max_tokens = None
        self.stop = []


class Plan:
    """The reply the mock will give, before it is rendered in a provider's format."""

    def __init__(self):
        self.thinking = None
        self.thinking_pieces = []
        self.signature = None
        self.text = None
        self.pieces = []
        self.tool_calls = []  # [{"name", "args" (dict), "arguments" (JSON text), "index"}]
        self.stop = "end"  # end | max_tokens | stop_sequence | tool_use
        self.stop_sequence = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.thinking_tokens = 0

    def to_dict(self):
        return {"text": self.text, "thinking": self.thinking, "signature": self.signature,
                "tool_calls": [{"name": c["name"], "arguments": c["arguments"]} for c in self.tool_calls],
                "stop": self.stop, "stop_sequence": self.stop_sequence, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "thinking_tokens": self.thinking_tokens}


def plan_reply(ask, fault, provider):
    """The deterministic reply rules shared by every mock (documented in README.md):

    * tools declared, tool choice not "none", the last user turn is not a tool result, and either the
      tool choice forces a call or the last user text contains "call tool" (any case) -> a tool call to
      the forced tool, else the FIRST declared tool, with arguments {"city": "Paris"}; with "parallel"
      in the text a second call to the same tool with {"city": "Rome"}; with "narrate" in the text the
      text "Let me check." comes before the call(s). Stop reason: tool use.
    * the last user turn carries tool results -> "Tool result: <texts joined by ' | '>".
    * JSON mode requested -> the JSON text {"echo": <last user text>, "mock": <provider>}.
    * otherwise -> the last user text, verbatim ("Hello from the mock." when it is empty).
    * thinking requested -> a thinking/reasoning part "Thinking about: <last user text>" first.
    * a stop sequence occurring in the text cuts it there (stop reason: stop sequence).
    * more words than max tokens -> the first max-tokens words (stop reason: max tokens).
    Usage: input = 3 + words of every text in the conversation; output = text pieces + thinking pieces
    + 10 per tool call (a "piece" is a word with its trailing spaces).
    """
    p = Plan()
    text_in = ask.last_user_text or ""
    low = text_in.lower()
    if ask.thinking:
        p.thinking = f"Thinking about: {text_in}".rstrip()
        p.thinking_pieces = _split_words(p.thinking)
        p.signature = base64.b64encode(hashlib.sha256(("mock-signature:" + p.thinking).encode()).digest()
                                       + b"mock").decode()
    forced = ask.tool_choice == "any" or isinstance(ask.tool_choice, tuple)
    call = (bool(ask.tools) and ask.tool_choice != "none" and ask.tool_results is None
            and (forced or "call tool" in low))
    if call:
        name = ask.tool_choice[1] if isinstance(ask.tool_choice, tuple) else ask.tools[0]
        args = [TOOL_ARGS[0]] + ([TOOL_ARGS[1]] if "parallel" in low else [])
        for i, a in enumerate(args):
            p.tool_calls.append({"name": name, "args": dict(a), "index": i,
                                 "arguments": json.dumps(a, separators=(",", ":"))})
        if "narrate" in low:
            p.text = "Let me check."
            p.pieces = _split_words(p.text)
        p.stop = "tool_use"
    else:
        if ask.tool_results is not None:
            text = "Tool result: " + " | ".join(ask.tool_results)
        elif ask.json_mode:
            text = json.dumps({"echo": text_in, "mock": provider}, ensure_ascii=False)
        elif fault.has("slow-stream"):
            m = re.search(r"slow-stream-(\d+)x(\d+)", fault.low)
            n = int(m.group(1)) if m else 20
            text = "".join(f"tick{i} " for i in range(n)).rstrip()
        elif fault.has("big"):
            kb = fault.num("big", 256)
            unit = "The quick brown fox jumps over the lazy dog. "
            text = (unit * (kb * 1024 // len(unit) + 1)).rstrip()
        else:
            text = text_in if text_in.strip() else "Hello from the mock."
        cut = None
        for s in ask.stop or []:
            if isinstance(s, str) and s and s in text:
                i = text.index(s)
                if cut is None or i < cut[0]:
                    cut = (i, s)
        if cut:
            text = text[:cut[0]]
            p.stop, p.stop_sequence = "stop_sequence", cut[1]
        pieces = _split_words(text) if text else [""]
        if isinstance(ask.max_tokens, int) and not isinstance(ask.max_tokens, bool) \
                and 0 < ask.max_tokens < len(pieces):
            pieces = pieces[:ask.max_tokens]
            text = "".join(pieces)
            p.stop, p.stop_sequence = "max_tokens", None
        p.text, p.pieces = text, pieces
    p.input_tokens = 3 + ask.input_words
    p.thinking_tokens = len(p.thinking_pieces)
    p.output_tokens = (len(p.pieces) if p.text else 0) + p.thinking_tokens + 10 * len(p.tool_calls)
    return p


TEXT_KEYS = frozenset({"text", "content", "thinking", "prompt", "system", "tool_plan"})


def count_words(obj, key=None):
    """Words in the texts of a JSON value: strings under the keys text, content, thinking, prompt, system,
    tool_plan (list items inherit their list's key; a bare string counts)."""
    if isinstance(obj, str):
        return len(obj.split()) if key is None or key in TEXT_KEYS else 0
    if isinstance(obj, list):
        return sum(count_words(x, key) for x in obj)
    if isinstance(obj, dict):
        return sum(count_words(v, k) for k, v in obj.items())
    return 0


def json_fragments(s):
    """Splits a JSON text in three at fixed places (mid-token), for streamed tool arguments."""
    n = len(s)
    a, b = max(1, n // 3), max(2, (2 * n) // 3)
    return [x for x in (s[:a], s[a:b], s[b:]) if x]


def compact(obj, **kw):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), **kw)


def rfc3339(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# ---------------------------------------------------------------------------------------------- HTTP server
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, addr, mock):
        self.mock = mock
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, Abort)):
            return
        sys.stderr.write(f"[{self.mock.name}] unexpected error:\n")
        import traceback
        traceback.print_exc()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock"
    sys_version = ""

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.mock = self.server.mock
        self.conn_id = self.mock._register(self.connection)
        self.last_rec = None
        self.close_reason = None

    def log_message(self, format, *args):  # noqa: A002
        pass

    def version_string(self):
        return self.server_version

    def handle(self):
        try:
            super().handle()
        except Abort as e:
            self.close_reason = e.reason
        except (ConnectionError, OSError) as e:
            self.close_reason = self.close_reason or f"peer_error:{type(e).__name__}"
        if self.close_reason is None:
            self.close_reason = "server_closed"

    def handle_one_request(self):
        super().handle_one_request()
        if not self.raw_requestline and self.close_reason is None:
            self.close_reason = "peer_closed_idle"

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.mock._closed(self)

    def _any(self):
        self.mock._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any


def _read_body(h):
    te = (h.headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        out = b""
        while True:
            line = h.rfile.readline(65537)
            if not line:
                raise Abort("peer_closed_mid_body")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers
                    t = h.rfile.readline(65537)
                    if t in (b"\r\n", b"\n", b""):
                        break
                return out
            data = h.rfile.read(size)
            if len(data) < size:
                raise Abort("peer_closed_mid_body")
            out += data
            h.rfile.readline(3)
    n = int(h.headers.get("Content-Length") or 0)
    data = h.rfile.read(n) if n else b""
    if len(data) < n:
        raise Abort("peer_closed_mid_body")
    return data


# ---------------------------------------------------------------------------------------------- streams
class StreamOut:
    """A chunked response body written in small irregular pieces (see the module docstring)."""

    def __init__(self, mock, h, rec, headers, status=200):
        self.mock = mock
        self.h = h
        self.rec = rec
        self.sock = h.connection
        self.rng = mock.rng_for(rec)
        self._split_utf8 = False
        hdrs = list(headers) + [("Transfer-Encoding", "chunked")]
        h.send_response(status, REASONS.get(status))
        for k, v in hdrs:
            h.send_header(k, v)
        h.end_headers()
        rec.status = status
        rec.response_headers = hdrs

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Abort(f"write_failed:{type(e).__name__}")

    def write(self, data):
        """Writes bytes as several HTTP chunks of irregular sizes, sleeping a little between some."""
        i, n = 0, len(data)
        forced = None
        if not self._split_utf8:
            forced = next((k + 1 for k, b in enumerate(data) if b >= 0xC0), None)
        scale = 1 if n < 64 * 1024 else 64
        while i < n:
            size = self.rng.choice(PIECE_SIZES) * scale
            if forced is not None and i < forced < i + size:
                size = forced - i
                forced = None
                self._split_utf8 = True
            piece = data[i:i + size]
            i += len(piece)
            wire = b"%x\r\n" % len(piece) + piece + b"\r\n"
            if len(wire) > 4 and self.rng.random() < 0.25:
                cut = self.rng.randrange(1, len(wire))
                self._send(wire[:cut])
                time.sleep(0.0005)
                self._send(wire[cut:])
            else:
                self._send(wire)
            if scale == 1 and self.rng.random() < 0.5:
                time.sleep(self.rng.choice((0.0002, 0.0005, 0.001, 0.002)))

    def emit(self, items):
        """items: [(record_entry, bytes)] — each entry is appended to rec.events, then all bytes written."""
        data = b""
        for entry, raw in items:
            self.rec.events.append(entry)
            data += raw
        if data:
            self.write(data)

    def end(self):
        self._send(b"0\r\n\r\n")

    def reset(self):
        """RST the connection (SO_LINGER 0 + close of the only descriptor)."""
        time.sleep(0.05)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            fd = self.sock.detach()
            os.close(fd)
        except OSError:
            pass
        raise Abort("server_reset")

    def fin_mid(self, raw):
        """Starts an HTTP chunk that would hold `raw`, sends half of it, then closes (FIN)."""
        half = raw[: max(1, len(raw) // 2)]
        self._send(b"%x\r\n" % len(raw) + half)
        time.sleep(0.05)
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        raise Abort("server_closed")

    def wait(self, seconds):
        """Sleeps up to `seconds` (None = until stop), raising Abort if the peer closes meanwhile."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self.mock._stop.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return
            if self.mock.peer_closed(self.h, left):
                raise Abort("peer_closed")
        raise Abort("server_closed")


# ---------------------------------------------------------------------------------------------- mock base
class MockBase:
    provider = "base"
    CONFIG_KEYS = ()

    def __init__(self, host="127.0.0.1", port=0, name=None):
        self.host = host
        self._want_port = port
        self.port = None
        self.name = name or f"mock-{self.provider}"
        self.lock = threading.Condition()
        self.requests: list[Record] = []
        self.closes: list[dict] = []
        self.connections = 0
        self._seq = 0
        self._conn_seq = 0
        self._overrides: list[list] = []
        self._gates: dict[str, threading.Event] = {}
        self._socks = set()
        self._stop = threading.Event()
        self._httpd = None

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        self._httpd = _Server((self.host, self._want_port), self)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         name=f"{self.name}-accept", daemon=True).start()
        return self

    def stop(self):
        self._stop.set()
        for g in list(self._gates.values()):
            g.set()
        if self._httpd is not None:
            try:
                self._httpd.shutdown()
                self._httpd.server_close()
            except OSError:
                pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    @property
    def origin(self):
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self):
        return self.origin

    def url(self, path):
        return self.origin + path

    # ------------------------------------------------------------------ test API
    def set_fault(self, fault, count=1):
        with self.lock:
            self._overrides.append([fault, int(count)])

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.closes.clear()
            self._overrides.clear()

    def configure(self, **kw):
        for k, v in kw.items():
            if k not in self.CONFIG_KEYS:
                raise KeyError(f"{self.name}: unknown config key {k!r} (known: {', '.join(self.CONFIG_KEYS)})")
            setattr(self, k, v)

    def state(self):
        return {}

    def gate(self, name):
        with self.lock:
            return self._gates.setdefault(name, threading.Event())

    def release(self, name="default"):
        self.gate(name).set()

    def api_requests(self):
        with self.lock:
            return [r for r in self.requests if not _is_control(r.route)]

    def last(self):
        reqs = self.api_requests()
        return reqs[-1] if reqs else None

    def wait_for(self, pred, timeout=10.0, what="condition"):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: timed out after {timeout}s waiting for {what}")
                self.lock.wait(min(left, 0.1))

    def find(self, marker):
        m = marker.encode() if isinstance(marker, str) else marker
        with self.lock:
            return [r for r in self.requests if m in r.body and not _is_control(r.route)]

    def wait_request(self, marker=None, timeout=10.0, done=False):
        """The first request whose body contains marker (any request when None); with done=True, once the
        mock has finished answering it (completely, or cut short)."""
        m = marker.encode() if isinstance(marker, str) else marker

        def pred():
            for r in self.requests:
                if _is_control(r.route):
                    continue
                if (m is None or m in r.body) and (not done or r.done or r.aborted is not None):
                    return r
            return None
        return self.wait_for(pred, timeout, f"a request containing {marker!r}")

    def wait_close(self, seq, timeout=10.0):
        def pred():
            for c in self.closes:
                if c["seq"] == seq:
                    return c
            return None
        return self.wait_for(pred, timeout, f"the connection of request #{seq} to close")

    # ------------------------------------------------------------------ helpers for provider modules
    def rng_for(self, rec):
        return random.Random(rec.seq * 7919 + len(rec.body))

    def pick_fault(self, rec, model):
        with self.lock:
            if self._overrides:
                o = self._overrides[0]
                o[1] -= 1
                if o[1] <= 0:
                    self._overrides.pop(0)
                spec = o[0]
            else:
                spec = rec.header("x-mock-fault") or (model if isinstance(model, str) else "")
        rec.fault = spec or None
        return Fault(spec)

    def peer_closed(self, h, timeout):
        sock = h.connection
        try:
            r, _, _ = select.select([sock], [], [], max(timeout, 0))
        except (OSError, ValueError):
            return True
        if not r:
            return False
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        if not data:
            return True
        time.sleep(max(timeout, 0))  # pipelined bytes: not a close
        return False

    def wait_or_abort(self, h, seconds):
        """Sleeps `seconds` (None = forever), raising Abort when the peer closes meanwhile."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stop.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return
            if self.peer_closed(h, left):
                raise Abort("peer_closed")
        raise Abort("server_closed")

    def pre_answer_faults(self, h, rec, fault):
        """hang / slow-first-byte. Returns nothing; raises Abort for hang."""
        if fault.has("hang"):
            self.wait_or_abort(h, None)
        if fault.has("slow-first-byte"):
            self.wait_or_abort(h, fault.num("slow-first-byte", 3000) / 1000.0)

    def send_bytes(self, h, rec, status, body, ctype="application/json", headers=(), close=False):
        hdrs = [("Content-Type", ctype), ("Content-Length", str(len(body)))] + list(headers)
        if close:
            hdrs.append(("Connection", "close"))
        rec.status = status
        rec.response_headers = hdrs
        rec.response_body = body
        try:
            h.send_response(status, REASONS.get(status))
            for k, v in hdrs:
                h.send_header(k, v)
            h.end_headers()
            if rec.method != "HEAD":
                h.wfile.write(body)
        except OSError as e:
            raise Abort(f"write_failed:{type(e).__name__}")

    def send_json(self, h, rec, status, obj, headers=(), ctype="application/json", indent=None, close=False):
        if isinstance(obj, (bytes, bytearray)):
            body = bytes(obj)
        else:
            body = json.dumps(obj, ensure_ascii=False, indent=indent,
                              separators=None if indent else (",", ":")).encode()
            if indent:
                body += b"\n"
        return self.send_bytes(h, rec, status, body, ctype, headers, close)

    def send_partial_then_reset(self, h, rec, status, body, ctype="application/json", headers=()):
        """Non-streaming reset-mid-stream / eof-mid-stream: a full head, half the body, then RST / FIN."""
        hdrs = [("Content-Type", ctype), ("Content-Length", str(len(body)))] + list(headers)
        rec.status = status
        rec.response_headers = hdrs
        rec.response_body = body
        h.send_response(status, REASONS.get(status))
        for k, v in hdrs:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
        time.sleep(0.05)
        sock = h.connection
        if Fault(rec.fault).has("eof-mid-stream"):
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            raise Abort("server_closed")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())
        except OSError:
            pass
        raise Abort("server_reset")

    def begin_stream(self, h, rec, ctype, headers=(), status=200):
        return StreamOut(self, h, rec, [("Content-Type", ctype)] + list(headers), status)

    def run_stream(self, h, out, items, fault, error_item=None, cut=None):
        """Writes the stream `items` ([(record_entry, bytes)]) applying the mid-stream faults, then ends it."""
        n = len(items)
        k = cut if cut is not None else min(n - 1, max(1, n // 2 + 1))
        k = max(0, k)
        if fault.has("reset-mid-stream"):
            out.emit(items[:k])
            out.reset()
        if fault.has("eof-mid-stream"):
            out.emit(items[:k])
            out.rec.events.append(items[k][0])
            out.fin_mid(items[k][1])
        if fault.has("truncated-stream"):
            out.emit(items[:k])
            out.end()
            return
        if fault.has("truncated-frame") or fault.has("truncated-mid-event"):
            out.emit(items[:k])
            raw = items[k][1]
            out.write(raw[: max(1, len(raw) // 2)])
            out.end()
            return
        if fault.has("error-mid-stream") and error_item is not None:
            out.emit(items[:k])
            out.emit([error_item])
            out.end()
            return
        if fault.has("stream-stall"):
            out.emit(items[:k])
            ms = fault.num("stream-stall", 0)
            out.wait(ms / 1000.0 if ms else None)
            out.emit(items[k:])
            out.end()
            return
        if fault.has("pause-mid-stream"):
            out.emit(items[:k])
            g = self.gate(out.rec.header("x-mock-gate") or "default")
            deadline = time.monotonic() + 60
            while not g.is_set() and time.monotonic() < deadline and not self._stop.is_set():
                out.wait(0.02)
            out.emit(items[k:])
            out.end()
            return
        if fault.has("slow-stream"):
            m = re.search(r"slow-stream-(\d+)x(\d+)", fault.low)
            ms = int(m.group(2)) if m else 100
            for i, it in enumerate(items):
                if i:
                    out.wait(ms / 1000.0)
                out.emit([it])
            out.end()
            return
        out.emit(items)
        out.end()

    # ------------------------------------------------------------------ to implement
    def handle_request(self, h, rec):
        raise NotImplementedError

    # ------------------------------------------------------------------ internals
    def _register(self, sock):
        with self.lock:
            self._conn_seq += 1
            self.connections += 1
            self._socks.add(sock)
            return self._conn_seq

    def _closed(self, h):
        rec = h.last_rec
        reason = h.close_reason or "server_closed"
        with self.lock:
            self._socks.discard(h.connection)
            self.closes.append({"conn_id": h.conn_id, "t": time.monotonic(), "reason": reason,
                                "seq": rec.seq if rec else None, "in_progress": bool(rec and not rec.done)})
            if rec and not rec.done and rec.aborted is None:
                rec.aborted = reason
            self.lock.notify_all()

    def _serve(self, h):
        body = _read_body(h)
        headers = [(k, v) for k, v in h.headers.items()]
        with self.lock:
            self._seq += 1
            rec = Record(self._seq, h.conn_id, h.command, h.path, h.request_version, headers, body)
        ctype = (rec.header("content-type") or "").lower()
        if body and ("json" in ctype or body[:1] in (b"{", b"[")):
            try:
                rec.json = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                rec.json = None
        if body and "x-www-form-urlencoded" in ctype:
            try:
                rec.form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8"),
                                                                      keep_blank_values=True).items()}
            except UnicodeDecodeError:
                rec.form = None
        with self.lock:
            self.requests.append(rec)
            self.lock.notify_all()
        h.last_rec = rec
        try:
            if _is_control(rec.route):
                self._control(h, rec)
            else:
                self.handle_request(h, rec)
        except Abort as e:
            with self.lock:
                if rec.aborted is None:
                    rec.aborted = e.reason
                self.lock.notify_all()
            raise
        with self.lock:
            rec.done = True
            self.lock.notify_all()

    def _control(self, h, rec):
        path = "/_mock/" + rec.route.lstrip("/").lstrip("_").split("/", 1)[1]
        if path == "/_mock/requests":
            with self.lock:
                data = [r.to_dict() for r in self.requests if not _is_control(r.route)]
            return self.send_json(h, rec, 200, data)
        if path == "/_mock/closes":
            with self.lock:
                data = list(self.closes)
            return self.send_json(h, rec, 200, data)
        if path == "/_mock/state":
            return self.send_json(h, rec, 200, self.state())
        if path == "/_mock/reset":
            self.reset()
            return self.send_json(h, rec, 200, {"ok": True})
        if path == "/_mock/release":
            self.release(rec.q("gate", "default"))
            return self.send_json(h, rec, 200, {"ok": True})
        if path == "/_mock/fault":
            try:
                spec = json.loads(rec.body or b"{}")
                self.set_fault(spec["fault"], int(spec.get("count", 1)))
            except (ValueError, KeyError, TypeError):
                return self.send_json(h, rec, 400, {"ok": False, "error": "want {\"fault\": NAME, \"count\": N}"})
            return self.send_json(h, rec, 200, {"ok": True})
        if path == "/_mock/config":
            try:
                self.configure(**json.loads(rec.body or b"{}"))
            except (ValueError, KeyError, TypeError) as e:
                return self.send_json(h, rec, 400, {"ok": False, "error": str(e)})
            return self.send_json(h, rec, 200, {"ok": True})
        return self.send_json(h, rec, 404, {"ok": False})


def _is_control(route):
    return route.startswith("/_mock/") or route.startswith("/__mock/")


def sse_event(data, event=None, eol="\n"):
    """One SSE event as bytes (`event:` line when given, one `data:` line)."""
    s = (f"event: {event}{eol}" if event else "") + f"data: {data}{eol}{eol}"
    return s.encode("utf-8")


def last_text_of(content, text_key="text"):
    """Text of a message content that is a string or a list of {type:"text", text} blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get(text_key, "") for b in content
                       if isinstance(b, dict) and isinstance(b.get(text_key), str)
                       and b.get("type", "text") == "text")
    return ""


def serve_forever(mock, port_file=None):
    """Runs a mock in the foreground (used by `python3 -m mocks`)."""
    mock.start()
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write(str(mock.port))
        os.replace(port_file + ".tmp", port_file)
    print(f"{mock.name} listening on {mock.host}:{mock.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        mock.stop()


__all__ = ["Abort", "Ask", "CREATED", "FAULTS", "Fault", "MockBase", "Plan", "Record", "StreamOut", "TOOL_ARGS",
           "compact", "count_words", "json_fragments", "last_text_of", "plan_reply", "rfc3339", "serve_forever",
           "sse_event"]
