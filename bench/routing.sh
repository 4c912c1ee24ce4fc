#!/usr/bin/env bash
# `make bench-routing` (issue 4), two measurements in one run of llmux (release, one I/O thread):
#  1. The routing decision's cost on the happy path: a single-deployment group and a group of three
#     healthy deployments of the same mock, alternated ROUNDS (4) times for 5 s each; llmux's CPU
#     time per request for each, and the mean difference.
#  2. Reliability: a group of three deployments where one answers 30 % 500s and one is down,
#     against the healthy group of three: at least REQUESTS (20000) each at CONNS (32) connections.
#     The success rate, the latency the faults add (p50/p99), and the router's retries and
#     cooldowns from /metrics.
#   MIN_SECONDS (20): each measured run lasts at least this long (cooldowns expire and return)
#   PIN=1: mocks and wrk on core 0, llmux on core 1
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${LLMUX_SHARED_BENCH:-$root/../shared/bench}
requests=${REQUESTS:-20000}; conns=${CONNS:-32}
command -v wrk >/dev/null || { sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
command -v nginx >/dev/null || { sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq nginx-light >/dev/null; }
work=$(mktemp -d)
cleanup() {
  kill "${gw_pid:-}" 2>/dev/null || true
  nginx -p "$work/mock" -c "$shared/mock-nginx.conf" -s stop 2>/dev/null || true
  nginx -p "$work/flaky" -c "$here/flaky-nginx.conf" -s stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/mock" "$work/flaky"
core0=; core1=; [ "${PIN:-0}" = 1 ] && { core0="taskset -c 0"; core1="taskset -c 1"; }
$core0 nginx -p "$work/mock" -c "$shared/mock-nginx.conf"
$core0 nginx -p "$work/flaky" -c "$here/flaky-nginx.conf"
sed 's|access_log: "".*|access_log: ""|' "$here/gateway.yaml" > "$work/gateway.yaml"
$core1 "$root/build/llmux" serve --config "$work/gateway.yaml" 2>"$work/llmux.err" &
gw_pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:4000/health/readiness >/dev/null && break; sleep 0.05; done
ticks() { awk '{print $14+$15}' "/proc/$gw_pid/stat"; }
echo "machine: $(nproc) cores, kernel $(uname -r); llmux $("$root/build/llmux" --version), 1 I/O thread, PIN=${PIN:-0}"
echo "requests=$requests connections=$conns"
run() {  # model label
  # Warm-up (connections, DNS cache), not counted; its rate sizes the measured run so that it
  # makes at least $requests requests (wrk runs for a duration, not a count).
  local warm secs t0 t1 line
  warm=$(WRK_MODEL=$1 $core0 wrk -t1 -c"$conns" -d2s -s "$here/count.lua" \
    http://127.0.0.1:4000/v1/chat/completions | grep RESULT | sed -E 's/.*rps=([0-9]+).*/\1/')
  secs=$(awk -v n="$requests" -v r="${warm:-1000}" -v m="${MIN_SECONDS:-20}" 'BEGIN{s=int(n/r*1.25)+2; if (s < m) s = m; print s}')
  t0=$(ticks)
  line=$(WRK_MODEL=$1 $core0 wrk -t1 -c"$conns" -d"${secs}s" -s "$here/count.lua" \
    http://127.0.0.1:4000/v1/chat/completions | grep RESULT)
  t1=$(ticks)
  local n; n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  echo "$2 $line $(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN{printf "cpu_us/req=%.1f", d/hz*1e6/n}')"
}
echo "== routing decision: single deployment vs group of three (CPU per request, alternated)"
sum1=0; sum3=0; rounds=${ROUNDS:-4}
for round in $(seq "$rounds"); do
  for m in gpt-4o-mini gpt-4o-mini-group3; do
    t0=$(ticks)
    line=$(WRK_MODEL=$m $core0 wrk -t1 -c"$conns" -d5s -s "$shared/post.lua" \
      http://127.0.0.1:4000/v1/chat/completions | grep RESULT)
    t1=$(ticks)
    rps=$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$line")
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" 'BEGIN{printf "%.2f", d/hz*1e6/(r*5)}')
    echo "round=$round model=$m rps=$rps cpu_us/req=$cpu"
    if [ "$m" = gpt-4o-mini ]; then sum1=$(awk -v a="$sum1" -v b="$cpu" 'BEGIN{print a+b}'); else sum3=$(awk -v a="$sum3" -v b="$cpu" 'BEGIN{print a+b}'); fi
  done
done
awk -v a="$sum1" -v b="$sum3" -v n="$rounds" 'BEGIN{printf "mean cpu_us/req single=%.2f group3=%.2f difference=%+.2f\n", a/n, b/n, (b-a)/n}'
echo "== reliability: healthy group of three vs one flaky (30 % 500s) and one down"
run gpt-4o-mini-group3 healthy
sleep 1
run faulty faulty
curl -s -H 'Authorization: Bearer sk-bench' http://127.0.0.1:4000/metrics |
  grep -E '^llmux_(retries_total|fallbacks_total|deployment_(cooldowns|failures)_total)\{model_group="faulty"' || true
