"""The built-in `mock/` provider (no network)."""
import json

from harness import chat, chat_stream, check, eq, test, user_msg
from shared_env import shared


def _content(r):
    eq(r.status, 200, f"status ({r.body[:300]!r})")
    j = r.json()
    eq(j.get("object"), "chat.completion", "object")
    check(isinstance(j.get("id"), str) and j["id"], "id")
    check(isinstance(j.get("created"), int), "created")
    eq(j["choices"][0]["message"]["role"], "assistant", "role")
    eq(j["choices"][0]["finish_reason"], "stop", "finish_reason")
    u = j.get("usage") or {}
    check(u.get("prompt_tokens", 0) >= 1 and u.get("completion_tokens", 0) >= 1, f"usage {u!r}")
    eq(u.get("total_tokens"), u["prompt_tokens"] + u["completion_tokens"], "usage.total_tokens")
    return j["choices"][0]["message"]["content"]


@test
def mock_provider_echo(ctx):
    env = shared(ctx)
    txt = "Echo me: ✓ ünï \"quoted\" \\ back\nslash"
    eq(_content(chat(env.port, {"model": "mock-echo", "messages": user_msg(txt)})), txt, "echo of the user message")
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"}, {"role": "user", "content": "second"}]
    eq(_content(chat(env.port, {"model": "mock-echo", "messages": msgs})), "second", "echo of the LAST user message")


@test
def mock_provider_echo_text_parts(ctx):
    env = shared(ctx)
    msgs = [{"role": "user", "content": [{"type": "text", "text": "part one"},
                                         {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                                         {"type": "text", "text": "part two"}]}]
    c = _content(chat(env.port, {"model": "mock-echo", "messages": msgs}))
    check("part one" in c and "part two" in c and c.index("part one") < c.index("part two"),
          f"text parts joined in order: {c!r}")
    check("https://x/y.png" not in c, "non-text parts are not echoed")


@test
def mock_provider_mock_response_in_body(ctx):
    env = shared(ctx)
    c = _content(chat(env.port, {"model": "mock-echo", "messages": user_msg("ignored"),
                                 "mock_response": "from the body ✓"}))
    eq(c, "from the body ✓", "mock_response in the request body")
    # The request's mock_response wins over the deployment's.
    c = _content(chat(env.port, {"model": "mock-fixed", "messages": user_msg("ignored"), "mock_response": "req"}))
    eq(c, "req", "request mock_response overrides litellm_params.mock_response")


@test
def mock_provider_mock_response_in_params(ctx):
    env = shared(ctx)
    c = _content(chat(env.port, {"model": "mock-fixed", "messages": user_msg("ignored")}))
    eq(c, "fixed mock answer ✓", "litellm_params.mock_response")


@test
def mock_provider_stream(ctx):
    env = shared(ctx)
    txt = "one two three four five ✓"
    r = chat_stream(env.port, {"model": "mock-echo", "stream": True, "messages": user_msg(txt)})
    eq(r.resp.status, 200, f"status {r.describe()}")
    check((r.resp.header("content-type") or "").startswith("text/event-stream"), "content-type")
    check(r.ended and not r.error, f"stream ended cleanly: {r.describe()}")
    check(r.done, "[DONE] at the end")
    chunks = r.json_chunks()
    check(len(chunks) >= 3, f"role, content and finish chunks expected: {r.data}")
    eq(chunks[0]["choices"][0]["delta"].get("role"), "assistant", "first chunk carries the role")
    for c in chunks:
        eq(c.get("object"), "chat.completion.chunk", "chunk object")
        eq(c["id"], chunks[0]["id"], "same id on every chunk")
        check(c.get("choices") != [], f"no usage-only chunk without include_usage: {c}")
    eq(chunks[-1]["choices"][0]["finish_reason"], "stop", "finish_reason on the last chunk")
    eq(r.content(), txt, "assembled content")
    check(len([c for c in chunks if c["choices"][0]["delta"].get("content")]) >= 2,
          "content should be split into several deltas")


@test
def mock_provider_stream_include_usage(ctx):
    env = shared(ctx)
    r = chat_stream(env.port, {"model": "mock-fixed", "stream": True, "stream_options": {"include_usage": True},
                               "messages": user_msg("x")})
    eq(r.resp.status, 200, "status")
    check(r.done, f"[DONE]: {r.describe()}")
    u = json.loads(r.data[-2])
    eq(u.get("choices"), [], "usage-only chunk before [DONE]")
    check(u["usage"]["prompt_tokens"] >= 1 and u["usage"]["completion_tokens"] >= 1, f"usage {u['usage']}")
    eq(r.content(), "fixed mock answer ✓", "content")


@test
def mock_provider_stream_is_incremental(ctx):
    """slow-mock: mock_latency_ms 200, mock_chunk_delay_ms 150: events must not arrive all at once."""
    env = shared(ctx)
    r = chat_stream(env.port, {"model": "slow-mock", "stream": True, "messages": user_msg("a b c d e")})
    check(r.done, f"[DONE]: {r.describe()}")
    ts = [e["t"] for e in r.events if e["data"] is not None]
    spread = ts[-1] - ts[0]
    check(spread >= 0.3, f"events arrived within {spread:.3f}s: the mock stream should be paced "
                         "by mock_chunk_delay_ms and relayed as produced")
    check(ts[0] - r.t0 >= 0.15, f"first event after {ts[0] - r.t0:.3f}s, expected >= mock_latency_ms")
