"""OpenAI clients reaching AWS Bedrock (Converse / ConverseStream) through the real binary. The mock
recomputes every SigV4 signature, so each answer that is not a 403 proves the signing is right:
credentials from litellm_params, from the AWS_* environment, and from a shared credentials file."""
import json
import os

from harness import (chat, chat_stream, check, check_error, deployment, eq, marker, test, user_msg, Skip)
from mocks import AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY, MockBedrock

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
NOVA = "amazon.nova-pro-v1:0"

# The environment of a gateway that must not find AWS credentials anywhere but where the test says.
NO_AWS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
          "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_BEDROCK_RUNTIME_ENDPOINT": ""}


def _bedrock(ctx, model=CLAUDE, mock=None, env=None, name="llmux", **params):
    m = mock or MockBedrock().start()
    if mock is None:
        ctx.cleanups.append(m.stop)
    lp = {"aws_access_key_id": m.access_key_id, "aws_secret_access_key": m.secret_access_key,
          "aws_region_name": m.region}
    lp.update(params)
    lp = {k: v for k, v in lp.items() if v is not None}
    gw = ctx.gateway({"model_list": [deployment("br", f"bedrock/{model}", api_base=m.origin, **lp)],
                      "llmux_settings": {"access_log": ""}}, name=name,
                     env=dict(NO_AWS, HOME=ctx.tmp, **(env or {})))
    return m, gw


def _check_signed(rec, model=CLAUDE, akid=AWS_ACCESS_KEY_ID, region=AWS_REGION):
    eq(rec.rejected, None, f"the mock accepted the request ({(rec.info.get('sigv4') or {}).get('hint')})")
    eq(rec.auth, "sigv4", "authenticated by SigV4")
    sig = rec.info["sigv4"]
    eq(sig.get("ok"), True, "signature verified")
    akid_, date, region_, service, term = sig["credential"].split("/")
    eq((akid_, region_, service, term), (akid, region, "bedrock", "aws4_request"), "credential scope")
    eq(date, rec.header("x-amz-date")[:8], "scope date = x-amz-date day")
    signed = sig["signed_headers"].split(";")
    check({"host", "x-amz-date"} <= set(signed), f"host and x-amz-date signed: {signed}")
    eq(rec.model, model, "model id decoded from the path")


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


