#!/usr/bin/env bash
# `make bench-governance` (issue 5): llmux with a virtual key, rate limits and spend logging on,
# beside nginx as a plain proxy (and Portkey with PORTKEY=1), in the same compare.sh run each:
#   1. sqlite: the embedded default (SQLite file, in-process limits);
#   2. redis:  the same limits counted in a local redis-server (one Lua round trip per request).
# The key has rpm and tpm limits far above what the run uses, so every request goes through
# admission, settlement and a spend-log row without being refused. BENCH_KEY_FIELDS adds more
# (e.g. '"max_parallel_requests":100000,"max_budget":1000000' for the parallel and budget paths).
#   BENCH_SECONDS (8) BENCH_CONNS (32) PORTKEY (0) PIN (0: see bench/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${LLMUX_SHARED_BENCH:-$root/../shared/bench}
secs=${BENCH_SECONDS:-8}; conns=${BENCH_CONNS:-32}
[ -x "$shared/compare.sh" ] || { echo "bench: $shared/compare.sh not found (set LLMUX_SHARED_BENCH)" >&2; exit 2; }
command -v wrk >/dev/null || { sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
work=$(mktemp -d)
cleanup() {
  kill "${gw_pid:-}" 2>/dev/null || true
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pin=; [ "${PIN:-0}" = 1 ] && pin="taskset -c 1"
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
redis_pid=$!

echo "machine: $(nproc) cores, $(awk '/model name/{$1=$2=$3="";print;exit}' /proc/cpuinfo | xargs), kernel $(uname -r)"
echo "llmux: $("$root/build/llmux" --version), 1 I/O thread, access log off, PIN=${PIN:-0}"

for mode in sqlite redis; do
  dir="$work/$mode"; mkdir -p "$dir"
  cp "$here/gateway.yaml" "$dir/gateway.yaml"
  if [ "$mode" = redis ]; then
    printf 'router_settings:\n  redis_host: 127.0.0.1\n  redis_port: %s\n' "$redis_port" >> "$dir/gateway.yaml"
  fi
  (cd "$dir" && exec $pin "$root/build/llmux" serve --config gateway.yaml 2>"$dir/llmux.err") &
  gw_pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:4000/health/readiness >/dev/null && break; sleep 0.05; done
  key=$(curl -sf http://127.0.0.1:4000/key/generate -H 'authorization: Bearer sk-bench' \
          -d "{\"key_alias\":\"bench\",\"rpm_limit\":1000000000,\"tpm_limit\":1000000000000${BENCH_KEY_FIELDS:+,$BENCH_KEY_FIELDS}}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  echo "== $mode: virtual key with rpm and tpm limits${BENCH_KEY_FIELDS:+ and $BENCH_KEY_FIELDS}, spend logging on"
  SCENARIO=openai GW_MODEL=gpt-4o-mini GW_PID=$gw_pid GW_KEY=$key PORTKEY=${PORTKEY:-0} \
    GW_URL=http://127.0.0.1:4000/v1/chat/completions "$shared/compare.sh" "$secs" "$conns"
  sleep 1  # the spend writer's last batch
  rows=$(python3 -c "import sqlite3; print(sqlite3.connect('$dir/llmux.db').execute('select count(*) from llmux_spend_logs').fetchone()[0])")
  echo "$mode: spend-log rows written: $rows; rss_kb=$(awk '/VmRSS/{print $2}' /proc/$gw_pid/status)"
  kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true; gw_pid=
done
