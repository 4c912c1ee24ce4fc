"""Real throwaway Redis and PostgreSQL servers for the integration tests, stdlib only.

    r = RedisServer(password="pw")      # redis-server on 127.0.0.1:<free port>, no persistence, temp dir
    r.command("SET", "k", "v"); r.pause(); r.resume(); r.stop(); r.start()   # restart on the same port
    pg = PostgresServer()                # initdb + postgres on 127.0.0.1:<free port>, database `llmux`
    pg.query("select 1")  -> [["1"]];  pg.new_database("t_x") -> its URL;  pg.stop(); pg.start()
    shared_redis(ctx), shared_postgres(ctx), fresh_database(ctx), fresh_redis_db(ctx)   # one per run
    private_redis(ctx), private_postgres(ctx)   # a test's own server (outage tests), stopped at cleanup

Every server lives in its own `llmux-svc-<pid>-...` dir under $LLMUX_SERVICES_TMP (default the system temp
dir) and is stopped by stop()/destroy(), at interpreter exit (atexit), and, when the test process dies
without either (run.py ends with os._exit, SIGKILL), by the kernel: servers are started through
`setpriv --pdeathsig` from one long-lived spawner thread, so the parent-death signal fires only when the
process ends. Dirs left by a dead run are removed (and any process still working in them killed) the next
time a server is created. PostgreSQL refuses to run as root: as uid 0 initdb/postgres run as the `postgres`
system user ($LLMUX_PG_OS_USER), with the server dir chowned to it. A server object can be passed to
`ctx.use()`: it has `name`, `stderr_path` and `stderr_tail()` like a Gateway, so failures show its log."""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import types
import urllib.parse
import uuid


class ServiceError(Exception):
    """A server could not be started, stopped or queried."""