@test
def bedrock_plain_chat(ctx):
    m, gw = _bedrock(ctx)
    mk = marker("plain")
    r = chat(gw.port, {"model": "br", "temperature": 0.3, "top_p": 0.9, "max_tokens": 100, "stop": ["zzz"],
                       "messages": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": f"hello bedrock {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["object"], "chat.completion", "object")
    eq(j["model"], "br", "model is the client's name")
    eq(j["choices"][0]["message"]["content"], f"hello bedrock {mk}", "echoed text")
    eq(j["choices"][0]["finish_reason"], "stop", "end_turn → stop")
    rec = m.wait_request(mk, done=True)
    _check_signed(rec)
    eq(j["usage"]["prompt_tokens"], rec.usage["inputTokens"], "prompt_tokens = inputTokens")
    eq(j["usage"]["completion_tokens"], rec.usage["outputTokens"], "completion_tokens = outputTokens")
    eq(j["usage"]["total_tokens"], rec.usage["inputTokens"] + rec.usage["outputTokens"], "total")
    # The exact upstream request: one path segment for the id, ':' percent-encoded.
    eq(rec.path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", "path")
    eq(rec.info["model_id_raw"], "anthropic.claude-3-5-sonnet-20240620-v1%3A0", "':' encoded once on the wire")
    h = {k.lower(): v for k, v in rec.headers}
    check(h["authorization"].startswith("AWS4-HMAC-SHA256 Credential="), "SigV4 authorization")
    import hashlib
    if "x-amz-content-sha256" in h:
        eq(h["x-amz-content-sha256"], hashlib.sha256(rec.body).hexdigest(), "body hash")
    check("x-amz-security-token" not in h, "no session token without one")
    b = rec.json
    eq(b["system"], [{"text": "Be brief."}], "system blocks")
    eq(b["messages"], [{"role": "user", "content": [{"text": f"hello bedrock {mk}"}]}], "messages")
    eq(b["inferenceConfig"], {"maxTokens": 100, "temperature": 0.3, "topP": 0.9, "stopSequences": ["zzz"]},
       "inferenceConfig")
    check("model" not in b, "no model in the Converse body")


@test
def bedrock_stream_with_usage(ctx):
    m, gw = _bedrock(ctx)
    mk = marker("stream")
    s = chat_stream(gw.port, {"model": "br", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three four {mk}")})
    eq(s.resp.status, 200, f"status {s.describe()}")
    check(s.done, f"ends with [DONE]: {s.describe()}")
    eq(s.content(), f"one two three four {mk}", "streamed text")
    chunks = s.json_chunks()
    eq(chunks[0]["choices"][0]["delta"].get("role"), "assistant", "first chunk has the role")
    check(all(c["model"] == "br" for c in chunks), "model is the client's name in every chunk")
    usage = [c for c in chunks if c.get("usage")]
    eq(len(usage), 1, "one usage chunk (metadata arrives after messageStop)")
    eq(usage[0]["choices"], [], "usage chunk has no choices")
    rec = m.wait_request(mk, done=True)
    _check_signed(rec)
    eq(rec.path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream", "stream path")
    eq(usage[0]["usage"]["prompt_tokens"], rec.usage["inputTokens"], "prompt tokens")
    eq(usage[0]["usage"]["completion_tokens"], rec.usage["outputTokens"], "completion tokens")
    eq(_finishes(s), ["stop"], "one finish_reason")
    mk2 = marker("nousage")
    s = chat_stream(gw.port, {"model": "br", "stream": True, "messages": user_msg(f"a b {mk2}")})
    check(s.done, s.describe())
    check(not any(c.get("usage") for c in s.json_chunks()), "no usage chunk unless asked")


@test
def bedrock_tool_round_trip(ctx):
    m, gw = _bedrock(ctx)
    mk = marker("tool")
    r = chat(gw.port, {"model": "br", "tools": [WEATHER_TOOL], "tool_choice": "auto",
                       "messages": user_msg(f"call tool please {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["choices"][0]["finish_reason"], "tool_calls", "tool_use → tool_calls")
    call = j["choices"][0]["message"]["tool_calls"][0]
    eq(call["function"]["name"], "get_weather", "tool name")
    eq(json.loads(call["function"]["arguments"]), {"city": "Paris"}, "arguments are a JSON string")
    rec = m.wait_request(mk, done=True)
    eq(call["id"], rec.reply and f"tooluse_Mock{rec.seq:06d}x0", "toolUseId kept as the call id")
    tc = rec.json["toolConfig"]
    spec = tc["tools"][0]["toolSpec"]
    eq(spec["name"], "get_weather", "toolSpec name")
    eq(spec["inputSchema"]["json"]["properties"], {"city": {"type": "string"}}, "inputSchema.json")
    eq(tc.get("toolChoice"), {"auto": {}}, "toolChoice auto")
    mk2 = marker("result")
    r = chat(gw.port, {"model": "br", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool please {mk2}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["choices"][0]["message"]["content"], "Tool result: sunny, 21C", "answer uses the result")
    rec = m.wait_request(mk2, done=True)
    eq(rec.rejected, None, "accepted")
    msgs = rec.json["messages"]
    eq([x["role"] for x in msgs], ["user", "assistant", "user"], "roles")
    eq(msgs[1]["content"][-1]["toolUse"], {"toolUseId": call["id"], "name": "get_weather",
                                           "input": {"city": "Paris"}}, "toolUse block")
    tr = msgs[2]["content"][0]["toolResult"]
    eq(tr["toolUseId"], call["id"], "toolResult pairs with the call")
    check("sunny, 21C" in json.dumps(tr["content"]), f"result content: {tr}")
    # tool_choice required / named.
    mk3 = marker("any")
    r = chat(gw.port, {"model": "br", "tools": [WEATHER_TOOL], "tool_choice": "required",
                       "messages": user_msg(f"go {mk3}")})
    eq(r.json()["choices"][0]["finish_reason"], "tool_calls", "forced call")
    eq(m.wait_request(mk3, done=True).json["toolConfig"]["toolChoice"], {"any": {}}, "required → any")
    mk4 = marker("named")
    r = chat(gw.port, {"model": "br", "tools": [WEATHER_TOOL], "messages": user_msg(f"go {mk4}"),
                       "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(m.wait_request(mk4, done=True).json["toolConfig"]["toolChoice"], {"tool": {"name": "get_weather"}},
       "named → tool")


@test
def bedrock_stream_tool_calls(ctx):
    m, gw = _bedrock(ctx)
    mk = marker("stool")
    s = chat_stream(gw.port, {"model": "br", "stream": True, "tools": [WEATHER_TOOL],
                              "messages": user_msg(f"call tool parallel narrate {mk}")})
    eq(s.resp.status, 200, "status")
    check(s.done, s.describe())
    eq(s.content(), "Let me check.", "narration text")
    calls = _stream_tool_calls(s)
    eq(sorted(calls), [0, 1], "two parallel calls, indexes from 0")
    eq([json.loads(calls[i]["args"]) for i in (0, 1)], [{"city": "Paris"}, {"city": "Rome"}], "arguments")
    check(calls[0]["id"].startswith("tooluse_") and calls[1]["id"] != calls[0]["id"], f"ids {calls}")
    eq(_finishes(s), ["tool_calls"], "finish_reason")


@test
def bedrock_json_schema(ctx):
    m, gw = _bedrock(ctx)
    mk = marker("json")
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"give json {mk}"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "echo", "schema": schema}}})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(json.loads(r.json()["choices"][0]["message"]["content"]), {"echo": f"give json {mk}", "mock": "bedrock"},
       "JSON answer")
    tf = m.wait_request(mk, done=True).json["outputConfig"]["textFormat"]
    eq(tf["type"], "json_schema", "textFormat type")
    js = tf["structure"]["jsonSchema"]
    check(isinstance(js["schema"], str), "schema sent as a JSON string")
    eq(json.loads(js["schema"]), schema, "schema")
    eq(js.get("name"), "echo", "schema name")
    # json_object has no Converse form.
    r = chat(gw.port, {"model": "br", "messages": user_msg("x"), "response_format": {"type": "json_object"}})
    check_error(r, 400, code="unsupported_parameter", param="response_format")


@test
def bedrock_reasoning_effort(ctx):
    m, gw = _bedrock(ctx)
    mk = marker("think")
    r = chat(gw.port, {"model": "br", "reasoning_effort": "low", "messages": user_msg(f"ponder this {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    msg = r.json()["choices"][0]["message"]
    eq(msg["content"], f"ponder this {mk}", "answer")
    eq(msg.get("reasoning_content"), f"Thinking about: ponder this {mk}", "reasoningContent → reasoning_content")
    b = m.wait_request(mk, done=True).json
    eq(b["additionalModelRequestFields"]["thinking"], {"type": "enabled", "budget_tokens": 1024}, "thinking")
    check(b["inferenceConfig"]["maxTokens"] > 1024, f"maxTokens leaves room above the budget: {b}")
    mk2 = marker("sthink")
    s = chat_stream(gw.port, {"model": "br", "stream": True, "reasoning_effort": "medium", "max_tokens": 8000,
                              "messages": user_msg(f"deep {mk2}")})
    check(s.done, s.describe())
    reasoning = "".join((ch.get("delta") or {}).get("reasoning_content") or ""
                        for c in s.json_chunks() for ch in c["choices"])
    eq(reasoning, f"Thinking about: deep {mk2}", "streamed reasoning_content")
    eq(s.content(), f"deep {mk2}", "streamed content")
    b = m.wait_request(mk2, done=True).json
    eq(b["additionalModelRequestFields"]["thinking"]["budget_tokens"], 2048, "medium → 2048")
    eq(b["inferenceConfig"]["maxTokens"], 8000, "client max_tokens kept")
    # Not a Claude model: no mapping.
    m2, gw2 = _bedrock(ctx, model=NOVA, name="nova")
    r = chat(gw2.port, {"model": "br", "reasoning_effort": "low", "messages": user_msg("x")})
    check_error(r, 400, code="unsupported_parameter", param="reasoning_effort")
    mk3 = marker("nova")
    r = chat(gw2.port, {"model": "br", "messages": user_msg(f"hi nova {mk3}")})
    eq((r.status, r.json()["choices"][0]["message"]["content"]), (200, f"hi nova {mk3}"), "nova answers")
    _check_signed(m2.wait_request(mk3, done=True), model=NOVA)


@test
def bedrock_errors(ctx):
    m, gw = _bedrock(ctx)
    m.set_fault("fault-429", 1)
    r = chat(gw.port, {"model": "br", "messages": user_msg("x")})
    check_error(r, 429, type_="rate_limit_error", code="rate_limit_exceeded")
    eq(r.header("retry-after"), None, "Bedrock sends no Retry-After: none invented")
    m.set_fault("fault-429-ra3", 1)
    r = chat(gw.port, {"model": "br", "messages": user_msg("x")})
    check_error(r, 429, code="rate_limit_exceeded")
    eq(r.header("retry-after"), "3", "Retry-After passed through when sent")
    m.set_fault("fault-503", 1)
    check_error(chat(gw.port, {"model": "br", "messages": user_msg("x")}), 503, type_="service_unavailable_error")
    m.set_fault("fault-500", 1)
    e = check_error(chat(gw.port, {"model": "br", "messages": user_msg("x")}), 500, type_="api_error")
    check("internal error" in e["message"], f"upstream message kept: {e}")
    m.set_fault("fault-400", 1)
    check_error(chat(gw.port, {"model": "br", "messages": user_msg("x")}), 400, type_="invalid_request_error")
    # Bad credentials: the wrong secret (signature mismatch) and an unknown key id.
    m.configure(secret_access_key="wrong-secret")
    check_error(chat(gw.port, {"model": "br", "messages": user_msg("x")}), 403, type_="authentication_error",
                code="invalid_api_key")
    m.configure(secret_access_key=AWS_SECRET_ACCESS_KEY, access_key_id="AKIAOTHER")
    check_error(chat(gw.port, {"model": "br", "messages": user_msg("x")}), 403, code="invalid_api_key")
    m.configure(access_key_id=AWS_ACCESS_KEY_ID)
    # Unknown model id.
    m2, gw2 = _bedrock(ctx, model="anthropic.claude-notfound-v1:0", name="nf")
    check_error(chat(gw2.port, {"model": "br", "messages": user_msg("x")}), 400, type_="invalid_request_error")
    mk = marker("ok")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"fine {mk}")})
    eq((r.status, r.json()["choices"][0]["message"]["content"]), (200, f"fine {mk}"), "recovered")


@test
def bedrock_retries_resign(ctx):
    # Retried attempts are signed again (the mock checks x-amz-date skew and the signature each time).
    m, gw = _bedrock(ctx, max_retries=2)
    m.set_fault("fault-429-ra0", 2)
    mk = marker("retry")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"after retries {mk}")}, timeout=30)
    eq(r.status, 200, f"third attempt succeeds ({r.body[:300]!r})")
    reqs = m.find(mk)
    eq(len(reqs), 3, "three attempts")
    for x in reqs:
        eq(x.info["sigv4"].get("ok"), True, f"attempt {x.seq} signed correctly")


@test
def bedrock_stream_exceptions(ctx):
    m, gw = _bedrock(ctx)
    cases = (("error-mid-stream", "rate_limit_exceeded", "too many requests"),
             ("error-mid-stream-internal", None, "internal error"),
             ("error-mid-stream-modelstream", None, "model stream error"),
             ("error-mid-stream-validation", "context_length_exceeded", "input is too long"),
             ("error-mid-stream-unavailable", None, "unable to process"),
             ("error-frame-mid-stream", None, None),
             ("truncated-stream", "upstream_stream_truncated", None),
             ("truncated-frame", "upstream_stream_truncated", None),
             ("reset-mid-stream", "upstream_connection_reset", None),
             ("eof-mid-stream", "upstream_connection_reset", None))
    for fault, code, text in cases:
        m.set_fault(fault, 1)
        s = chat_stream(gw.port, {"model": "br", "stream": True, "messages": user_msg("a b c d e f g h i j")})
        eq(s.resp.status, 200, f"{fault}: status")
        check(s.ended, f"{fault}: the client stream ends cleanly: {s.describe()}")
        check(s.data, f"{fault}: some events")
        last = json.loads(s.data[-1])
        check("error" in last, f"{fault}: ends with an error event: {s.data[-2:]}")
        for k in ("message", "type", "code"):
            check(k in last["error"], f"{fault}: error.{k}: {last}")
        if code:
            eq(last["error"]["code"], code, f"{fault}: code")
        if text:
            check(text in last["error"]["message"].lower(), f"{fault}: message {last['error']['message']!r}")
        check(not s.done, f"{fault}: no [DONE] after an error")
        check(s.content().startswith("a b"), f"{fault}: the text before the error was relayed: {s.content()!r}")


@test
def bedrock_guardrail_and_length(ctx):
    m, gw = _bedrock(ctx)
    m.set_fault("guardrail", 1)
    r = chat(gw.port, {"model": "br", "messages": user_msg("something")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(r.json()["choices"][0]["finish_reason"], "content_filter", "guardrail_intervened → content_filter")
    r = chat(gw.port, {"model": "br", "max_tokens": 2, "messages": user_msg("one two three four")})
    eq(r.json()["choices"][0]["finish_reason"], "length", "max_tokens → length")
    eq(r.json()["choices"][0]["message"]["content"], "one two ", "cut")


@test
def bedrock_drop_params(ctx):
    m, gw = _bedrock(ctx)
    r = chat(gw.port, {"model": "br", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    check_error(r, 400, code="unsupported_parameter", param="logit_bias", msg_contains="bedrock")
    r = chat(gw.port, {"model": "br", "messages": user_msg("x"), "seed": 7})
    check_error(r, 400, code="unsupported_parameter", param="seed")
    eq(len(m.api_requests()), 0, "nothing sent upstream")
    mk = marker("drop")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"x {mk}"), "seed": 7, "logit_bias": {"1": 2},
                       "drop_params": True})
    eq(r.status, 200, f"dropped ({r.body[:300]!r})")
    eq(r.header("x-llmux-dropped-params"), "seed, logit_bias", "dropped params listed in body order")
    rec = m.wait_request(mk, done=True)
    _check_signed(rec)
    check(b"seed" not in rec.body and b"logit" not in rec.body, "not sent upstream")
    m2, gw2 = _bedrock(ctx, drop_params=True, name="dp")
    r = chat(gw2.port, {"model": "br", "messages": user_msg("x"), "logit_bias": {"1": 2}})
    eq(r.status, 200, "drop_params in litellm_params")
    eq(r.header("x-llmux-dropped-params"), "logit_bias", "header")


# ---------------------------------------------------------------------------------------------- credentials
@test
def bedrock_credentials_from_env(ctx):
    m = MockBedrock(region="eu-west-3").start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin)],
                      "llmux_settings": {"access_log": ""}},
                     env=dict(NO_AWS, HOME=ctx.tmp, **m.aws_env))
    mk = marker("env")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"from env {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    _check_signed(m.wait_request(mk, done=True), region="eu-west-3")
    # AWS_DEFAULT_REGION alone also sets the region.
    env = dict(NO_AWS, HOME=ctx.tmp, **m.aws_env)
    env["AWS_REGION"] = ""
    gw2 = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="defregion", env=env)
    mk = marker("defregion")
    eq(chat(gw2.port, {"model": "br", "messages": user_msg(f"r {mk}")}).status, 200, "AWS_DEFAULT_REGION")
    _check_signed(m.wait_request(mk, done=True), region="eu-west-3")


