"""Routing strategies inside a model group (least-busy, latency-based, usage-based-v2, cost-based),
`order` tiers, aliases and wildcard groups, the success headers, max_parallel_requests across a group,
pre-call context-window checks, retry policies per error class and allowed_fails cooldowns, driven
through the real binary against the fault-injecting mock (per-model latency and fault queues)."""
import json
import time
from collections import Counter

from harness import (Bg, chat, chat_stream, check, check_error, eq, marker, request, test,
                     user_msg)
from harness import mock_dep as _dep
from harness import routing_settings as _quiet


def _models(mock, m):
    return [json.loads(r.body)["model"] for r in mock.find(m)]


def _counts(mock, m):
    return Counter(_models(mock, m))


def _clear_of_minute_boundary(need=8.0):
    # rpm / tpm / allowed_fails count per wall-clock minute: start a counted run where it ends
    # inside the same minute.
    left = 60 - time.time() % 60
    if left < need:
        time.sleep(left + 0.3)


def _ask(gw, group, m, text="x", **body):
    return chat(gw.port, {"model": group, "messages": user_msg(text), "user": m, **body})


def _settle():
    # The gateway settles a request's routing state (in-flight count, real token count, latency
    # sample) just after the last byte of its answer is written, so a client's next request can
    # arrive first. Tests that count on the previous request being settled leave it a moment.
    time.sleep(0.05)


def _warm_gateway(gw):
    # A fresh gateway's first calls pay one-time costs (first upstream connection, lazy setup) that
    # latency-based routing would pin on whichever deployment came first, and a deployment measured
    # slow once is not sampled again. The "warm" group (same mock) takes them instead.
    for stream in (False, True, False, True):
        body = {"model": "warm", "messages": user_msg("x"), "stream": stream}
        if stream:
            check(chat_stream(gw.port, body).done, "warm-up stream complete")
        else:
            eq(chat(gw.port, body).status, 200, "warm-up answered")


# ------------------------------------------------------------------------------------------ least-busy
def _hold_on(gw, mock, group, model, tries=30):
    """Sends requests one at a time until one is in flight on `model` (ties between idle deployments
    are broken at random); returns that request's Bg. The others must have been answered."""
    for _ in range(tries):
        m = marker("hold")
        bg = Bg(chat, gw.port, {"model": group, "messages": user_msg("x"), "user": m}, timeout=20)
        rec = mock.wait_request(m, timeout=10)
        if json.loads(rec.body)["model"] == model:
            return bg
        eq(bg.join(10).status, 200, "an idle-tie request answered")
    raise AssertionError(f"no request reached {model} in {tries} tries")


@test
def strategy_least_busy_sends_traffic_to_the_idle_deployment(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("lb", mock, "gpt-lb-slow"), _dep("lb", mock, "gpt-lb-fast")],
                      **_quiet(router={"routing_strategy": "least-busy", "num_retries": 0})})
    mock.set_latency(2000, model="gpt-lb-slow")
    # While one request is in flight on the slow deployment, every new one goes to the idle fast one.
    held = _hold_on(gw, mock, "lb", "gpt-lb-slow")
    m = marker("lb-seq")
    for _ in range(8):
        _settle()
        eq(_ask(gw, "lb", m).status, 200, "answered")
    eq(_counts(mock, m), Counter({"gpt-lb-fast": 8}), "the busy deployment gets nothing")
    # Concurrent clients: the slow deployment keeps its requests in flight, so the fast one gets most.
    m = marker("lb-burst")
    burst = []
    for _ in range(12):
        burst.append(Bg(chat, gw.port, {"model": "lb", "messages": user_msg("x"), "user": m}, timeout=20))
        time.sleep(0.04)
    for bg in burst:
        eq(bg.join(20).status, 200, "burst request answered")
    eq(held.join(20).status, 200, "the held request completes")
    c = _counts(mock, m)
    eq(sum(c.values()), 12, "every burst request reached the mock once")
    check(c["gpt-lb-slow"] <= 2 and c["gpt-lb-fast"] >= 10, f"fast deployment took most of the burst ({c})")


