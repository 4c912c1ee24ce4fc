"""Issue 5, "several instances, one truth": three llmux processes sharing one Redis and one PostgreSQL
under concurrent load. Rate limits and budgets must hold across all three (not multiply by the number
of instances), every answered request must leave exactly one spend-log row (also across a SIGTERM
restart of one instance and a 10-second PostgreSQL outage), and a Redis outage must be handled as
redis_failure_mode says (fail_open: per-instance share of each limit; fail_closed: 503), visibly in
/health/readiness, /metrics and the log.

The load uses the built-in mock provider (no upstream) and keep-alive connections from threads, so
the ASan debug binary reaches several hundred requests per second."""
import json
import os
import re
import signal
import threading
import time

from harness import (MASTER_KEY, Conn, ConnectionClosed, build_request, check, check_error, deployment, eq,
                     poll, request, slow_factor, test, user_msg)
import services

N_INSTANCES = 3


# ------------------------------------------------------------------------------------------------ cluster
def _config(ctx, i, models, db_url, redis, **llmux):
    return {
        "model_list": models,
        "general_settings": {"master_key": MASTER_KEY, "database_url": db_url, "proxy_batch_write_at": 0.1},
        "router_settings": {**redis.router_settings(), "num_retries": 0},
        "llmux_settings": {"access_log": "", "spool_dir": os.path.join(ctx.tmp, f"spool-{i}"), **llmux},
    }


def _cluster(ctx, models, db=None, redis=None, **llmux):
    """Three gateways on one PostgreSQL database and one Redis, started at once (so they also race on
    the schema migration), each with its own spool dir."""
    redis = redis or services.shared_redis(ctx)
    db_url = (db or _fresh_db(ctx)).url
    gws = [ctx.gateway(_config(ctx, i, models, db_url, redis, **llmux), name=f"llmux-{i}", start=False)
           for i in range(N_INSTANCES)]
    errors = []

    def start(g):
        try:
            g.start()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"{g.name}: {e}")
    ts = [threading.Thread(target=start, args=(g,)) for g in gws]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "gateways failed to start: " + "; ".join(errors))
    ctx.cleanups.append(lambda: _stop_all(ctx, gws))
    return gws


def _stop_all(ctx, gws, timeout=3.0):
    """SIGTERM to every instance at once, SIGKILL after `timeout` (x slow factor): the tests check their
    rows before this; a hang here is noted (the restart test asserts a clean, timely exit)."""
    def stop(g):
        if g.proc is None or g.proc.poll() is not None:
            return
        g.signal(signal.SIGTERM)
        if g.wait(timeout) is None:
            ctx.note(f"{g.name} did not exit within {timeout * slow_factor():.0f}s of SIGTERM: killed")
            g.kill()
    ts = [threading.Thread(target=stop, args=(g,)) for g in gws]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _new_key(gw, **fields):
    r = request(gw.port, "POST", "/key/generate", fields)
    eq(r.status, 200, f"/key/generate ({r.body[:300]!r})")
    j = r.json()
    return j["key"], j["token"]


def _chat_raw(key, model="m", text="hi", **extra):
    body = json.dumps({"model": model, "messages": user_msg(text), **extra}).encode()
    return build_request("POST", "/v1/chat/completions", body, None, key)


class _Db:
    """One PostgreSQL database the gateways share: its URL and a psql query helper."""

    def __init__(self, server, url):
        self.server, self.url, self.name = server, url, url.rsplit("/", 1)[1]

    def rows(self, sql):
        return self.server.query(sql, database=self.name)


def _fresh_db(ctx):
    return _Db(services.shared_postgres(ctx), services.fresh_database(ctx))


def _metric(port, name):
    r = request(port, "GET", "/metrics")
    eq(r.status, 200, "/metrics status")
    m = re.search(rf"^{re.escape(name)} (\S+)$", r.text, re.M)
    check(m is not None, f"/metrics has no {name} line")
    return float(m.group(1))


def _readiness(port):
    r = request(port, "GET", "/health/readiness", auth=None, timeout=5)
    return r.status, r.json()


def _send_raw(port, raw):
    with Conn(port, timeout=30) as c:
        c.send(raw)
        return c.read_response()


def _send_n(gw, i, raw, n):
    with Conn(gw.port, timeout=30) as c:
        out = []
        for _ in range(n):
            c.send(raw)
            out.append(_Result(i, c.read_response()))
        return out


