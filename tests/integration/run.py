#!/usr/bin/env python3
"""Integration tests: the real llmux binary against mock OpenAI upstreams.

    LLMUX_BIN=build-debug/llmux python3 tests/integration/run.py [-k PATTERN ...] [-j JOBS] [--list] [-v]

Runs every test in tests/integration/test_*.py concurrently (JOBS threads), prints one line per test,
the llmux stderr tail for each failure, and ends with `N passed, N failed`. Exit code 1 on any failure."""
from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import shared_env  # noqa: E402


def load_tests():
    for fn in sorted(os.listdir(HERE)):
        if fn.startswith("test_") and fn.endswith(".py"):
            importlib.import_module(fn[:-3])
    return harness.TESTS


class Result:
    def __init__(self, t):
        self.t = t
        self.name = t["name"]
        self.status = None
        self.detail = ""
        self.duration = 0.0
        self.ctx = None


def run_one(t, res, root_tmp):
    ctx = harness.Ctx(t["name"], root_tmp)
    res.ctx = ctx
    t0 = time.monotonic()
    try:
        t["fn"](ctx)
        res.status = "PASS"
    except harness.Skip as e:
        res.status = "SKIP"
        res.detail = str(e)
    except Exception:
        res.status = "FAIL"
        res.detail = traceback.format_exc()
    finally:
        try:
            ctx.cleanup()
        except Exception:
            pass
        for g in ctx.gateways:
            rep = g.sanitizer_report()
            if rep:
                res.status = "FAIL"
                res.detail += f"\nsanitizer report from {g.name}:\n{rep}"
        res.duration = time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", default=[], help="run tests whose name contains this (repeatable)")
    ap.add_argument("-j", type=int, default=int(os.environ.get("LLMUX_IT_JOBS", "10")))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", action="store_true", help="print notes of passing tests too")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    a = ap.parse_args()

    tests = load_tests()
    if a.k:
        tests = [t for t in tests if any(k in t["name"] for k in a.k)]
    if a.list:
        for t in tests:
            print(f"{t['module']}.{t['name']}")
        return 0
    binary = harness.llmux_bin()
    print(f"llmux integration tests: {len(tests)} tests, binary {binary} "
          f"(version {harness.llmux_version()}), {a.j} at a time", flush=True)
    root_tmp = tempfile.mkdtemp(prefix="llmux-it-")
    results = [Result(t) for t in tests]
    sem = threading.Semaphore(max(1, a.j))
    print_lock = threading.Lock()
    t_start = time.monotonic()

    def worker(t, res):
        try:
            run_one(t, res, root_tmp)
        finally:
            sem.release()
            with print_lock:
                print(f"{res.status:4}  {res.name} ({res.duration:.2f}s)", flush=True)

    threads = []
    for t, res in zip(tests, results):
        sem.acquire()
        th = threading.Thread(target=worker, args=(t, res), daemon=True, name=t["name"])
        th.start()
        th.deadline = time.monotonic() + t["timeout"] * harness.slow_factor()
        threads.append((th, res))
    for th, res in threads:
        th.join(max(0.0, th.deadline - time.monotonic()))
        if th.is_alive():
            res.status = "FAIL"
            res.detail = f"test did not finish within {res.t['timeout'] * harness.slow_factor():.0f}s"
            with print_lock:
                print(f"FAIL  {res.name} (timed out)", flush=True)

    # The shared gateway must shut down cleanly (exit 0, no sanitizer report) after everything it served.
    env = shared_env.current()
    if env is not None:
        sres = Result({"name": "shared_gateway_clean_shutdown", "timeout": 30})
        t0 = time.monotonic()
        rc = env.stop()
        sres.duration = time.monotonic() - t0
        rep = env.gw.sanitizer_report()
        if rc != 0 or rep:
            sres.status = "FAIL"
            sres.detail = f"shared llmux exit code {rc} after SIGTERM (want 0)\n{rep or ''}"
            sres.ctx = harness.Ctx("shared", root_tmp)
            sres.ctx.used.append(env.gw)
        else:
            sres.status = "PASS"
        print(f"{sres.status:4}  {sres.name} ({sres.duration:.2f}s)", flush=True)
        results.append(sres)

    failed = [r for r in results if r.status == "FAIL"]
    passed = [r for r in results if r.status == "PASS"]
    skipped = [r for r in results if r.status == "SKIP"]
    for r in failed:
        print("\n" + "=" * 100)
        print(f"FAIL: {r.name}")
        print(r.detail.rstrip())
        if r.ctx:
            for n in r.ctx.notes:
                print(f"note: {n}")
            for g in r.ctx.gateways + r.ctx.used:
                print(f"--- {g.name} stderr (last 40 lines; {g.stderr_path}) ---")
                print(g.stderr_tail(40))
    for r in skipped:
        print(f"skipped {r.name}: {r.detail}")
    if a.v:
        for r in passed:
            for n in (r.ctx.notes if r.ctx else []):
                print(f"note ({r.name}): {n}")
    print("\n" + "=" * 100)
    print(f"integration ({os.path.basename(binary)} {binary}): {time.monotonic() - t_start:.1f}s")
    if failed:
        print("failed: " + ", ".join(r.name for r in failed))
    line = f"{len(passed)} passed, {len(failed)} failed"
    if skipped:
        line += f", {len(skipped)} skipped"
    print(line, flush=True)
    if not failed and not a.keep:
        shutil.rmtree(root_tmp, ignore_errors=True)
    else:
        print(f"(logs and configs kept in {root_tmp})")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    code = main()
    try:
        import services  # the shared Redis / PostgreSQL servers, if a test started them
        services.stop_shared()
    except Exception as e:  # noqa: BLE001 - the servers die with us anyway (pdeathsig)
        print(f"stopping shared services: {e}", file=sys.stderr)
    sys.stdout.flush()
    os._exit(code)  # don't wait for stuck daemon threads