@test
def strategy_least_busy_counts_in_flight_across_concurrent_holds(ctx):
    # Two slow requests held on different deployments: each deployment has one in flight, so a third
    # deployment (idle) gets the next ones; with all three busy the tie is broken among all three.
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("lb3", mock, "gpt-l1"), _dep("lb3", mock, "gpt-l2"),
                                     _dep("lb3", mock, "gpt-l3")],
                      **_quiet(router={"routing_strategy": "least-busy", "num_retries": 0})})
    for model in ("gpt-l1", "gpt-l2", "gpt-l3"):
        mock.set_latency(1500, model=model)
    held = []
    seen = set()
    for _ in range(2):
        m = marker("lb3-hold")
        held.append(Bg(chat, gw.port, {"model": "lb3", "messages": user_msg("x"), "user": m}, timeout=20))
        seen.add(json.loads(mock.wait_request(m, timeout=10).body)["model"])
    eq(len(seen), 2, f"the second request avoided the busy deployment ({seen})")
    idle = ({"gpt-l1", "gpt-l2", "gpt-l3"} - seen).pop()
    m = marker("lb3-third")
    third = Bg(chat, gw.port, {"model": "lb3", "messages": user_msg("x"), "user": m}, timeout=20)
    eq(json.loads(mock.wait_request(m, timeout=10).body)["model"], idle, "the only idle deployment")
    for bg in held + [third]:
        eq(bg.join(20).status, 200, "held request answered")


# -------------------------------------------------------------------------------------- latency-based
@test
def strategy_latency_based_avoids_the_slow_deployment(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("lat", mock, "gpt-lat-fast"), _dep("lat", mock, "gpt-lat-slow"),
                                     _dep("warm", mock, "gpt-warm")],
                      **_quiet(router={"routing_strategy": "latency-based-routing", "num_retries": 0})})
    mock.set_latency(150, model="gpt-lat-slow")
    _warm_gateway(gw)
    # Unmeasured deployments are tried first: two requests warm both up.
    m = marker("lat-warm")
    for _ in range(2):
        eq(_ask(gw, "lat", m).status, 200, "warm-up answered")
        _settle()
    eq(_counts(mock, m), Counter({"gpt-lat-fast": 1, "gpt-lat-slow": 1}), "each deployment measured once")
    m = marker("lat")
    for _ in range(12):
        eq(_ask(gw, "lat", m).status, 200, "answered")
        _settle()
    c = _counts(mock, m)
    check(c["gpt-lat-slow"] <= 1, f"the deployment 150 ms slower gets (almost) nothing ({c})")


@test
def strategy_latency_based_non_streams_rank_by_time_per_output_token(ctx):
    # LiteLLM's lowest-latency routing ranks a non-streaming call by its duration divided by its
    # completion tokens, so a long answer is not held against the deployment that wrote it.
    # gpt-big-256: 150 ms late but ~5800 completion tokens (~0.03 ms a token); gpt-lpt-short: 20 ms
    # for 9 tokens (~2 ms a token).
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("lpt", mock, "gpt-lpt-short"), _dep("lpt", mock, "gpt-big-256"),
                                     _dep("warm", mock, "gpt-warm")],
                      **_quiet(router={"routing_strategy": "latency-based-routing", "num_retries": 0})})
    mock.set_latency(150, model="gpt-big-256")
    # 20 ms for the short answer keeps the per-token gap wide (~2 ms vs ~0.03 ms a token) however
    # fast the build and the machine are: without it a release build on an idle machine answers
    # the short one in well under a millisecond and the gap shrinks towards the check's 3x.
    mock.set_latency(20, model="gpt-lpt-short")
    _warm_gateway(gw)
    m = marker("lpt-warm")
    per_token = {}
    for _ in range(2):
        t0 = time.monotonic()
        r = _ask(gw, "lpt", m)
        eq(r.status, 200, "warm-up answered")
        per_token[_models(mock, m)[-1]] = (time.monotonic() - t0) / r.json()["usage"]["completion_tokens"]
        _settle()
    eq(sorted(per_token), ["gpt-big-256", "gpt-lpt-short"], "each deployment measured once")
    check(per_token["gpt-big-256"] * 3 < per_token["gpt-lpt-short"],
          f"the slow long answer is the faster per token, as the client saw it ({per_token})")
    m = marker("lpt")
    for _ in range(6):
        eq(_ask(gw, "lpt", m).status, 200, "answered")
        _settle()
    c = _counts(mock, m)
    check(c["gpt-big-256"] >= 5, f"the lowest time per output token wins ({c})")


@test
def strategy_latency_buffer_lets_near_deployments_share(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("latb", mock, "gpt-lb-fast"), _dep("latb", mock, "gpt-lb-slow"),
                                     _dep("warm", mock, "gpt-warm")],
                      **_quiet(router={"routing_strategy": "latency-based-routing", "num_retries": 0,
                                       "routing_strategy_args": {"lowest_latency_buffer": 1000}})})
    mock.set_latency(150, model="gpt-lb-slow")
    _warm_gateway(gw)
    m = marker("latb-warm")
    for _ in range(2):
        eq(_ask(gw, "latb", m).status, 200, "warm-up answered")
        _settle()
    # Within (1 + 1000) x the fastest: both are candidates, picked at random.
    m = marker("latb")
    for _ in range(24):
        eq(_ask(gw, "latb", m).status, 200, "answered")
    c = _counts(mock, m)
    check(c["gpt-lb-fast"] >= 3 and c["gpt-lb-slow"] >= 3, f"both deployments share the traffic ({c})")