class RedisError(Exception):
    """An error reply (`-ERR ...`) from Redis."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def port_open(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path, n=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def procs_in(base):
    """Pids of live processes whose working directory is `base` or below it (both servers chdir into their
    dir and PostgreSQL's backends inherit it, so this finds every process of one server, zombies aside)."""
    base = os.path.realpath(base)
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{d}/cwd")
        except OSError:
            continue
        if cwd == base or cwd.startswith(base + "/"):
            out.append(int(d))
    return out


def pid_alive(pid):
    """True while `pid` exists and is not a zombie (orphans are reaped by init whenever it gets to it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _kill_all(pids, sig=signal.SIGKILL):
    for p in pids:
        try:
            os.kill(p, sig)
        except OSError:
            pass


# --------------------------------------------------------------------------------------------- process plumbing
class _Spawner:
    """Starts every server from one daemon thread that lives as long as the process: the parent-death signal
    (prctl PR_SET_PDEATHSIG, set by setpriv) is tied to the thread that forked, and test threads come and go."""

    def __init__(self):
        self._q = queue.Queue()
        self._lock = threading.Lock()
        self._thread = None

    def popen(self, argv, **kw):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="services-spawner")
                self._thread.start()
        box = {}
        done = threading.Event()
        self._q.put((argv, kw, box, done))
        done.wait()
        if "exc" in box:
            raise box["exc"]
        return box["proc"]

    def _loop(self):
        while True:
            argv, kw, box, done = self._q.get()
            try:
                box["proc"] = subprocess.Popen(argv, **kw)
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                box["exc"] = e
            done.set()


_SPAWNER = _Spawner()
_SETPRIV = shutil.which("setpriv")


def _wrap(argv, os_user=None, deathsig="KILL"):
    """argv run as `os_user` (None: as we are) and killed with `deathsig` when this process ends."""
    if _SETPRIV:
        pre = [_SETPRIV]
        if os_user:
            pre += [f"--reuid={os_user}", f"--regid={os_user}", "--clear-groups"]
        return pre + [f"--pdeathsig={deathsig}", "--"] + list(argv)
    if os_user:
        return ["runuser", "-u", os_user, "--"] + list(argv)  # no parent-death signal; atexit still stops it
    return list(argv)


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and not k.startswith("REDIS")}
    env["LC_ALL"] = "C"
    return env


_live_lock = threading.Lock()
_live = set()
_swept = set()


def tmp_root():
    return os.environ.get("LLMUX_SERVICES_TMP") or tempfile.gettempdir()


def _sweep_stale(root):
    """Removes `llmux-svc-<pid>-*` dirs of runs that are gone, killing anything still working in them."""
    with _live_lock:
        if root in _swept:
            return
        _swept.add(root)
    for d in glob.glob(os.path.join(root, "llmux-svc-*")):
        m = re.match(r"llmux-svc-(\d+)-", os.path.basename(d))
        if not m or os.path.exists(f"/proc/{m.group(1)}"):
            continue
        _kill_all(procs_in(d))
        shutil.rmtree(d, ignore_errors=True)


def _make_base(kind, root):
    os.makedirs(root, exist_ok=True)
    _sweep_stale(root)
    return tempfile.mkdtemp(prefix=f"llmux-svc-{os.getpid()}-{kind}-", dir=root)


@atexit.register
def _stop_everything():
    with _live_lock:
        servers = list(_live)
    for s in servers:
        try:
            s.destroy()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class _Server:
    """What Redis and PostgreSQL share: one main process in a temp dir, its log, stop with escalation."""

    kind = "server"

    def __init__(self, name, root):
        self.name = name
        self.base = _make_base(self.kind, root or tmp_root())
        self.log_path = os.path.join(self.base, f"{self.kind}.log")
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.startup_seconds = None  # wall time of the last successful start()
        self.paused = False
        with _live_lock:
            _live.add(self)

    # Gateway look-alike, so `ctx.use(server)` shows the server log when a test fails.
    @property
    def stderr_path(self):
        return self.log_path

    def stderr_tail(self, n=40):
        return _tail(self.log_path, n)

    def sanitizer_report(self):
        return None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, argv, os_user=None, deathsig="KILL", cwd=None):
        with open(self.log_path, "ab") as log:
            self.proc = _SPAWNER.popen(_wrap(argv, os_user, deathsig), stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=_env(), cwd=cwd or self.base,
                                       start_new_session=True)  # no terminal Ctrl-C; we stop it ourselves

    def _stop_proc(self, sig, timeout):
        """Sends `sig`, waits, then SIGKILLs the main process and anything left working in the dir; returns
        once every process of the server (seen before or after) is dead."""
        if self.proc is None:
            return None
        seen = set(procs_in(self.base))
        if self.proc.poll() is None:
            if self.paused:
                self._signal(signal.SIGCONT)
                self.paused = False
            self._signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(10)
        self.paused = False
        for grace, last in ((5.0, False), (5.0, True)):  # backends leave after the postmaster, then SIGKILL
            deadline = time.monotonic() + grace
            while True:
                seen.update(procs_in(self.base))
                left = [p for p in seen if pid_alive(p)]
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if not left:
                break
            if last:
                raise ServiceError(f"{self.name}: processes {left} survive SIGKILL")
            _kill_all(left)
        return self.proc.returncode

    def _signal(self, sig):
        try:
            os.kill(self.proc.pid, sig)
        except OSError:
            pass

    def destroy(self, log_dir=None):
        """Stops the server and removes its dir; with `log_dir` its log is kept there (stderr_path follows)."""
        self.stop()
        with _live_lock:
            _live.discard(self)
        if log_dir and os.path.exists(self.log_path):
            dst = os.path.join(log_dir, f"{self.name}.log")
            try:
                shutil.copyfile(self.log_path, dst)
                self.log_path = dst
            except OSError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()


# --------------------------------------------------------------------------------------------- Redis
def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _RespReader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self, decode=True):
        """One RESP2 reply: str/bytes, int, None, list; an error reply is returned as a RedisError."""
        line = self.line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode("utf-8", "replace")
        if t == b"-":
            return RedisError(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.exact(n)
            if decode:
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    return data
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply(decode) for _ in range(n)]
        raise ConnectionError(f"bad RESP reply line {line[:80]!r}")


class RedisServer(_Server):
    """One `redis-server` on 127.0.0.1, nothing persisted; started by the constructor unless start=False."""

    kind = "redis"
    DATABASES = 64

    def __init__(self, password=None, name="redis", root=None, start=True, timeout=20.0):
        self.binary = os.environ.get("LLMUX_REDIS_SERVER") or shutil.which("redis-server")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise ServiceError(f"redis-server is not installed ({self.binary or 'not on PATH'}; apt-get install "
                               f"redis-server or set LLMUX_REDIS_SERVER)")
        super().__init__(name, root)
        self.password = password
        self.timeout = timeout
        self._next_db = 0
        self._db_lock = threading.Lock()
        if start:
            self.start()

    @property
    def url(self):
        auth = f":{urllib.parse.quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}"

    def db_url(self, index):
        return f"{self.url}/{index}"

    def router_settings(self):
        """The LiteLLM-style `router_settings` fields that point a gateway at this server."""
        s = {"redis_host": self.host, "redis_port": self.port}
        if self.password:
            s["redis_password"] = self.password
        return s

    def _argv(self):
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.base, "--daemonize", "no", "--logfile", "", "--databases", str(self.DATABASES),
                "--pidfile", os.path.join(self.base, "redis.pid")]
        if self.password:
            argv += ["--requirepass", self.password]
        return argv

    def start(self):
        """Starts the server (again: on the same port, empty) and waits until it answers PING."""
        if self.running():
            return self
        fixed = self.port is not None
        for _ in range(1 if fixed else 3):
            if not fixed:
                self.port = free_port()
            t0 = time.monotonic()
            self._spawn(self._argv())
            err = self._wait_ready()
            if err is None:
                self.startup_seconds = time.monotonic() - t0
                return self
            self._stop_proc(signal.SIGKILL, 5)
            if "already in use" not in err:
                break
        raise ServiceError(f"{self.name} did not start on port {self.port}: {err}\n"
                           f"--- {self.log_path} ---\n{self.stderr_tail()}")

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"redis-server exited with {self.proc.returncode}: " + self.stderr_tail(3)
            try:
                if self.command("PING", timeout=0.5) == "PONG":
                    return None
            except (OSError, ConnectionError, RedisError):
                pass
            time.sleep(0.01)
        return f"no PONG within {self.timeout:.0f}s"

    def stop(self, timeout=10.0):
        """SIGTERM (after SIGCONT when paused), SIGKILL when it does not exit in time; returns the exit code."""
        return self._stop_proc(signal.SIGTERM, timeout)

    def kill(self):
        return self._stop_proc(signal.SIGKILL, 5)

    def pause(self):
        """SIGSTOP: connections are still accepted by the kernel but nothing is answered (a hung Redis)."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self._signal(signal.SIGCONT)
        self.paused = False

    def command(self, *args, db=None, timeout=5.0, decode=True, auth=True):
        """One command on a fresh connection (AUTH and SELECT first when needed); returns the reply,
        raises RedisError for an error reply and OSError/socket.timeout when the server is down or paused."""
        pre = []
        if auth and self.password:
            pre.append(("AUTH", self.password))
        if db:
            pre.append(("SELECT", db))
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(b"".join(_resp_encode(c) for c in pre + [args]))
            r = _RespReader(s)
            replies = [r.reply(decode) for _ in range(len(pre) + 1)]
        for rep in replies:
            if isinstance(rep, RedisError):
                raise rep
        return replies[-1]

    def flushall(self):
        return self.command("FLUSHALL")

    def new_db(self):
        """A database index (1..63, round robin, 0 is left to the default) emptied with FLUSHDB."""
        with self._db_lock:
            self._next_db = self._next_db % (self.DATABASES - 1) + 1
            index = self._next_db
        self.command("FLUSHDB", db=index)
        return index

    def __repr__(self):
        return f"<RedisServer {self.name} {self.host}:{self.port} pid={self.pid}>"


# --------------------------------------------------------------------------------------------- PostgreSQL
def pg_bindir():
    """$LLMUX_PG_BINDIR, else the newest /usr/lib/postgresql/<version>/bin, else the dir of `initdb` on PATH."""
    env = os.environ.get("LLMUX_PG_BINDIR")
    if env:
        return env
    found = []
    for p in glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        v = os.path.basename(os.path.dirname(os.path.dirname(p)))
        key = tuple(int(x) for x in re.findall(r"\d+", v)) or (0,)
        found.append((key, os.path.dirname(p)))
    if found:
        return max(found)[1]
    w = shutil.which("initdb")
    return os.path.dirname(w) if w else None


def _check_traversable(path, uid):
    """As root, postgres runs as another user: every parent of its dir must be searchable by that user."""
    p = os.path.dirname(os.path.realpath(path))
    while p and p != "/":
        st = os.stat(p)
        if not (st.st_mode & 0o001 or (st.st_uid == uid and st.st_mode & 0o100)):
            raise ServiceError(f"{p} (mode {oct(st.st_mode & 0o777)}) is not searchable by the postgres user; "
                               f"set LLMUX_SERVICES_TMP to a dir under /tmp")
        p = os.path.dirname(p)


_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_FS, _RS, _NULL = "\x1f", "\x1e", "\x1dNULL\x1d"


class PostgresServer(_Server):
    """initdb + `postgres` on 127.0.0.1 with trust auth and fsync off, database `llmux` created; started by the
    constructor unless start=False. Committed rows survive stop()/start() and even stop(mode="kill")."""

    kind = "pg"
    SETTINGS = {
        "listen_addresses": "127.0.0.1", "fsync": "off", "full_page_writes": "off", "max_connections": "300",
        "shared_buffers": "32MB", "max_wal_size": "256MB", "logging_collector": "off",
        "log_min_messages": "warning", "log_line_prefix": "%m [%p] ", "timezone": "UTC",
    }

    def __init__(self, name="postgres", root=None, start=True, database="llmux", user="postgres", settings=None,
                 timeout=60.0):
        self.bindir = pg_bindir()
        if not self.bindir or not os.path.exists(os.path.join(self.bindir, "postgres")):
            raise ServiceError("PostgreSQL server binaries not found (apt-get install postgresql; or set "
                               "LLMUX_PG_BINDIR)")
        self.os_user = None
        if os.getuid() == 0:
            self.os_user = os.environ.get("LLMUX_PG_OS_USER", "postgres")
            try:
                pw = pwd.getpwnam(self.os_user)
            except KeyError:
                raise ServiceError(f"running as root but there is no '{self.os_user}' system user to run "
                                   f"PostgreSQL as (set LLMUX_PG_OS_USER)") from None
        super().__init__(name, root)
        self.user = user
        self.database = database
        self.timeout = timeout
        self.settings = {**self.SETTINGS, **(settings or {})}
        self.data_dir = os.path.join(self.base, "data")
        self.socket_dir = os.path.join(self.base, "sock")
        os.mkdir(self.socket_dir)
        if len(self.socket_dir) + len("/.s.PGSQL.65535.lock") > 107:
            self.socket_dir = ""  # sun_path would overflow: TCP only (everything here uses 127.0.0.1)
        if self.os_user:
            _check_traversable(self.base, pw.pw_uid)
            for p in (self.base, os.path.join(self.base, "sock")):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            open(self.log_path, "ab").close()
            os.chown(self.log_path, pw.pw_uid, pw.pw_gid)
        self.initdb_seconds = None
        self._initialized = False
        if start:
            self.start()

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    def url_for(self, database):
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def url(self):
        return self.url_for(self.database)

    def _initdb(self):
        t0 = time.monotonic()
        argv = _wrap([self._bin("initdb"), "-D", self.data_dir, "-U", self.user, "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync", "--no-instructions"], self.os_user)
        p = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=self.base, timeout=120)
        if p.returncode != 0:
            raise ServiceError(f"initdb failed ({p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        self.initdb_seconds = time.monotonic() - t0

    def _argv(self):
        argv = [self._bin("postgres"), "-D", self.data_dir, "-p", str(self.port), "-c",
                f"unix_socket_directories={self.socket_dir}"]
        for k, v in self.settings.items():
            argv += ["-c", f"{k}={v}"]
        return argv

    def start(self):
        """initdb on first use, then starts postgres (again: same data dir and port) and waits until it
        accepts connections; the first start also creates the `llmux` database."""
        if self.running():
            return self
        if not self._initialized:
            self._initdb()
        fixed = self.port is not None
        err = None
        for _ in range(1 if fixed else 3):
            if not fixed:
                self.port = free_port()
            t0 = time.monotonic()
            mark = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
            self._spawn(self._argv(), self.os_user, deathsig="QUIT")  # QUIT: immediate shutdown of all backends
            err = self._wait_ready()
            if err is None:
                self.startup_seconds = time.monotonic() - t0
                break
            self._stop_proc(signal.SIGQUIT, 10)
            if "already in use" not in self._log_since(mark):
                break
        if err is not None:
            raise ServiceError(f"{self.name} did not start on port {self.port}: {err}\n"
                               f"--- {self.log_path} ---\n{self.stderr_tail()}")
        if not self._initialized:
            self._initialized = True
            if self.database != "postgres":
                self.query(f'CREATE DATABASE "{self.database}"', database="postgres")
        return self

    def _log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout
        isready = [self._bin("pg_isready"), "-q", "-h", self.host, "-p", str(self.port), "-U", self.user,
                   "-d", "postgres", "-t", "2"]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"postgres exited with {self.proc.returncode}"
            if subprocess.run(isready, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                return None
            time.sleep(0.02)
        return f"not accepting connections within {self.timeout:.0f}s"

    _STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT,
                     "kill": signal.SIGKILL}

    def stop(self, mode="fast", timeout=30.0):
        """Shuts down: fast (SIGINT, the default: aborts sessions, checkpoint), smart (SIGTERM, waits for
        clients), immediate (SIGQUIT, crash recovery at the next start) or kill (SIGKILL to every process of
        the server: a crash). Escalates to SIGKILL after `timeout`; returns the postmaster's exit code."""
        return self._stop_proc(self._STOP_SIGNALS[mode], timeout)

    def kill(self):
        return self.stop("kill")

    def query(self, sql, database=None, timeout=30.0):
        """Runs one SQL statement with `psql -At`; returns the rows as lists of strings (NULL is None).
        Raises ServiceError with psql's message on any error."""
        argv = [self._bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p",
                str(self.port), "-U", self.user, "-d", database or self.database, "-F", _FS, "-R", _RS, "-P",
                f"null={_NULL}", "-c", sql]
        env = _env()
        env["PGCONNECT_TIMEOUT"] = "5"
        p = subprocess.run(argv, capture_output=True, env=env, stdin=subprocess.DEVNULL, timeout=timeout)
        if p.returncode != 0:
            raise ServiceError(f"psql failed ({p.returncode}) on {sql[:200]!r}: "
                               f"{p.stderr.decode('utf-8', 'replace').strip()}")
        out = p.stdout.decode("utf-8", "replace")
        if out.endswith("\n"):
            out = out[:-1]
        if not out:
            return []
        return [[None if f == _NULL else f for f in rec.split(_FS)] for rec in out.split(_RS)]

    def scalar(self, sql, database=None):
        """The first column of the first row (None when there is no row)."""
        rows = self.query(sql, database)
        return rows[0][0] if rows else None

    def new_database(self, name=None):
        """A fresh, empty database (dropped first if it exists); returns its URL. `name` must be a plain
        lower-case identifier; None picks a unique one."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        if not _IDENT.match(name):
            raise ValueError(f"database name {name!r} must match {_IDENT.pattern}")
        self.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database="postgres")
        self.query(f'CREATE DATABASE "{name}"', database="postgres")
        return self.url_for(name)

    def __repr__(self):
        return f"<PostgresServer {self.name} {self.host}:{self.port} pid={self.pid} {self.data_dir}>"


# --------------------------------------------------------------------------------------------- fixtures
_shared_lock = threading.Lock()
_shared = {}  # "redis"/"postgres" -> server, or the exception that stopped it from starting


def _unavailable(msg):
    """A missing server binary skips the test, unless LLMUX_IT_REQUIRE_SERVICES=1 (CI) makes it a failure."""
    if os.environ.get("LLMUX_IT_REQUIRE_SERVICES") == "1":
        raise AssertionError(msg)
    try:
        from harness import Skip
    except Exception:  # noqa: BLE001 - used without the harness
        raise ServiceError(msg) from None
    raise Skip(msg)


def _get_shared(kind, factory, ctx):
    with _shared_lock:
        if kind not in _shared:
            try:
                _shared[kind] = factory()
            except ServiceError as e:
                _shared[kind] = e
        s = _shared[kind]
    if isinstance(s, ServiceError):
        if "not installed" in str(s) or "not found" in str(s):
            _unavailable(str(s))
        raise AssertionError(f"shared {kind} failed to start: {s}")
    if ctx is not None:
        ctx.use(s)
    return s


def shared_redis(ctx=None):
    """The run's Redis (no password), started on first use. Tests share it: use unique key names, or
    fresh_redis_db(); do not stop or pause it (take a private_redis for that)."""
    return _get_shared("redis", lambda: RedisServer(name="shared-redis"), ctx)


def shared_postgres(ctx=None):
    """The run's PostgreSQL, started on first use; give each test its own database with fresh_database()."""
    return _get_shared("postgres", lambda: PostgresServer(name="shared-postgres"), ctx)


def shared(ctx=None):
    """Both shared servers: `s = shared(ctx); s.redis, s.postgres`."""
    return types.SimpleNamespace(redis=shared_redis(ctx), postgres=shared_postgres(ctx))


def _db_name(ctx):
    stem = re.sub(r"[^a-z0-9_]", "_", (getattr(ctx, "name", "") or "t").lower())[:40]
    return f"t_{stem}_{uuid.uuid4().hex[:8]}"


def fresh_database(ctx=None):
    """URL of a new empty database on the shared PostgreSQL, named after the test."""
    return shared_postgres(ctx).new_database(_db_name(ctx))


def fresh_redis_db(ctx=None):
    """(redis server, db index) of an emptied database on the shared Redis."""
    r = shared_redis(ctx)
    return r, r.new_db()


def _private(ctx, server):
    if ctx is not None:
        ctx.use(server)

        def cleanup():
            for g in getattr(ctx, "gateways", ()):  # gateways first: they may flush to the server on exit
                g.stop()
            server.destroy(log_dir=getattr(ctx, "tmp", None))
        ctx.cleanups.append(cleanup)
    return server


def private_redis(ctx=None, password=None, name="redis"):
    """A Redis of this test only (to stop, restart or pause), destroyed at the test's cleanup."""
    try:
        return _private(ctx, RedisServer(password=password, name=name))
    except ServiceError as e:
        if "not installed" in str(e):
            _unavailable(str(e))
        raise


def private_postgres(ctx=None, name="postgres"):
    """A PostgreSQL of this test only (to stop and restart), destroyed at the test's cleanup."""
    try:
        return _private(ctx, PostgresServer(name=name))
    except ServiceError as e:
        if "not found" in str(e):
            _unavailable(str(e))
        raise


def stop_shared():
    """Stops and removes the shared servers (run.py can call this before os._exit; atexit does otherwise)."""
    with _shared_lock:
        servers = [s for s in _shared.values() if isinstance(s, _Server)]
        _shared.clear()
    for s in servers:
        s.destroy()
