"""OpenAI clients reaching Gemini deployments through the real binary: the Gemini API (AI Studio,
x-goog-api-key) and Vertex AI Gemini (service-account JWT → OAuth token from MockVertexOAuth, cached per
I/O thread and refreshed before expiry)."""
import json
import time

from harness import (chat, chat_stream, check, check_error, deployment, eq, marker, request, test,
                     user_msg)
from mocks import GEMINI_KEY, MockGemini, MockVertexOAuth

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}}

MODEL = "gemini-2.5-flash"


def _gemini(ctx, model=MODEL, settings=None, **params):
    m = MockGemini().start()
    ctx.cleanups.append(m.stop)
    params.setdefault("api_key", GEMINI_KEY)
    gw = ctx.gateway({"model_list": [deployment("gem", f"gemini/{model}", api_base=m.origin, **params)],
                      "llmux_settings": dict({"access_log": ""}, **(settings or {}))})
    return m, gw


def _headers(rec):
    return {k.lower(): v for k, v in rec.headers}


def _stream_tool_calls(s):
    calls = {}
    for c in s.json_chunks():
        for ch in c["choices"]:
            for tc in (ch.get("delta") or {}).get("tool_calls") or []:
                slot = calls.setdefault(tc["index"], {"id": "", "name": "", "args": ""})
                slot["id"] += tc.get("id") or ""
                slot["name"] += (tc.get("function") or {}).get("name") or ""
                slot["args"] += (tc.get("function") or {}).get("arguments") or ""
    return calls


def _finishes(s):
    return [ch["finish_reason"] for c in s.json_chunks() for ch in c["choices"] if ch.get("finish_reason")]