@test
def strategy_latency_based_streams_use_time_to_first_token(ctx):
    # gpt-slow-stream-10x60: first chunk at once, the whole stream ~0.6 s. gpt-ttft-slow: everything
    # 250 ms late, so its stream starts later but ends sooner. Streams must pick by the first token.
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("ls", mock, "gpt-slow-stream-10x60"), _dep("ls", mock, "gpt-ttft-slow"),
                                     _dep("warm", mock, "gpt-warm")],
                      **_quiet(router={"routing_strategy": "latency-based-routing", "num_retries": 0})})
    mock.set_latency(250, model="gpt-ttft-slow")
    _warm_gateway(gw)
    m = marker("ls-json")
    for _ in range(5):
        eq(_ask(gw, "ls", m).status, 200, "non-stream answered")
        _settle()
    c = _counts(mock, m)
    eq(c, Counter({"gpt-slow-stream-10x60": 4, "gpt-ttft-slow": 1}), "non-streams: warm-up, then the faster")
    # Stream latencies are measured apart from whole-call latencies: both deployments are sampled.
    durations = {}
    ttfts = {}
    m = marker("ls-warm")
    for _ in range(2):
        s = chat_stream(gw.port, {"model": "ls", "messages": user_msg("x"), "stream": True, "user": m})
        check(s.done, f"stream complete ({s.describe()})")
        dep = _models(mock, m)[-1]
        durations[dep] = s.t_end - s.t0
        ttfts[dep] = s.events[0]["t"] - s.t0
        _settle()
    eq(sorted(durations), ["gpt-slow-stream-10x60", "gpt-ttft-slow"], "each deployment streamed once")
    check(durations["gpt-slow-stream-10x60"] > durations["gpt-ttft-slow"],
          f"the quick-start stream is the longer one overall ({durations})")
    check(ttfts["gpt-slow-stream-10x60"] < ttfts["gpt-ttft-slow"], f"but starts first ({ttfts})")
    m = marker("ls")
    for _ in range(4):
        s = chat_stream(gw.port, {"model": "ls", "messages": user_msg("x"), "stream": True, "user": m})
        check(s.done, f"stream complete ({s.describe()})")
        _settle()
    eq(_counts(mock, m), Counter({"gpt-slow-stream-10x60": 4}), "streams go to the lowest time to first token")


# ------------------------------------------------------------------------------------ usage-based-v2
def _usage_run(gw, group, limits, n, m):
    """Sends n requests one at a time. Checks each answer came from an eligible deployment (under its
    rpm, and its tpm with the request's estimate reserved) with the least used share of its limits,
    and that a 429 comes only when none is eligible. `limits`: deployment id -> (tpm, rpm)."""
    _clear_of_minute_boundary(3 + n * 0.15)
    used = {d: [0, 0] for d in limits}  # tokens, requests this minute

    def share(d):
        tpm, rpm = limits[d]
        return max(used[d][0] / tpm if tpm else 0.0, used[d][1] / rpm if rpm else 0.0)

    statuses = []
    for i in range(n):
        body = {"model": group, "messages": user_msg("x"), "user": m}
        # The router reserves the prompt's token count from admission: 3 per message + "user" +
        # "x" + 3 for the reply's priming, one token each in every tiktoken encoding.
        est = 8
        eligible = [d for d, (tpm, rpm) in limits.items()
                    if (rpm is None or used[d][1] < rpm) and (tpm is None or used[d][0] + est <= tpm)]
        _settle()
        r = chat(gw.port, body)
        statuses.append(r.status)
        if not eligible:
            check_error(r, 429, "rate_limit_error", code="rate_limit_exceeded", msg_contains=f"'{group}'")
            continue
        eq(r.status, 200, f"request {i} answered while {eligible} had headroom ({r.body[:200]!r})")
        d = r.header("x-llmux-deployment")
        check(d in eligible, f"request {i}: {d} was under its limits ({used})")
        best = min(share(x) for x in eligible)
        check(share(d) <= best + 1e-12, f"request {i}: {d} had the most headroom (used {used}, limits {limits})")
        used[d][0] += r.json()["usage"]["total_tokens"]
        used[d][1] += 1
    return statuses, used