class _Soft:
    """Collects failed checks so that one run reports every problem of a scenario (the later steps do
    not depend on them); raise_if_any() at the end."""

    def __init__(self):
        self.problems = []

    def check(self, cond, msg):
        if not cond:
            self.problems.append(msg)

    def raise_if_any(self):
        check(not self.problems, "; ".join(self.problems))


def _stderr_since(g, mark):
    return g.stderr_text()[mark:]


def _wait_redis_state(gws, connected):
    """Polls /health/readiness on every instance (several probes each: each I/O thread has its own
    Redis connection) until all report Redis connected (or all unreachable)."""
    def ok():
        for g in gws:
            for _ in range(6):
                _, j = _readiness(g.port)
                if (j.get("redis") == "connected") != connected:
                    return False
        return True
    poll(ok, timeout=15, interval=0.1, what=f"every instance to report Redis {'up' if connected else 'down'}")


# ------------------------------------------------------------------------------------------------ load
class _Result:
    __slots__ = ("gw", "status", "headers", "body", "rid")

    def __init__(self, gw, resp):
        self.gw = gw
        self.status = resp.status
        self.headers = resp.headers
        self.body = resp.body
        self.rid = resp.header("x-llmux-request-id")

    def header(self, name):
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def _burst(gws, raws, threads_per_gw):
    """Sends every request of `raws` (a list of raw HTTP requests) as fast as possible from
    threads_per_gw keep-alive connections per gateway (opened before the first request is sent);
    returns the results in completion order and the wall time of the burst."""
    lock = threading.Lock()
    todo = list(reversed(raws))
    out, errors = [], []
    conns = [(i, Conn(g.port, timeout=30)) for i, g in enumerate(gws) for _ in range(threads_per_gw)]
    go = threading.Barrier(len(conns) + 1)

    def worker(i, c):
        go.wait()
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    raw = todo.pop()
                c.send(raw)
                resp = c.read_response()
                with lock:
                    out.append(_Result(i, resp))
        except Exception as e:  # noqa: BLE001 - reported by the caller
            with lock:
                errors.append(f"{type(e).__name__}: {e}")
        finally:
            c.close()
    ts = [threading.Thread(target=worker, args=ic, daemon=True) for ic in conns]
    for t in ts:
        t.start()
    go.wait()
    t0 = time.monotonic()
    for t in ts:
        t.join(120 * slow_factor())
    elapsed = time.monotonic() - t0
    check(not errors, f"{len(errors)} requests of the burst failed at the HTTP level: {errors[:3]}")
    eq(len(out), len(raws), "responses to the burst")
    return out, elapsed


def _all_at_once(gws, raws_per_gw):
    """One request per connection, every connection opened first and the requests sent together
    (for limits on requests in flight); returns the results."""
    conns = [(i, Conn(gws[i].port, timeout=30), raw) for i, raws in enumerate(raws_per_gw) for raw in raws]
    out, errors, lock = [], [], threading.Lock()
    go = threading.Barrier(len(conns))

    def worker(i, c, raw):
        try:
            go.wait()
            c.send(raw)
            r = _Result(i, c.read_response())
            with lock:
                out.append(r)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(f"{type(e).__name__}: {e}")
        finally:
            c.close()
    ts = [threading.Thread(target=worker, args=a, daemon=True) for a in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60 * slow_factor())
    check(not errors, f"requests failed at the HTTP level: {errors[:3]}")
    return out


class _Load:
    """Steady load until stop(): `threads` threads, thread t bound to gateway t % 3 (it follows the
    gateway to its new port after a restart), keep-alive connections. Records every response (status
    and x-llmux-request-id) and counts requests that got no response (connection closed or refused:
    not completed)."""

    def __init__(self, gws, raw, threads):
        self.gws, self.raw = gws, raw
        self.lock = threading.Lock()
        self.results = []
        self.no_response = 0
        self.http_errors = []
        self._stop = threading.Event()
        self.ts = [threading.Thread(target=self._run, args=(t % len(gws),), daemon=True) for t in range(threads)]
        for t in self.ts:
            t.start()

    def _run(self, i):
        c = None
        while not self._stop.is_set():
            if c is None:
                try:
                    c = Conn(self.gws[i].port, timeout=30)
                except OSError:
                    time.sleep(0.02)  # the instance is restarting
                    continue
            try:
                c.send(self.raw)
                resp = c.read_response()
            except (ConnectionClosed, OSError, TimeoutError) as e:
                with self.lock:
                    self.no_response += 1
                    if isinstance(e, TimeoutError):
                        self.http_errors.append(f"gateway {i}: {e}")
                c.close()
                c = None
                continue
            with self.lock:
                self.results.append(_Result(i, resp))
            if (resp.header("connection") or "").lower() == "close":
                c.close()
                c = None
        if c is not None:
            c.close()

    def count(self):
        with self.lock:
            return len(self.results)

    def wait_for(self, n, what):
        poll(lambda: self.count() >= n, timeout=20, interval=0.02, what=what)

    def stop(self):
        self._stop.set()
        for t in self.ts:
            t.join(60 * slow_factor())
        check(not any(t.is_alive() for t in self.ts), "load threads did not stop")


