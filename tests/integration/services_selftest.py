#!/usr/bin/env python3
"""Checks services.py against the real servers: start, query, restart on the same port, pause/resume,
crash and outage restarts, the shared fixtures, and that no process or temp dir is left behind, even when
the test process ends with os._exit or SIGKILL. Prints one summary line; exit code 1 on any failure.

    python3 tests/integration/services_selftest.py [-v]"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# Everything below goes into one dir of ours (searchable by the postgres user when we are root).
ROOT = tempfile.mkdtemp(prefix="llmux-services-selftest-")
os.chmod(ROOT, 0o755)
os.environ["LLMUX_SERVICES_TMP"] = ROOT

import services as S  # noqa: E402

VERBOSE = "-v" in sys.argv
START = time.monotonic()
results = []  # (section, ok, detail)
times = {}


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


def raises(exc, fn, what):
    try:
        fn()
    except exc as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise Fail(f"{what}: raised {type(e).__name__}: {e}, want {exc.__name__}") from None
    raise Fail(f"{what}: did not raise {exc.__name__}")


def section(fn):
    t0 = time.monotonic()
    try:
        fn()
        results.append((fn.__name__, True, ""))
    except Exception as e:  # noqa: BLE001
        detail = str(e) if isinstance(e, Fail) else traceback.format_exc()
        results.append((fn.__name__, False, detail))
    if VERBOSE:
        print(f"{'ok  ' if results[-1][1] else 'FAIL'} {fn.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
    return fn


def pgrep(pattern):
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split() if int(x) != os.getpid()]


alive = S.pid_alive


def check_gone(server, pids, what):
    """Nothing of `server` runs any more: port closed, pgrep finds nothing, the pids seen before are dead."""
    check(not S.port_open(server.port), f"{what}: port {server.port} still accepts connections")
    left = [p for p in pids if alive(p)]
    check(not left, f"{what}: processes still alive: {left}")
    check(not S.procs_in(server.base), f"{what}: processes still working in {server.base}")
    pat = f"redis-server 127.0.0.1:{server.port}" if server.kind == "redis" else server.data_dir
    check(not pgrep(pat), f"{what}: pgrep -f {pat!r} finds {pgrep(pat)}")


# --------------------------------------------------------------------------------------------- Redis
@section
def redis_basics():
    r = S.RedisServer()
    try:
        times["redis start"] = r.startup_seconds
        check(r.startup_seconds is not None and r.running(), "redis not running after construction")
        eq(r.url, f"redis://127.0.0.1:{r.port}", "url")
        eq(r.command("PING"), "PONG", "PING")
        eq(r.command("SET", "k", "v"), "OK", "SET")
        eq(r.command("GET", "k"), "v", "GET")
        eq(r.command("GET", "missing"), None, "GET missing")
        eq(r.command("INCRBY", "n", 41), 41, "INCRBY")
        eq(r.command("MGET", "k", "missing", "n"), ["v", None, "41"], "MGET")
        blob = bytes(range(256)) + b"\r\n$-1\r\n"
        r.command("SET", "bin", blob)
        eq(r.command("GET", "bin", decode=False), blob, "binary value round trip")
        e = raises(S.RedisError, lambda: r.command("INCR", "k"), "INCR on a string")
        check("not an integer" in str(e), f"error text: {e}")
        eq(r.command("EVAL", "return {1, 'two', redis.call('GET', KEYS[1])}", 1, "k"), [1, "two", "v"], "EVAL")
        eq(r.command("CONFIG", "GET", "save")[1], "", "persistence off (save)")
        eq(r.command("CONFIG", "GET", "appendonly")[1], "no", "persistence off (appendonly)")
        # Database indexes: new_db() hands out emptied, separate databases.
        a, b = r.new_db(), r.new_db()
        check(a != b and a > 0 and b > 0, f"new_db indexes {a}, {b}")
        r.command("SET", "x", "in-a", db=a)
        eq(r.command("GET", "x", db=b), None, "db isolation")
        eq(r.command("GET", "x", db=a), "in-a", "db a")
        eq(r.db_url(a), f"{r.url}/{a}", "db_url")
        eq(r.flushall(), "OK", "FLUSHALL")
        eq(r.command("DBSIZE"), 0, "DBSIZE after FLUSHALL")
        eq(r.command("GET", "x", db=a), None, "db a after FLUSHALL")
    finally:
        r.destroy()
    check(not os.path.exists(r.base), "redis dir not removed by destroy()")


@section
def redis_password_restart_pause():
    r = S.RedisServer(password="s3cret pass/:@")
    try:
        port = r.port
        check("s3cret%20pass%2F%3A%40@" in r.url, f"password not quoted in url {r.url}")
        eq(r.router_settings(), {"redis_host": "127.0.0.1", "redis_port": port, "redis_password": "s3cret pass/:@"},
           "router_settings")
        e = raises(S.RedisError, lambda: r.command("GET", "k", auth=False), "command without AUTH")
        check("NOAUTH" in str(e), f"want NOAUTH, got {e}")
        r.command("SET", "k", "before")
        # Pause: connections are accepted (kernel backlog) but nothing answers.
        r.pause()
        t0 = time.monotonic()
        raises(socket.timeout, lambda: r.command("PING", timeout=0.4), "PING while paused")
        check(time.monotonic() - t0 < 3, "paused PING took too long to time out")
        check(S.port_open(port), "paused redis should still accept TCP connections")
        r.resume()
        eq(r.command("GET", "k"), "before", "GET after resume")
        # Stop: port closed, process gone; restart on the same port, empty (nothing persisted).
        pids = S.procs_in(r.base)
        check(r.pid in pids, f"main pid {r.pid} not among {pids}")
        eq(r.stop(), 0, "redis exit code after SIGTERM")
        check_gone(r, pids, "redis after stop()")
        raises(ConnectionRefusedError, lambda: r.command("PING", timeout=1), "PING after stop")
        eq(r.stop(), 0, "second stop() is a no-op")
        r.start()
        times["redis restart"] = r.startup_seconds
        eq(r.port, port, "restart port")
        eq(r.command("GET", "k"), None, "data after restart (no persistence)")
        raises(S.RedisError, lambda: r.command("GET", "k", auth=False), "password kept across restart")
        # Stop while paused must not hang (SIGCONT first).
        r.pause()
        pids = S.procs_in(r.base)
        t0 = time.monotonic()
        r.stop(timeout=5)
        check(time.monotonic() - t0 < 4, "stop() of a paused redis took too long")
        check_gone(r, pids, "redis stopped while paused")
        check(not r.paused, "paused flag after stop")
        r.start()
        r.kill()
        check_gone(r, pids, "redis after kill()")
    finally:
        r.destroy()


# --------------------------------------------------------------------------------------------- PostgreSQL
@section
def postgres_lifecycle():
    t0 = time.monotonic()
    pg = S.PostgresServer()
    try:
        times["postgres initdb"] = pg.initdb_seconds
        times["postgres start"] = pg.startup_seconds
        times["postgres total"] = time.monotonic() - t0
        eq(pg.url, f"postgresql://postgres@127.0.0.1:{pg.port}/llmux", "url")
        eq(pg.query("select current_database(), current_user"), [["llmux", "postgres"]], "database and user")
        eq(pg.query("show fsync"), [["off"]], "fsync")
        eq(pg.query("show listen_addresses"), [["127.0.0.1"]], "listen_addresses")
        eq(pg.query("show unix_socket_directories"), [[pg.socket_dir]], "socket dir")
        if os.getuid() == 0:
            eq(pg.query("select pg_read_file('postmaster.pid') is not null"), [["t"]], "pid file readable")
            owner = subprocess.run(["stat", "-c", "%U", pg.data_dir], capture_output=True, text=True).stdout.strip()
            eq(owner, "postgres", "data dir owner when run as root")
        eq(pg.query("select 1, null, 'a|b\nc', 'ünï', '' where true"), [["1", None, "a|b\nc", "ünï", ""]],
           "row with NULL, newline, unicode, empty string")
        eq(pg.query("select 1 where false"), [], "no rows")
        eq(pg.query("select g from generate_series(1,3) g"), [["1"], ["2"], ["3"]], "several rows")
        pg.query("create table spend (id serial primary key, v text)")
        pg.query("insert into spend (v) values ('one'), ('two')")
        eq(pg.scalar("select count(*) from spend"), "2", "count")
        e = raises(S.ServiceError, lambda: pg.query("select * from nope"), "bad SQL")
        check("does not exist" in str(e), f"psql message: {e}")
        # A session in progress is cut by a fast stop; the committed rows survive the restart.
        port = pg.port
        sess = subprocess.Popen([pg._bin("psql"), "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                                 "-d", "llmux", "-c", "select pg_sleep(60)"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while pg.scalar("select count(*) from pg_stat_activity where query like 'select pg_sleep%'") != "1":
            check(time.monotonic() < deadline, "sleeping session never showed up")
            time.sleep(0.05)
        pids = S.procs_in(pg.base)
        check(len(pids) >= 5, f"expected postmaster + backends, got {pids}")
        t1 = time.monotonic()
        eq(pg.stop(), 0, "postgres exit code after fast shutdown")
        times["postgres stop"] = time.monotonic() - t1
        check(sess.wait(10) != 0, "session survived the shutdown")
        check_gone(pg, pids, "postgres after stop()")
        raises(S.ServiceError, lambda: pg.query("select 1"), "query while stopped")
        # The outage test: down for a while, then back on the same port with the same data.
        pg.start()
        times["postgres restart"] = pg.startup_seconds
        eq(pg.port, port, "restart port")
        eq(pg.query("select v from spend order by id"), [["one"], ["two"]], "rows after restart")
        # A crash (SIGKILL to every process): committed rows survive, crash recovery at start.
        pg.query("insert into spend (v) values ('three')")
        pids = S.procs_in(pg.base)
        pg.stop("kill")
        check_gone(pg, pids, "postgres after kill")
        pg.start()
        times["postgres restart after kill"] = pg.startup_seconds
        eq(pg.scalar("select count(*) from spend"), "3", "committed row after a crash")
        pids = S.procs_in(pg.base)
        pg.stop("immediate")
        check_gone(pg, pids, "postgres after immediate stop")
        pg.start()
    finally:
        pg.destroy()
    check(not os.path.exists(pg.base), "postgres dir not removed by destroy()")


@section
def postgres_databases():
    pg = S.PostgresServer(name="pg-dbs")
    try:
        url = pg.new_database("t_one")
        eq(url, f"postgresql://postgres@127.0.0.1:{pg.port}/t_one", "new_database url")
        pg.query("create table x (a int)", database="t_one")
        pg.query("insert into x values (1)", database="t_one")
        eq(pg.query("select count(*) from pg_tables where tablename = 'x'"), [["0"]], "llmux db untouched")
        pg.new_database("t_one")  # again: dropped and recreated, empty
        eq(pg.query("select count(*) from pg_tables where tablename = 'x'", database="t_one"), [["0"]],
           "new_database of an existing name is empty")
        for bad in ("T_Upper", "x;drop", "1abc", "", "a" * 64, 'q"q'):
            if bad:
                raises(ValueError, lambda b=bad: pg.new_database(b), f"bad name {bad!r}")
        # Concurrent creations (tests run in parallel threads).
        urls, errs = [], []

        def make():
            try:
                t0 = time.monotonic()
                urls.append(pg.new_database())
                times.setdefault("new_database", time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001
                errs.append(e)
        ths = [threading.Thread(target=make) for _ in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        check(not errs, f"concurrent new_database: {errs[:2]}")
        eq(len(set(urls)), 8, "distinct databases")
        n = pg.scalar("select count(*) from pg_database where datname like 't\\_%'", database="postgres")
        eq(n, "9", "databases created")
    finally:
        pg.destroy()


# --------------------------------------------------------------------------------------------- fixtures
class FakeCtx:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="ctx-", dir=ROOT)
        self.cleanups, self.used, self.gateways = [], [], []

    def use(self, g):
        if g not in self.used:
            self.used.append(g)

    def cleanup(self):
        for fn in reversed(self.cleanups):
            fn()


@section
def shared_fixtures():
    ctx = FakeCtx("test_Shared-Fixture")
    t0 = time.monotonic()
    both = S.shared(ctx)
    times["shared() first call"] = time.monotonic() - t0
    check(both.redis is S.shared_redis() and both.postgres is S.shared_postgres(), "shared servers not reused")
    t0 = time.monotonic()
    check(S.shared(ctx).postgres is both.postgres, "second shared() call")
    check(time.monotonic() - t0 < 0.5, "second shared() call is not instant")
    check(both.redis in ctx.used and both.postgres in ctx.used, "shared servers not registered with ctx.use")
    check(both.postgres.stderr_tail() is not None and os.path.exists(both.postgres.stderr_path), "log path")
    u1, u2 = S.fresh_database(ctx), S.fresh_database(ctx)
    check(u1 != u2 and "/t_test_shared_fixture_" in u1, f"fresh_database urls {u1} {u2}")
    r, idx = S.fresh_redis_db(ctx)
    check(r is both.redis and idx > 0, "fresh_redis_db")
    # A private server is destroyed at the test's cleanup, its log kept in the test dir.
    pr = S.private_redis(ctx, password="pw")
    pp = S.private_postgres(ctx)
    check(pr is not both.redis and pp is not both.postgres, "private servers are new ones")
    pids = S.procs_in(pr.base) + S.procs_in(pp.base)
    ctx.cleanup()
    check_gone(pr, pids, "private redis after ctx cleanup")
    check_gone(pp, pids, "private postgres after ctx cleanup")
    check(pr.stderr_path.startswith(ctx.tmp) and os.path.exists(pr.stderr_path), "private log kept in ctx.tmp")
    pids = S.procs_in(both.redis.base) + S.procs_in(both.postgres.base)
    S.stop_shared()
    check_gone(both.redis, pids, "shared redis after stop_shared()")
    check_gone(both.postgres, pids, "shared postgres after stop_shared()")
    check(S.shared_redis() is not both.redis, "shared redis after stop_shared() is a new one")
    S.stop_shared()


CHILD = r"""
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
import services as S
box = {}
def worker():  # like run.py: servers started from a short-lived test thread
    box["r"], box["pg"] = S.RedisServer(), S.PostgresServer()