@test
def strategy_usage_based_picks_most_headroom_and_respects_rpm(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("ub", mock, "gpt-ub-small", info={"id": "ub-small"}, rpm=10),
        _dep("ub", mock, "gpt-ub-big", info={"id": "ub-big"}, rpm=100),
        _dep("cap", mock, "gpt-cap-a", info={"id": "cap-a"}, rpm=2),
        _dep("cap", mock, "gpt-cap-b", info={"id": "cap-b"}, rpm=4)],
        **_quiet(router={"routing_strategy": "usage-based-routing-v2", "num_retries": 0})})
    m = marker("ub")
    statuses, used = _usage_run(gw, "ub", {"ub-small": (None, 10), "ub-big": (None, 100)}, 22, m)
    eq(statuses, [200] * 22, "all answered")
    c = _counts(mock, m)
    eq(c, Counter({"gpt-ub-small": 2, "gpt-ub-big": 20}), "traffic in proportion to the rpm headroom")
    # Tight limits: each deployment is used up to its rpm and never beyond; then a 429.
    m = marker("cap")
    statuses, used = _usage_run(gw, "cap", {"cap-a": (None, 2), "cap-b": (None, 4)}, 8, m)
    eq(statuses, [200] * 6 + [429] * 2, "six admitted (2 + 4), then refused")
    eq(_counts(mock, m), Counter({"gpt-cap-a": 2, "gpt-cap-b": 4}), "never over a deployment's rpm")


@test
def strategy_usage_based_respects_tpm(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("tok", mock, "gpt-tok-small", info={"id": "tok-small"}, tpm=100),
        _dep("tok", mock, "gpt-tok-big", info={"id": "tok-big"}, tpm=300)],
        **_quiet(router={"routing_strategy": "usage-based-routing-v2", "num_retries": 0})})
    m = marker("tok")
    # ~17 tokens a request (8 prompt + 9 completion); the prompt's 8 are reserved up front (the
    # exact count from admission), the completion is only known afterwards. As in LiteLLM, a
    # deployment is eligible while this minute's tokens + the prompt fit its tpm, so the minute can
    # end at most one answer's completion over it.
    statuses, used = _usage_run(gw, "tok", {"tok-small": (100, None), "tok-big": (300, None)}, 26, m)
    check(statuses.count(200) >= 10 and statuses[-1] == 429, f"admitted while under tpm, then 429 ({statuses})")
    eq(statuses, sorted(statuses), "no request admitted after the first 429")
    c = _counts(mock, m)
    check(used["tok-small"][0] <= 100 + 9 and used["tok-big"][0] <= 300 + 9,
          f"tpm exceeded by at most one completion ({used})")
    check(c["gpt-tok-big"] > 2 * c["gpt-tok-small"] > 0, f"the larger tpm took most of the traffic ({c})")


# ------------------------------------------------------------------------------------------ cost-based
@test
def strategy_cost_based_picks_the_cheapest(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        # Own prices: litellm_params beats model_info.
        _dep("own", mock, "gpt-own-mid", input_cost_per_token=3e-6, output_cost_per_token=3e-6),
        _dep("own", mock, "gpt-own-cheap", input_cost_per_token=1e-6, output_cost_per_token=1e-6),
        _dep("own", mock, "gpt-own-info", info={"input_cost_per_token": 2e-6, "output_cost_per_token": 2e-6}),
        _dep("own", mock, "gpt-own-override", info={"input_cost_per_token": 1e-9, "output_cost_per_token": 1e-9},
             input_cost_per_token=1e-5, output_cost_per_token=1e-5),
        # The built-in price table: gpt-4o-mini is cheaper than gpt-4o; an unknown model is last.
        _dep("table", mock, "gpt-4o"), _dep("table", mock, "gpt-4o-mini"), _dep("table", mock, "gpt-unknown-zz"),
        # model_info.base_model names the price entry (it beats the upstream model name).
        _dep("base", mock, "my-deploy-big", info={"base_model": "gpt-4o"}),
        _dep("base", mock, "my-deploy-small", info={"base_model": "gpt-4o-mini"}),
        _dep("base2", mock, "gpt-4o-mini", info={"base_model": "gpt-4"}),
        _dep("base2", mock, "gpt-4o")],
        **_quiet(router={"routing_strategy": "cost-based-routing"})})
    for group, want in [("own", "gpt-own-cheap"), ("table", "gpt-4o-mini"), ("base", "my-deploy-small"),
                        ("base2", "gpt-4o")]:
        m = marker(f"cost-{group}")
        for _ in range(6):
            eq(_ask(gw, group, m).status, 200, f"{group} answered")
        eq(_counts(mock, m), Counter({want: 6}), f"group {group}: the cheapest deployment")
    # The cheapest rate limited: the retry goes to the next cheapest, which keeps the traffic while
    # the cheapest cools down.
    mock.set_fault("gpt-fault-429-ra3", 1, model="gpt-own-cheap")
    m = marker("cost-cool")
    for _ in range(3):
        eq(_ask(gw, "own", m).status, 200, "answered after the 429")
    eq(_models(mock, m), ["gpt-own-cheap", "gpt-own-info", "gpt-own-info", "gpt-own-info"],
       "then the second cheapest (model_info prices)")


