"""Gateways with their own configs: no master key, no deployment key, env references, providers."""
import time

from harness import (UPSTREAM_KEY, chat, chat_stream, check, check_error, eq, marker, request, slow_factor, test,
                     user_msg)


@test
def no_master_key_and_client_key_not_forwarded(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        {"model_name": "up", "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": mock.base_url,
                                                "api_key": UPSTREAM_KEY}},
        {"model_name": "nokey", "litellm_params": {"model": "hosted_vllm/gpt-4o", "api_base": mock.base_url}}],
        "llmux_settings": {"access_log": ""}})
    m = marker("nomk")
    r = chat(gw.port, {"model": "up", "messages": user_msg("x"), "user": m}, auth=None)
    eq(r.status, 200, "no master key: requests need no Authorization")
    eq(request(gw.port, "GET", "/v1/models", auth=None).status, 200, "no master key: /v1/models open")
    m2 = marker("clientkey")
    r = chat(gw.port, {"model": "up", "messages": user_msg("x"), "user": m2}, auth="sk-client-OWNKEY-abc")
    eq(r.status, 200, "any client key accepted without a master key")
    rec = mock.wait_request(m2)
    eq(rec.header_all("authorization"), [f"Bearer {UPSTREAM_KEY}"], "upstream gets the deployment key")
    check(b"sk-client-OWNKEY-abc" not in rec.raw_head, "the client's key was forwarded upstream")
    m3 = marker("nokey")
    r = chat(gw.port, {"model": "nokey", "messages": user_msg("x"), "user": m3}, auth="sk-client-OWNKEY-abc")
    eq(r.status, 200, "deployment without api_key")
    rec = mock.wait_request(m3)
    eq(rec.header_all("authorization"), [], "no Authorization upstream when the deployment has no api_key")
    check(b"sk-client-OWNKEY-abc" not in rec.raw_head, "the client's key was forwarded upstream")


@test
def env_references_in_any_string(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({
        "model_list": [{"model_name": "e", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_base": "os.environ/LLMUX_IT_BASE",
            "api_key": "os.environ/LLMUX_IT_KEY",
            "extra_headers": {"X-From-Env": "os.environ/LLMUX_IT_HDR"}}}],
        "general_settings": {"master_key": "os.environ/LLMUX_IT_MASTER"},
        "llmux_settings": {"access_log": ""}},
        env={"LLMUX_IT_BASE": mock.base_url, "LLMUX_IT_KEY": "sk-env-key-1", "LLMUX_IT_HDR": "hdr-from-env",
             "LLMUX_IT_MASTER": "sk-env-master"})
    m = marker("env")
    r = chat(gw.port, {"model": "e", "messages": user_msg("x"), "user": m}, auth="sk-env-master")
    eq(r.status, 200, f"status ({r.body[:200]!r})")
    rec = mock.wait_request(m)
    eq(rec.header("authorization"), "Bearer sk-env-key-1", "api_key from the environment")
    eq(rec.header("x-from-env"), "hdr-from-env", "extra_headers value from the environment")
    r = chat(gw.port, {"model": "e", "messages": user_msg("x")}, auth="os.environ/LLMUX_IT_MASTER")
    eq(r.status, 401, "the master key is the resolved value, not the reference")


@test
def environment_variables_block(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({
        "environment_variables": {"LLMUX_IT_BLOCK_KEY": "sk-from-block"},
        "model_list": [{"model_name": "b", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_base": mock.base_url, "api_key": "os.environ/LLMUX_IT_BLOCK_KEY"}}],
        "llmux_settings": {"access_log": ""}})
    m = marker("block")
    eq(chat(gw.port, {"model": "b", "messages": user_msg("x"), "user": m}, auth=None).status, 200, "status")
    eq(mock.wait_request(m).header("authorization"), "Bearer sk-from-block", "environment_variables block")


@test
def unsupported_provider_400(ctx):
    gw = ctx.gateway({"model_list": [
        {"model_name": "claude", "litellm_params": {"model": "made_up_ai/some-model", "api_key": "k"}},
        {"model_name": "m", "litellm_params": {"model": "mock/x"}}],
        "llmux_settings": {"access_log": ""}})
    r = chat(gw.port, {"model": "claude", "messages": user_msg("x")}, auth=None)
    check_error(r, 400, code="unsupported_provider")
    s = chat_stream(gw.port, {"model": "claude", "stream": True, "messages": user_msg("x")}, auth=None)
    check_error(s.resp, 400, code="unsupported_provider")
    eq(chat(gw.port, {"model": "m", "messages": user_msg("x")}, auth=None).status, 200, "other groups still work")


@test
def model_info_id_and_index_ids(ctx):
    """x-llmux-deployment: model_info.id, else <model_name>/<index in model_list>."""
    gw = ctx.gateway({"model_list": [
        {"model_name": "a", "litellm_params": {"model": "mock/x"}},
        {"model_name": "b", "litellm_params": {"model": "mock/y"}, "model_info": {"id": "custom-b"}},
        {"model_name": "c", "litellm_params": {"model": "mock/z"}}],
        "llmux_settings": {"access_log": ""}})
    for group, dep in (("a", "a/0"), ("b", "custom-b"), ("c", "c/2")):
        r = chat(gw.port, {"model": group, "messages": user_msg("x")}, auth=None)
        eq(r.status, 200, f"{group} status")
        eq(r.header("x-llmux-deployment"), dep, f"{group} deployment id")
    r = request(gw.port, "GET", "/models", auth=None)
    eq([m["id"] for m in r.json()["data"]], ["a", "b", "c"], "models in file order")


@test
def request_timeout_ms_default(ctx):
    """llmux_settings.request_timeout_ms bounds a non-streaming call when the deployment sets no timeout."""
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [{"model_name": "h", "litellm_params": {
        "model": "openai/gpt-hang", "api_base": mock.base_url, "api_key": "k"}}],
        "llmux_settings": {"request_timeout_ms": 700, "access_log": ""}})
    t0 = time.monotonic()
    r = chat(gw.port, {"model": "h", "messages": user_msg("x")}, auth=None)
    el = time.monotonic() - t0
    check_error(r, 504, "timeout_error", "upstream_timeout")
    check(0.6 <= el <= 4 * slow_factor(), f"504 after {el:.2f}s with request_timeout_ms: 700")