def _check_rows_match(db, results, timeout=20):
    """After the load: the spend log holds exactly one row per answered request (any status) and no
    other row; polls while the writers flush (and replay their spools)."""
    want = len(results)
    rids = [r.rid for r in results]
    check(all(rids), "every response carries x-llmux-request-id")
    eq(len(set(rids)), want, "distinct request ids among the responses")

    def rows():
        return int(db.rows("SELECT count(*) FROM llmux_spend_logs")[0][0])
    try:
        poll(lambda: rows() >= want, timeout=timeout, interval=0.2, what=f"{want} spend-log rows")
    except AssertionError:
        pass  # reported with the details below
    time.sleep(0.5)  # anything still arriving would be a row too many
    got = [r[0] for r in db.rows("SELECT request_id FROM llmux_spend_logs")]
    missing = set(rids) - set(got)
    extra = set(got) - set(rids)
    check(len(got) == want and not missing and not extra,
          f"spend-log rows {len(got)} (distinct {len(set(got))}) != answered requests {want}: "
          f"{len(missing)} answered requests have no row (e.g. {sorted(missing)[:3]}), {len(extra)} rows "
          f"belong to no answered request (e.g. {sorted(extra)[:3]})")


def _statuses(results):
    out = {}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    return out


# ------------------------------------------------------------------------------------------------ tests
@test(timeout=90)
def gov_multi_rpm_600_across_three(ctx):
    """rpm_limit 600, 900 requests blasted over the three instances within the key's first window:
    600 +- 1 % are admitted in total, each admission sees its own count, every refusal is a 429."""
    db = _fresh_db(ctx)
    gws = _cluster(ctx, [deployment("m", "mock/x")], db=db)
    key, _ = _new_key(gws[0], rpm_limit=600, key_alias="multi-rpm")
    raw = _chat_raw(key)
    results, elapsed = _burst(gws, [raw] * 900, threads_per_gw=8)
    check(elapsed < 45, f"the burst took {elapsed:.1f}s: too slow to stay inside one 60 s window")
    st = _statuses(results)
    ok = [r for r in results if r.status == 200]
    check(594 <= len(ok) <= 606, f"admitted {len(ok)} of 900 within one window (want 600 +- 1 %): {st}")
    for i in range(N_INSTANCES):
        check(any(r.gw == i for r in ok), f"instance {i} admitted nothing: {st}")
    for r in results:
        if r.status == 200:
            continue
        eq(r.status, 429, f"refusal status ({r.body[:200]!r})")
        e = json.loads(r.body)["error"]
        eq((e.get("type"), e.get("code")), ("rate_limit_exceeded", "rate_limit_exceeded"), "429 error type/code")
        check("multi-rpm" in e.get("message", "") and "600" in e.get("message", ""),
              f"the message names the key and its limit: {e.get('message')!r}")
        ra = r.header("retry-after")
        check(ra is not None and ra.isdigit() and 1 <= int(ra) <= 60, f"Retry-After 1..60 s, got {ra!r}")
        eq(r.header("x-ratelimit-remaining-requests"), "0", "x-ratelimit-remaining-requests on a 429")
    # The counter is taken atomically across the instances: no two admissions saw the same count.
    remaining = [int(r.header("x-ratelimit-remaining-requests")) for r in ok]
    dup = sorted({x for x in remaining if remaining.count(x) > 1})
    check(not dup, f"{len(dup)} remaining-requests values were handed out twice (e.g. {dup[:5]}): the "
                   f"instances did not share one counter")
    eq(sorted(remaining), list(range(600 - len(ok), 600)), "x-ratelimit-remaining-requests of the admissions")
    # Still the same window a moment later, on any instance.
    time.sleep(0.5)
    for i, g in enumerate(gws):
        x = request(g.port, "POST", "/v1/chat/completions", {"model": "m", "messages": user_msg("late")}, auth=key)
        check_error(x, 429, "rate_limit_exceeded", "rate_limit_exceeded")
        results.append(_Result(i, x))
    ctx.note(f"900 requests in {elapsed:.2f}s: {st}")
    _check_rows_match(db, results)


