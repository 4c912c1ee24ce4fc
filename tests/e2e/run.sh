#!/usr/bin/env bash
# End-to-end: the official OpenAI Node SDK (pinned in package.json / package-lock.json) against a real
# llmux serving the mock provider and the Python mock upstream.
#   LLMUX_BIN=build/llmux tests/e2e/run.sh
# npm installs into build/e2e/ (the build tree), only when node_modules is missing or the lockfile changed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${LLMUX_BIN:-build/llmux}"
[[ "$BIN" = /* ]] || BIN="$ROOT/$BIN"
WORK="$ROOT/build/e2e"

if [[ ! -x "$BIN" ]]; then echo "e2e: llmux binary not found: $BIN" >&2; exit 1; fi
command -v node >/dev/null || { echo "e2e: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "e2e: npm is not installed" >&2; exit 1; }

mkdir -p "$WORK"
stamp="$WORK/.lock.sha256"
want="$(sha256sum "$HERE/package-lock.json" "$HERE/package.json" | sha256sum | cut -d' ' -f1)"
if [[ ! -d "$WORK/node_modules/openai" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "e2e: npm ci into $WORK"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$WORK/"
  (cd "$WORK" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  echo "$want" >"$stamp"
fi
cp "$HERE/sdk.test.mjs" "$WORK/sdk.test.mjs"  # ESM resolves `openai` next to the test file

RUN="$(mktemp -d "${TMPDIR:-/tmp}/llmux-e2e.XXXXXX")"
MOCK_PID=""
LLMUX_PID=""
cleanup() {
  local rc=$?
  [[ -n "$LLMUX_PID" ]] && kill "$LLMUX_PID" 2>/dev/null && wait "$LLMUX_PID" 2>/dev/null || true
  [[ -n "$MOCK_PID" ]] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then
    echo "--- llmux stderr (tail) ---" >&2
    tail -n 40 "$RUN/llmux.stderr" >&2 2>/dev/null || true
    echo "(e2e logs kept in $RUN)" >&2
  else
    rm -rf "$RUN"
  fi
  exit $rc
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Mock OpenAI upstream.
python3 "$ROOT/tests/integration/mock_openai.py" --port 0 --port-file "$RUN/mock.port" >"$RUN/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 100); do [[ -s "$RUN/mock.port" ]] && break; sleep 0.05; done
[[ -s "$RUN/mock.port" ]] || { echo "e2e: mock upstream did not start" >&2; cat "$RUN/mock.log" >&2; exit 1; }
MOCK_PORT="$(cat "$RUN/mock.port")"

MASTER_KEY="sk-e2e-master-$(date +%s)"
cat >"$RUN/config.yaml" <<EOF
model_list:
  - model_name: mock-gpt
    litellm_params:
      model: mock/gpt-e2e
  - model_name: mock-fixed
    litellm_params:
      model: mock/fixed
      mock_response: "Hello from llmux!"
  - model_name: upstream-gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:${MOCK_PORT}/v1
      api_key: sk-e2e-upstream
  - model_name: upstream-429
    litellm_params:
      model: openai/gpt-fault-429
      api_base: http://127.0.0.1:${MOCK_PORT}/v1
      api_key: sk-e2e-upstream
  - model_name: upstream-reset
    litellm_params:
      model: openai/gpt-reset-mid-stream
      api_base: http://127.0.0.1:${MOCK_PORT}/v1
      api_key: sk-e2e-upstream
general_settings:
  master_key: ${MASTER_KEY}
llmux_settings:
  host: 127.0.0.1
  access_log: "$RUN/access.log"
EOF

ready=""
for attempt in 1 2 3; do
  PORT="$(free_port)"
  "$BIN" serve --config "$RUN/config.yaml" --port "$PORT" >"$RUN/llmux.stdout" 2>"$RUN/llmux.stderr" &
  LLMUX_PID=$!
  for _ in $(seq 200); do
    if ! kill -0 "$LLMUX_PID" 2>/dev/null; then break; fi
    if python3 - "$PORT" <<'PY' 2>/dev/null; then ready=1; break; fi
import sys, http.client
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
c.request("GET", "/health/readiness")
sys.exit(0 if c.getresponse().status == 200 else 1)
PY
    sleep 0.05
  done
  [[ -n "$ready" ]] && break
  kill "$LLMUX_PID" 2>/dev/null || true
  wait "$LLMUX_PID" 2>/dev/null || true
  LLMUX_PID=""
done
[[ -n "$ready" ]] || { echo "e2e: llmux did not become ready" >&2; exit 1; }

echo "e2e: llmux $("$BIN" --version 2>/dev/null | cut -d' ' -f2) on port $PORT, mock upstream on $MOCK_PORT, openai SDK $(node -p "require('$WORK/node_modules/openai/package.json').version")"
cd "$WORK"
LLMUX_URL="http://127.0.0.1:$PORT" LLMUX_MASTER_KEY="$MASTER_KEY" node --test --test-reporter=spec sdk.test.mjs
