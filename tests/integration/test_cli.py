"""The command line: --version, --help, check-config, serve flags."""
import os
import re

from harness import Conn, chat, check, eq, free_port, poll, run_cli, test, user_msg

GOOD = """\
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: sk-x
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-y
  - model_name: local
    litellm_params:
      model: hosted_vllm/llama
      api_base: http://127.0.0.1:8000/v1
general_settings:
  master_key: sk-1234
"""

WARN_EXTRA = """\
router_settings:
  routing_strategy: usage-based-routing-v2
  redis_host: localhost
litellm_settings:
  success_callback: ["langfuse"]
"""

BAD = """\
model_list:
  - model_name: ok
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-x
  - model_name: bad-timeout
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-x
      timeout: "not-a-number"
  - model_name: no-model
    litellm_params:
      api_key: sk-x
  - model_name: vllm-no-base
    litellm_params:
      model: hosted_vllm/llama
llmux_settings:
  port: "not-a-port"
"""


def _write(ctx, name, text):
    p = os.path.join(ctx.tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def _out(p):
    return (p.stdout or "") + (p.stderr or "")


@test
def cli_version(ctx):
    p = run_cli(["--version"])
    eq(p.returncode, 0, f"--version exit code ({_out(p)!r})")
    check(re.fullmatch(r"llmux \S+\n?", p.stdout), f"--version should print `llmux <version>`: {p.stdout!r}")


@test
def cli_help(ctx):
    for args in (["--help"], ["serve", "--help"], ["check-config", "--help"]):
        p = run_cli(args)
        eq(p.returncode, 0, f"{' '.join(args)} exit code ({_out(p)[:300]!r})")
        check(len(_out(p).strip()) > 10, f"{' '.join(args)} prints help")
    p = run_cli(["check-config", "--help"])
    check("check-config" in _out(p), "check-config --help mentions the command")


@test
def cli_unknown_command_fails(ctx):
    p = run_cli(["frobnicate"])
    check(p.returncode != 0, "an unknown command should exit non-zero")
    p = run_cli(["serve"])  # no --config
    check(p.returncode != 0, "serve without --config should exit non-zero")


@test
def check_config_good(ctx):
    path = _write(ctx, "good.yaml", GOOD)
    p = run_cli(["check-config", path])
    eq(p.returncode, 0, f"exit code ({_out(p)!r})")
    check("OK: 3 deployments in 2 model groups" in _out(p), f"summary line: {_out(p)!r}")
    check("warning:" not in _out(p), f"no warnings expected for a plain config: {_out(p)!r}")


@test
def check_config_warnings(ctx):
    text = GOOD + WARN_EXTRA
    path = _write(ctx, "warn.yaml", text)
    lines = text.splitlines()
    p = run_cli(["check-config", path])
    eq(p.returncode, 0, f"accepted-but-unimplemented keys are warnings, not errors ({_out(p)!r})")
    check("OK: 3 deployments in 2 model groups" in _out(p), f"summary line: {_out(p)!r}")
    warns = [ln for ln in _out(p).splitlines() if ln.startswith("warning:")]
    check(warns, f"expected warnings for router_settings / litellm_settings keys: {_out(p)!r}")
    for w in warns:
        m = re.match(r"^warning: (.+?):(\d+): ([A-Za-z0-9_.\[\]-]+): (.+)$", w)
        check(m, f"warning line should be `warning: file:line: path: message`: {w!r}")
        eq(m.group(1), path, "warning file")
        n = int(m.group(2))
        check(1 <= n <= len(lines), f"warning line number {n} out of range: {w!r}")
        key = re.split(r"[.\[]", m.group(3))[-1].rstrip("]")
        check(key in lines[n - 1], f"line {n} ({lines[n - 1]!r}) does not hold key {key!r}: {w!r}")


@test
def check_config_bad(ctx):
    path = _write(ctx, "bad.yaml", BAD)
    p = run_cli(["check-config", path])
    eq(p.returncode, 1, f"exit code ({_out(p)!r})")
    probs = []
    for ln in _out(p).splitlines():
        m = re.match(r"^(.+?):(\d+): ([A-Za-z0-9_.\[\]-]+): (.+)$", ln)
        if m and m.group(1) == path:
            probs.append((int(m.group(2)), m.group(3), m.group(4)))
    check(probs, f"no `file:line: path: message` lines: {_out(p)!r}")

    def has(path_prefix, lines_ok):
        return any(pp.startswith(path_prefix) and ln in lines_ok for ln, pp, _ in probs)
    expect = [("model_list[1].litellm_params.timeout", {10}),
              ("model_list[2].litellm_params", {11, 12, 13}),
              ("model_list[3].litellm_params", {14, 15, 16}),
              ("llmux_settings.port", {18})]
    for pp, lines_ok in expect:
        check(has(pp, lines_ok), f"expected a problem for {pp} on line {sorted(lines_ok)}; got {probs}")
    check(not any(pp.startswith("model_list[0]") for _, pp, _ in probs), f"model_list[0] is fine: {probs}")


@test
def check_config_yaml_syntax_error(ctx):
    path = _write(ctx, "syntax.yaml", "model_list:\n  - model_name: x\n    litellm_params: {model: openai/x\n")
    p = run_cli(["check-config", path])
    eq(p.returncode, 1, f"exit code ({_out(p)!r})")
    check(re.search(rf"^{re.escape(path)}:\d+:", _out(p), re.M), f"file:line in the message: {_out(p)!r}")


@test
def check_config_missing_file(ctx):
    path = os.path.join(ctx.tmp, "does-not-exist.yaml")
    p = run_cli(["check-config", path])
    eq(p.returncode, 1, f"exit code ({_out(p)!r})")
    check(path in _out(p), f"the message should name the file: {_out(p)!r}")


@test
def serve_bad_config_exits_nonzero(ctx):
    path = _write(ctx, "bad.yaml", BAD)
    p = run_cli(["serve", "--config", path, "--port", str(free_port())], timeout=20)
    check(p.returncode != 0, "serve with a bad config should exit non-zero")
    check("model_list[1].litellm_params.timeout" in _out(p), f"serve should print the problems: {_out(p)[-500:]!r}")


@test
def serve_flags_and_listening_line(ctx):
    cfg_port = free_port()
    gw = ctx.gateway({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
                      "llmux_settings": {"host": "0.0.0.0", "port": cfg_port, "access_log": ""}},
                     args=["--workers", "1"])
    check(gw.port != cfg_port, "fixture")
    poll(lambda: f"llmux listening on 127.0.0.1:{gw.port}" in gw.stderr_text(), timeout=5,
         what=f"`llmux listening on 127.0.0.1:{gw.port}` on stderr")
    r = chat(gw.port, {"model": "m", "messages": user_msg("x")}, auth=None)
    eq(r.status, 200, "served on the --port port")
    try:
        Conn(cfg_port, timeout=1).close()
        raise AssertionError("llmux_settings.port should be overridden by --port")
    except OSError:
        pass


@test
def shipped_configs_are_valid(ctx):
    """The configs the repository ships (make run's quickstart, make bench's) always load."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for rel, summary in (("examples/quickstart.yaml", "OK: 6 deployments in 6 model groups"),
                         ("bench/gateway.yaml", "OK: 10 deployments in 6 model groups")):
        p = run_cli(["check-config", os.path.join(root, rel)])
        eq(p.returncode, 0, f"{rel}: exit code ({_out(p)!r})")
        check(summary in _out(p), f"{rel}: {_out(p)!r}")