# ------------------------------------------------------------------------------------------ order tiers
@test
def strategy_order_tiers_fail_over_and_return(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("tier", mock, "gpt-t1a", order=1), _dep("tier", mock, "gpt-t1b", order=1),
        _dep("tier", mock, "gpt-t2", order=2), _dep("tier", mock, "gpt-tnone")],
        **_quiet(router={"num_retries": 3})})
    m = marker("tier-1")
    for _ in range(6):
        eq(_ask(gw, "tier", m).status, 200, "answered")
    check(set(_models(mock, m)) <= {"gpt-t1a", "gpt-t1b"}, f"only the first tier ({_counts(mock, m)})")
    # One of tier 1 cooling down: the other tier-1 deployment takes the traffic, not tier 2.
    mock.set_fault("gpt-fault-429-ra2", 1, model="gpt-t1a")
    mock.set_fault("gpt-fault-429-ra2", 1, model="gpt-t1b")
    m = marker("tier-cool")
    r = _ask(gw, "tier", m)
    eq(r.status, 200, f"answered by a lower tier ({r.body[:300]!r})")
    got = _models(mock, m)
    eq(sorted(got[:2]), ["gpt-t1a", "gpt-t1b"], "both tier-1 deployments tried first")
    eq(got[2:], ["gpt-t2"], "then tier 2 (not the unordered one)")
    eq(r.header("x-llmux-attempts"), "3", "attempts header")
    eq(r.header("x-llmux-fallback-used"), "false", "same group: no fallback")
    m = marker("tier-2")
    for _ in range(4):
        eq(_ask(gw, "tier", m).status, 200, "answered")
    eq(_counts(mock, m), Counter({"gpt-t2": 4}), "tier 2 while tier 1 cools down (Retry-After 2 s)")
    # Tier 2 rate limited too: the unordered deployment (sorted last) is the only one left.
    mock.set_fault("gpt-fault-429-ra1", 1, model="gpt-t2")
    m = marker("tier-last")
    eq(_ask(gw, "tier", m).status, 200, "answered by the last tier")
    eq(_models(mock, m), ["gpt-t2", "gpt-tnone"], "unset order sorts after every set one")
    time.sleep(2.3)
    m = marker("tier-back")
    for _ in range(4):
        eq(_ask(gw, "tier", m).status, 200, "answered")
    check(set(_models(mock, m)) <= {"gpt-t1a", "gpt-t1b"}, f"tier 1 again after its cooldown ({_counts(mock, m)})")


# ------------------------------------------------------------------------------- aliases and wildcards
@test
def strategy_aliases_and_wildcard_groups(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("gpt-4o", mock, "gpt-aliased-real"),
        _dep("openai/*", mock, "*"),
        _dep("*", mock, "catchall-*"),
        _dep("openai/gpt-exact", mock, "gpt-exact-real"),
        _dep("main", mock, "gpt-wc-main")],
        **_quiet(router={"num_retries": 0, "fallbacks": [{"main": ["openai/gpt-fb-9"]}],
                         "model_group_alias": {"gpt-4": "gpt-4o",
                                               "secret-4": {"model": "gpt-4o", "hidden": True}}})})
    ids = [x["id"] for x in request(gw.port, "GET", "/v1/models").json()["data"]]
    check("gpt-4o" in ids and "gpt-4" in ids, f"group and plain alias listed ({ids})")
    check("secret-4" not in ids, f"hidden alias not listed ({ids})")
    for name in ("gpt-4o", "gpt-4", "secret-4"):
        m = marker("alias")
        r = _ask(gw, name, m)
        eq(r.status, 200, f"{name} answered")
        eq(_models(mock, m), ["gpt-aliased-real"], f"{name} reaches the aliased group's deployment")
        eq(r.header("x-llmux-model-group"), "gpt-4o", f"{name}: model group header")
    for name, upstream, group in [("openai/gpt-x-123", "gpt-x-123", "openai/*"),
                                  ("openai/gpt-exact", "gpt-exact-real", "openai/gpt-exact"),
                                  ("some-other-model", "catchall-some-other-model", "*"),
                                  ("vendor/x/y", "catchall-vendor/x/y", "*")]:
        m = marker("wc")
        r = _ask(gw, name, m)
        eq(r.status, 200, f"{name} answered ({r.body[:200]!r})")
        eq(_models(mock, m), [upstream], f"{name}: the provider model")
        eq(r.header("x-llmux-model-group"), group, f"{name}: the matching group")
    m = marker("wc-stream")
    s = chat_stream(gw.port, {"model": "openai/gpt-stream-7", "messages": user_msg("x"), "stream": True, "user": m})
    check(s.done, f"wildcard stream complete ({s.describe()})")
    eq(_models(mock, m), ["gpt-stream-7"], "stream through the wildcard")
    # A fallback naming a model only a wildcard group serves.
    mock.set_fault("gpt-fault-500", 1, model="gpt-wc-main")
    m = marker("wc-fb")
    r = _ask(gw, "main", m)
    eq(r.status, 200, f"fallback answered ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-wc-main", "gpt-fb-9"], "main, then the wildcard-served fallback")
    eq(r.header("x-llmux-fallback-used"), "true", "fallback header")
    eq(r.header("x-llmux-model-group"), "openai/*", "answered by the wildcard group")