# ---------------------------------------------------------------------------------------------- AI Studio
@test
def gemini_plain_chat(ctx):
    m, gw = _gemini(ctx)
    mk = marker("plain")
    r = chat(gw.port, {"model": "gem", "temperature": 0.5, "max_tokens": 50, "stop": ["zzz"], "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": f"hello there {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(j["object"], "chat.completion", "object")
    eq(j["model"], "gem", "model is the client's name")
    eq(j["choices"][0]["message"]["role"], "assistant", "role")
    eq(j["choices"][0]["message"]["content"], f"hello there {mk}", "echoed text")
    eq(j["choices"][0]["finish_reason"], "stop", "finish_reason")
    rec = m.wait_request(mk, done=True)
    eq(rec.rejected, None, "the mock accepted the request")
    u = j["usage"]
    eq(u["prompt_tokens"], rec.usage["promptTokenCount"], "prompt_tokens = promptTokenCount")
    eq(u["completion_tokens"], rec.usage["candidatesTokenCount"], "completion_tokens = candidatesTokenCount")
    eq(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"], "total_tokens")
    check(u["prompt_tokens"] > 0 and u["completion_tokens"] > 0, f"usage {u}")
    # The exact upstream request.
    h = _headers(rec)
    eq(rec.method, "POST", "method")
    eq(rec.path, f"/v1beta/models/{MODEL}:generateContent", "path (no ?key= in the URL)")
    eq(h.get("x-goog-api-key"), GEMINI_KEY, "x-goog-api-key")
    eq(rec.auth, "x-goog-api-key", "authenticated by header")
    check("authorization" not in h, "no bearer header to the Gemini API")
    check(h.get("content-type", "").startswith("application/json"), "content-type")
    b = rec.json
    eq(b["systemInstruction"]["parts"][0]["text"], "Be brief.", "system prompt → systemInstruction")
    eq(b["contents"], [{"role": "user", "parts": [{"text": f"hello there {mk}"}]}], "contents")
    gc = b["generationConfig"]
    eq(gc.get("temperature"), 0.5, "temperature")
    eq(gc.get("maxOutputTokens"), 50, "max_tokens → maxOutputTokens")
    eq(gc.get("stopSequences"), ["zzz"], "stop → stopSequences")
    check("model" not in b and "messages" not in b, f"no OpenAI fields in the body: {sorted(b)}")
    eq(r.header("x-llmux-model-group"), "gem", "model group header")


@test
def gemini_max_tokens_and_multi_turn(ctx):
    m, gw = _gemini(ctx)
    mk = marker("multi")
    r = chat(gw.port, {"model": "gem", "max_completion_tokens": 2, "messages": [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": f"one two three four {mk}"}]}]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(j["choices"][0]["message"]["content"], "one two ", "cut at maxOutputTokens words")
    eq(j["choices"][0]["finish_reason"], "length", "MAX_TOKENS → length")
    b = m.wait_request(mk, done=True).json
    eq([c["role"] for c in b["contents"]], ["user", "model", "user"], "assistant → model role")
    eq(b["generationConfig"]["maxOutputTokens"], 2, "max_completion_tokens → maxOutputTokens")


@test
def gemini_stream_with_usage(ctx):
    m, gw = _gemini(ctx)
    mk = marker("stream")
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three four five {mk}")})
    eq(s.resp.status, 200, f"status {s.describe()}")
    check(s.resp.header("content-type", "").startswith("text/event-stream"), "SSE content type")
    check(s.done, f"ends with [DONE]: {s.describe()}")
    eq(s.content(), f"one two three four five {mk}", "streamed text")
    chunks = s.json_chunks()
    eq(chunks[0]["choices"][0]["delta"].get("role"), "assistant", "first chunk has the role")
    check(all(c["model"] == "gem" for c in chunks), "model is the client's name in every chunk")
    check(all(c["object"] == "chat.completion.chunk" for c in chunks), "chunk objects")
    check(len({c["id"] for c in chunks}) == 1, "one id for the whole stream")
    usage = [c for c in chunks if c.get("usage")]
    eq(len(usage), 1, "one usage chunk")
    eq(usage[0]["choices"], [], "usage chunk has no choices")
    check(chunks[-1].get("usage"), "the usage chunk comes last")
    rec = m.wait_request(mk, done=True)
    eq(usage[0]["usage"]["prompt_tokens"], rec.usage["promptTokenCount"], "prompt tokens")
    eq(usage[0]["usage"]["completion_tokens"], rec.usage["candidatesTokenCount"], "completion tokens")
    eq(_finishes(s), ["stop"], "one finish_reason")
    eq(rec.path, f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", "stream path with alt=sse")
    eq(rec.info.get("alt"), "sse", "alt=sse")
    # Without include_usage: no usage chunk, still [DONE].
    mk2 = marker("nousage")
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "messages": user_msg(f"a b {mk2}")})
    check(s.done, s.describe())
    eq(s.content(), f"a b {mk2}", "text")
    check(not any(c.get("usage") for c in s.json_chunks()), "no usage chunk unless asked")


@test
def gemini_tool_round_trip(ctx):
    # gemini-3: the mock demands the thought signature it issued back on the model turn's functionCall.
    m, gw = _gemini(ctx, model="gemini-3-pro-preview")
    mk = marker("tool")
    r = chat(gw.port, {"model": "gem", "tools": [WEATHER_TOOL], "tool_choice": "auto",
                       "messages": user_msg(f"call tool please {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(j["choices"][0]["finish_reason"], "tool_calls", "finish_reason")
    msg = j["choices"][0]["message"]
    eq(len(msg["tool_calls"]), 1, "one call")
    call = msg["tool_calls"][0]
    eq(call["type"], "function", "type")
    eq(call["function"]["name"], "get_weather", "tool name")
    check(isinstance(call["function"]["arguments"], str), "arguments are a string")
    eq(json.loads(call["function"]["arguments"]), {"city": "Paris"}, "arguments are a JSON string")
    check(call["id"], "a tool call id")
    up = m.wait_request(mk, done=True).json
    fd = up["tools"][0]["functionDeclarations"][0]
    eq(fd["name"], "get_weather", "function declaration")
    sch = fd.get("parametersJsonSchema") or fd.get("parameters")
    eq(sch["properties"], {"city": {"type": "string"}}, "schema sent")
    # The tool result goes back as a functionResponse; the model turn carries the thought signature.
    mk2 = marker("result")
    r = chat(gw.port, {"model": "gem", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool please {mk2}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    rec = m.wait_request(mk2, done=True)
    eq(rec.rejected, None, "the mock accepted the history (thought signature returned)")
    content = r.json()["choices"][0]["message"]["content"]
    check("sunny, 21C" in content, f"answer uses the result: {content!r}")
    turns = rec.json["contents"]
    eq([t["role"] for t in turns], ["user", "model", "user"], "roles")
    fc = turns[1]["parts"][0]
    eq(fc["functionCall"], {"name": "get_weather", "args": {"city": "Paris"}}, "functionCall part")
    check(fc.get("thoughtSignature"), f"thoughtSignature sent back: {fc}")
    fr = turns[2]["parts"][0]["functionResponse"]
    eq(fr["name"], "get_weather", "functionResponse name from the call")
    check("sunny, 21C" in json.dumps(fr["response"]), f"result in the response: {fr}")


@test
def gemini3_stream_tool_round_trip(ctx):
    # The thought signature arrives in a stream chunk and must come back on the next turn.
    m, gw = _gemini(ctx, model="gemini-3-flash-preview")
    mk = marker("s3")
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "tools": [WEATHER_TOOL],
                              "messages": user_msg(f"call tool {mk}")})
    check(s.done, s.describe())
    calls = _stream_tool_calls(s)
    eq(sorted(calls), [0], "one call")
    call = {"id": calls[0]["id"], "type": "function",
            "function": {"name": calls[0]["name"], "arguments": calls[0]["args"]}}
    mk2 = marker("s3res")
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool {mk2}"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": '{"temp": "18C"}'}]})
    rec = m.wait_request(mk2, done=True)
    eq(rec.rejected, None, "signature from the stream accepted")
    check(s.done, s.describe())
    eq(s.content(), 'Tool result: {"temp": "18C"}', "JSON tool result sent as the response object")
    eq(rec.json["contents"][2]["parts"][0]["functionResponse"]["response"], {"temp": "18C"}, "object result")


@test
def gemini_stream_tool_calls(ctx):
    m, gw = _gemini(ctx)
    mk = marker("stool")
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "tools": [WEATHER_TOOL],
                              "messages": user_msg(f"call tool parallel {mk}")})
    eq(s.resp.status, 200, "status")
    check(s.done, s.describe())
    calls = _stream_tool_calls(s)
    eq(sorted(calls), [0, 1], "two parallel calls")
    eq([calls[i]["name"] for i in (0, 1)], ["get_weather"] * 2, "names")
    eq([json.loads(calls[i]["args"]) for i in (0, 1)], [{"city": "Paris"}, {"city": "Rome"}], "arguments")
    check(calls[0]["id"] and calls[1]["id"] and calls[0]["id"] != calls[1]["id"], "distinct ids")
    eq(_finishes(s), ["tool_calls"], "finish_reason tool_calls")
    # tool_choice "required" → functionCallingConfig ANY (the mock then calls without "call tool").
    mk2 = marker("forced")
    r = chat(gw.port, {"model": "gem", "tools": [WEATHER_TOOL], "tool_choice": "required",
                       "messages": user_msg(f"what now {mk2}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(r.json()["choices"][0]["finish_reason"], "tool_calls", "forced call")
    eq(m.wait_request(mk2, done=True).json["toolConfig"]["functionCallingConfig"]["mode"], "ANY", "mode ANY")


@test
def gemini_json_schema(ctx):
    m, gw = _gemini(ctx)
    mk = marker("json")
    schema = {"type": "object", "properties": {"echo": {"type": "string"}, "mock": {"type": "string"}},
              "required": ["echo"], "additionalProperties": False}
    r = chat(gw.port, {"model": "gem", "messages": user_msg(f"give json {mk}"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "echo", "schema": schema, "strict": True}}})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(json.loads(r.json()["choices"][0]["message"]["content"]), {"echo": f"give json {mk}", "mock": "gemini"},
       "JSON answer")
    gc = m.wait_request(mk, done=True).json["generationConfig"]
    eq(gc.get("responseMimeType"), "application/json", "responseMimeType")
    sent = gc.get("responseJsonSchema") or gc.get("responseSchema")
    check(sent is not None and sent.get("properties", {}).get("echo") == {"type": "string"}, f"schema sent: {gc}")
    # json_object: the MIME type only.
    mk2 = marker("jobj")
    r = chat(gw.port, {"model": "gem", "messages": user_msg(f"json please {mk2}"),
                       "response_format": {"type": "json_object"}})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(json.loads(r.json()["choices"][0]["message"]["content"])["echo"], f"json please {mk2}", "JSON answer")
    gc = m.wait_request(mk2, done=True).json["generationConfig"]
    eq(gc.get("responseMimeType"), "application/json", "json_object → responseMimeType")


@test
def gemini_reasoning_effort(ctx):
    m, gw = _gemini(ctx)
    mk = marker("think")
    r = chat(gw.port, {"model": "gem", "reasoning_effort": "low", "messages": user_msg(f"ponder this {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    msg = j["choices"][0]["message"]
    eq(msg["content"], f"ponder this {mk}", "answer text")
    eq(msg.get("reasoning_content"), f"Thinking about: ponder this {mk}", "thought parts → reasoning_content")
    rec = m.wait_request(mk, done=True)
    tc = rec.json["generationConfig"]["thinkingConfig"]
    eq(tc.get("thinkingBudget"), 1024, "low → thinkingBudget 1024 (gemini-2.5)")
    eq(tc.get("includeThoughts"), True, "includeThoughts")
    u = j["usage"]
    eq(u["completion_tokens_details"]["reasoning_tokens"], rec.usage["thoughtsTokenCount"], "reasoning tokens")
    eq(u["completion_tokens"], rec.usage["candidatesTokenCount"] + rec.usage["thoughtsTokenCount"],
       "completion tokens include thoughts")
    # Streaming: reasoning_content deltas before the content.
    mk2 = marker("sthink")
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "reasoning_effort": "high",
                              "messages": user_msg(f"deep thought {mk2}")})
    check(s.done, s.describe())
    reasoning = "".join((ch.get("delta") or {}).get("reasoning_content") or ""
                        for c in s.json_chunks() for ch in c["choices"])
    eq(reasoning, f"Thinking about: deep thought {mk2}", "streamed reasoning_content")
    eq(s.content(), f"deep thought {mk2}", "streamed content")
    eq(m.wait_request(mk2, done=True).json["generationConfig"]["thinkingConfig"].get("thinkingBudget"), 24576,
       "high → 24576")
    # reasoning_effort "none": thinking off, no includeThoughts, no reasoning_content.
    mk3 = marker("nothink")
    r = chat(gw.port, {"model": "gem", "reasoning_effort": "none", "messages": user_msg(f"quick {mk3}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    check(not r.json()["choices"][0]["message"].get("reasoning_content"), "no reasoning_content")
    eq(m.wait_request(mk3, done=True).json["generationConfig"]["thinkingConfig"], {"thinkingBudget": 0},
       "none → budget 0")


@test
def gemini3_reasoning_level(ctx):
    m, gw = _gemini(ctx, model="gemini-3-pro-preview")
    mk = marker("lvl")
    r = chat(gw.port, {"model": "gem", "reasoning_effort": "medium", "messages": user_msg(f"ponder {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(r.json()["choices"][0]["message"].get("reasoning_content"), f"Thinking about: ponder {mk}", "reasoning")
    tc = m.wait_request(mk, done=True).json["generationConfig"]["thinkingConfig"]
    eq(tc, {"thinkingLevel": "MEDIUM", "includeThoughts": True}, "gemini-3 → thinkingLevel")


@test
def gemini_errors(ctx):
    m, gw = _gemini(ctx)
    m.set_fault("fault-429", 1)
    r = chat(gw.port, {"model": "gem", "messages": user_msg("x")})
    check_error(r, 429, code="rate_limit_exceeded")
    eq(r.header("retry-after"), "7", "Retry-After from RetryInfo.retryDelay (Gemini sends no header)")
    m.set_fault("fault-503", 1)
    r = chat(gw.port, {"model": "gem", "messages": user_msg("x")})
    e = check_error(r, 503)
    check("overloaded" in e["message"].lower(), f"upstream message kept: {e}")
    m.set_fault("fault-500", 1)
    e = check_error(chat(gw.port, {"model": "gem", "messages": user_msg("x")}), 500)
    eq(e["code"], "internal", "INTERNAL → code internal")
    # Wrong key: Gemini answers 400 API_KEY_INVALID; the gateway reports the deployment's credential as 401.
    m.configure(api_key="another-key")
    check_error(chat(gw.port, {"model": "gem", "messages": user_msg("x")}), 401, type_="authentication_error",
                code="invalid_api_key")
    m.configure(api_key=GEMINI_KEY)
    # A model the API does not know.
    m2, gw2 = _gemini(ctx, model="gemini-notfound-1")
    check_error(chat(gw2.port, {"model": "gem", "messages": user_msg("x")}), 404, code="model_not_found")
    # A request the API rejects (400 INVALID_ARGUMENT) comes back as a 400.
    m.set_fault("fault-400", 1)
    check_error(chat(gw.port, {"model": "gem", "messages": user_msg("x")}), 400, type_="invalid_request_error")
    # No key at all: Gemini's 403 PERMISSION_DENIED is the deployment's credential problem.
    gw3 = ctx.gateway({"model_list": [deployment("gem", f"gemini/{MODEL}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="nokey",
                      env={"GEMINI_API_KEY": "", "GOOGLE_API_KEY": ""})
    check_error(chat(gw3.port, {"model": "gem", "messages": user_msg("x")}), 403, code="invalid_api_key")
    # After the faults, a normal request still works.
    mk = marker("ok")
    r = chat(gw.port, {"model": "gem", "messages": user_msg(f"fine {mk}")})
    eq((r.status, r.json()["choices"][0]["message"]["content"]), (200, f"fine {mk}"), "recovered")


@test
def gemini_retries(ctx):
    m, gw = _gemini(ctx, max_retries=2)
    m.set_fault("fault-503-ra0", 2)
    mk = marker("retry")
    r = chat(gw.port, {"model": "gem", "messages": user_msg(f"after retries {mk}")}, timeout=30)
    eq(r.status, 200, f"third attempt succeeds ({r.body[:200]!r})")
    eq(r.json()["choices"][0]["message"]["content"], f"after retries {mk}", "answer")
    eq(len([x for x in m.api_requests() if x.kind == "generateContent"]), 3, "three upstream attempts")


@test
def gemini_stream_faults(ctx):
    m, gw = _gemini(ctx)
    for fault, code in (("error-mid-stream", None), ("truncated-stream", "upstream_stream_truncated"),
                        ("truncated-mid-event", "upstream_stream_truncated")):
        m.set_fault(fault, 1)
        s = chat_stream(gw.port, {"model": "gem", "stream": True, "messages": user_msg("a b c d e f g h i j")})
        eq(s.resp.status, 200, f"{fault}: status")
        check(s.ended, f"{fault}: the client stream ends cleanly: {s.describe()}")
        last = json.loads(s.data[-1])
        check("error" in last, f"{fault}: ends with an error event: {s.data[-2:]}")
        if code:
            eq(last["error"]["code"], code, f"{fault}: code")
        else:
            check("overloaded" in last["error"]["message"].lower(), f"{fault}: upstream message: {last}")
        check(not s.done, f"{fault}: no [DONE] after an error")
    # Upstream error before the stream started: a plain JSON error, not SSE.
    m.set_fault("fault-429", 1)
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "messages": user_msg("x")})
    check_error(s.resp, 429, code="rate_limit_exceeded")


@test
def gemini_safety(ctx):
    m, gw = _gemini(ctx)
    m.set_fault("blocked", 1)
    r = chat(gw.port, {"model": "gem", "messages": user_msg("bad words")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    ch = r.json()["choices"][0]
    eq(ch["finish_reason"], "content_filter", "blocked prompt → content_filter")
    eq(ch["message"]["content"], None, "no content")
    check("SAFETY" in (ch["message"].get("refusal") or ""), f"block reason in refusal: {ch}")
    m.set_fault("finish-safety", 1)
    r = chat(gw.port, {"model": "gem", "messages": user_msg("bad words")})
    eq(r.json()["choices"][0]["finish_reason"], "content_filter", "finishReason SAFETY → content_filter")
    m.set_fault("blocked", 1)
    s = chat_stream(gw.port, {"model": "gem", "stream": True, "messages": user_msg("bad words")})
    check(s.done, s.describe())
    eq(_finishes(s), ["content_filter"], "stream: content_filter")


@test
def gemini_drop_params(ctx):
    m, gw = _gemini(ctx)
    r = chat(gw.port, {"model": "gem", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    check_error(r, 400, code="unsupported_parameter", param="logit_bias", msg_contains="gemini")
    eq(len(m.api_requests()), 0, "nothing sent upstream")
    mk = marker("drop")
    r = chat(gw.port, {"model": "gem", "messages": user_msg(f"x {mk}"), "logit_bias": {"1": 2},
                       "drop_params": True})
    eq(r.status, 200, f"dropped ({r.body[:200]!r})")
    eq(r.header("x-llmux-dropped-params"), "logit_bias", "dropped params listed")
    rec = m.wait_request(mk, done=True)
    check("logit_bias" not in rec.body.decode() and "logitBias" not in rec.body.decode(), "not sent upstream")
    eq(rec.rejected, None, "accepted")
    # Two dropped params, listed in body order.
    mk2 = marker("drop2")
    r = chat(gw.port, {"model": "gem", "messages": user_msg(f"y {mk2}"), "logit_bias": {"1": 2},
                       "prediction": {"type": "content", "content": "x"}, "drop_params": True})
    eq(r.status, 200, f"dropped ({r.body[:200]!r})")
    eq(r.header("x-llmux-dropped-params"), "logit_bias, prediction", "dropped params listed")
    # A request without anything to drop has no header.
    r = chat(gw.port, {"model": "gem", "messages": user_msg("z"), "drop_params": True})
    eq(r.header("x-llmux-dropped-params"), None, "no header when nothing was dropped")
    # drop_params in litellm_params.
    m2, gw2 = _gemini(ctx, drop_params=True)
    r = chat(gw2.port, {"model": "gem", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    eq(r.status, 200, "drop_params in litellm_params")
    eq(r.header("x-llmux-dropped-params"), "logit_bias", "header")


@test
def gemini_key_from_env_and_studio_base(ctx):
    m = MockGemini().start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [
        deployment("env", f"gemini/{MODEL}", api_base=m.origin),
        deployment("base", f"gemini/{MODEL}", api_base=m.studio_base, api_key=GEMINI_KEY)],
        "llmux_settings": {"access_log": ""}}, env={"GEMINI_API_KEY": GEMINI_KEY})
    for name in ("env", "base"):
        mk = marker(name)
        r = chat(gw.port, {"model": name, "messages": user_msg(f"hi {mk}")})
        eq(r.status, 200, f"{name}: status ({r.body[:300]!r})")
        rec = m.wait_request(mk, done=True)
        eq(_headers(rec).get("x-goog-api-key"), GEMINI_KEY, f"{name}: key")
        eq(rec.path, f"/v1beta/models/{MODEL}:generateContent", f"{name}: path (no doubled /v1beta)")
    # GOOGLE_API_KEY is the alternative variable.
    gw2 = ctx.gateway({"model_list": [deployment("env", f"gemini/{MODEL}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="alt", env={"GOOGLE_API_KEY": GEMINI_KEY})
    mk = marker("alt")
    r = chat(gw2.port, {"model": "env", "messages": user_msg(f"hi {mk}")})
    eq(r.status, 200, f"GOOGLE_API_KEY: status ({r.body[:300]!r})")


# ---------------------------------------------------------------------------------------------- Vertex AI
def _vertex(ctx, model=MODEL, workers=1, expires_in=None, creds="path", **params):
    oauth = MockVertexOAuth(workdir=ctx.tmp + "/oauth").start()
    ctx.cleanups.append(oauth.stop)
    if expires_in is not None:
        oauth.configure(expires_in=expires_in)
    g = MockGemini(oauth=oauth).start()
    ctx.cleanups.append(g.stop)
    lp = {"vertex_project": oauth.project_id, "vertex_location": "us-central1",
          "vertex_credentials": oauth.credentials_path if creds == "path" else oauth.credentials_json}
    lp.update(params)
    gw = ctx.gateway({"model_list": [deployment("vtx", f"vertex_ai/{model}", api_base=g.origin, **lp)],
                      "llmux_settings": {"access_log": "", "workers": workers}})
    return oauth, g, gw


@test
def vertex_plain_chat_and_stream(ctx):
    oauth, g, gw = _vertex(ctx)
    mk = marker("vplain")
    r = chat(gw.port, {"model": "vtx", "messages": [{"role": "system", "content": "Be brief."},
                                                    {"role": "user", "content": f"hello vertex {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(j["model"], "vtx", "model is the client's name")
    eq(j["choices"][0]["message"]["content"], f"hello vertex {mk}", "echo")
    check(j["usage"]["prompt_tokens"] > 0 and j["usage"]["completion_tokens"] > 0, f"usage {j['usage']}")
    rec = g.wait_request(mk, done=True)
    eq(rec.rejected, None, "accepted")
    eq(rec.path, f"/v1/projects/{oauth.project_id}/locations/us-central1/publishers/google/models/{MODEL}"
                 ":generateContent", "Vertex path")
    eq(rec.auth, "oauth", "authenticated with a bearer token")
    h = _headers(rec)
    check("x-goog-api-key" not in h, "no API key to Vertex")
    tok = h["authorization"][7:]
    eq(oauth.check_token(tok), "ok", "a token the OAuth mock issued")
    eq(rec.json["contents"][0]["role"], "user", "role present (Vertex requires it)")
    # The token request: a JWT grant, signed for the service account (the mock verifies the signature).
    tokreq = [x for x in oauth.api_requests() if x.kind == "token"]
    eq(len(tokreq), 1, "one token request")
    eq(tokreq[0].rejected, None, "JWT accepted")
    claims = tokreq[0].info["claims"]
    eq(claims["iss"], oauth.client_email, "iss")
    eq(claims["aud"], oauth.token_uri, "aud = token_uri")
    check("cloud-platform" in claims["scope"], "scope")
    eq(tokreq[0].info["jwt_header"].get("kid"), oauth.private_key_id, "kid")
    # Streaming.
    mk2 = marker("vstream")
    s = chat_stream(gw.port, {"model": "vtx", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three {mk2}")})
    check(s.done, s.describe())
    eq(s.content(), f"one two three {mk2}", "streamed text")
    eq(len([c for c in s.json_chunks() if c.get("usage")]), 1, "usage chunk")
    rec = g.wait_request(mk2, done=True)
    check(rec.path.endswith(f"/models/{MODEL}:streamGenerateContent?alt=sse"), f"stream path {rec.path}")
    eq(oauth.issued_count, 1, "the token was reused for the second request")


@test
def vertex_token_reused(ctx):
    oauth, g, gw = _vertex(ctx, workers=1)
    for i in range(6):
        mk = marker(f"reuse{i}")
        r = chat(gw.port, {"model": "vtx", "messages": user_msg(f"again {mk}")})
        eq(r.status, 200, f"request {i} ({r.body[:300]!r})")
    eq(oauth.issued_count, 1, "one token for six requests on one I/O thread")
    eq(oauth.state()["issued_count"], 1, "state agrees")
    toks = {_headers(x)["authorization"] for x in g.api_requests()}
    eq(len(toks), 1, "the same bearer token on every upstream request")
    # Concurrent first requests on a fresh gateway with one I/O thread: still one token fetch.
    oauth2, g2, gw2 = _vertex(ctx, workers=1)
    from harness import Bg
    bgs = [Bg(chat, gw2.port, {"model": "vtx", "messages": user_msg(f"parallel {i}")}) for i in range(5)]
    for b in bgs:
        eq(b.join(30).status, 200, "concurrent request")
    eq(oauth2.issued_count, 1, "concurrent requests share one token fetch")
    # Two I/O threads: at most one token per thread.
    oauth3, g3, gw3 = _vertex(ctx, workers=2)
    for i in range(8):
        eq(chat(gw3.port, {"model": "vtx", "messages": user_msg(f"w2 {i}")}).status, 200, "two workers")
    check(1 <= oauth3.issued_count <= 2, f"one token per I/O thread at most: {oauth3.issued_count}")


@test
def vertex_token_refreshed(ctx):
    # A 4 s token is refreshed halfway (after 2 s) and never used after it expired.
    oauth, g, gw = _vertex(ctx, expires_in=4)
    for i in range(2):
        eq(chat(gw.port, {"model": "vtx", "messages": user_msg(f"early {i}")}).status, 200, "early request")
    eq(oauth.issued_count, 1, "reused while fresh")
    time.sleep(2.6)
    mk = marker("late")
    r = chat(gw.port, {"model": "vtx", "messages": user_msg(f"late {mk}")})
    eq(r.status, 200, f"after the refresh point ({r.body[:300]!r})")
    eq(oauth.issued_count, 2, "a new token was fetched before expiry")
    rec = g.wait_request(mk, done=True)
    eq(rec.info.get("token_state"), "ok", "the new token was used")
    eq(_headers(rec)["authorization"][7:], oauth.issued[1]["token"], "the second token")
    time.sleep(4.5)  # the second token expired meanwhile
    mk = marker("later")
    r = chat(gw.port, {"model": "vtx", "messages": user_msg(f"later {mk}")})
    eq(r.status, 200, f"after expiry ({r.body[:300]!r})")
    eq(oauth.issued_count, 3, "refetched")
    eq(g.wait_request(mk, done=True).info.get("token_state"), "ok", "never an expired token")


@test
def vertex_token_errors(ctx):
    oauth, g, gw = _vertex(ctx)
    oauth.set_fault("fault-500", 1)
    r = chat(gw.port, {"model": "vtx", "messages": user_msg("x")})
    e = check_error(r, 502, code="upstream_auth_failed")
    check(oauth.client_email in e["message"], f"message names the service account: {e}")
    check("BEGIN" not in r.text and "PRIVATE" not in r.text, "no key material in the error")
    eq(len(g.api_requests()), 0, "no Vertex call without a token")
    # The failure is not cached: the next request fetches a token and succeeds.
    mk = marker("after")
    r = chat(gw.port, {"model": "vtx", "messages": user_msg(f"after {mk}")})
    eq(r.status, 200, f"recovered ({r.body[:300]!r})")
    # Vertex's own errors: 429 and a revoked token (401).
    g.set_fault("fault-429", 1)
    check_error(chat(gw.port, {"model": "vtx", "messages": user_msg("x")}), 429, code="rate_limit_exceeded")
    oauth.revoke_all()
    r = chat(gw.port, {"model": "vtx", "messages": user_msg("x")})
    check_error(r, 401, code="invalid_api_key")


@test
def vertex_credentials_inline_and_project_default(ctx):
    # vertex_credentials as the JSON text itself, and no vertex_project: the service account's project.
    oauth = MockVertexOAuth(workdir=ctx.tmp + "/oauth").start()
    ctx.cleanups.append(oauth.stop)
    g = MockGemini(oauth=oauth).start()
    ctx.cleanups.append(g.stop)
    gw = ctx.gateway({"model_list": [deployment("vtx", f"vertex_ai/{MODEL}", api_base=g.origin,
                                                vertex_location="europe-west4",
                                                vertex_credentials=oauth.credentials_json)],
                      "llmux_settings": {"access_log": ""}})
    mk = marker("inline")
    r = chat(gw.port, {"model": "vtx", "messages": user_msg(f"hi {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    rec = g.wait_request(mk, done=True)
    eq(rec.info["project"], oauth.project_id, "project from the credentials")
    eq(rec.info["location"], "europe-west4", "location")


@test
def vertex_tools_reasoning_and_drop_params(ctx):
    oauth, g, gw = _vertex(ctx)
    mk = marker("vtool")
    r = chat(gw.port, {"model": "vtx", "tools": [WEATHER_TOOL], "messages": user_msg(f"call tool {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    call = r.json()["choices"][0]["message"]["tool_calls"][0]
    eq(json.loads(call["function"]["arguments"]), {"city": "Paris"}, "arguments")
    mk2 = marker("vres")
    r = chat(gw.port, {"model": "vtx", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool {mk2}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "rainy"}]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    check("rainy" in r.json()["choices"][0]["message"]["content"], "tool result used")
    mk3 = marker("vthink")
    r = chat(gw.port, {"model": "vtx", "reasoning_effort": "medium", "messages": user_msg(f"ponder {mk3}")})
    eq(r.json()["choices"][0]["message"].get("reasoning_content"), f"Thinking about: ponder {mk3}", "reasoning")
    r = chat(gw.port, {"model": "vtx", "messages": user_msg("x"), "logit_bias": {"1": 1}})
    check_error(r, 400, code="unsupported_parameter", param="logit_bias", msg_contains="vertex_ai")
    eq(oauth.issued_count, 1, "one token for the whole test")


@test
def gemini_group_in_models_list(ctx):
    # /v1/models lists the Gemini group like any other.
    m, gw = _gemini(ctx)
    r = request(gw.port, "GET", "/v1/models")
    eq(r.status, 200, "models")
    eq([d["id"] for d in r.json()["data"]], ["gem"], "group listed")