ANSWER_40 = "budget probe answer, forty bytes long ok"  # the mock bills ceil(40 / 4) = 10 completion tokens


@test(timeout=90)
def gov_multi_budget_32_concurrent(ctx):
    """max_budget $1.00, every request reserves and costs exactly $0.04 (10 output tokens at $0.004,
    input free): 32 concurrent clients over the three instances until each is refused, then one client
    until refused. The key ends at exactly 25 requests, $1.00, never above: in the spend log, in the
    key's spend and in /key/info."""
    assert len(ANSWER_40) == 40
    db = _fresh_db(ctx)
    price = {"input_cost_per_token": 0, "output_cost_per_token": 0.004}
    gws = _cluster(ctx, [deployment("priced", "mock/x", mock_response=ANSWER_40, mock_latency_ms=30, **price),
                         deployment("free", "mock/x", input_cost_per_token=0, output_cost_per_token=0)], db=db)
    max_budget, cost = 1.0, 0.04
    key, token = _new_key(gws[0], max_budget=max_budget, key_alias="multi-budget")
    raw = _chat_raw(key, model="priced", max_tokens=10)
    lock = threading.Lock()
    results, errors = [], []
    conns = [(t % N_INSTANCES, Conn(gws[t % N_INSTANCES].port, timeout=30)) for t in range(32)]
    go = threading.Barrier(len(conns))

    def client(i, c):
        try:
            go.wait()
            for _ in range(100):
                c.send(raw)
                r = _Result(i, c.read_response())
                with lock:
                    results.append(r)
                if r.status != 200:
                    return
            errors.append("a client was never refused")
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(f"{type(e).__name__}: {e}")
        finally:
            c.close()
    ts = [threading.Thread(target=client, args=a, daemon=True) for a in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60 * slow_factor())
    check(not errors, f"clients failed: {errors[:3]}")
    concurrent_ok = sum(1 for r in results if r.status == 200)
    check(concurrent_ok * cost <= max_budget + 1e-9,
          f"{concurrent_ok} requests at ${cost} were admitted under a ${max_budget} budget")
    # Then one client, round robin, until refused: what the 32 left unused must still be usable.
    time.sleep(0.3)
    for n in range(40):
        i = n % N_INSTANCES
        r = _Result(i, _send_raw(gws[i].port, raw))
        results.append(r)
        if r.status != 200:
            break
    # An exhausted budget (spend >= max_budget) refuses even a request that costs nothing, everywhere.
    free = _chat_raw(key, model="free", max_tokens=10)
    for i, g in enumerate(gws):
        results.append(_Result(i, _send_raw(g.port, free)))
        eq(results[-1].status, 400, f"a free request on {g.name} once the budget is spent "
                                    f"({results[-1].body[:200]!r})")
    for r in results:
        if r.status != 200:
            eq(r.status, 400, f"refusal status ({r.body[:200]!r})")
            e = json.loads(r.body)["error"]
            eq((e.get("type"), e.get("code")), ("budget_exceeded", "budget_exceeded"), "refusal type/code")
        else:
            eq(float(r.header("x-llmux-response-cost")), cost, "x-llmux-response-cost")
    ok = sum(1 for r in results if r.status == 200)
    ctx.note(f"admitted {concurrent_ok} with 32 concurrent clients, {ok} in all; statuses {_statuses(results)}")
    check(ok * cost <= max_budget + 1e-9, f"{ok} requests at ${cost} admitted under a ${max_budget} budget")
    eq(ok, 25, "admitted requests in all (the budget fits exactly 25; fewer means reservations leaked)")
    _check_rows_match(db, results)
    logged = float(db.rows("SELECT coalesce(sum(spend), 0) FROM llmux_spend_logs")[0][0])
    check(logged <= max_budget + 1e-9, f"spend-log total ${logged} exceeds max_budget ${max_budget}")
    check(abs(logged - ok * cost) < 1e-6, f"spend-log total ${logged}, want ${ok * cost}")

    def key_spend():
        v = db.rows(f"SELECT spend FROM llmux_keys WHERE token = '{token}'")
        return float(v[0][0]) if v else None
    poll(lambda: key_spend() is not None and abs(key_spend() - logged) < 1e-6, timeout=10,
         what=f"llmux_keys.spend to reach the spend-log total {logged} (last {key_spend()})")
    check(key_spend() <= max_budget + 1e-9, f"key spend ${key_spend()} exceeds max_budget")
    for g in gws:
        info = request(g.port, "GET", f"/key/info?key={key}")
        eq(info.status, 200, f"/key/info ({info.body[:200]!r})")
        spend = info.json()["info"]["spend"]
        check(abs(spend - logged) < 1e-6 and spend <= max_budget + 1e-9,
              f"/key/info spend on {g.name}: {spend}, want {logged}")




