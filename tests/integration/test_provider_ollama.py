"""OpenAI clients reaching Ollama through the real binary: ollama_chat/ → /api/chat, ollama/ →
/api/generate, NDJSON streams turned into SSE."""
import json

from harness import (chat, chat_stream, check, check_error, deployment, eq, marker, test, user_msg)
from mocks import MockOllama

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

MODEL = "llama3.2:latest"


def _ollama(ctx, model=MODEL, prefix="ollama_chat", mock=None, name="llmux", env=None, **params):
    m = mock or MockOllama().start()
    if mock is None:
        ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [deployment("ol", f"{prefix}/{model}", api_base=m.origin, **params)],
                      "llmux_settings": {"access_log": ""}}, name=name,
                     env=dict({"OLLAMA_API_KEY": ""}, **(env or {})))
    return m, gw


def _finishes(s):
    return [ch["finish_reason"] for c in s.json_chunks() for ch in c["choices"] if ch.get("finish_reason")]


@test
def ollama_chat_plain(ctx):
    m, gw = _ollama(ctx)
    mk = marker("plain")
    r = chat(gw.port, {"model": "ol", "temperature": 0.2, "top_p": 0.5, "seed": 3, "max_tokens": 50,
                       "stop": "zzz", "messages": [{"role": "system", "content": "Be brief."},
                                                   {"role": "user", "content": f"hello ollama {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["object"], "chat.completion", "object")
    eq(j["model"], "ol", "model is the client's name")
    eq(j["choices"][0]["message"]["content"], f"hello ollama {mk}", "echoed text")
    eq(j["choices"][0]["finish_reason"], "stop", "finish_reason")
    rec = m.wait_request(mk, done=True)
    eq(rec.rejected, None, "the mock accepted the request")
    eq(j["usage"]["prompt_tokens"], rec.usage["prompt_eval_count"], "prompt_tokens = prompt_eval_count")
    eq(j["usage"]["completion_tokens"], rec.usage["eval_count"], "completion_tokens = eval_count")
    eq(j["usage"]["total_tokens"], rec.usage["prompt_eval_count"] + rec.usage["eval_count"], "total")
    eq(rec.path, "/api/chat", "path")
    check(rec.header("authorization") is None, "no auth header without a key")
    b = rec.json
    eq(b["model"], MODEL, "upstream model (with its tag)")
    eq(b["stream"], False, "stream sent explicitly (Ollama streams by default)")
    eq(b["messages"], [{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": f"hello ollama {mk}"}], "messages with string content")
    eq(b["options"], {"temperature": 0.2, "top_p": 0.5, "seed": 3, "num_predict": 50, "stop": ["zzz"]},
       "options")


@test
def ollama_chat_content_parts_and_length(ctx):
    m, gw = _ollama(ctx)
    mk = marker("parts")
    r = chat(gw.port, {"model": "ol", "max_completion_tokens": 2, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "one two"}, {"type": "text", "text": f"three {mk}"}]}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["choices"][0]["finish_reason"], "length", "done_reason length → length")
    b = m.wait_request(mk, done=True).json
    check(isinstance(b["messages"][0]["content"], str), "content parts joined into a string")
    eq(b["options"]["num_predict"], 2, "max_completion_tokens → num_predict")


@test
def ollama_chat_stream_with_usage(ctx):
    m, gw = _ollama(ctx)
    mk = marker("stream")
    s = chat_stream(gw.port, {"model": "ol", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three four {mk}")})
    eq(s.resp.status, 200, f"status {s.describe()}")
    check(s.resp.header("content-type", "").startswith("text/event-stream"), "NDJSON relayed as SSE")
    check(s.done, f"ends with [DONE]: {s.describe()}")
    eq(s.content(), f"one two three four {mk}", "streamed text")
    chunks = s.json_chunks()
    eq(chunks[0]["choices"][0]["delta"].get("role"), "assistant", "first chunk has the role")
    check(all(c["model"] == "ol" for c in chunks), "model is the client's name in every chunk")
    usage = [c for c in chunks if c.get("usage")]
    eq(len(usage), 1, "one usage chunk")
    eq(usage[0]["choices"], [], "usage chunk has no choices")
    rec = m.wait_request(mk, done=True)
    eq(rec.json["stream"], True, "upstream streamed")
    eq(usage[0]["usage"]["prompt_tokens"], rec.usage["prompt_eval_count"], "prompt tokens")
    eq(usage[0]["usage"]["completion_tokens"], rec.usage["eval_count"], "completion tokens")
    eq(_finishes(s), ["stop"], "one finish_reason")
    mk2 = marker("nousage")
    s = chat_stream(gw.port, {"model": "ol", "stream": True, "messages": user_msg(f"a b {mk2}")})
    check(s.done, s.describe())
    check(not any(c.get("usage") for c in s.json_chunks()), "no usage chunk unless asked")


@test
def ollama_generate_plain_and_stream(ctx):
    m, gw = _ollama(ctx, prefix="ollama")
    mk = marker("gen")
    r = chat(gw.port, {"model": "ol", "messages": [{"role": "system", "content": "Be brief."},
                                                   {"role": "user", "content": f"complete this {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["model"], "ol", "model")
    eq(j["choices"][0]["message"]["content"], f"complete this {mk}", "echo")
    eq(j["choices"][0]["message"]["role"], "assistant", "role")
    rec = m.wait_request(mk, done=True)
    eq(rec.path, "/api/generate", "path")
    eq(rec.rejected, None, "accepted")
    eq(rec.json["prompt"], f"complete this {mk}", "a single user message is the prompt")
    eq(rec.json["system"], "Be brief.", "system")
    eq(rec.json["stream"], False, "stream explicit")
    eq(j["usage"]["prompt_tokens"], rec.usage["prompt_eval_count"], "usage")
    mk2 = marker("gstream")
    s = chat_stream(gw.port, {"model": "ol", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three {mk2}")})
    check(s.done, s.describe())
    eq(s.content(), f"one two three {mk2}", "streamed text")
    eq(len([c for c in s.json_chunks() if c.get("usage")]), 1, "usage chunk")
    eq(m.wait_request(mk2, done=True).path, "/api/generate", "stream path")
    # A conversation is flattened into a transcript prompt.
    mk3 = marker("transcript")
    r = chat(gw.port, {"model": "ol", "messages": [
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "answer"},
        {"role": "user", "content": f"second {mk3}"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(m.wait_request(mk3, done=True).json["prompt"], f"User: first\n\nAssistant: answer\n\nUser: second {mk3}",
       "transcript prompt")
    # Tools cannot be offered on /api/generate.
    r = chat(gw.port, {"model": "ol", "tools": [WEATHER_TOOL], "messages": user_msg("x")})
    check_error(r, 400, code="unsupported_parameter", param="tools")


@test
def ollama_tool_round_trip(ctx):
    m, gw = _ollama(ctx)
    mk = marker("tool")
    r = chat(gw.port, {"model": "ol", "tools": [WEATHER_TOOL], "tool_choice": "auto",
                       "messages": user_msg(f"call tool please {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["choices"][0]["finish_reason"], "tool_calls", "finish_reason tool_calls (Ollama says stop)")
    call = j["choices"][0]["message"]["tool_calls"][0]
    eq(call["type"], "function", "type")
    eq(call["function"]["name"], "get_weather", "tool name")
    check(isinstance(call["function"]["arguments"], str), "arguments a string (Ollama sends an object)")
    eq(json.loads(call["function"]["arguments"]), {"city": "Paris"}, "arguments")
    check(call["id"], "an id is generated (Ollama sends none)")
    up = m.wait_request(mk, done=True).json
    eq(up["tools"][0]["function"]["name"], "get_weather", "tools sent in OpenAI shape")
    mk2 = marker("result")
    r = chat(gw.port, {"model": "ol", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool please {mk2}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["choices"][0]["message"]["content"], "Tool result: sunny, 21C", "answer uses the result")
    rec = m.wait_request(mk2, done=True)
    eq(rec.rejected, None, "accepted (arguments sent back as an object)")
    msgs = rec.json["messages"]
    eq(msgs[1]["tool_calls"][0]["function"], {"name": "get_weather", "arguments": {"city": "Paris"}},
       "assistant tool call with object arguments")
    eq(msgs[1]["content"], "", "assistant content a string")
    eq(msgs[2]["role"], "tool", "tool role")
    eq(msgs[2]["content"], "sunny, 21C", "tool content")
    eq(msgs[2].get("tool_name"), "get_weather", "tool_name looked up from the call")
    # tool_choice none: tools not sent; required: unsupported.
    mk3 = marker("none")
    r = chat(gw.port, {"model": "ol", "tools": [WEATHER_TOOL], "tool_choice": "none",
                       "messages": user_msg(f"call tool {mk3}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    check("tools" not in m.wait_request(mk3, done=True).json, "tool_choice none → no tools")
    eq(r.json()["choices"][0]["finish_reason"], "stop", "no call")
    r = chat(gw.port, {"model": "ol", "tools": [WEATHER_TOOL], "tool_choice": "required", "messages": user_msg("x")})
    check_error(r, 400, code="unsupported_parameter", param="tool_choice")


@test
def ollama_stream_tool_calls(ctx):
    m, gw = _ollama(ctx)
    mk = marker("stool")
    s = chat_stream(gw.port, {"model": "ol", "stream": True, "tools": [WEATHER_TOOL],
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
    eq(sorted(calls), [0, 1], "two calls")
    eq([json.loads(calls[i]["args"]) for i in (0, 1)], [{"city": "Paris"}, {"city": "Rome"}], "arguments")
    check(calls[0]["id"] and calls[0]["id"] != calls[1]["id"], f"distinct generated ids {calls}")
    eq(_finishes(s), ["tool_calls"], "finish_reason")


@test
def ollama_json_schema(ctx):
    m, gw = _ollama(ctx)
    mk = marker("json")
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    r = chat(gw.port, {"model": "ol", "messages": user_msg(f"give json {mk}"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "echo", "schema": schema}}})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(json.loads(r.json()["choices"][0]["message"]["content"]), {"echo": f"give json {mk}", "mock": "ollama"},
       "JSON answer")
    eq(m.wait_request(mk, done=True).json["format"], schema, "json_schema → format: <schema>")
    mk2 = marker("jobj")
    r = chat(gw.port, {"model": "ol", "messages": user_msg(f"json {mk2}"), "response_format": {"type": "json_object"}})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(m.wait_request(mk2, done=True).json["format"], "json", "json_object → format json")


@test
def ollama_reasoning_effort(ctx):
    m, gw = _ollama(ctx, model="qwen3:8b")
    mk = marker("think")
    r = chat(gw.port, {"model": "ol", "reasoning_effort": "low", "messages": user_msg(f"ponder this {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    msg = r.json()["choices"][0]["message"]
    eq(msg["content"], f"ponder this {mk}", "answer")
    eq(msg.get("reasoning_content"), f"Thinking about: ponder this {mk}", "thinking → reasoning_content")
    eq(m.wait_request(mk, done=True).json["think"], True, "think true")
    mk2 = marker("sthink")
    s = chat_stream(gw.port, {"model": "ol", "stream": True, "reasoning_effort": "high",
                              "messages": user_msg(f"deep {mk2}")})
    check(s.done, s.describe())
    reasoning = "".join((ch.get("delta") or {}).get("reasoning_content") or ""
                        for c in s.json_chunks() for ch in c["choices"])
    eq(reasoning, f"Thinking about: deep {mk2}", "streamed reasoning_content")
    eq(s.content(), f"deep {mk2}", "streamed content")
    mk3 = marker("none")
    r = chat(gw.port, {"model": "ol", "reasoning_effort": "none", "messages": user_msg(f"quick {mk3}")})
    check(not r.json()["choices"][0]["message"].get("reasoning_content"), "no reasoning")
    eq(m.wait_request(mk3, done=True).json["think"], False, "none → think false")
    # gpt-oss takes levels.
    m2, gw2 = _ollama(ctx, model="gpt-oss:20b", name="oss")
    mk4 = marker("oss")
    r = chat(gw2.port, {"model": "ol", "reasoning_effort": "medium", "messages": user_msg(f"x {mk4}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(m2.wait_request(mk4, done=True).json["think"], "medium", "gpt-oss: think level")
    # /api/generate returns thinking too.
    m3, gw3 = _ollama(ctx, model="qwen3:8b", prefix="ollama", name="gen")
    mk5 = marker("gthink")
    r = chat(gw3.port, {"model": "ol", "reasoning_effort": "low", "messages": user_msg(f"g {mk5}")})
    eq(r.json()["choices"][0]["message"].get("reasoning_content"), f"Thinking about: g {mk5}", "generate thinking")


@test
def ollama_errors(ctx):
    m, gw = _ollama(ctx)
    m.set_fault("fault-429", 1)
    check_error(chat(gw.port, {"model": "ol", "messages": user_msg("x")}), 429, code="rate_limit_exceeded")
    m.set_fault("fault-429-ra2", 1)
    r = chat(gw.port, {"model": "ol", "messages": user_msg("x")})
    check_error(r, 429, code="rate_limit_exceeded")
    m.set_fault("fault-500", 1)
    e = check_error(chat(gw.port, {"model": "ol", "messages": user_msg("x")}), 500)
    check("unexpected EOF" in e["message"], f"Ollama's message kept: {e}")
    m.set_fault("fault-503", 1)
    check_error(chat(gw.port, {"model": "ol", "messages": user_msg("x")}), 503)
    m2, gw2 = _ollama(ctx, model="mistral-notfound", name="nf")
    e = check_error(chat(gw2.port, {"model": "ol", "messages": user_msg("x")}), 404, code="model_not_found")
    check("pull" in e["message"], f"message kept: {e}")
    # A key the server refuses.
    m3 = MockOllama(api_key="ollama-secret").start()
    ctx.cleanups.append(m3.stop)
    _, gw3 = _ollama(ctx, mock=m3, name="auth", api_key="wrong")
    check_error(chat(gw3.port, {"model": "ol", "messages": user_msg("x")}), 401, type_="authentication_error",
                code="invalid_api_key")
    mk = marker("ok")
    r = chat(gw.port, {"model": "ol", "messages": user_msg(f"fine {mk}")})
    eq((r.status, r.json()["choices"][0]["message"]["content"]), (200, f"fine {mk}"), "recovered")


@test
def ollama_retry_after(ctx):
    m, gw = _ollama(ctx)
    m.set_fault("fault-429-ra2", 1)
    r = chat(gw.port, {"model": "ol", "messages": user_msg("x")})
    check_error(r, 429, code="rate_limit_exceeded")
    eq(r.header("retry-after"), "2", "Retry-After passed through when the server sends one")


@test
def ollama_stream_faults(ctx):
    for prefix in ("ollama_chat", "ollama"):
        m, gw = _ollama(ctx, prefix=prefix, name=prefix)
        for fault, code in (("error-mid-stream", None), ("truncated-stream", "upstream_stream_truncated"),
                            ("truncated-mid-event", "upstream_stream_truncated"),
                            ("eof-mid-stream", "upstream_connection_reset")):
            m.set_fault(fault, 1)
            s = chat_stream(gw.port, {"model": "ol", "stream": True, "messages": user_msg("a b c d e f g h i j")})
            eq(s.resp.status, 200, f"{prefix} {fault}: status")
            check(s.ended, f"{prefix} {fault}: the client stream ends cleanly: {s.describe()}")
            last = json.loads(s.data[-1])
            check("error" in last, f"{prefix} {fault}: ends with an error event: {s.data[-2:]}")
            if code:
                eq(last["error"]["code"], code, f"{prefix} {fault}: code")
            else:
                check("unexpected EOF" in last["error"]["message"], f"{prefix} {fault}: message {last}")
            check(not s.done, f"{prefix} {fault}: no [DONE] after an error")
            check(s.content().startswith("a b"), f"{prefix} {fault}: text before the error relayed")


@test
def ollama_drop_params(ctx):
    m, gw = _ollama(ctx)
    r = chat(gw.port, {"model": "ol", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    check_error(r, 400, code="unsupported_parameter", param="logit_bias", msg_contains="ollama")
    eq(len(m.api_requests()), 0, "nothing sent upstream")
    mk = marker("drop")
    r = chat(gw.port, {"model": "ol", "messages": user_msg(f"x {mk}"), "logprobs": True, "logit_bias": {"1": 2},
                       "drop_params": True})
    eq(r.status, 200, f"dropped ({r.body[:300]!r})")
    eq(r.header("x-llmux-dropped-params"), "logprobs, logit_bias", "dropped params listed in body order")
    b = m.wait_request(mk, done=True).json
    check("logit_bias" not in json.dumps(b) and "logprobs" not in json.dumps(b), "not sent upstream")
    m2, gw2 = _ollama(ctx, drop_params=True, name="dp")
    r = chat(gw2.port, {"model": "ol", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    eq(r.status, 200, "drop_params in litellm_params")
    eq(r.header("x-llmux-dropped-params"), "logit_bias", "header")


@test
def ollama_api_key(ctx):
    m = MockOllama(api_key="ollama-secret").start()
    ctx.cleanups.append(m.stop)
    _, gw = _ollama(ctx, mock=m, api_key="ollama-secret")
    mk = marker("key")
    eq(chat(gw.port, {"model": "ol", "messages": user_msg(f"k {mk}")}).status, 200, "api_key")
    eq(m.wait_request(mk, done=True).header("authorization"), "Bearer ollama-secret", "bearer")
    _, gw2 = _ollama(ctx, mock=m, name="env", env={"OLLAMA_API_KEY": "ollama-secret"})
    mk = marker("envkey")
    eq(chat(gw2.port, {"model": "ol", "messages": user_msg(f"k {mk}")}).status, 200, "OLLAMA_API_KEY")
    eq(m.wait_request(mk, done=True).header("authorization"), "Bearer ollama-secret", "bearer from env")