@test
def bedrock_session_token(ctx):
    m = MockBedrock(session_token="FwoGZXIvYXdzEMOCKSESSION//token+value=").start()
    ctx.cleanups.append(m.stop)
    # From litellm_params.
    _, gw = _bedrock(ctx, mock=m, aws_session_token=m.session_token)
    mk = marker("sts")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"sts {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    rec = m.wait_request(mk, done=True)
    _check_signed(rec)
    eq(rec.header("x-amz-security-token"), m.session_token, "token header")
    check("x-amz-security-token" in rec.info["sigv4"]["signed_headers"].split(";"), "token signed")
    # From AWS_SESSION_TOKEN with the keys from the environment.
    gw2 = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="envsts",
                      env=dict(NO_AWS, HOME=ctx.tmp, **m.aws_env))
    mk = marker("envsts")
    r = chat(gw2.port, {"model": "br", "stream": True, "messages": user_msg(f"sts {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    _check_signed(m.wait_request(mk, done=True))
    # Without the token the mock refuses (an expired/temporary key needs it).
    _, gw3 = _bedrock(ctx, mock=m, name="nosts")
    check_error(chat(gw3.port, {"model": "br", "messages": user_msg("x")}), 403, code="invalid_api_key")


def _write_credentials(ctx, text):
    path = os.path.join(ctx.tmp, "aws-credentials")
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def bedrock_credentials_file_profile(ctx):
    m = MockBedrock().start()
    ctx.cleanups.append(m.stop)
    path = _write_credentials(ctx, f"""# test credentials
[default]
aws_access_key_id = AKIADEFAULTWRONG0000
aws_secret_access_key = wrongwrongwrong

[llmux-test]
aws_access_key_id = {AWS_ACCESS_KEY_ID}
aws_secret_access_key = {AWS_SECRET_ACCESS_KEY}
""")
    gw = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin,
                                                aws_profile_name="llmux-test", aws_region_name=AWS_REGION)],
                      "llmux_settings": {"access_log": ""}},
                     env=dict(NO_AWS, HOME=ctx.tmp, AWS_SHARED_CREDENTIALS_FILE=path))
    mk = marker("profile")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"profile {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    _check_signed(m.wait_request(mk, done=True))
    # The default profile when nothing else is configured (here: wrong keys → the mock's 403).
    gw2 = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="default",
                      env=dict(NO_AWS, HOME=ctx.tmp, AWS_SHARED_CREDENTIALS_FILE=path, AWS_REGION=AWS_REGION))
    mk = marker("default")
    r = chat(gw2.port, {"model": "br", "messages": user_msg(f"default {mk}")})
    check_error(r, 403, code="invalid_api_key")
    eq(m.wait_request(mk, done=True).info["sigv4"]["credential"].split("/")[0], "AKIADEFAULTWRONG0000",
       "signed with the default profile's key")
    # AWS_PROFILE picks the profile.
    gw3 = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="awsprofile",
                      env=dict(NO_AWS, HOME=ctx.tmp, AWS_SHARED_CREDENTIALS_FILE=path, AWS_PROFILE="llmux-test",
                               AWS_REGION=AWS_REGION))
    mk = marker("awsprofile")
    eq(chat(gw3.port, {"model": "br", "messages": user_msg(f"p {mk}")}).status, 200, "AWS_PROFILE")
    _check_signed(m.wait_request(mk, done=True))
    # ~/.aws/credentials is the default file.
    os.makedirs(os.path.join(ctx.tmp, "home", ".aws"))
    with open(os.path.join(ctx.tmp, "home", ".aws", "credentials"), "w") as f:
        f.write(f"[default]\naws_access_key_id={AWS_ACCESS_KEY_ID}\naws_secret_access_key={AWS_SECRET_ACCESS_KEY}\n")
    gw4 = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="home",
                      env=dict(NO_AWS, HOME=os.path.join(ctx.tmp, "home"), AWS_REGION=AWS_REGION))
    mk = marker("home")
    eq(chat(gw4.port, {"model": "br", "messages": user_msg(f"h {mk}")}).status, 200, "~/.aws/credentials")
    _check_signed(m.wait_request(mk, done=True))


