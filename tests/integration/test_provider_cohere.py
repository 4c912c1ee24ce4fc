"""OpenAI clients reaching Cohere (v2 /v2/chat) deployments through the real binary."""
import json

from harness import (chat, chat_stream, check, check_error, deployment, eq, marker, test, user_msg)
from mocks import COHERE_KEY, MockCohere

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

MODEL = "command-r-plus-08-2024"


def _cohere(ctx, model=MODEL, name="llmux", env=None, prefix="cohere_chat", **params):
    m = MockCohere().start()
    ctx.cleanups.append(m.stop)
    params.setdefault("api_key", COHERE_KEY)
    params = {k: v for k, v in params.items() if v is not None}
    gw = ctx.gateway({"model_list": [deployment("co", f"{prefix}/{model}", api_base=m.origin, **params)],
                      "llmux_settings": {"access_log": ""}}, name=name, env=env)
    return m, gw


def _finishes(s):
    return [ch["finish_reason"] for c in s.json_chunks() for ch in c["choices"] if ch.get("finish_reason")]


@test
def cohere_plain_chat(ctx):
    m, gw = _cohere(ctx)
    mk = marker("plain")
    r = chat(gw.port, {"model": "co", "temperature": 0.4, "max_tokens": 64, "stop": "zzz", "seed": 5,
                       "messages": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": f"hello cohere {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["object"], "chat.completion", "object")
    eq(j["model"], "co", "model is the client's name")
    eq(j["choices"][0]["message"]["content"], f"hello cohere {mk}", "echoed text")
    eq(j["choices"][0]["finish_reason"], "stop", "COMPLETE → stop")
    rec = m.wait_request(mk, done=True)
    eq(rec.rejected, None, "the mock accepted the request")
    # wire_formats.md: usage from `tokens` (everything processed, prompt template included), not billed_units.
    toks = rec.usage["tokens"]
    eq(j["usage"]["prompt_tokens"], toks["input_tokens"], "prompt_tokens = tokens.input_tokens")
    eq(j["usage"]["completion_tokens"], toks["output_tokens"], "completion_tokens")
    eq(j["usage"]["total_tokens"], toks["input_tokens"] + toks["output_tokens"], "total")
    eq(rec.path, "/v2/chat", "path")
    eq(rec.header("authorization"), f"Bearer {COHERE_KEY}", "bearer key")
    b = rec.json
    eq(b["model"], MODEL, "upstream model")
    eq(b["messages"][0], {"role": "system", "content": "Be brief."}, "system message")
    eq(b["messages"][1]["role"], "user", "user message")
    eq(b.get("temperature"), 0.4, "temperature")
    eq(b.get("max_tokens"), 64, "max_tokens")
    eq(b.get("stop_sequences"), ["zzz"], "stop → stop_sequences")
    eq(b.get("seed"), 5, "seed")
    check(b.get("stream") in (None, False), f"not streamed: {b.get('stream')!r}")
    # The `cohere/` prefix is the same adapter.
    m2, gw2 = _cohere(ctx, prefix="cohere", name="cohere")
    mk2 = marker("prefix")
    r = chat(gw2.port, {"model": "co", "messages": user_msg(f"hi {mk2}")})
    eq((r.status, r.json()["choices"][0]["message"]["content"]), (200, f"hi {mk2}"), "cohere/ prefix")
    eq(m2.wait_request(mk2, done=True).path, "/v2/chat", "cohere/ → /v2/chat")


@test
def cohere_top_p_and_max_completion_tokens(ctx):
    m, gw = _cohere(ctx)
    mk = marker("p")
    r = chat(gw.port, {"model": "co", "top_p": 1, "max_completion_tokens": 3,
                       "messages": user_msg(f"one two three four five {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["choices"][0]["finish_reason"], "length", "MAX_TOKENS → length")
    eq(r.json()["choices"][0]["message"]["content"], "one two three ", "cut at max tokens")
    b = m.wait_request(mk, done=True).json
    eq(b.get("p"), 0.99, "top_p 1 → p 0.99 (Cohere's maximum)")
    eq(b.get("max_tokens"), 3, "max_completion_tokens → max_tokens")
    check("top_p" not in b and "max_completion_tokens" not in b, "no OpenAI-only fields")


@test
def cohere_stream_with_usage(ctx):
    m, gw = _cohere(ctx)
    mk = marker("stream")
    s = chat_stream(gw.port, {"model": "co", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three four {mk}")})
    eq(s.resp.status, 200, f"status {s.describe()}")
    check(s.done, f"ends with [DONE]: {s.describe()}")
    eq(s.content(), f"one two three four {mk}", "streamed text")
    chunks = s.json_chunks()
    eq(chunks[0]["choices"][0]["delta"].get("role"), "assistant", "first chunk has the role")
    check(all(c["model"] == "co" for c in chunks), "model is the client's name in every chunk")
    check(all(c["object"] == "chat.completion.chunk" for c in chunks), "objects")
    usage = [c for c in chunks if c.get("usage")]
    eq(len(usage), 1, "one usage chunk")
    eq(usage[0]["choices"], [], "usage chunk has no choices")
    rec = m.wait_request(mk, done=True)
    eq(rec.json.get("stream"), True, "upstream streamed")
    check("stream_options" not in rec.json, "stream_options not sent to Cohere (it rejects unknown fields)")
    eq(usage[0]["usage"]["prompt_tokens"], rec.usage["tokens"]["input_tokens"], "prompt tokens")
    eq(usage[0]["usage"]["completion_tokens"], rec.usage["tokens"]["output_tokens"], "completion tokens")
    eq(_finishes(s), ["stop"], "one finish_reason")
    mk2 = marker("nousage")
    s = chat_stream(gw.port, {"model": "co", "stream": True, "messages": user_msg(f"a b {mk2}")})
    check(s.done, s.describe())
    check(not any(c.get("usage") for c in s.json_chunks()), "no usage chunk unless asked")


@test
def cohere_tool_round_trip(ctx):
    m, gw = _cohere(ctx)
    mk = marker("tool")
    r = chat(gw.port, {"model": "co", "tools": [WEATHER_TOOL], "tool_choice": "auto",
                       "messages": user_msg(f"call tool please {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["choices"][0]["finish_reason"], "tool_calls", "TOOL_CALL → tool_calls")
    msg = j["choices"][0]["message"]
    call = msg["tool_calls"][0]
    eq(call["type"], "function", "type")
    eq(call["function"]["name"], "get_weather", "tool name")
    eq(json.loads(call["function"]["arguments"]), {"city": "Paris"}, "arguments are a JSON string")
    rec = m.wait_request(mk, done=True)
    eq(call["id"], f"get_weather_mock{rec.seq:04d}0", "Cohere's call id kept")
    up = rec.json
    eq(up["tools"][0]["type"], "function", "tool type")
    eq(up["tools"][0]["function"]["name"], "get_weather", "tool name sent")
    eq(up["tools"][0]["function"]["parameters"]["properties"], {"city": {"type": "string"}}, "parameters")
    check("tool_choice" not in up, "auto is Cohere's default: not sent (Cohere rejects \"auto\")")
    mk2 = marker("result")
    r = chat(gw.port, {"model": "co", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool please {mk2}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["choices"][0]["message"]["content"], "Tool result: sunny, 21C", "answer uses the result")
    rec = m.wait_request(mk2, done=True)
    eq(rec.rejected, None, "accepted")
    msgs = rec.json["messages"]
    eq([x["role"] for x in msgs], ["user", "assistant", "tool"], "roles")
    eq(msgs[1]["tool_calls"][0]["id"], call["id"], "assistant tool call id")
    eq(msgs[2]["tool_call_id"], call["id"], "tool message answers the call")
    check("sunny, 21C" in json.dumps(msgs[2]["content"]), f"result content {msgs[2]}")
    # tool_choice required → REQUIRED; a named function cannot be forced on Cohere.
    mk3 = marker("req")
    r = chat(gw.port, {"model": "co", "tools": [WEATHER_TOOL], "tool_choice": "required",
                       "messages": user_msg(f"go {mk3}")})
    eq(r.json()["choices"][0]["finish_reason"], "tool_calls", "forced call")
    eq(m.wait_request(mk3, done=True).json["tool_choice"], "REQUIRED", "required → REQUIRED")
    r = chat(gw.port, {"model": "co", "tools": [WEATHER_TOOL], "messages": user_msg("go"),
                       "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    check_error(r, 400, code="unsupported_parameter", param="tool_choice")


@test
def cohere_stream_tool_calls(ctx):
    m, gw = _cohere(ctx)
    mk = marker("stool")
    s = chat_stream(gw.port, {"model": "co", "stream": True, "tools": [WEATHER_TOOL],
                              "messages": user_msg(f"call tool parallel {mk}")})
    eq(s.resp.status, 200, "status")
    check(s.done, s.describe())
    calls = {}
    for c in s.json_chunks():
        for ch in c["choices"]:
            for tc in (ch.get("delta") or {}).get("tool_calls") or []:
                slot = calls.setdefault(tc["index"], {"id": "", "name": "", "args": ""})
                slot["id"] += tc.get("id") or ""
                slot["name"] += (tc.get("function") or {}).get("name") or ""
                slot["args"] += (tc.get("function") or {}).get("arguments") or ""
    eq(sorted(calls), [0, 1], "two parallel calls")
    eq([json.loads(calls[i]["args"]) for i in (0, 1)], [{"city": "Paris"}, {"city": "Rome"}], "arguments")
    eq([calls[i]["name"] for i in (0, 1)], ["get_weather"] * 2, "names")
    check(calls[0]["id"] and calls[0]["id"] != calls[1]["id"], f"ids {calls}")
    eq(s.content(), "I will call get_weather.", "tool plan streamed as content")
    eq(_finishes(s), ["tool_calls"], "finish_reason")


@test
def cohere_json_schema(ctx):
    m, gw = _cohere(ctx)
    mk = marker("json")
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    r = chat(gw.port, {"model": "co", "messages": user_msg(f"give json {mk}"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "echo", "schema": schema, "strict": True}}})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(json.loads(r.json()["choices"][0]["message"]["content"]), {"echo": f"give json {mk}", "mock": "cohere"},
       "JSON answer")
    rf = m.wait_request(mk, done=True).json["response_format"]
    eq(rf, {"type": "json_object", "json_schema": schema}, "json_schema → json_object with the schema")
    mk2 = marker("jobj")
    r = chat(gw.port, {"model": "co", "messages": user_msg(f"json {mk2}"), "response_format": {"type": "json_object"}})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(m.wait_request(mk2, done=True).json["response_format"], {"type": "json_object"}, "json_object")


@test
def cohere_reasoning_effort(ctx):
    m, gw = _cohere(ctx, model="command-a-reasoning-08-2025")
    mk = marker("think")
    r = chat(gw.port, {"model": "co", "reasoning_effort": "low", "messages": user_msg(f"ponder this {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    msg = r.json()["choices"][0]["message"]
    eq(msg["content"], f"ponder this {mk}", "answer")
    eq(msg.get("reasoning_content"), f"Thinking about: ponder this {mk}", "thinking → reasoning_content")
    eq(m.wait_request(mk, done=True).json["thinking"], {"type": "enabled", "token_budget": 4096}, "thinking sent")
    mk2 = marker("sthink")
    s = chat_stream(gw.port, {"model": "co", "stream": True, "reasoning_effort": "high",
                              "messages": user_msg(f"deep {mk2}")})
    check(s.done, s.describe())
    reasoning = "".join((ch.get("delta") or {}).get("reasoning_content") or ""
                        for c in s.json_chunks() for ch in c["choices"])
    eq(reasoning, f"Thinking about: deep {mk2}", "streamed reasoning_content")
    eq(s.content(), f"deep {mk2}", "streamed content")
    mk3 = marker("none")
    r = chat(gw.port, {"model": "co", "reasoning_effort": "none", "messages": user_msg(f"quick {mk3}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    check(not r.json()["choices"][0]["message"].get("reasoning_content"), "no reasoning")
    eq(m.wait_request(mk3, done=True).json["thinking"], {"type": "disabled"}, "none → disabled")


@test
def cohere_errors(ctx):
    m, gw = _cohere(ctx)
    m.set_fault("fault-429", 1)
    r = chat(gw.port, {"model": "co", "messages": user_msg("x")})
    e = check_error(r, 429, type_="rate_limit_error", code="rate_limit_exceeded")
    check("per minute" in e["message"], f"Cohere's message kept: {e}")
    m.set_fault("fault-429-ra4", 1)
    r = chat(gw.port, {"model": "co", "messages": user_msg("x")})
    check_error(r, 429, code="rate_limit_exceeded")
    eq(r.header("retry-after"), "4", "Retry-After passed through")
    m.set_fault("fault-503", 1)
    check_error(chat(gw.port, {"model": "co", "messages": user_msg("x")}), 503, type_="service_unavailable_error")
    m.set_fault("fault-500", 1)
    check_error(chat(gw.port, {"model": "co", "messages": user_msg("x")}), 500)
    m.set_fault("fault-498", 1)
    check_error(chat(gw.port, {"model": "co", "messages": user_msg("x")}), 401, type_="authentication_error",
                code="invalid_api_key")
    m.configure(api_key="other")
    check_error(chat(gw.port, {"model": "co", "messages": user_msg("x")}), 401, type_="authentication_error",
                code="invalid_api_key")
    m.configure(api_key=COHERE_KEY)
    m2, gw2 = _cohere(ctx, model="command-notfound", name="nf")
    check_error(chat(gw2.port, {"model": "co", "messages": user_msg("x")}), 404, code="model_not_found")
    mk = marker("ok")
    r = chat(gw.port, {"model": "co", "messages": user_msg(f"fine {mk}")})
    eq((r.status, r.json()["choices"][0]["message"]["content"]), (200, f"fine {mk}"), "recovered")


@test
def cohere_stream_faults(ctx):
    m, gw = _cohere(ctx)
    for fault, code in (("error-mid-stream", None), ("truncated-stream", "upstream_stream_truncated"),
                        ("truncated-mid-event", "upstream_stream_truncated"),
                        ("reset-mid-stream", "upstream_connection_reset")):
        m.set_fault(fault, 1)
        s = chat_stream(gw.port, {"model": "co", "stream": True, "messages": user_msg("a b c d e f g h i j")})
        eq(s.resp.status, 200, f"{fault}: status")
        check(s.ended, f"{fault}: the client stream ends cleanly: {s.describe()}")
        last = json.loads(s.data[-1])
        check("error" in last, f"{fault}: ends with an error event: {s.data[-2:]}")
        if code:
            eq(last["error"]["code"], code, f"{fault}: code")
        else:
            check("internal server error" in last["error"]["message"], f"{fault}: Cohere's message: {last}")
        check(not s.done, f"{fault}: no [DONE] after an error")


@test
def cohere_drop_params(ctx):
    m, gw = _cohere(ctx)
    r = chat(gw.port, {"model": "co", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    check_error(r, 400, code="unsupported_parameter", param="logit_bias", msg_contains="cohere")
    r = chat(gw.port, {"model": "co", "messages": user_msg("x"), "n": 2})
    check_error(r, 400, code="unsupported_parameter", param="n")
    eq(len(m.api_requests()), 0, "nothing sent upstream")
    mk = marker("drop")
    r = chat(gw.port, {"model": "co", "messages": user_msg(f"x {mk}"), "logit_bias": {"1": 2}, "n": 2,
                       "drop_params": True})
    eq(r.status, 200, f"dropped ({r.body[:300]!r})")
    eq(r.header("x-llmux-dropped-params"), "logit_bias, n", "dropped params listed in body order")
    rec = m.wait_request(mk, done=True)
    eq(rec.rejected, None, "accepted (Cohere rejects unknown fields)")
    check("logit_bias" not in rec.json and "n" not in rec.json, "not sent upstream")
    # OpenAI fields without a Cohere meaning are left out rather than breaking the call.
    mk2 = marker("ignored")
    r = chat(gw.port, {"model": "co", "messages": user_msg(f"y {mk2}"), "user": "u1", "store": False,
                       "metadata": {"a": "b"}})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(m.wait_request(mk2, done=True).rejected, None, "accepted")
    m2, gw2 = _cohere(ctx, drop_params=True, name="dp")
    r = chat(gw2.port, {"model": "co", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    eq(r.status, 200, "drop_params in litellm_params")
    eq(r.header("x-llmux-dropped-params"), "logit_bias", "header")


@test
def cohere_key_from_env(ctx):
    for var in ("COHERE_API_KEY", "CO_API_KEY"):
        m, gw = _cohere(ctx, api_key=None, name=var.lower(), env={"COHERE_API_KEY": "", "CO_API_KEY": "",
                                                                 var: COHERE_KEY})
        mk = marker(var)
        r = chat(gw.port, {"model": "co", "messages": user_msg(f"env {mk}")})
        eq(r.status, 200, f"{var}: status ({r.body[:300]!r})")
        eq(m.wait_request(mk, done=True).header("authorization"), f"Bearer {COHERE_KEY}", f"{var}: bearer")