@test(timeout=120)
def gov_multi_spend_rows_sigterm_restart(ctx):
    """Steady load over the three instances; one is stopped with SIGTERM (it drains and flushes) and
    started again on a new port with the same spool dir while the others keep serving. Afterwards the
    spend log holds exactly one row per answered request: none lost, none extra."""
    db = _fresh_db(ctx)
    gws = _cluster(ctx, [deployment("m", "mock/x", mock_latency_ms=20)], db=db)
    key, _ = _new_key(gws[0], rpm_limit=1000000, key_alias="multi-restart")
    load = _Load(gws, _chat_raw(key), threads=12)
    try:
        load.wait_for(150, "load before the restart")
        victim = gws[1]
        t0 = time.monotonic()
        victim.signal(signal.SIGTERM)
        rc = victim.wait(15)
        took = time.monotonic() - t0
        check(rc is not None, f"{victim.name} did not exit within {15 * slow_factor():.0f}s of SIGTERM under "
                              f"load (stderr tail:\n{victim.stderr_tail(8)})")
        eq(rc, 0, f"{victim.name} exit code after SIGTERM")
        old_port = victim.port
        victim.start()
        ctx.note(f"SIGTERM exit in {took:.2f}s; restarted on port {victim.port} (was {old_port})")
        before = sum(1 for r in load.results if r.gw == 1)
        poll(lambda: sum(1 for r in load.results if r.gw == 1) >= before + 30, timeout=20,
             what="the restarted instance to serve the load")
        n = load.count()
        load.wait_for(n + 150, "load after the restart")
    finally:
        load.stop()
    check(not load.http_errors, f"requests timed out: {load.http_errors[:3]}")
    st = _statuses(load.results)
    ctx.note(f"{len(load.results)} answered ({st}), {load.no_response} without a response")
    eq(set(st), {200}, f"statuses under load ({st})")
    _check_rows_match(db, load.results)


@test(timeout=150)
def gov_multi_spend_rows_pg_outage(ctx):
    """Steady load over the three instances while their PostgreSQL is down for 10 s: the request path
    does not wait on the database (every request is answered 200 meanwhile), rows wait in each
    instance's spool and are written when the database returns; then exactly one row per answered
    request. The key cache TTL is set above the outage so that authentication does not need the
    database during it (with the default 5 s TTL requests are refused 503 once it ends)."""
    pg = services.private_postgres(ctx)
    db = _Db(pg, pg.url)
    gws = _cluster(ctx, [deployment("m", "mock/x", mock_latency_ms=20)], db=db, key_cache_ttl_ms=120000)
    key, _ = _new_key(gws[0], rpm_limit=1000000, key_alias="multi-pg-outage")
    load = _Load(gws, _chat_raw(key), threads=9)
    try:
        load.wait_for(150, "load before the outage")
        pg.stop()
        t_down = time.monotonic()
        n_down = load.count()
        spooled = []
        while time.monotonic() - t_down < 10:
            time.sleep(0.5)
            if not spooled:
                try:
                    spooled = [g.name for g in gws if _metric(g.port, "llmux_spend_log_spooled_rows") > 0]
                except AssertionError:
                    pass
        n_up = load.count()
        pg.start()
        during = n_up - n_down
        check(during >= 100, f"only {during} requests were answered during the 10 s outage")
        load.wait_for(n_up + 150, "load after the outage")
    finally:
        load.stop()
    check(not load.http_errors, f"requests timed out: {load.http_errors[:3]}")
    st = _statuses(load.results)
    ctx.note(f"{len(load.results)} answered ({st}), {during} during the outage, {load.no_response} without a "
             f"response; spooling seen on {spooled}")
    eq(set(st), {200}, f"statuses under load across the outage ({st})")
    check(spooled, "no instance reported llmux_spend_log_spooled_rows > 0 during the outage")
    for g in gws:
        poll(lambda: _metric(g.port, "llmux_spend_log_spooled_rows") == 0, timeout=20,
             what=f"{g.name}'s spool to drain after the outage")
    _check_rows_match(db, load.results, timeout=30)




