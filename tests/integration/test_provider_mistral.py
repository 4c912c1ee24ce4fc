"""Mistral through its adapter (the OpenAI mock stands in: Mistral speaks almost-OpenAI, and the
adapter's rewrites are what this checks): tool-call ids, seed, stream_options, embeddings path."""
import json

from harness import (UPSTREAM_KEY, chat, chat_stream, check, check_error, deployment, eq, marker, request,
                     test, user_msg)


def _mistral(ctx, **params):
    m = ctx.mock()
    gw = ctx.gateway({"model_list": [
        deployment("mis", "mistral/mistral-large-latest", api_base=m.base_url, api_key=UPSTREAM_KEY, **params)],
        "llmux_settings": {"access_log": ""}})
    return m, gw


@test
def mistral_request_rewrites(ctx):
    m, gw = _mistral(ctx)
    mk = marker("mis")
    history = [
        {"role": "user", "content": f"weather? {mk}"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_Abc_123-long-openai-id", "type": "function",
                                                             "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_Abc_123-long-openai-id", "content": "sunny"},
        {"role": "developer", "content": "Be brief."}]
    r = chat(gw.port, {"model": "mis", "messages": history, "seed": 7, "max_completion_tokens": 50,
                       "tool_choice": "required", "user": "u1",
                       "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]})
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    eq(r.json()["model"], "mis", "model is the client's name")
    rec = m.wait_request(mk)
    eq(rec.header("authorization"), f"Bearer {UPSTREAM_KEY}", "bearer key")
    check(rec.path.startswith("/v1/chat/completions"), f"path {rec.path} (no doubled /v1)")
    up = json.loads(rec.body)
    eq(up["model"], "mistral-large-latest", "upstream model")
    eq(up.get("random_seed"), 7, "seed becomes random_seed")
    check("seed" not in up and "user" not in up and "stream_options" not in up, f"fields Mistral rejects: {up}")
    eq(up["max_tokens"], 50, "max_completion_tokens becomes max_tokens")
    eq(up["tool_choice"], "any", "required becomes any")
    call_id = up["messages"][1]["tool_calls"][0]["id"]
    check(len(call_id) == 9 and call_id.isalnum(), f"tool-call id remapped to 9 alphanumerics: {call_id!r}")
    eq(up["messages"][2]["tool_call_id"], call_id, "the tool result keeps its pairing")
    eq(up["messages"][3]["role"], "system", "developer becomes system")


@test
def mistral_stream_and_errors(ctx):
    m, gw = _mistral(ctx)
    mk = marker("mst")
    s = chat_stream(gw.port, {"model": "mis", "stream": True, "stream_options": {"include_usage": True},
                              "messages": user_msg(f"hi {mk}")})
    eq(s.resp.status, 200, "status")
    check(s.done, s.describe())
    check(s.content(), "streamed content")
    chunks = s.json_chunks()
    check(all(c["model"] == "mis" for c in chunks), "client's model name in every chunk")
    eq(chunks[-1]["choices"], [], "a usage-only chunk last")
    check("stream_options" not in json.loads(m.wait_request(mk).body), "no stream_options upstream")
    r = chat(gw.port, {"model": "mis", "messages": user_msg("x"), "logit_bias": {"1": 1}})
    check_error(r, 400, code="unsupported_parameter", param="logit_bias")
    m.set_fault("gpt-fault-429", 1)
    check_error(chat(gw.port, {"model": "mis", "messages": user_msg("x")}), 429, code="rate_limit_exceeded")


@test
def mistral_embeddings_are_spliced(ctx):
    m, gw = _mistral(ctx)
    mk = marker("emb")
    r = request(gw.port, "POST", "/v1/embeddings", {"model": "mis", "input": [f"a {mk}"]})
    # The OpenAI mock serves no /embeddings: what matters is where the request went and how.
    rec = m.wait_request(mk)
    eq(rec.path, "/v1/embeddings", "OpenAI-shaped embeddings path")
    eq(rec.header("authorization"), f"Bearer {UPSTREAM_KEY}", "bearer key")
    eq(json.loads(rec.body)["model"], "mistral-large-latest", "upstream model")
    check(r.status in (200, 404), f"the upstream's answer is relayed ({r.status})")
