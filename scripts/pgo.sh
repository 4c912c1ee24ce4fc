#!/usr/bin/env bash
# `make pgo-profile`: remakes pgo/llmux.proftext.gz, the profile Release builds are optimized with
# (cmake/optimize.cmake, docs/design.md). Builds an instrumented llmux in build-pgo-gen/, runs it
# against the fixed-response nginx mocks of ../shared/bench (the request paths of the benchmarks:
# OpenAI and Anthropic upstreams, JSON and SSE, /v1/chat/completions and /v1/messages, master and
# virtual keys, limits in process and in Redis, spend logs), and merges what it counted.
# Run it when the hot paths changed; a profile older than the code only loses the functions that
# changed. Needs nginx, wrk and redis-server (scripts/deps.sh installs them).
#   PGO_SECONDS (3) per load step
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${LLMUX_SHARED_BENCH:-$root/../shared/bench}
secs=${PGO_SECONDS:-3}
"$root/scripts/deps.sh"
[ -f "$shared/mock-nginx.conf" ] || { echo "pgo: $shared/mock-nginx.conf not found (set LLMUX_SHARED_BENCH)" >&2; exit 2; }
profdata=$(command -v llvm-profdata || echo /usr/lib/llvm-14/bin/llvm-profdata)

build="$root/build-pgo-gen"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
  -DLLMUX_TESTS=OFF -DLLMUX_BENCH=OFF -DLLMUX_LTO=OFF -DLLMUX_PGO_GENERATE=ON >/dev/null
cmake --build "$build" --target llmux -j "$(nproc)"

work=$(mktemp -d)
cleanup() {
  [ -n "${gw_pid:-}" ] && kill "$gw_pid" 2>/dev/null || true
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
  [ -f "$work/mock/mock.pid" ] && kill "$(cat "$work/mock/mock.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/mock" "$work/raw"
if curl -s -o /dev/null http://127.0.0.1:18001/ || curl -s -o /dev/null http://127.0.0.1:4000/; then
  echo "pgo: ports 4000 or 18001-18006 are in use (a benchmark running?)" >&2; exit 1
fi
nginx -p "$work/mock" -c "$shared/mock-nginx.conf" -e "$work/mock/error.log" 2>/dev/null ||
  nginx -p "$work/mock" -c "$shared/mock-nginx.conf"
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
redis_pid=$!

load() { # url lua model key stream
  WRK_MODEL=$3 WRK_KEY=$4 WRK_STREAM=$5 wrk -t1 -c32 -d"${secs}s" -s "$2" "$1" | grep RESULT |
    sed "s|^|  $3 $(basename "$1") |"
}
for mode in sqlite redis; do
  dir="$work/$mode"; mkdir -p "$dir"
  cp "$root/bench/gateway.yaml" "$dir/gateway.yaml"
  if [ "$mode" = redis ]; then
    printf 'router_settings:\n  redis_host: 127.0.0.1\n  redis_port: %s\n' "$redis_port" >> "$dir/gateway.yaml"
  fi
  (cd "$dir" && LLVM_PROFILE_FILE="$work/raw/llmux-%p.profraw" exec "$build/llmux" serve \
     --config gateway.yaml 2>"$dir/llmux.err") &
  gw_pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:4000/health/readiness >/dev/null && break; sleep 0.05; done
  kill -0 "$gw_pid" 2>/dev/null || { echo "pgo: llmux did not start (port 4000 in use?)" >&2; cat "$dir/llmux.err" >&2; exit 1; }
  key=$(curl -sf http://127.0.0.1:4000/key/generate -H 'authorization: Bearer sk-bench' \
          -d '{"key_alias":"pgo","rpm_limit":1000000000,"tpm_limit":1000000000000}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  echo "pgo: $mode"
  for k in "$key" sk-bench; do
    for m in gpt-4o-mini gpt-4o-mini-stream claude-sonnet-4-5 claude-sonnet-4-5-stream; do
      s=0; case $m in *-stream) s=1;; esac
      load http://127.0.0.1:4000/v1/chat/completions "$shared/post.lua" "$m" "$k" "$s"
    done
    for m in claude-sonnet-4-5 gpt-4o-mini; do
      load http://127.0.0.1:4000/v1/messages "$root/bench/count.lua" "$m" "$k" 0
    done
  done
  kill -TERM "$gw_pid"; wait "$gw_pid" || true; gw_pid=
done

ls "$work"/raw/*.profraw >/dev/null
"$profdata" merge -o "$work/llmux.profdata" "$work"/raw/*.profraw
mkdir -p "$root/pgo"
"$profdata" merge -text -o "$work/llmux.proftext" "$work/llmux.profdata"
gzip -9 -n -c "$work/llmux.proftext" > "$root/pgo/llmux.proftext.gz"
echo "pgo: wrote pgo/llmux.proftext.gz ($(du -k "$root/pgo/llmux.proftext.gz" | cut -f1) KiB); rebuild with make build"