@test(timeout=120)
def gov_multi_redis_down_fail_open(ctx):
    """Redis stops: with redis_failure_mode fail_open and instances 3, every instance keeps serving with
    its share of the limit (rpm 30 -> 10 each), /health/readiness says Redis is unreachable (still 200),
    /metrics llmux_redis_up is 0 and the log says so. Redis returns: readiness and metrics recover and
    the limit is shared again (30 across the three, not 10 each nor 30 each)."""
    redis = services.private_redis(ctx)
    gws = _cluster(ctx, [deployment("m", "mock/x")], redis=redis, redis_failure_mode="fail_open", instances=3)
    key, _ = _new_key(gws[0], rpm_limit=30, key_alias="multi-fail-open")
    raw = _chat_raw(key)
    for g in gws:
        code, j = _readiness(g.port)
        eq((code, j.get("status"), j.get("redis")), (200, "healthy", "connected"), f"{g.name} readiness with Redis up")
        eq(_metric(g.port, "llmux_redis_up"), 1.0, f"{g.name} llmux_redis_up with Redis up")
    eq(_statuses(_send_n(gws[0], 0, raw, 3)), {200: 3}, "requests with Redis up")
    marks = [len(g.stderr_text()) for g in gws]

    redis.stop()
    _wait_redis_state(gws, connected=False)
    for i, g in enumerate(gws):
        res = _send_n(g, i, raw, 15)
        st = _statuses(res)
        eq(st, {200: 10, 429: 5}, f"{g.name} with Redis down: rpm 30 / 3 instances admits 10 ({st})")
        for r in res:
            if r.status == 429:
                e = json.loads(r.body)["error"]
                eq(e.get("code"), "rate_limit_exceeded", "refusal code with Redis down")
    soft = _Soft()
    for g in gws:
        code, j = _readiness(g.port)
        eq(code, 200, f"{g.name} readiness status code with Redis down under fail_open (still serving)")
        check(j.get("status") != "healthy" and j.get("redis") != "connected",
              f"{g.name} readiness should report Redis unreachable: {j}")
        soft.check(_metric(g.port, "llmux_redis_up") == 0.0,
                   f"{g.name} /metrics llmux_redis_up is not 0 with Redis down")
        soft.check(_metric(g.port, 'llmux_redis_failures_total{action="fail_open"}') >= 15,
                   f"{g.name} llmux_redis_failures_total{{action=\"fail_open\"}} < 15 degraded admissions")
    for g, mark in zip(gws, marks):
        soft.check("redis" in _stderr_since(g, mark).lower(),
                   f"{g.name} logged nothing about Redis being unreachable")

    redis.start()
    _wait_redis_state(gws, connected=True)
    for g in gws:
        code, j = _readiness(g.port)
        eq((code, j.get("status")), (200, "healthy"), f"{g.name} readiness after Redis returned")
        soft.check(_metric(g.port, "llmux_redis_up") == 1.0,
                   f"{g.name} llmux_redis_up is not 1 after Redis returned")
    # The restarted Redis is empty: a fresh shared window of 30 for the three together.
    results, _ = _burst(gws, [raw] * 45, threads_per_gw=2)
    st = _statuses(results)
    eq(st, {200: 30, 429: 15}, f"rpm 30 shared again after Redis returned ({st})")
    soft.raise_if_any()


