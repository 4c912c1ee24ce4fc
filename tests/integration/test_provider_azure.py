"""OpenAI clients reaching Azure OpenAI through the real binary: azure/<deployment> with api_version and
api-key (the classic data plane, /openai/deployments/<dep>/...?api-version=), Entra ID tokens
(azure_ad_token → Bearer), and the v1 API (a base ending in /openai/v1). Azure speaks OpenAI's wire
format, so bodies are spliced; Azure's own additions (content-filter annotations, its error shapes) must
survive the trip."""
import json

from harness import (chat, chat_stream, check, check_error, deployment, eq, marker, request, test, user_msg,
                     Skip)
from mocks import AZURE_AD_TOKEN, AZURE_KEY, MockAzure

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

DEP = "gpt4o-prod"
VERSION = "2024-10-21"
NO_AZURE_ENV = {"AZURE_API_KEY": "", "AZURE_AD_TOKEN": "", "AZURE_API_BASE": "", "AZURE_API_VERSION": ""}


def _azure(ctx, dep=DEP, name="llmux", env=None, mock=None, api_base=None, **params):
    m = mock or MockAzure().start()
    if mock is None:
        ctx.cleanups.append(m.stop)
    params.setdefault("api_key", AZURE_KEY)
    params.setdefault("api_version", VERSION)
    params = {k: v for k, v in params.items() if v is not None}
    gw = ctx.gateway({"model_list": [deployment("az", f"azure/{dep}", api_base=api_base or m.origin, **params)],
                      "llmux_settings": {"access_log": ""}}, name=name, env=dict(NO_AZURE_ENV, **(env or {})))
    return m, gw


def _headers(rec):
    return {k.lower(): v for k, v in rec.headers}


def _finishes(s):
    return [ch["finish_reason"] for c in s.json_chunks() for ch in c["choices"] if ch.get("finish_reason")]