@test
def strategy_alias_named_like_a_group_hides_it(ctx):
    # docs/config.md: "An alias is looked up before the groups: one named like a group hides that
    # group (warned)" (LiteLLM's order too).
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("target", mock, "gpt-target"), _dep("shadow", mock, "gpt-shadowed")],
                      **_quiet(router={"model_group_alias": {"shadow": "target"}})})
    m = marker("shadow")
    r = _ask(gw, "shadow", m)
    eq(r.status, 200, "answered")
    eq(_models(mock, m), ["gpt-target"], "the alias wins over the group of the same name")
    ids = [x["id"] for x in request(gw.port, "GET", "/v1/models").json()["data"]]
    eq(ids.count("shadow"), 1, f"listed once ({ids})")


# ------------------------------------------------------------------------------------- success headers
@test
def strategy_success_headers(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("hdr", mock, "gpt-hdr", info={"id": "hdr-dep-1"}),
                                     _dep("hdr2", mock, "gpt-hdr2")], **_quiet()})
    for group, dep in (("hdr", "hdr-dep-1"), ("hdr2", "hdr2/1")):
        r = _ask(gw, group, marker("hdr"))
        eq(r.status, 200, "answered")
        eq(r.header("x-llmux-attempts"), "1", f"{group}: one attempt")
        eq(r.header("x-llmux-fallback-used"), "false", f"{group}: no fallback")
        eq(r.header("x-llmux-deployment"), dep, f"{group}: deployment id (model_info.id, else group/index)")
        eq(r.header("x-llmux-model-group"), group, f"{group}: model group")
    s = chat_stream(gw.port, {"model": "hdr", "messages": user_msg("x"), "stream": True})
    check(s.done, "stream complete")
    eq((s.resp.header("x-llmux-attempts"), s.resp.header("x-llmux-fallback-used"),
        s.resp.header("x-llmux-deployment")), ("1", "false", "hdr-dep-1"), "stream headers")


# ----------------------------------------------------------------------------- max_parallel_requests
@test
def strategy_max_parallel_moves_to_the_other_deployment(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("mp", mock, "gpt-mp-a", info={"id": "mp-a"}, max_parallel_requests=1),
        _dep("mp", mock, "gpt-mp-b", info={"id": "mp-b"}, max_parallel_requests=1)],
        **_quiet(router={"num_retries": 0})})
    mock.set_latency(1000, model="gpt-mp-a")
    mock.set_latency(1000, model="gpt-mp-b")
    m = marker("mp")
    first = Bg(_ask, gw, "mp", m)
    mock.wait_for(lambda: len([r for r in mock.requests if m.encode() in r.body]) >= 1, what="first call")
    second = Bg(_ask, gw, "mp", m)
    mock.wait_for(lambda: len([r for r in mock.requests if m.encode() in r.body]) >= 2, what="second call")
    # Both at their cap now: the third is refused at once, not queued.
    r = _ask(gw, "mp", marker("mp-third"))
    check_error(r, 429, "rate_limit_error", code="rate_limit_exceeded", msg_contains="'mp'")
    r1, r2 = first.join(20), second.join(20)
    eq((r1.status, r2.status), (200, 200), "no 429 while the other deployment was free")
    eq(sorted([r1.header("x-llmux-deployment"), r2.header("x-llmux-deployment")]), ["mp-a", "mp-b"],
       "one on each deployment")
    eq(sorted(_models(mock, m)), ["gpt-mp-a", "gpt-mp-b"], "one upstream call each")
    _settle()
    eq(_ask(gw, "mp", marker("mp-after")).status, 200, "slots freed when the requests ended")