@test(timeout=120)
def gov_multi_redis_down_fail_closed(ctx):
    """Redis stops: with redis_failure_mode fail_closed every limited request is refused 503 and
    /health/readiness answers 503; both recover when Redis returns."""
    redis = services.private_redis(ctx)
    gws = _cluster(ctx, [deployment("m", "mock/x")], redis=redis, redis_failure_mode="fail_closed", instances=3)
    key, _ = _new_key(gws[0], rpm_limit=1000, key_alias="multi-fail-closed")
    raw = _chat_raw(key)
    eq(_statuses(_send_n(gws[1], 1, raw, 3)), {200: 3}, "requests with Redis up")
    marks = [len(g.stderr_text()) for g in gws]

    redis.stop()
    _wait_redis_state(gws, connected=False)
    for i, g in enumerate(gws):
        for r in _send_n(g, i, raw, 4):
            eq(r.status, 503, f"{g.name} with Redis down under fail_closed ({r.body[:200]!r})")
            check(r.header("retry-after") is not None, "Retry-After on the 503")
            e = json.loads(r.body)["error"]
            check("redis" in e.get("message", "").lower(), f"the 503 says why: {e}")
    soft = _Soft()
    for g in gws:
        code, j = _readiness(g.port)
        eq(code, 503, f"{g.name} readiness with Redis down under fail_closed ({j})")
        check(j.get("redis") != "connected", f"{g.name} readiness names the Redis problem: {j}")
        soft.check(_metric(g.port, "llmux_redis_up") == 0.0,
                   f"{g.name} /metrics llmux_redis_up is not 0 with Redis down")
        soft.check(_metric(g.port, 'llmux_redis_failures_total{action="fail_closed"}') >= 4,
                   f"{g.name} llmux_redis_failures_total{{action=\"fail_closed\"}} < 4 refusals")
    for g, mark in zip(gws, marks):
        soft.check("redis" in _stderr_since(g, mark).lower(),
                   f"{g.name} logged nothing about Redis being unreachable")

    redis.start()
    _wait_redis_state(gws, connected=True)
    for i, g in enumerate(gws):
        code, j = _readiness(g.port)
        eq((code, j.get("status")), (200, "healthy"), f"{g.name} readiness after Redis returned")
        eq(_statuses(_send_n(g, i, raw, 3)), {200: 3}, f"{g.name} serves again after Redis returned")
        soft.check(_metric(g.port, "llmux_redis_up") == 1.0,
                   f"{g.name} llmux_redis_up is not 1 after Redis returned")
    soft.raise_if_any()


@test(timeout=90)
def gov_multi_parallel_limit_across_three(ctx):
    """max_parallel_requests 4, 12 requests (4 per instance) in flight at once: exactly 4 run in total,
    8 are refused 429; once they end, the slots are free again on every instance."""
    gws = _cluster(ctx, [deployment("slow", "mock/x", mock_latency_ms=1500)])
    key, _ = _new_key(gws[0], max_parallel_requests=4, key_alias="multi-parallel")
    raw = _chat_raw(key, model="slow")
    res = _all_at_once(gws, [[raw] * 4] * N_INSTANCES)
    st = _statuses(res)
    eq(st, {200: 4, 429: 8}, f"12 concurrent requests under max_parallel_requests 4 ({st})")
    for r in res:
        if r.status == 429:
            e = json.loads(r.body)["error"]
            eq(e.get("code"), "rate_limit_exceeded", "refusal code")
            check("parallel" in e.get("message", "").lower() and "multi-parallel" in e.get("message", ""),
                  f"the message names the parallel limit and the key: {e.get('message')!r}")
    time.sleep(0.3)  # the slots are released by the instances' settle flushes
    res = _all_at_once(gws, [[raw] * 2] * N_INSTANCES)
    st = _statuses(res)
    eq(st, {200: 4, 429: 2}, f"6 concurrent requests after the first ones ended ({st})")


@test(timeout=90)
def gov_multi_tpm_limit_across_three(ctx):
    """tpm_limit 1000, requests with max_tokens 400 reserve prompt + 400 tokens: of 9 in flight at once
    over the three instances exactly 2 are admitted. When they end, their reservations become the real
    token counts in the shared window, visible to the next request on another instance."""
    gws = _cluster(ctx, [deployment("slow", "mock/x", mock_latency_ms=1500)])
    key, _ = _new_key(gws[0], tpm_limit=1000, key_alias="multi-tpm")
    raw = _chat_raw(key, model="slow", max_tokens=400)
    res = _all_at_once(gws, [[raw] * 3] * N_INSTANCES)
    st = _statuses(res)
    eq(st, {200: 2, 429: 7}, f"9 concurrent requests reserving > 400 tokens each under tpm 1000 ({st})")
    ok = [r for r in res if r.status == 200]
    for r in res:
        if r.status == 429:
            e = json.loads(r.body)["error"]
            eq(e.get("code"), "rate_limit_exceeded", "refusal code")
            check("token" in e.get("message", "").lower(), f"the message names the token limit: {e.get('message')!r}")
    rem = sorted(int(r.header("x-ratelimit-remaining-tokens")) for r in ok)
    reserve = 1000 - rem[1]
    eq(rem[0], 1000 - 2 * reserve, f"remaining tokens after the two admissions ({rem})")
    check(400 < reserve <= 500, f"one request reserves prompt + max_tokens 400 tokens, got {reserve}")
    used = sum(json.loads(r.body)["usage"]["total_tokens"] for r in ok)
    time.sleep(0.3)  # settle flushes
    other = next(i for i in range(N_INSTANCES) if i not in {r.gw for r in ok})  # 2 admissions, 3 instances
    r = _Result(other, _send_raw(gws[other].port, raw))
    eq(r.status, 200, f"a request after the first two ended ({r.body[:200]!r})")
    eq(int(r.header("x-ratelimit-remaining-tokens")), 1000 - used - reserve,
       f"remaining tokens: the window holds the two requests' real usage ({used}) plus this reservation")


