#!/usr/bin/env bash
# `make bench`: llmux (release, one I/O thread) side by side with nginx as a plain proxy and Portkey's
# gateway, through ../shared/bench/compare.sh, for the openai, openai-stream, anthropic and
# anthropic-stream scenarios (SCENARIOS= picks a subset); then llmux's resident memory idle and at
# 256 connections. Compare ratios within one run only.
#   BENCH_SECONDS (8) BENCH_CONNS (32) PORTKEY (1) BENCH_ACCESS_LOG (a temp file; "" = off)
#   PIN=1: mock and wrk on core 0, every proxy (nginx, Portkey, llmux) on core 1 (compare.sh's mode)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${LLMUX_SHARED_BENCH:-$root/../shared/bench}
secs=${BENCH_SECONDS:-8}; conns=${BENCH_CONNS:-32}
[ -x "$shared/compare.sh" ] || { echo "bench: $shared/compare.sh not found (set LLMUX_SHARED_BENCH)" >&2; exit 2; }
command -v wrk >/dev/null || { sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
# Wait for llmux to be gone: a run started right after would find port 4000 still taken.
work=$(mktemp -d); trap 'kill "${gw_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
log=${BENCH_ACCESS_LOG-$work/access.log}
sed "s|access_log: \"\".*|access_log: \"$log\"|" "$here/gateway.yaml" > "$work/gateway.yaml"
pin=; [ "${PIN:-0}" = 1 ] && pin="taskset -c 1"
$pin "$root/build/llmux" serve --config "$work/gateway.yaml" 2>"$work/llmux.err" &
gw_pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:4000/health/readiness >/dev/null && break; sleep 0.05; done
rss() { awk '/VmRSS/{print $2}' "/proc/$gw_pid/status"; }
hwm() { awk '/VmHWM/{print $2}' "/proc/$gw_pid/status"; }
echo "machine: $(nproc) cores, $(awk '/model name/{$1=$2=$3="";print;exit}' /proc/cpuinfo | xargs), kernel $(uname -r)"
echo "llmux: $("$root/build/llmux" --version), 1 I/O thread, access log ${log:-off}, PIN=${PIN:-0}"
echo "rss_idle_kb=$(rss)"
for sc in ${SCENARIOS:-openai openai-stream anthropic anthropic-stream}; do
  case $sc in
    openai) model=gpt-4o-mini ;;
    openai-group3) model=gpt-4o-mini-group3 ;;
    openai-stream) model=gpt-4o-mini-stream ;;
    anthropic) model=claude-sonnet-4-5 ;;
    anthropic-stream) model=claude-sonnet-4-5-stream ;;
    *) echo "bench: unknown scenario $sc" >&2; exit 2 ;;
  esac
  SCENARIO=${sc%-group3} GW_MODEL=$model GW_PID=$gw_pid GW_KEY=sk-bench PORTKEY=${PORTKEY:-1} \
    GW_URL=http://127.0.0.1:4000/v1/chat/completions "$shared/compare.sh" "$secs" "$conns"
done
# Memory under 256 concurrent keep-alive connections (compare.sh stopped its mock: start it again).
nginx_dir=$(mktemp -d); nginx -p "$nginx_dir" -c "$shared/mock-nginx.conf" 2>/dev/null || true; sleep 0.3
WRK_MODEL=gpt-4o-mini WRK_KEY=sk-bench wrk -t1 -c256 -d4s -s "$shared/post.lua" http://127.0.0.1:4000/v1/chat/completions | grep RESULT | sed 's/^/c256 /'
echo "rss_after_256_conns_kb=$(rss) rss_peak_kb=$(hwm)"
nginx -p "$nginx_dir" -c "$shared/mock-nginx.conf" -s stop 2>/dev/null || true; rm -rf "$nginx_dir"