# ---------------------------------------------------------------------------------- pre-call checks
@test
def strategy_pre_call_checks_skip_small_deployments(ctx):
    mock = ctx.mock()
    group = [_dep("pc", mock, "gpt-pc-small", info={"max_input_tokens": 50}),
             _dep("pc", mock, "gpt-pc-big", info={"max_input_tokens": 100000})]
    gw = ctx.gateway({"model_list": group, **_quiet(router={"enable_pre_call_checks": True}, workers=1)})
    long_text = "x " * 400  # ~200 estimated tokens
    m = marker("pc-long")
    for _ in range(6):
        eq(_ask(gw, "pc", m, long_text).status, 200, "long prompt answered")
    eq(_counts(mock, m), Counter({"gpt-pc-big": 6}), "the small deployment is skipped for a long prompt")
    m = marker("pc-short")
    for _ in range(10):
        eq(_ask(gw, "pc", m).status, 200, "short prompt answered")
    c = _counts(mock, m)
    check(c["gpt-pc-small"] >= 3 and c["gpt-pc-big"] >= 3, f"a short prompt may use either ({c})")
    # Larger than every deployment: a 400 before any call.
    m = marker("pc-huge")
    r = _ask(gw, "pc", m, "x " * 220000)
    check_error(r, 400, "invalid_request_error", code="context_length_exceeded", msg_contains="'pc'")
    eq(len(mock.find(m)), 0, "no upstream call")
    # Without enable_pre_call_checks the context window is not consulted.
    gw2 = ctx.gateway({"model_list": group, **_quiet(workers=1)}, name="llmux-nocheck")
    m = marker("pc-off")
    for _ in range(6):
        eq(_ask(gw2, "pc", m, long_text).status, 200, "answered")
    check(_counts(mock, m)["gpt-pc-small"] >= 2, f"the small one is used without the check ({_counts(mock, m)})")


# ------------------------------------------------------------------------- retry policy, allowed_fails
@test
def strategy_retry_policy_per_error_class(ctx):
    mock = ctx.mock()
    ml = []
    for g in ("rp", "rl", "strict", "auth", "br", "plain"):
        ml += [_dep(g, mock, f"gpt-{g}-{i}") for i in range(3)]
    gw = ctx.gateway({"model_list": ml, **_quiet(router={
        "num_retries": 1,
        "retry_policy": {"RateLimitErrorRetries": 0, "InternalServerErrorRetries": 2},
        "model_group_retry_policy": {"strict": {"InternalServerErrorRetries": 0},
                                     "br": {"BadRequestErrorRetries": 1}}})})

    def all_fail(group, fault):
        for i in range(3):
            mock.set_fault(fault, 1, model=f"gpt-{group}-{i}")
        m = marker(group)
        r = _ask(gw, group, m)
        mock.clear_faults()
        return r, _models(mock, m)

    r, calls = all_fail("rp", "gpt-fault-500")
    eq(r.status, 500, "every deployment failed")
    eq(len(calls), 3, "InternalServerErrorRetries 2: three attempts")
    eq(len(set(calls)), 3, "each retry on another deployment")
    eq(r.header("x-llmux-attempts"), "3", "attempts header")
    eq(len(r.json()["error"]["attempts"]), 3, "every attempt listed")
    r, calls = all_fail("rl", "gpt-fault-429-nora")
    eq(r.status, 429, "rate limited")
    eq(len(calls), 1, "RateLimitErrorRetries 0: no retry")
    r, calls = all_fail("strict", "gpt-fault-503")
    eq(r.status, 503, "server error")
    eq(len(calls), 1, "the group's InternalServerErrorRetries 0")
    r, calls = all_fail("auth", "gpt-fault-401")
    eq(r.status, 401, "authentication error")
    eq(len(calls), 2, "a class without a policy entry: num_retries (1)")
    r, calls = all_fail("br", "gpt-fault-400")
    eq(r.status, 400, "bad request")
    eq(len(calls), 2, "BadRequestErrorRetries 1 retries a 400 (never retried by default)")
    r, calls = all_fail("plain", "gpt-fault-400")
    eq(r.status, 400, "bad request")
    eq(len(calls), 1, "a 400 is not retried without a policy entry for its class")