@test(timeout=120)
def gov_multi_budget_survives_redis_restart(ctx):
    """Redis restarts empty (a crash, a failover without persistence) after part of a key's budget is
    spent: the instances must rebuild the shared spend from the database, not start again from zero
    (or from the spend their cached key rows had when they were loaded). max_budget $1.00 at $0.04 per
    request: 15 requests before the restart, at most 10 after it. The long key-cache TTL keeps each
    instance's cached key row (spend $0 when loaded) for the whole test; the default 5 s TTL gives the
    same result whenever Redis restarts within 5 s of a key being loaded."""
    redis = services.private_redis(ctx)
    db = _fresh_db(ctx)
    price = {"input_cost_per_token": 0, "output_cost_per_token": 0.004}
    gws = _cluster(ctx, [deployment("priced", "mock/x", mock_response=ANSWER_40, **price)], db=db,
                   redis=redis, key_cache_ttl_ms=60000)
    key, token = _new_key(gws[0], max_budget=1.0, key_alias="multi-budget-redis-restart")
    raw = _chat_raw(key, model="priced", max_tokens=10)
    before = [_Result(n % N_INSTANCES, _send_raw(gws[n % N_INSTANCES].port, raw)) for n in range(15)]
    eq(_statuses(before), {200: 15}, "requests before the Redis restart")

    def key_spend():
        v = db.rows(f"SELECT spend FROM llmux_keys WHERE token = '{token}'")
        return float(v[0][0]) if v else 0.0
    poll(lambda: abs(key_spend() - 0.6) < 1e-6, timeout=10, what="the key's spend ($0.60) in the database")
    redis.stop()
    redis.start()
    _wait_redis_state(gws, connected=True)
    after = []
    for n in range(30):
        i = n % N_INSTANCES
        after.append(_Result(i, _send_raw(gws[i].port, raw)))
        if after[-1].status != 200:
            break
    ok = sum(1 for r in after if r.status == 200)
    ctx.note(f"admitted after the Redis restart: {ok}")
    check(ok <= 10, f"{ok} requests at $0.04 admitted after the Redis restart with $0.60 of $1.00 already "
                    f"spent: the budget was overshot to ${0.6 + 0.04 * ok:.2f}")
    eq(ok, 10, "requests admitted after the restart (the rest of the budget)")
    eq(after[-1].status, 400, "the refusal once the budget is spent")
    _check_rows_match(db, before + after)


@test(timeout=120)
def gov_multi_redis_hung_fail_open(ctx):
    """Redis hangs (SIGSTOP: connections are accepted, nothing answers) under fail_open: requests are
    not held up beyond the Redis command timeout, are served with the per-instance share of the limit,
    and the instances go back to the shared counter once Redis answers again."""
    redis = services.private_redis(ctx)
    gws = _cluster(ctx, [deployment("m", "mock/x")], redis=redis, redis_failure_mode="fail_open", instances=3)
    key, _ = _new_key(gws[0], rpm_limit=30, key_alias="multi-hung")
    raw = _chat_raw(key)
    redis.pause()
    try:
        for i, g in enumerate(gws):
            t0 = time.monotonic()
            res = _send_n(g, i, raw, 12)
            took = time.monotonic() - t0
            st = _statuses(res)
            eq(st, {200: 10, 429: 2}, f"{g.name} with Redis hung: rpm 30 / 3 instances admits 10 ({st})")
            check(took < 5 * slow_factor(), f"12 requests took {took:.1f}s on {g.name} with Redis hung: the "
                                            f"request path waits on Redis")
        _wait_redis_state(gws, connected=False)
    finally:
        redis.resume()
    _wait_redis_state(gws, connected=True)
    # Redis kept its data and counted nothing before the hang, so about 30 are left for the three
    # together (not 10 each, not 30 each). The one admit per instance that timed out is still queued
    # in the stopped server and runs when it resumes: its outcome is unknowable, so up to 3 fewer.
    results, _ = _burst(gws, [raw] * 45, threads_per_gw=2)
    st = _statuses(results)
    ok = st.get(200, 0)
    check(27 <= ok <= 30 and ok + st.get(429, 0) == 45,
          f"rpm 30 shared again after Redis answered again: want 27..30 admitted, got {st}")
    ctx.note(f"admitted after the hang: {ok}")