t = threading.Thread(target=worker); t.start(); t.join()
time.sleep(0.3)  # the thread is gone; the servers must still run
r, pg = box["r"], box["pg"]
ok = r.command("PING") == "PONG" and pg.query("select 1") == [["1"]]
print(json.dumps({"ok": ok, "bases": [r.base, pg.base], "ports": [r.port, pg.port],
                  "pids": S.procs_in(r.base) + S.procs_in(pg.base)}), flush=True)
if sys.argv[2] == "exit":
    os._exit(0)  # what run.py does: no atexit
time.sleep(120)  # the parent SIGKILLs us
"""


@section
def no_orphans_when_the_test_process_dies():
    for how in ("exit", "sigkill"):
        root = tempfile.mkdtemp(prefix=f"orphans-{how}-", dir=ROOT)
        os.chmod(root, 0o755)
        env = dict(os.environ, LLMUX_SERVICES_TMP=root)
        child = subprocess.Popen([sys.executable, "-c", CHILD, HERE, how], stdout=subprocess.PIPE, env=env,
                                 text=True)
        info = json.loads(child.stdout.readline())
        check(info["ok"], f"{how}: servers in the child did not answer")
        check(len(info["pids"]) >= 6, f"{how}: child servers' pids {info['pids']}")
        if how == "sigkill":
            child.send_signal(signal.SIGKILL)
        child.wait(30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(p) for p in info["pids"]):
            time.sleep(0.05)
        left = [p for p in info["pids"] if alive(p)]
        S._kill_all(left)  # don't leave them running when the check fails
        check(not left, f"{how}: orphans left after the test process died: {left}")
        for port in info["ports"]:
            check(not S.port_open(port), f"{how}: port {port} still open")
        # The next run sweeps the dead run's dirs.
        check(all(os.path.exists(b) for b in info["bases"]), f"{how}: dirs vanished before the sweep")
        S._sweep_stale(root)
        left = [b for b in info["bases"] if os.path.exists(b)]
        check(not left, f"{how}: stale dirs not swept: {left}")


@section
def bad_setup_is_reported_clearly():
    old = os.environ.get("LLMUX_PG_BINDIR")
    os.environ["LLMUX_PG_BINDIR"] = "/nonexistent/bin"
    try:
        e = raises(S.ServiceError, S.PostgresServer, "missing postgres binaries")
        check("not found" in str(e), f"message: {e}")
    finally:
        if old is None:
            del os.environ["LLMUX_PG_BINDIR"]
        else:
            os.environ["LLMUX_PG_BINDIR"] = old
    # A server that dies during startup: the error carries the log tail.
    pg = S.PostgresServer(start=False, settings={"shared_buffers": "not-a-size"})
    try:
        e = raises(S.ServiceError, pg.start, "postgres with a bad setting")
        check("did not start" in str(e) and "shared_buffers" in str(e), f"message lacks the log tail: {e}")
    finally:
        pg.destroy()
    # Restart on a port someone else took meanwhile fails clearly instead of hanging.
    r = S.RedisServer()
    try:
        r.stop()
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", r.port))
        squatter.listen(1)
        try:
            e = raises(S.ServiceError, r.start, "redis restart on a taken port")
            check("already in use" in str(e).lower() or "exited" in str(e), f"message: {e}")
        finally:
            squatter.close()
    finally:
        r.destroy()


def main():
    mine = [d for d in os.listdir(ROOT) if d.startswith(f"llmux-svc-{os.getpid()}-")]
    failed = [r for r in results if not r[1]]
    if mine:
        failed.append(("leftover_dirs", False, f"dirs left in {ROOT}: {mine}"))
    stray = pgrep(ROOT) + S.procs_in(ROOT)
    S._kill_all(stray)
    if stray:
        failed.append(("leftover_processes", False, f"processes still using {ROOT}: {stray}"))
    for name, _, detail in failed:
        print(f"FAIL {name}: {detail.rstrip()}", file=sys.stderr)
    shutil.rmtree(ROOT, ignore_errors=True)
    t = ", ".join(f"{k} {v:.2f}s" for k, v in times.items() if v is not None)
    status = "FAILED" if failed else "ok"
    passed = sum(1 for r in results if r[1])
    print(f"services selftest {status}: {passed}/{len(results)} sections passed ({t}; total "
          f"{time.monotonic() - START:.1f}s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