@test
def bedrock_missing_credentials(ctx):
    m = MockBedrock().start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin)],
                      "llmux_settings": {"access_log": ""}},
                     env=dict(NO_AWS, HOME=ctx.tmp, AWS_SHARED_CREDENTIALS_FILE=os.path.join(ctx.tmp, "none")))
    r = chat(gw.port, {"model": "br", "messages": user_msg("x")})
    e = check_error(r, 500, code="missing_credentials")
    check("aws" in e["message"].lower(), f"message says what to set: {e}")
    eq(len(m.api_requests()), 0, "nothing sent unsigned")
    # A profile that is not in the file is a startup error.
    path = _write_credentials(ctx, "[other]\naws_access_key_id=A\naws_secret_access_key=B\n")
    g = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin,
                                               aws_profile_name="nope")]}, name="badprofile", start=False,
                    env=dict(NO_AWS, HOME=ctx.tmp, AWS_SHARED_CREDENTIALS_FILE=path))
    try:
        g.start(timeout=10)
        started = True
    except Exception:
        started = False
    check(not started, "an unknown aws_profile_name refuses to start")
    check("nope" in g.stderr_text(), f"the profile is named: {g.stderr_tail(5)}")


@test
def bedrock_endpoint_settings(ctx):
    m = MockBedrock().start()
    ctx.cleanups.append(m.stop)
    # AWS_BEDROCK_RUNTIME_ENDPOINT (the provider's base variable) instead of api_base.
    gw = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", aws_access_key_id=AWS_ACCESS_KEY_ID,
                                                aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
                                                aws_region_name=AWS_REGION)],
                      "llmux_settings": {"access_log": ""}},
                     env=dict(NO_AWS, HOME=ctx.tmp, AWS_BEDROCK_RUNTIME_ENDPOINT=m.origin))
    mk = marker("envbase")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"e {mk}")})
    eq(r.status, 200, f"AWS_BEDROCK_RUNTIME_ENDPOINT ({r.body[:300]!r})")
    _check_signed(m.wait_request(mk, done=True))
    # bedrock/converse/<id> names the API explicitly.
    gw2 = ctx.gateway({"model_list": [deployment("br", f"bedrock/converse/{CLAUDE}", api_base=m.origin,
                                                 aws_access_key_id=AWS_ACCESS_KEY_ID,
                                                 aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
                                                 aws_region_name=AWS_REGION)],
                       "llmux_settings": {"access_log": ""}}, name="converse", env=dict(NO_AWS, HOME=ctx.tmp))
    mk = marker("conv")
    eq(chat(gw2.port, {"model": "br", "messages": user_msg(f"c {mk}")}).status, 200, "bedrock/converse/")
    rec = m.wait_request(mk, done=True)
    _check_signed(rec)
    eq(rec.kind, "converse", "converse API")
    # Cross-region inference profile ids ("us." prefix) are one path segment too.
    gw3 = ctx.gateway({"model_list": [deployment("br", f"bedrock/us.{CLAUDE}", api_base=m.origin,
                                                 aws_access_key_id=AWS_ACCESS_KEY_ID,
                                                 aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
                                                 aws_region_name=AWS_REGION)],
                       "llmux_settings": {"access_log": ""}}, name="xregion", env=dict(NO_AWS, HOME=ctx.tmp))
    mk = marker("xr")
    eq(chat(gw3.port, {"model": "br", "messages": user_msg(f"x {mk}")}).status, 200, "us. profile id")
    _check_signed(m.wait_request(mk, done=True), model=f"us.{CLAUDE}")
    # An inference-profile ARN: ':' and '/' encoded, so the whole ARN stays one path segment.
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz"
    gw4 = ctx.gateway({"model_list": [deployment("br", f"bedrock/{arn}", api_base=m.origin,
                                                 aws_access_key_id=AWS_ACCESS_KEY_ID,
                                                 aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
                                                 aws_region_name=AWS_REGION)],
                       "llmux_settings": {"access_log": ""}}, name="arn", env=dict(NO_AWS, HOME=ctx.tmp))
    mk = marker("arn")
    s = chat_stream(gw4.port, {"model": "br", "stream": True, "messages": user_msg(f"a {mk}")})
    check(s.done, f"ARN stream: {s.describe()}")
    rec = m.wait_request(mk, done=True)
    _check_signed(rec, model=arn)
    eq(rec.info["model_id_raw"], "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile"
                                 "%2Fabc123xyz", "ARN encoded as one segment")


