"""GET /health, background health checks taking failing deployments out of rotation, the router's
Prometheus families and the access log's attempt fields."""
import json
import os
import time

from harness import MASTER_KEY, chat, check, eq, marker, poll, request, test, user_msg
from harness import mock_dep as _dep


def _metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


@test
def health_endpoint_reports_each_deployment(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("good", mock, "gpt-ok"), _dep("bad", mock, "gpt-fault-503"),
                                     {"model_name": "m", "litellm_params": {"model": "mock/x"}}],
                      "general_settings": {"master_key": MASTER_KEY},
                      "llmux_settings": {"access_log": ""}})
    r = request(gw.port, "GET", "/health", auth=None)
    eq(r.status, 401, "needs a key")
    r = request(gw.port, "GET", "/health")
    eq(r.status, 200, "report")
    body = r.json()
    eq((body["healthy_count"], body["unhealthy_count"]), (2, 1), "counts")
    bad = body["unhealthy_endpoints"][0]
    eq((bad["model_name"], bad["model_id"], bad["state"]), ("bad", "bad/1", "unhealthy"), "the failing one")
    check(bad["error"].startswith("503"), f"error names the status ({bad['error']!r})")
    eq(sorted(e["model_name"] for e in body["healthy_endpoints"]), ["good", "m"], "healthy ones")
    check(all(e["checked"] for e in body["healthy_endpoints"]), "checked now (no background checks)")
    probes = [json.loads(x.body) for x in mock.requests if x.path.endswith("/chat/completions")]
    check(any(p.get("max_tokens") == 16 and p["model"] == "gpt-ok" for p in probes), "a minimal probe was sent")


@test
def background_health_checks_take_failing_deployments_out(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-fault-500"), _dep("g", mock, "gpt-fine")],
                      "general_settings": {"background_health_checks": True, "health_check_interval": 1},
                      "router_settings": {"num_retries": 0},
                      "llmux_settings": {"access_log": ""}})

    def checked():
        r = request(gw.port, "GET", "/health")
        return r.status == 200 and r.json()["unhealthy_count"] == 1 and r.json()
    body = poll(checked, timeout=10, what="first background check")
    eq(body["unhealthy_endpoints"][0]["model_id"], "g/0", "the failing deployment")
    m = marker("bg")
    for _ in range(6):
        r = chat(gw.port, {"model": "g", "messages": user_msg("x"), "user": m})
        eq(r.status, 200, "answered")
        eq(r.header("x-llmux-attempts"), "1", "no failing attempt first")
    eq({json.loads(x.body)["model"] for x in mock.find(m)}, {"gpt-fine"}, "only the healthy deployment")
    text = request(gw.port, "GET", "/metrics").text
    eq(_metric(text, "llmux_deployment_healthy", model_group="g", deployment="g/0"), 0.0, "health gauge")
    eq(_metric(text, "llmux_deployment_healthy", model_group="g", deployment="g/1"), 1.0, "health gauge")
    # Shutdown with checks running is clean.
    gw.stop()
    eq(gw.returncode, 0, "clean exit")


@test
def routing_metrics_and_access_log_attempts(ctx):
    mock = ctx.mock()
    log = os.path.join(ctx.tmp, "access.log")
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-m1", order=1), _dep("g", mock, "gpt-m2", order=2),
                                     _dep("fb", mock, "gpt-m3")],
                      "router_settings": {"num_retries": 1, "fallbacks": [{"g": ["fb"]}]},
                      "llmux_settings": {"access_log": log}})
    mock.set_fault("gpt-fault-429-nora", 1, model="gpt-m1")
    m = marker("met")
    r = chat(gw.port, {"model": "g", "messages": user_msg("x"), "user": m})
    eq(r.status, 200, "second deployment answers")
    mock.set_fault("gpt-fault-500", 1, model="gpt-m2")
    # gpt-m1 is cooling down; no retry on gpt-m2 (num_retries 0): the fallback group answers.
    r = chat(gw.port, {"model": "g", "messages": user_msg("x"), "user": m, "num_retries": 0})
    eq((r.status, r.header("x-llmux-model-group")), (200, "fb"), "fallback answers")
    text = request(gw.port, "GET", "/metrics").text
    eq(_metric(text, "llmux_retries_total", model_group="g"), 1.0, "one retry in g")
    eq(_metric(text, "llmux_fallbacks_total", model_group="g"), 1.0, "one fallback from g")
    eq(_metric(text, "llmux_deployment_cooldowns_total", model_group="g", deployment="g/0"), 1.0, "429 cooled g/0")
    eq(_metric(text, "llmux_deployment_cooling_down", model_group="g", deployment="g/0"), 1.0, "still cooling")
    eq(_metric(text, "llmux_deployment_failures_total", model_group="g", deployment="g/1"), 1.0, "g/1 failed once")
    gw.stop()
    lines = [json.loads(x) for x in open(log) if '"/v1/chat/completions"' in x]
    # (Two I/O threads write their own records: sort.)
    eq(sorted((x["attempts"], x["fallback"], x.get("attempt_log")) for x in lines),
       [(2, False, "g/0:429,g/1:200"), (2, True, "g/1:500,fb/2:200")], "attempts in the access log")
