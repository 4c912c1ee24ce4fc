#!/usr/bin/env bash
# End-to-end: the official OpenAI and Anthropic Node SDKs (pinned in package.json / package-lock.json)
# against a real llmux serving the mock provider, the Python mock OpenAI upstream and the Python
# provider mocks (Anthropic, Gemini, Bedrock; tests/integration/mocks). Everything runs on loopback.
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
if [[ ! -d "$WORK/node_modules/openai" || ! -d "$WORK/node_modules/@anthropic-ai/sdk" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "e2e: npm ci into $WORK"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$WORK/"
  (cd "$WORK" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  echo "$want" >"$stamp"
fi
TESTS=(sdk.test.mjs providers.test.mjs anthropic_sdk.test.mjs)
for t in "${TESTS[@]}"; do cp "$HERE/$t" "$WORK/$t"; done  # ESM resolves the SDKs next to the test files

RUN="$(mktemp -d "${TMPDIR:-/tmp}/llmux-e2e.XXXXXX")"
MOCK_PIDS=()
LLMUX_PID=""
cleanup() {
  local rc=$?
  [[ -n "$LLMUX_PID" ]] && kill "$LLMUX_PID" 2>/dev/null && wait "$LLMUX_PID" 2>/dev/null || true
  local pid
  for pid in ${MOCK_PIDS[@]+"${MOCK_PIDS[@]}"}; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
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

# wait_port NAME PID: waits for $RUN/NAME.port (written by the mock once it listens), prints the port.
wait_port() {
  local name=$1 pid=$2
  for _ in $(seq 200); do
    [[ -s "$RUN/$name.port" ]] && { cat "$RUN/$name.port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "e2e: mock $name did not start" >&2
  cat "$RUN/$name.log" >&2
  return 1
}

# Mock OpenAI upstream.
python3 "$ROOT/tests/integration/mock_openai.py" --port 0 --port-file "$RUN/openai.port" >"$RUN/openai.log" 2>&1 &
MOCK_PIDS+=($!)
MOCK_PORT="$(wait_port openai "${MOCK_PIDS[0]}")"

# Provider mocks (python3 -m mocks PROVIDER), each in its own process; they run from tests/integration.
for p in anthropic gemini bedrock; do
  (cd "$ROOT/tests/integration" && exec python3 -m mocks "$p" --port 0 --port-file "$RUN/$p.port") \
    >"$RUN/$p.log" 2>&1 &
  MOCK_PIDS+=($!)
done
ANTHROPIC_PORT="$(wait_port anthropic "${MOCK_PIDS[1]}")"
GEMINI_PORT="$(wait_port gemini "${MOCK_PIDS[2]}")"
BEDROCK_PORT="$(wait_port bedrock "${MOCK_PIDS[3]}")"
# The credentials the mocks accept (one line each: ANTHROPIC_KEY GEMINI_KEY AKID SECRET REGION).
mapfile -t CREDS < <(cd "$ROOT/tests/integration" && python3 -c '
from mocks import ANTHROPIC_KEY, GEMINI_KEY, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
print("\n".join([ANTHROPIC_KEY, GEMINI_KEY, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION]))')
[[ ${#CREDS[@]} -eq 5 ]] || { echo "e2e: could not read the mock credentials" >&2; exit 1; }

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
  - model_name: upstream-tools
    litellm_params:
      model: openai/gpt-tools
      api_base: http://127.0.0.1:${MOCK_PORT}/v1
      api_key: sk-e2e-upstream
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:${ANTHROPIC_PORT}
      api_key: "${CREDS[0]}"
  - model_name: gemini
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: http://127.0.0.1:${GEMINI_PORT}
      api_key: "${CREDS[1]}"
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      api_base: http://127.0.0.1:${BEDROCK_PORT}
      aws_access_key_id: "${CREDS[2]}"
      aws_secret_access_key: "${CREDS[3]}"
      aws_region_name: "${CREDS[4]}"
general_settings:
  master_key: ${MASTER_KEY}
router_settings:
  # The SDK test checks the provider's 429 reaches the client as-is (no router retries for it).
  model_group_retry_policy:
    upstream-429:
      RateLimitErrorRetries: 0
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

sdk_version() { node -p "require('$WORK/node_modules/$1/package.json').version"; }
echo "e2e: llmux $("$BIN" --version 2>/dev/null | cut -d' ' -f2) on port $PORT; mocks: openai $MOCK_PORT," \
  "anthropic $ANTHROPIC_PORT, gemini $GEMINI_PORT, bedrock $BEDROCK_PORT;" \
  "openai SDK $(sdk_version openai), @anthropic-ai/sdk $(sdk_version @anthropic-ai/sdk)"
cd "$WORK"
LLMUX_URL="http://127.0.0.1:$PORT" LLMUX_MASTER_KEY="$MASTER_KEY" MOCK_OPENAI_URL="http://127.0.0.1:$MOCK_PORT" \
  MOCK_ANTHROPIC_URL="http://127.0.0.1:$ANTHROPIC_PORT" MOCK_GEMINI_URL="http://127.0.0.1:$GEMINI_PORT" \
  MOCK_BEDROCK_URL="http://127.0.0.1:$BEDROCK_PORT" \
  node --test --test-reporter=spec "${TESTS[@]}"
