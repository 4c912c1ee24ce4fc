"""Integration-test harness for llmux: processes, configs, a raw HTTP/1.1 client, an SSE reader, and a
small concurrent test runner. Stdlib only."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from mock_openai import MockOpenAI  # noqa: E402

MASTER_KEY = "sk-llmux-master-TESTSECRET-4f2a91"
UPSTREAM_KEY = "sk-upstream-DEPLOYSECRET-9b1c77"
ENV_KEY_VALUE = "sk-from-env-ENVSECRET-31d0"

SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                      "WARNING: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")


class Skip(Exception):
    pass


def llmux_bin():
    b = os.environ.get("LLMUX_BIN", "build-debug/llmux")
    for cand in (b, os.path.join(ROOT, b)):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise SystemExit(f"llmux binary not found: {b} (set LLMUX_BIN)")


def is_sanitized():
    return "debug" in llmux_bin() or os.environ.get("LLMUX_SANITIZED") == "1"


def slow_factor():
    """Timeouts in tests are multiplied by this (ASan builds are several times slower)."""
    return 3.0 if is_sanitized() else 1.0


def child_env(extra=None):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1:detect_odr_violation=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    env["LLMUX_TEST_ENV_KEY"] = ENV_KEY_VALUE
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HOSTED_VLLM_API_KEY"):
        env.pop(k, None)
    if extra:
        env.update(extra)
    return env


_version_cache = None


def llmux_version():
    """The `<version>` of `llmux --version` (`llmux <version>`)."""
    global _version_cache
    if _version_cache is None:
        p = subprocess.run([llmux_bin(), "--version"], capture_output=True, text=True, timeout=30,
                           env=child_env())
        m = re.match(r"^llmux (\S+)\s*$", p.stdout.strip())
        _version_cache = m.group(1) if m else None
    return _version_cache


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


_closed_ports = []  # bound, never listening: kept for the whole run


def closed_port():
    """A port on 127.0.0.1 with nothing listening (connect is refused). The port stays bound for
    the rest of the run: a merely free port could be handed to a gateway of a test running in
    parallel, which would then answer the connections meant to be refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _closed_ports.append(s)
    return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------- YAML
def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)


def to_yaml(obj, indent=0):
    sp = "  " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{sp}{k}:")
                lines.append(to_yaml(v, indent + 1))
            elif isinstance(v, dict):
                lines.append(f"{sp}{k}: {{}}")
            elif isinstance(v, list):
                lines.append(f"{sp}{k}: []")
            else:
                lines.append(f"{sp}{k}: {_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                sub = to_yaml(item, indent + 1).split("\n")
                lines.append(f"{sp}- " + sub[0][len("  " * (indent + 1)):])
                lines.extend(sub[1:])
            else:
                lines.append(f"{sp}- {_scalar(item)}")
    else:
        lines.append(sp + _scalar(obj))
    return "\n".join(lines)


def mock_dep(name, mock, upstream_model, info=None, **params):
    """A model_list entry for `name` served by the mock OpenAI upstream as `upstream_model` (the
    mock picks faults by that name), with extra litellm_params and an optional model_info."""
    p = {"model": f"openai/{upstream_model}", "api_base": mock.base_url, "api_key": UPSTREAM_KEY}
    p.update(params)
    d = {"model_name": name, "litellm_params": p}
    if info:
        d["model_info"] = info
    return d


def routing_settings(router=None, **llmux):
    """llmux_settings (access log off, plus `llmux`) and router_settings (`router`, else empty):
    with router_settings present, Gateway keeps LiteLLM's router defaults (num_retries 2)."""
    return {"llmux_settings": {"access_log": "", **llmux}, "router_settings": router or {}}


def deployment(model_name, model, api_base=None, api_key=None, id=None, **params):
    lp = {"model": model}
    if api_base is not None:
        lp["api_base"] = api_base
    if api_key is not None:
        lp["api_key"] = api_key
    lp.update(params)
    d = {"model_name": model_name, "litellm_params": lp}
    if id is not None:
        d["model_info"] = {"id": id}
    return d


# ---------------------------------------------------------------------------------------------- HTTP client
class ConnectionClosed(Exception):
    pass


class Resp:
    def __init__(self, version, status, reason, headers):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = b""
        self.complete = False

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def chunked(self):
        return "chunked" in (self.header("transfer-encoding") or "").lower()

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"response body is not JSON (status {self.status}): {self.body[:300]!r}")

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Resp {self.status} {self.headers} {self.body[:200]!r}>"