@test
def bedrock_runtime_endpoint_param(ctx):
    # LiteLLM's litellm_params.aws_bedrock_runtime_endpoint (documented next to api_base). The env variable
    # points at a closed port so that a gateway ignoring the parameter fails locally, not at AWS.
    from harness import closed_port
    m = MockBedrock().start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", aws_bedrock_runtime_endpoint=m.origin,
                                                aws_access_key_id=AWS_ACCESS_KEY_ID,
                                                aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
                                                aws_region_name=AWS_REGION)],
                      "llmux_settings": {"access_log": ""}},
                     env=dict(NO_AWS, HOME=ctx.tmp, AWS_BEDROCK_RUNTIME_ENDPOINT=f"http://127.0.0.1:{closed_port()}"))
    mk = marker("rtep")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"e {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    _check_signed(m.wait_request(mk, done=True))


@test
def bedrock_api_key_bearer(ctx):
    # Bedrock API keys (LiteLLM: litellm_params.api_key / AWS_BEARER_TOKEN_BEDROCK) are sent as
    # "Authorization: Bearer <key>" instead of SigV4.
    m = MockBedrock(api_key="ABSKbedrockapikeyMOCK0123").start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [deployment("br", f"bedrock/{CLAUDE}", api_base=m.origin,
                                                api_key=m.api_key, aws_region_name=AWS_REGION)],
                      "llmux_settings": {"access_log": ""}}, env=dict(NO_AWS, HOME=ctx.tmp))
    mk = marker("apikey")
    r = chat(gw.port, {"model": "br", "messages": user_msg(f"k {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(m.wait_request(mk, done=True).auth, "bearer", "bearer auth")
