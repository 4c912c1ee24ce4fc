"""OpenAI clients reaching Anthropic deployments (the anthropic adapter through the real binary), and
Anthropic clients reaching any deployment through POST /v1/messages."""
import json

from harness import (chat, chat_stream, check, check_error, deployment, eq, marker, request, test,
                     user_msg)
from mocks import ANTHROPIC_KEY, MockAnthropic

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _anthropic(ctx, **params):
    m = MockAnthropic().start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [
        deployment("claude", "anthropic/claude-sonnet-4-5", api_base=m.base_url, api_key=ANTHROPIC_KEY,
                   **params)],
        "llmux_settings": {"access_log": ""}})
    return m, gw


@test
def anthropic_plain_chat(ctx):
    m, gw = _anthropic(ctx)
    mk = marker("plain")
    r = chat(gw.port, {"model": "claude", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": f"hello {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(j["object"], "chat.completion", "object")
    eq(j["model"], "claude", "model is the client's name")
    eq(j["choices"][0]["message"]["content"], f"hello {mk}", "echoed text")
    eq(j["choices"][0]["finish_reason"], "stop", "finish_reason")
    check(j["usage"]["prompt_tokens"] > 0 and j["usage"]["completion_tokens"] > 0, f"usage {j['usage']}")
    rec = m.wait_request(mk, done=True)
    eq(rec.rejected, None, "the mock accepted the request")
    headers = {k.lower(): v for k, v in rec.headers}
    eq(headers.get("x-api-key"), ANTHROPIC_KEY, "x-api-key")
    eq(headers.get("anthropic-version"), "2023-06-01", "anthropic-version")
    check("authorization" not in headers, "no bearer header to Anthropic")
    eq(rec.json["model"], "claude-sonnet-4-5", "upstream model")
    eq(rec.json["system"] if isinstance(rec.json["system"], str) else rec.json["system"][0]["text"],
       "Be brief.", "system prompt moved to the top level")
    check(isinstance(rec.json.get("max_tokens"), int) and rec.json["max_tokens"] > 0, "a default max_tokens")


@test
def anthropic_stream_with_usage(ctx):
    m, gw = _anthropic(ctx)
    mk = marker("stream")
    s = chat_stream(gw.port, {"model": "claude", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three {mk}")})
    eq(s.resp.status, 200, "status")
    check(s.done, f"ends with [DONE]: {s.describe()}")
    eq(s.content(), f"one two three {mk}", "streamed text")
    chunks = s.json_chunks()
    eq(chunks[0]["choices"][0]["delta"].get("role"), "assistant", "first chunk has the role")
    check(all(c["model"] == "claude" for c in chunks), "model is the client's name in every chunk")
    usage = [c for c in chunks if c.get("usage")]
    eq(len(usage), 1, "one usage chunk")
    eq(usage[0]["choices"], [], "usage chunk has no choices")
    finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")]
    eq(finishes, ["stop"], "one finish_reason")
    eq(m.wait_request(mk, done=True).json.get("stream"), True, "upstream streamed")


@test
def anthropic_tool_round_trip(ctx):
    m, gw = _anthropic(ctx)
    mk = marker("tool")
    r = chat(gw.port, {"model": "claude", "tools": [WEATHER_TOOL], "tool_choice": "auto",
                       "messages": user_msg(f"call tool please {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    msg = r.json()["choices"][0]["message"]
    eq(r.json()["choices"][0]["finish_reason"], "tool_calls", "finish_reason")
    call = msg["tool_calls"][0]
    eq(call["function"]["name"], "get_weather", "tool name")
    eq(json.loads(call["function"]["arguments"]), {"city": "Paris"}, "arguments are a JSON string")
    up = m.wait_request(mk, done=True).json
    eq(up["tools"][0]["name"], "get_weather", "tool sent as Anthropic tool")
    check("input_schema" in up["tools"][0], "input_schema")
    # The tool result goes back as a tool_result block in a user turn.
    mk2 = marker("result")
    r = chat(gw.port, {"model": "claude", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool please {mk2}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    check("sunny" in r.json()["choices"][0]["message"]["content"], f"answer uses the result: {r.json()}")
    up = m.wait_request(mk2, done=True).json
    last = up["messages"][-1]
    eq(last["role"], "user", "tool result in a user turn")
    eq(last["content"][0]["type"], "tool_result", "tool_result block")
    eq(last["content"][0]["tool_use_id"], call["id"], "tool_use_id pairs with the call")


@test
def anthropic_stream_tool_calls(ctx):
    m, gw = _anthropic(ctx)
    mk = marker("stool")
    s = chat_stream(gw.port, {"model": "claude", "stream": True, "tools": [WEATHER_TOOL],
                              "messages": user_msg(f"call tool parallel {mk}")})
    eq(s.resp.status, 200, "status")
    check(s.done, s.describe())
    calls = {}
    for c in s.json_chunks():
        for ch in c["choices"]:
            for tc in (ch.get("delta") or {}).get("tool_calls") or []:
                slot = calls.setdefault(tc["index"], {"name": "", "args": ""})
                slot["name"] += (tc.get("function") or {}).get("name") or ""
                slot["args"] += (tc.get("function") or {}).get("arguments") or ""
    eq(sorted(calls), [0, 1], "two parallel calls")
    eq([json.loads(calls[i]["args"]) for i in (0, 1)], [{"city": "Paris"}, {"city": "Rome"}], "arguments")


@test
def anthropic_errors_and_retries(ctx):
    m, gw = _anthropic(ctx)
    m.set_fault("fault-429", 1)
    r = chat(gw.port, {"model": "claude", "messages": user_msg("x")})
    check_error(r, 429, code="rate_limit_exceeded")
    check(r.header("retry-after") is not None, "retry-after carried over")
    m.set_fault("fault-529", 1)
    r = chat(gw.port, {"model": "claude", "messages": user_msg("x")})
    eq(r.status, 529, f"overloaded status kept ({r.body[:200]!r})")
    eq(r.json()["error"]["type"], "overloaded_error", "type")
    m.set_fault("fault-401", 1)
    check_error(chat(gw.port, {"model": "claude", "messages": user_msg("x")}), 401, type_="authentication_error")
    # max_retries: 529 overloaded is retried.
    m2, gw2 = _anthropic(ctx, max_retries=2)
    m2.set_fault("fault-529-ra0", 2)
    mk = marker("retry")
    r = chat(gw2.port, {"model": "claude", "messages": user_msg(f"after retries {mk}")}, timeout=30)
    eq(r.status, 200, f"third attempt succeeds ({r.body[:200]!r})")
    eq(r.json()["choices"][0]["message"]["content"], f"after retries {mk}", "answer")


@test
def anthropic_stream_faults(ctx):
    m, gw = _anthropic(ctx)
    for fault, code in (("error-mid-stream", None), ("truncated-stream", "upstream_stream_truncated")):
        m.set_fault(fault, 1)
        s = chat_stream(gw.port, {"model": "claude", "stream": True, "messages": user_msg("a b c d e f g")})
        eq(s.resp.status, 200, f"{fault}: status")
        check(s.ended, f"{fault}: the client stream ends cleanly: {s.describe()}")
        last = json.loads(s.data[-1])
        check("error" in last, f"{fault}: ends with an error event: {s.data[-2:]}")
        if code:
            eq(last["error"]["code"], code, f"{fault}: code")
        check(not s.done, f"{fault}: no [DONE] after an error")


@test
def drop_params_header_and_400(ctx):
    m, gw = _anthropic(ctx)
    r = chat(gw.port, {"model": "claude", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    check_error(r, 400, code="unsupported_parameter", param="logit_bias", msg_contains="anthropic")
    mk = marker("drop")
    r = chat(gw.port, {"model": "claude", "messages": user_msg(f"x {mk}"), "logit_bias": {"1": 2},
                       "drop_params": True})
    eq(r.status, 200, f"dropped ({r.body[:200]!r})")
    eq(r.header("x-llmux-dropped-params"), "logit_bias", "dropped params listed")
    check("logit_bias" not in m.wait_request(mk, done=True).json, "not sent upstream")
    m2, gw2 = _anthropic(ctx, drop_params=True)
    r = chat(gw2.port, {"model": "claude", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    eq(r.status, 200, "drop_params in litellm_params")


def _messages(port, body, stream=False, headers=None):
    h = {"x-api-key": "whatever", "anthropic-version": "2023-06-01"}
    h.update(headers or {})
    if stream:
        return chat_stream(port, body, path="/v1/messages", headers=h, auth=None)
    return request(port, "POST", "/v1/messages", body, headers=h, auth=None)


@test
def messages_passthrough_keeps_anthropic_fidelity(ctx):
    # A group served by Anthropic alone: the body goes upstream as the client wrote it (model
    # replaced), with the client's anthropic-version and anthropic-beta, and the answer comes back
    # byte for byte: stop_sequence, thinking signatures and cache counts survive.
    m = MockAnthropic().start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [
        deployment("claude", "anthropic/claude-sonnet-4-5", api_base=m.base_url, api_key=ANTHROPIC_KEY)],
        "llmux_settings": {"access_log": ""}})
    mk = marker("pt")
    body = {"model": "claude", "max_tokens": 2000, "stop_sequences": ["three"],
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": [{"type": "text", "text": f"one two three four {mk}",
                                                       "cache_control": {"type": "ephemeral"}}]}]}
    r = _messages(gw.port, body, headers={"anthropic-beta": "interleaved-thinking-2025-05-14"})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    rec = m.wait_request(mk, done=True)
    eq(r.body, rec.response_body if isinstance(rec.response_body, bytes) else rec.response_body.encode(),
       "the answer is the upstream's bytes")
    eq(j["stop_reason"], "stop_sequence", "stop_reason kept")
    eq(j["stop_sequence"], "three", "stop_sequence kept")
    thinking = [b for b in j["content"] if b["type"] == "thinking"]
    check(thinking and thinking[0].get("signature"), f"thinking signature kept: {j['content']}")
    headers = {k.lower(): v for k, v in rec.headers}
    eq(headers.get("anthropic-beta"), "interleaved-thinking-2025-05-14", "anthropic-beta forwarded")
    eq(headers.get("x-api-key"), ANTHROPIC_KEY, "the deployment's key upstream")
    eq(rec.json["model"], "claude-sonnet-4-5", "model replaced")
    eq(rec.json["messages"][0]["content"][0]["cache_control"], {"type": "ephemeral"}, "body otherwise as sent")
    s = _messages(gw.port, dict(body, stream=True), stream=True)
    eq(s.resp.status, 200, "stream status")
    names = [e["event"] for e in s.events if e["event"]]
    eq((names[0], names[-1]), ("message_start", "message_stop"), f"events {names}")
    check("signature_delta" in "".join(e["data"] or "" for e in s.events), "signature deltas relayed")
    # count_tokens is Anthropic's own count, not llmux's estimate.
    mk2 = marker("ct")
    r = request(gw.port, "POST", "/v1/messages/count_tokens",
                {"model": "claude", "messages": user_msg(f"one two three {mk2}")},
                headers={"anthropic-version": "2023-06-01"}, auth=None)
    eq(r.status, 200, f"count_tokens ({r.body[:200]!r})")
    rec = m.wait_request(mk2, done=True)
    check(rec.path.endswith("/v1/messages/count_tokens"), f"asked upstream: {rec.path}")
    eq(r.body, rec.response_body if isinstance(rec.response_body, bytes) else rec.response_body.encode(),
       "Anthropic's count relayed")
    # An upstream failure mid-stream stays an Anthropic error event.
    m.set_fault("truncated-stream", 1)
    s = _messages(gw.port, dict(body, stream=True), stream=True)
    eq(s.events[-1]["event"], "error", f"truncation becomes an error event: {s.data[-2:]}")
    eq(json.loads(s.events[-1]["data"])["type"], "error", "Anthropic error shape")


@test
def messages_api_backed_by_anthropic_and_openai(ctx):
    m = MockAnthropic().start()
    ctx.cleanups.append(m.stop)
    oa = ctx.mock()
    gw = ctx.gateway({"model_list": [
        deployment("claude", "anthropic/claude-sonnet-4-5", api_base=m.base_url, api_key=ANTHROPIC_KEY),
        deployment("gpt", "openai/gpt-4o-mini", api_base=oa.base_url, api_key="sk-up")],
        "general_settings": {"master_key": "sk-gw-master"},
        "llmux_settings": {"access_log": ""}})
    for model in ("claude", "gpt"):
        mk = marker(model)
        body = {"model": model, "max_tokens": 200, "system": "Be brief.",
                "messages": [{"role": "user", "content": f"hi there {mk}"}]}
        r = _messages(gw.port, body, headers={"x-api-key": "sk-gw-master"})
        eq(r.status, 200, f"{model}: status ({r.body[:300]!r})")
        j = r.json()
        # Anthropic-backed groups are relayed as they are (the upstream's model id); translated
        # answers carry the client's model name.
        want_model = "claude-sonnet-4-5" if model == "claude" else model
        eq((j["type"], j["role"], j["model"]), ("message", "assistant", want_model), f"{model}: message shape")
        eq(j["content"][0]["type"], "text", f"{model}: text block")
        expect = mk if model == "claude" else "Hello from the mock upstream"
        check(expect in j["content"][0]["text"], f"{model}: text {j['content']}")
        if model == "gpt":
            up = json.loads(oa.find(mk)[0].body)
            eq(up["messages"][0], {"role": "system", "content": "Be brief."}, "system message")
            eq(up["max_tokens"], 200, "max_tokens")
        eq(j["stop_reason"], "end_turn", f"{model}: stop_reason")
        check(j["usage"]["output_tokens"] > 0, f"{model}: usage")
        s = _messages(gw.port, dict(body, stream=True), stream=True, headers={"x-api-key": "sk-gw-master"})
        eq(s.resp.status, 200, f"{model}: stream status")
        names = [e["event"] for e in s.events if e["event"]]
        eq(names[0], "message_start", f"{model}: first event")
        eq(names[-2:], ["message_delta", "message_stop"], f"{model}: last events")
        check("ping" in names and "content_block_start" in names, f"{model}: events {names}")
        text = "".join(json.loads(e["data"])["delta"].get("text", "") for e in s.events
                       if e["event"] == "content_block_delta")
        check(expect in text, f"{model}: streamed text {text!r}")
    # Anthropic-shaped errors: auth, unknown model, missing max_tokens.
    r = _messages(gw.port, {"model": "claude", "max_tokens": 5, "messages": user_msg("x")},
                  headers={"x-api-key": "wrong"})
    eq(r.status, 401, "bad key")
    eq(r.json()["type"], "error", "Anthropic error envelope")
    eq(r.json()["error"]["type"], "authentication_error", "error type")
    r = _messages(gw.port, {"model": "nope", "max_tokens": 5, "messages": user_msg("x")},
                  headers={"x-api-key": "sk-gw-master"})
    eq((r.status, r.json()["error"]["type"]), (404, "not_found_error"), "unknown model")
    for model in ("claude", "gpt"):  # relayed (Anthropic answers) and translated (llmux answers)
        r = _messages(gw.port, {"model": model, "messages": user_msg("x")}, headers={"x-api-key": "sk-gw-master"})
        eq((r.status, r.json()["type"], r.json()["error"]["type"]), (400, "error", "invalid_request_error"),
           f"{model}: max_tokens required")
        check("max_tokens" in r.json()["error"]["message"], f"{model}: names max_tokens: {r.body[:200]!r}")
    r = request(gw.port, "POST", "/v1/messages/count_tokens",
                {"model": "claude", "messages": user_msg("hello world, how are you")},
                headers={"x-api-key": "sk-gw-master"}, auth=None)
    eq(r.status, 200, "count_tokens")
    check(r.json()["input_tokens"] > 0, f"count {r.json()}")