class Conn:
    """A raw client connection. All reads take a timeout (seconds)."""

    def __init__(self, port, host="127.0.0.1", timeout=15.0):
        self.port = port
        self.timeout = timeout * slow_factor() if timeout else timeout
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with RST."""
        import struct
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def request(self, method, path, body=None, headers=None, auth=MASTER_KEY, content_type="application/json",
                send=True, close=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        raw = build_request(method, path, body, headers, auth, content_type, close)
        if send:
            self.send(raw)
        return raw

    def _deadline(self, timeout):
        t = self.timeout if timeout is None else timeout * slow_factor()
        return time.monotonic() + t

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out waiting for the server")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server")
        except ConnectionResetError:
            self.eof = True
            raise ConnectionClosed("connection reset by the server")
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_head(self, timeout=None):
        deadline = self._deadline(timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._recv(deadline):
                raise ConnectionClosed(f"connection closed before a full response head (got {self.buf[:300]!r})")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise AssertionError(f"bad status line {lines[0]!r}")
        headers = []
        for ln in lines[1:]:
            k, sep, v = ln.partition(":")
            if not sep:
                raise AssertionError(f"bad header line {ln!r}")
            headers.append((k.strip(), v.strip()))
        return Resp(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers)

    def iter_body(self, resp, timeout=None):
        """Yields body bytes as they arrive (chunked decoding done). Sets resp.complete at the end."""
        deadline = self._deadline(timeout)
        if resp.status in (204, 304) or 100 <= resp.status < 200:
            resp.complete = True
            return
        if resp.chunked:
            while True:
                while b"\r\n" not in self.buf:
                    if not self._recv(deadline):
                        raise ConnectionClosed("connection closed inside a chunked body")
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while b"\r\n" not in self.buf:  # trailers (none expected) + final CRLF
                        if not self._recv(deadline):
                            raise ConnectionClosed("connection closed before the end of a chunked body")
                    while not self.buf.startswith(b"\r\n"):
                        _, self.buf = self.buf.split(b"\r\n", 1)
                        while b"\r\n" not in self.buf:
                            if not self._recv(deadline):
                                raise ConnectionClosed("connection closed in trailers")
                    self.buf = self.buf[2:]
                    resp.complete = True
                    return
                left = size
                while left > 0:
                    if not self.buf and not self._recv(deadline):
                        raise ConnectionClosed("connection closed inside a chunk")
                    piece, self.buf = self.buf[:left], self.buf[left:]
                    left -= len(piece)
                    if piece:
                        yield piece
                while len(self.buf) < 2:
                    if not self._recv(deadline):
                        raise ConnectionClosed("connection closed after a chunk")
                if self.buf[:2] != b"\r\n":
                    raise AssertionError(f"chunk not followed by CRLF: {self.buf[:20]!r}")
                self.buf = self.buf[2:]
        elif resp.header("content-length") is not None:
            left = int(resp.header("content-length"))
            while left > 0:
                if not self.buf and not self._recv(deadline):
                    raise ConnectionClosed(f"connection closed with {left} body bytes missing")
                piece, self.buf = self.buf[:left], self.buf[left:]
                left -= len(piece)
                yield piece
            resp.complete = True
        else:
            while True:
                if self.buf:
                    piece, self.buf = self.buf, b""
                    yield piece
                if not self._recv(deadline):
                    if self.buf:
                        piece, self.buf = self.buf, b""
                        yield piece
                    resp.complete = True
                    return

    def read_response(self, timeout=None):
        resp = self.read_head(timeout)
        resp.body = b"".join(self.iter_body(resp, timeout))
        return resp

    def wait_closed(self, timeout=5.0):
        """True if the server closes (FIN or RST) within timeout; discards data read meanwhile."""
        deadline = time.monotonic() + timeout * slow_factor()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, OSError):
                return True
            if not data:
                return True
            self.buf += data


def build_request(method, path, body=None, headers=None, auth=MASTER_KEY, content_type="application/json",
                  close=False):
    h = [("Host", "127.0.0.1")]
    if auth:
        h.append(("Authorization", f"Bearer {auth}"))
    if body is not None:
        if content_type:
            h.append(("Content-Type", content_type))
        h.append(("Content-Length", str(len(body))))
    if close:
        h.append(("Connection", "close"))
    for k, v in (headers.items() if isinstance(headers, dict) else (headers or [])):
        h.append((k, v))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def request(port, method, path, body=None, headers=None, auth=MASTER_KEY, timeout=15.0, **kw):
    with Conn(port, timeout=timeout) as c:
        c.request(method, path, body, headers, auth, **kw)
        return c.read_response()


def chat(port, body, path="/v1/chat/completions", **kw):
    return request(port, "POST", path, body, **kw)


# ---------------------------------------------------------------------------------------------- SSE
class SSEReader:
    """Incremental SSE parser (LF, CRLF, CR line endings; comments kept separately)."""

    def __init__(self):
        self.buf = b""
        self.events = []

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            # Normalise line endings in everything but a trailing CR (it may be half of CRLF).
            cut = len(self.buf) - 1 if self.buf.endswith(b"\r") else len(self.buf)
            norm = self.buf[:cut].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            i = norm.find(b"\n\n")
            if i < 0:
                self.buf = norm + self.buf[cut:]
                return out
            block, rest = norm[:i], norm[i + 2:]
            self.buf = rest + self.buf[cut:]
            ev = {"data": None, "comments": [], "event": None, "raw": block, "t": time.monotonic()}
            datas = []
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError:
                text = block.decode("utf-8", "replace")
                ev["bad_utf8"] = True
            for line in text.split("\n"):
                if line.startswith(":"):
                    ev["comments"].append(line[1:].strip())
                    continue
                field, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if field == "data":
                    datas.append(value)
                elif field == "event":
                    ev["event"] = value
            if datas:
                ev["data"] = "\n".join(datas)
            out.append(ev)
            self.events.append(ev)


class StreamResult:
    def __init__(self):
        self.resp = None
        self.events = []  # all blocks incl. comment-only ones
        self.ended = False  # the HTTP body ended properly (terminal chunk / EOF after close-delimited)
        self.error = None  # exception text if the body broke (reset, timeout)
        self.t0 = time.monotonic()
        self.t_end = None
        self.leftover = b""

    @property
    def data(self):
        return [e["data"] for e in self.events if e["data"] is not None]

    @property
    def done(self):
        d = self.data
        return bool(d) and d[-1] == "[DONE]"

    def json_chunks(self):
        return [json.loads(d) for d in self.data if d != "[DONE]"]

    def content(self):
        out = []
        for c in self.json_chunks():
            for ch in c.get("choices") or []:
                v = (ch.get("delta") or {}).get("content")
                if v:
                    out.append(v)
        return "".join(out)

    def describe(self):
        return (f"status={self.resp.status if self.resp else None} ended={self.ended} error={self.error} "
                f"events={self.data[-6:]!r}")


def read_stream(conn, resp, timeout=20.0, on_event=None):
    res = StreamResult()
    res.resp = resp
    sse = SSEReader()
    try:
        for piece in conn.iter_body(resp, timeout):
            for ev in sse.feed(piece):
                res.events.append(ev)
                if on_event:
                    on_event(ev, res)
        res.ended = resp.complete
    except (ConnectionClosed, TimeoutError, OSError) as e:
        res.error = f"{type(e).__name__}: {e}"
    res.leftover = sse.buf
    res.t_end = time.monotonic()
    return res


def chat_stream(port, body, path="/v1/chat/completions", auth=MASTER_KEY, headers=None, timeout=20.0,
                on_event=None):
    """POSTs a streaming chat request; returns StreamResult (non-SSE answers: resp.body filled, no events)."""
    with Conn(port, timeout=timeout) as c:
        t0 = time.monotonic()
        c.request("POST", path, body, headers, auth)
        resp = c.read_head()
        if not (resp.header("content-type") or "").startswith("text/event-stream"):
            resp.body = b"".join(c.iter_body(resp))
            r = StreamResult()
            r.resp = resp
            r.ended = resp.complete
            r.t0 = t0
            r.t_end = time.monotonic()
            return r
        r = read_stream(c, resp, timeout, on_event)
        r.t0 = t0
        return r


# ---------------------------------------------------------------------------------------------- assertions
def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: expected {want!r}, got {got!r}")


def eq_seq(got, want, what, width=240):
    """Compares two sequences (e.g. SSE data payloads), reporting the first difference compactly."""
    if got == want:
        return

    def short(x):
        x = repr(x)
        return x if len(x) <= width else x[:width] + "..."
    n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    raise AssertionError(f"{what}: got {len(got)} items, expected {len(want)}; first difference at #{n}:\n"
                         f"    got:      {short(got[n]) if n < len(got) else '(missing)'}\n"
                         f"    expected: {short(want[n]) if n < len(want) else '(nothing more)'}")


def check_error(resp, status, type_=None, code=None, param="__any__", msg_contains=None):
    """Checks an OpenAI-shaped error response."""
    check(resp.status == status, f"expected status {status}, got {resp.status}: {resp.body[:400]!r}")
    ct = resp.header("content-type") or ""
    check(ct.startswith("application/json"), f"error Content-Type should be application/json, got {ct!r}")
    j = resp.json()
    check(isinstance(j, dict) and isinstance(j.get("error"), dict), f"not an OpenAI error envelope: {j!r}")
    e = j["error"]
    for k in ("message", "type", "param", "code"):
        check(k in e, f"error object lacks key {k!r}: {e!r}")
    check(isinstance(e["message"], str) and e["message"], f"error.message empty: {e!r}")
    if type_ is not None:
        eq(e["type"], type_, "error.type")
    if code is not None:
        eq(e["code"], code, "error.code")
    if param != "__any__":
        eq(e["param"], param, "error.param")
    if msg_contains:
        for s in ([msg_contains] if isinstance(msg_contains, str) else msg_contains):
            check(s.lower() in e["message"].lower(), f"error.message should mention {s!r}: {e['message']!r}")
    return e


def poll(fn, timeout=5.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout * slow_factor()
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except (AssertionError, OSError, ConnectionClosed, TimeoutError) as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        time.sleep(interval)


def user_msg(text):
    return [{"role": "user", "content": text}]


def marker(prefix="m"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Bg:
    """Runs fn(*args) in a daemon thread, keeping its result or exception."""

    def __init__(self, fn, *args, **kw):
        self.result = None
        self.exc = None
        self.t = threading.Thread(target=self._run, args=(fn, args, kw), daemon=True)
        self.t.start()

    def _run(self, fn, args, kw):
        try:
            self.result = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001
            self.exc = e

    def join(self, timeout):
        self.t.join(timeout * slow_factor())
        if self.t.is_alive():
            raise AssertionError("background request did not finish in time")
        if self.exc is not None:
            raise AssertionError(f"background request failed: {type(self.exc).__name__}: {self.exc}")
        return self.result


# ---------------------------------------------------------------------------------------------- gateway process
class GatewayStartError(Exception):
    pass


class Gateway:
    """One `llmux serve` process."""

    def __init__(self, config, workdir, name="llmux", env=None, args=()):
        self.name = name
        self.workdir = workdir
        self.config_path = os.path.join(workdir, f"{name}.yaml")
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        if isinstance(config, dict) and "router_settings" not in config:
            # Most tests check how one upstream answer reaches the client; LiteLLM's default of two
            # router retries would only slow them down. Retry tests set router_settings themselves.
            config = {**config, "router_settings": {"num_retries": 0}}
        text = config if isinstance(config, str) else to_yaml(config) + "\n"
        with open(self.config_path, "w") as f:
            f.write(text)
        self.env = child_env(env)
        self.args = list(args)
        self.proc = None
        self.port = None
        self.returncode = None

    def start(self, timeout=20.0):
        last = None
        for _ in range(3):
            self.port = free_port()
            cmd = [llmux_bin(), "serve", "--config", self.config_path, "--host", "127.0.0.1",
                   "--port", str(self.port)] + self.args
            self._out = open(self.stdout_path, "ab")
            self._err = open(self.stderr_path, "ab")
            self._err_offset = os.path.getsize(self.stderr_path)
            self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL,
                                         env=self.env, cwd=self.workdir)
            try:
                self._wait_ready(timeout * slow_factor())
                return self
            except GatewayStartError as e:
                last = e
                self.kill()
                tail = self.stderr_tail()
                if "in use" not in tail.lower():
                    raise
        raise last

    def _wait_ready(self, timeout):
        # Readiness counts only once this process says it listens on the port: free_port() hands
        # out a port that another test's llmux may take first, and that one would answer too.
        listening = f"listening on 127.0.0.1:{self.port} ".encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GatewayStartError(f"llmux exited with {self.proc.returncode} during startup:\n"
                                        f"{self.stderr_tail()}")
            if listening not in self._stderr_since_start():
                time.sleep(0.03)
                continue
            try:
                r = request(self.port, "GET", "/health/readiness", auth=None, timeout=2)
                if r.status == 200:
                    return
            except (OSError, ConnectionClosed, TimeoutError, AssertionError):
                pass
            time.sleep(0.03)
        raise GatewayStartError(f"llmux not ready within {timeout:.0f}s:\n{self.stderr_tail()}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout * slow_factor())
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=15.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
            if self.wait(timeout) is None:
                self.kill()
        self.returncode = self.proc.returncode
        self._close_files()
        return self.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f:
                try:
                    f.close()
                except OSError:
                    pass

    def _stderr_since_start(self):
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(getattr(self, "_err_offset", 0))
                return f.read()
        except OSError:
            return b""

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout_text(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, n=40):
        lines = self.stderr_text().splitlines()
        return "\n".join(lines[-n:])

    def sanitizer_report(self):
        t = self.stderr_text()
        for p in SANITIZER_PATTERNS:
            i = t.find(p)
            if i >= 0:
                return t[max(0, i - 200): i + 3000]
        return None


def run_cli(args, timeout=30, env=None, cwd=None):
    return subprocess.run([llmux_bin()] + list(args), capture_output=True, text=True, timeout=timeout * slow_factor(),
                          env=child_env(env), cwd=cwd)


# ---------------------------------------------------------------------------------------------- test runner
TESTS = []


def test(fn=None, *, timeout=60.0, serial=False):
    def reg(f):
        TESTS.append({"name": f.__name__, "module": f.__module__, "fn": f, "timeout": timeout, "serial": serial})
        return f
    return reg(fn) if fn else reg


class Ctx:
    """Per-test context: temp dir, gateways and mocks to clean up, notes for the report."""

    def __init__(self, name, root_tmp):
        self.name = name
        self.root_tmp = root_tmp
        self.tmp = tempfile.mkdtemp(prefix=name[:40] + "-", dir=root_tmp)
        self.gateways = []  # started by this test (stopped at cleanup)
        self.used = []  # shared gateways this test talked to (stderr shown on failure)
        self.mocks = []
        self.notes = []
        self.cleanups = []

    def note(self, msg):
        self.notes.append(msg)

    def gateway(self, config, name="llmux", start=True, **kw):
        g = Gateway(config, self.tmp, name=name, **kw)
        self.gateways.append(g)
        if start:
            g.start()
        return g

    def mock(self):
        m = MockOpenAI().start()
        self.mocks.append(m)
        return m

    def use(self, gw):
        if gw not in self.used:
            self.used.append(gw)

    def cleanup(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:
                pass
        for g in self.gateways:
            g.stop()
        for m in self.mocks:
            m.stop()