@test
def azure_plain_chat(ctx):
    m, gw = _azure(ctx)
    mk = marker("plain")
    r = chat(gw.port, {"model": "az", "temperature": 0.5, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": f"hello azure {mk}"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["object"], "chat.completion", "object")
    eq(j["choices"][0]["message"]["content"], f"hello azure {mk}", "echoed text")
    eq(j["choices"][0]["finish_reason"], "stop", "finish_reason")
    rec = m.wait_request(mk, done=True)
    eq(rec.rejected, None, "the mock accepted the request")
    eq(j["usage"]["prompt_tokens"], rec.usage["prompt_tokens"], "usage relayed")
    eq(j["usage"]["completion_tokens"], rec.usage["completion_tokens"], "usage relayed")
    # Azure's annotations survive the splice.
    check("prompt_filter_results" in j, f"prompt_filter_results kept: {sorted(j)}")
    check("content_filter_results" in j["choices"][0], "content_filter_results kept")
    eq(r.header("x-llmux-model-group"), "az", "model group header")
    # The exact upstream request.
    eq(rec.path, f"/openai/deployments/{DEP}/chat/completions?api-version={VERSION}", "path + api-version")
    h = _headers(rec)
    eq(h.get("api-key"), AZURE_KEY, "api-key header")
    check("authorization" not in h, "no bearer header with an api key")
    eq(rec.auth, "api-key", "authenticated by api-key")
    b = rec.json
    eq(b["messages"], [{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": f"hello azure {mk}"}], "messages verbatim")
    eq(b["temperature"], 0.5, "temperature")
    eq(b.get("model"), DEP, "model = the deployment name")


@test
def azure_default_api_version_and_env(ctx):
    # No api_version: AZURE_API_VERSION, else the gateway's default; key and base from the environment.
    m = MockAzure().start()
    ctx.cleanups.append(m.stop)
    _, gw = _azure(ctx, mock=m, api_key=None, api_version=None, api_base=m.origin)
    mk = marker("defver")
    r = chat(gw.port, {"model": "az", "messages": user_msg(f"hi {mk}")})
    check_error(r, 401)  # no key anywhere
    gw2 = ctx.gateway({"model_list": [deployment("az", f"azure/{DEP}")], "llmux_settings": {"access_log": ""}},
                      name="env", env=dict(NO_AZURE_ENV, AZURE_API_KEY=AZURE_KEY, AZURE_API_BASE=m.origin,
                                           AZURE_API_VERSION="2025-01-01-preview"))
    mk = marker("env")
    r = chat(gw2.port, {"model": "az", "messages": user_msg(f"hi {mk}")})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    rec = m.wait_request(mk, done=True)
    eq(rec.path, f"/openai/deployments/{DEP}/chat/completions?api-version=2025-01-01-preview", "env version")
    eq(_headers(rec).get("api-key"), AZURE_KEY, "AZURE_API_KEY")
    gw3 = ctx.gateway({"model_list": [deployment("az", f"azure/{DEP}", api_base=m.origin)],
                       "llmux_settings": {"access_log": ""}}, name="default",
                      env=dict(NO_AZURE_ENV, AZURE_API_KEY=AZURE_KEY))
    mk = marker("dv")
    eq(chat(gw3.port, {"model": "az", "messages": user_msg(f"hi {mk}")}).status, 200, "default version")
    check(m.wait_request(mk, done=True).q("api-version"), "some api-version is always sent")


@test
def azure_ad_token(ctx):
    m, gw = _azure(ctx, api_key=None, azure_ad_token=AZURE_AD_TOKEN)
    mk = marker("entra")
    r = chat(gw.port, {"model": "az", "messages": user_msg(f"entra {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    rec = m.wait_request(mk, done=True)
    h = _headers(rec)
    eq(h.get("authorization"), f"Bearer {AZURE_AD_TOKEN}", "Entra token as Bearer")
    check("api-key" not in h, "no api-key header")
    eq(rec.auth, "bearer-entra", "mock saw an Entra token")
    # AZURE_AD_TOKEN from the environment.
    _, gw2 = _azure(ctx, mock=m, api_key=None, name="env", env={"AZURE_AD_TOKEN": AZURE_AD_TOKEN})
    mk = marker("entraenv")
    eq(chat(gw2.port, {"model": "az", "messages": user_msg(f"e {mk}")}).status, 200, "AZURE_AD_TOKEN")
    eq(m.wait_request(mk, done=True).auth, "bearer-entra", "env token")
    # A wrong token: Azure's 401.
    _, gw3 = _azure(ctx, mock=m, api_key=None, azure_ad_token="bad-token", name="bad")
    check_error(chat(gw3.port, {"model": "az", "messages": user_msg("x")}), 401, type_="authentication_error")


@test
def azure_v1_api(ctx):
    m = MockAzure().start()
    ctx.cleanups.append(m.stop)
    _, gw = _azure(ctx, mock=m, api_base=m.origin + "/openai/v1", api_version=None)
    mk = marker("v1")
    r = chat(gw.port, {"model": "az", "messages": user_msg(f"v1 {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["choices"][0]["message"]["content"], f"v1 {mk}", "answer")
    rec = m.wait_request(mk, done=True)
    eq(rec.path, "/openai/v1/chat/completions", "v1 path, no api-version, no deployment segment")
    eq(rec.json["model"], DEP, "body model = the deployment")
    eq(rec.info["api"], "v1", "v1 API")
    s = chat_stream(gw.port, {"model": "az", "stream": True, "messages": user_msg(f"v1 stream {mk}")})
    check(s.done, s.describe())
    eq(s.content(), f"v1 stream {mk}", "streamed")


@test
def azure_stream_with_content_filter_chunk(ctx):
    m, gw = _azure(ctx)
    mk = marker("stream")
    s = chat_stream(gw.port, {"model": "az", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"one two three {mk}")})
    eq(s.resp.status, 200, f"status {s.describe()}")
    check(s.done, f"ends with [DONE]: {s.describe()}")
    eq(s.content(), f"one two three {mk}", "streamed text despite Azure's choice-less first chunk")
    chunks = s.json_chunks()
    usage = [c for c in chunks if c.get("usage")]
    eq(len(usage), 1, "one usage chunk")
    eq(usage[0]["choices"], [], "usage chunk has no choices")
    rec = m.wait_request(mk, done=True)
    eq(usage[0]["usage"]["prompt_tokens"], rec.usage["prompt_tokens"], "usage")
    eq(_finishes(s), ["stop"], "one finish_reason")
    filt = [c for c in chunks if "prompt_filter_results" in c]
    check(len(filt) <= 1, "the prompt-filter chunk at most once")
    eq(rec.json.get("stream_options"), {"include_usage": True}, "include_usage upstream")
    # Without include_usage: the forced usage chunk is not relayed, the prompt-filter chunk is harmless.
    mk2 = marker("nousage")
    s = chat_stream(gw.port, {"model": "az", "stream": True, "messages": user_msg(f"a b {mk2}")})
    check(s.done, s.describe())
    eq(s.content(), f"a b {mk2}", "text")
    check(not any(c.get("usage") for c in s.json_chunks()), "no usage chunk unless asked")


@test
def azure_tool_round_trip(ctx):
    m, gw = _azure(ctx)
    mk = marker("tool")
    r = chat(gw.port, {"model": "az", "tools": [WEATHER_TOOL], "messages": user_msg(f"call tool please {mk}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    j = r.json()
    eq(j["choices"][0]["finish_reason"], "tool_calls", "finish_reason")
    call = j["choices"][0]["message"]["tool_calls"][0]
    eq(call["function"]["name"], "get_weather", "name")
    eq(json.loads(call["function"]["arguments"]), {"city": "Paris"}, "arguments JSON string")
    mk2 = marker("result")
    r = chat(gw.port, {"model": "az", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": f"call tool please {mk2}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}]})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["choices"][0]["message"]["content"], "Tool result: sunny, 21C", "answer uses the result")
    eq(m.wait_request(mk2, done=True).rejected, None, "tool message answers the call")
    mk3 = marker("stool")
    s = chat_stream(gw.port, {"model": "az", "stream": True, "tools": [WEATHER_TOOL],
                              "messages": user_msg(f"call tool parallel {mk3}")})
    check(s.done, s.describe())
    calls = {}
    for c in s.json_chunks():
        for ch in c["choices"]:
            for tc in (ch.get("delta") or {}).get("tool_calls") or []:
                calls.setdefault(tc["index"], "")
                calls[tc["index"]] += (tc.get("function") or {}).get("arguments") or ""
    eq([json.loads(calls[i]) for i in sorted(calls)], [{"city": "Paris"}, {"city": "Rome"}], "streamed calls")
    eq(_finishes(s), ["tool_calls"], "finish")


@test
def azure_json_schema_and_reasoning(ctx):
    m, gw = _azure(ctx)
    mk = marker("json")
    schema = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}
    rf = {"type": "json_schema", "json_schema": {"name": "echo", "schema": schema, "strict": True}}
    r = chat(gw.port, {"model": "az", "messages": user_msg(f"give json {mk}"), "response_format": rf})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(json.loads(r.json()["choices"][0]["message"]["content"]), {"echo": f"give json {mk}", "mock": "azure"}, "JSON")
    eq(m.wait_request(mk, done=True).json["response_format"], rf, "response_format verbatim")
    # A reasoning deployment: reasoning_effort passes through; usage reports reasoning tokens.
    m2, gw2 = _azure(ctx, dep="o3-mini-prod", api_version="2024-12-01-preview", name="o3")
    mk2 = marker("reason")
    r = chat(gw2.port, {"model": "az", "reasoning_effort": "low", "max_completion_tokens": 500,
                        "messages": user_msg(f"think {mk2}")})
    eq(r.status, 200, f"status ({r.body[:400]!r})")
    eq(r.json()["usage"]["completion_tokens_details"]["reasoning_tokens"], 64, "reasoning tokens relayed")
    eq(m2.wait_request(mk2, done=True).json["reasoning_effort"], "low", "reasoning_effort sent")
    # Azure's own parameter rules come back as they are (param named).
    r = chat(gw2.port, {"model": "az", "max_tokens": 5, "messages": user_msg("x")})
    check_error(r, 400, code="unsupported_parameter", param="max_tokens")


@test
def azure_errors(ctx):
    m, gw = _azure(ctx)
    m.set_fault("fault-429", 1)
    r = chat(gw.port, {"model": "az", "messages": user_msg("x")})
    e = check_error(r, 429, type_="rate_limit_error")
    eq(r.header("retry-after"), "1", "Retry-After from Azure")
    check("rate limit" in e["message"], f"Azure's message kept: {e}")
    m.set_fault("fault-503", 1)
    check_error(chat(gw.port, {"model": "az", "messages": user_msg("x")}), 503)
    m.set_fault("fault-500", 1)
    check_error(chat(gw.port, {"model": "az", "messages": user_msg("x")}), 500, type_="server_error")
    # Wrong key: Azure's 401.
    _, gw2 = _azure(ctx, mock=m, api_key="wrong", name="badkey")
    e = check_error(chat(gw2.port, {"model": "az", "messages": user_msg("x")}), 401, type_="authentication_error")
    check("Access denied" in e["message"], f"message {e}")
    # Unknown deployment.
    _, gw3 = _azure(ctx, mock=m, dep="gpt4o-notfound", name="nf")
    e = check_error(chat(gw3.port, {"model": "az", "messages": user_msg("x")}), 404)
    eq(e["code"], "model_not_found", "DeploymentNotFound as OpenAI's model_not_found (wire_formats §5)")
    # Prompt filtered: 400 code content_filter, param prompt.
    m.set_fault("content-filter", 1)
    r = chat(gw.port, {"model": "az", "messages": user_msg("bad words")})
    check_error(r, 400, code="content_filter", param="prompt", msg_contains="content management policy")
    # Output filtered: a 200 with finish_reason content_filter.
    m.set_fault("content-filter-output", 1)
    r = chat(gw.port, {"model": "az", "messages": user_msg("bad words")})
    eq(r.status, 200, "status")
    eq(r.json()["choices"][0]["finish_reason"], "content_filter", "output filter")
    m.set_fault("content-filter-output", 1)
    s = chat_stream(gw.port, {"model": "az", "stream": True, "messages": user_msg("bad words")})
    check(s.done, s.describe())
    eq(_finishes(s), ["content_filter"], "stream finish content_filter")
    # Retries honour Azure's retry-after-ms / retry-after.
    _, gw4 = _azure(ctx, mock=m, max_retries=2, name="retry")
    m.set_fault("fault-429-ra0", 2)
    mk = marker("retry")
    r = chat(gw4.port, {"model": "az", "messages": user_msg(f"after retries {mk}")}, timeout=30)
    eq(r.status, 200, f"retried ({r.body[:300]!r})")
    eq(len(m.find(mk)), 3, "three attempts")


@test
def azure_429_code(ctx):
    m, gw = _azure(ctx)
    m.set_fault("fault-429", 1)
    r = chat(gw.port, {"model": "az", "messages": user_msg("x")})
    eq(r.status, 429, "status")
    # Azure's 429 body carries code "429"; clients branch on OpenAI's code.
    eq(r.json()["error"]["code"], "rate_limit_exceeded", "code")


@test
def azure_stream_faults(ctx):
    m, gw = _azure(ctx)
    for fault, code in (("error-mid-stream", None), ("truncated-stream", "upstream_stream_truncated"),
                        ("reset-mid-stream", "upstream_connection_reset")):
        m.set_fault(fault, 1)
        s = chat_stream(gw.port, {"model": "az", "stream": True, "messages": user_msg("a b c d e f g h i j")})
        eq(s.resp.status, 200, f"{fault}: status")
        check(s.ended, f"{fault}: the client stream ends cleanly: {s.describe()}")
        last = json.loads(s.data[-1])
        check("error" in last, f"{fault}: ends with an error event: {s.data[-2:]}")
        if code:
            eq(last["error"]["code"], code, f"{fault}: code")
        check(not s.done, f"{fault}: no [DONE] after an error")


@test
def azure_stream_old_api_version(ctx):
    # api-version 2024-06-01 (GA) predates stream_options: Azure answers 400 "Unrecognized request argument
    # supplied: stream_options". A plain stream without include_usage must still work there.
    m, gw = _azure(ctx, api_version="2024-06-01")
    mk = marker("old")
    r = chat(gw.port, {"model": "az", "messages": user_msg(f"plain {mk}")})
    eq(r.status, 200, f"non-streaming works on the old version ({r.body[:300]!r})")
    s = chat_stream(gw.port, {"model": "az", "stream": True, "messages": user_msg(f"stream {mk}")})
    # The gateway does not force stream_options on api-versions that predate it.
    eq(s.resp.status, 200, f"stream on the old version ({s.resp.body[:200]!r})")
    check(s.done, s.describe())
    eq(s.content(), f"stream {mk}", "streamed")


@test
def azure_embeddings_and_completions(ctx):
    m, gw = _azure(ctx, dep="text-embedding-3-small")
    mk = marker("emb")
    r = request(gw.port, "POST", "/v1/embeddings", {"model": "az", "input": [f"first {mk}", "second"]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(len(j["data"]), 2, "two vectors")
    eq([d["index"] for d in j["data"]], [0, 1], "indexes")
    check(all(isinstance(x, float) for x in j["data"][0]["embedding"]), "float vectors")
    rec = m.wait_request(mk, done=True)
    eq(rec.path, f"/openai/deployments/text-embedding-3-small/embeddings?api-version={VERSION}", "embeddings path")
    eq(_headers(rec).get("api-key"), AZURE_KEY, "api-key")
    eq(rec.json["input"], [f"first {mk}", "second"], "input")
    # Legacy completions go to the deployment's /completions (this chat deployment refuses it, as Azure does).
    m2, gw2 = _azure(ctx, name="cmpl")
    mk2 = marker("cmpl")
    r = request(gw2.port, "POST", "/v1/completions", {"model": "az", "prompt": f"once upon {mk2}"})
    e = check_error(r, 400)
    eq(e["code"], "OperationNotSupported", "Azure's answer relayed")
    eq(m2.wait_request(mk2, done=True).path, f"/openai/deployments/{DEP}/completions?api-version={VERSION}",
       "completions path")