@test
def strategy_group_retry_policy_replaces_the_global_one(ctx):
    # docs/config.md: model_group_retry_policy is "a retry_policy per model group, used instead of
    # retry_policy for that group" (LiteLLM's get_num_retries_from_retry_policy replaces it too): a
    # class the group's policy does not name falls back to num_retries, not to retry_policy.
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("grp", mock, f"gpt-grp-{i}") for i in range(3)]
                      + [_dep("other", mock, f"gpt-oth-{i}") for i in range(3)],
                      **_quiet(router={"num_retries": 2, "retry_policy": {"RateLimitErrorRetries": 0},
                                       "model_group_retry_policy": {"grp": {"InternalServerErrorRetries": 0}}})})
    for i in range(3):
        mock.set_fault("gpt-fault-429-nora", 1, model=f"gpt-oth-{i}")
    m = marker("oth")
    eq(_ask(gw, "other", m).status, 429, "rate limited")
    eq(len(mock.find(m)), 1, "retry_policy applies to a group without its own policy")
    for i in range(3):
        mock.set_fault("gpt-fault-429-nora", 1, model=f"gpt-grp-{i}")
    m = marker("grp")
    eq(_ask(gw, "grp", m).status, 429, "rate limited everywhere")
    eq(len(mock.find(m)), 3, "the group's own policy has no RateLimitErrorRetries: num_retries 2")


@test
def strategy_allowed_fails_cooldowns(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("one", mock, "gpt-af-one"),
        _dep("two", mock, "gpt-af-a", order=1), _dep("two", mock, "gpt-af-b", order=2),
        _dep("rl", mock, "gpt-af-rla", order=1), _dep("rl", mock, "gpt-af-rlb", order=2)],
        **_quiet(router={"allowed_fails": 1, "cooldown_time": 1, "num_retries": 0})})
    _clear_of_minute_boundary(8)
    # A single deployment: two failures this minute exceed allowed_fails 1 -> cooldown.
    mock.set_fault("gpt-fault-500", 2, model="gpt-af-one")
    m = marker("af-one")
    eq([_ask(gw, "one", m).status for _ in range(2)], [500, 500], "two failures answered as they are")
    r = _ask(gw, "one", m)
    check_error(r, 429, "rate_limit_error", code="no_deployments_available", msg_contains="'one'")
    eq(len(mock.find(m)), 2, "no call while cooling down")
    # Two deployments: the first failure does not cool down (the default rule would), the second does.
    mock.set_fault("gpt-fault-500", 2, model="gpt-af-a")
    m = marker("af-two")
    eq([_ask(gw, "two", m).status for _ in range(4)], [500, 500, 200, 200], "two failures, then the other")
    eq(_models(mock, m), ["gpt-af-a", "gpt-af-a", "gpt-af-b", "gpt-af-b"], "cooldown after allowed_fails + 1")
    # A 429 is counted like any failure under allowed_fails (by default it cools down at once).
    mock.set_fault("gpt-fault-429-nora", 2, model="gpt-af-rla")
    m = marker("af-rl")
    eq([_ask(gw, "rl", m).status for _ in range(3)], [429, 429, 200], "two 429s, then the other")
    eq(_models(mock, m), ["gpt-af-rla", "gpt-af-rla", "gpt-af-rlb"], "the 429 deployment kept its turn once")
    time.sleep(1.3)
    m = marker("af-back")
    eq(_ask(gw, "one", m).status, 200, "the single deployment is back after cooldown_time")
    eq(_ask(gw, "two", m).status, 200, "answered")
    eq(_models(mock, m), ["gpt-af-one", "gpt-af-a"], "the first tier is back too")


@test
def strategy_allowed_fails_policy_per_error_class(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [
        _dep("p429", mock, "gpt-ap-a", order=1), _dep("p429", mock, "gpt-ap-b", order=2),
        _dep("p500", mock, "gpt-ap-c", order=1), _dep("p500", mock, "gpt-ap-d", order=2)],
        **_quiet(router={"allowed_fails_policy": {"RateLimitErrorAllowedFails": 0,
                                                  "InternalServerErrorAllowedFails": 2},
                         "cooldown_time": 30, "num_retries": 0})})
    _clear_of_minute_boundary(8)
    mock.set_fault("gpt-fault-429-nora", 1, model="gpt-ap-a")
    m = marker("ap429")
    eq([_ask(gw, "p429", m).status for _ in range(3)], [429, 200, 200], "one 429 is one too many")
    eq(_models(mock, m), ["gpt-ap-a", "gpt-ap-b", "gpt-ap-b"], "cooled down after the first 429")
    mock.set_fault("gpt-fault-500", 3, model="gpt-ap-c")
    m = marker("ap500")
    eq([_ask(gw, "p500", m).status for _ in range(5)], [500, 500, 500, 200, 200], "three 500s allowed 2")
    eq(_models(mock, m), ["gpt-ap-c"] * 3 + ["gpt-ap-d"] * 2, "cooled down after the third 500")
