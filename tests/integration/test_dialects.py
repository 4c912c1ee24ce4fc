"""Per-request routing in the OpenRouter and Portkey dialects, through the real binary: OpenRouter's
`models` fallback list, `provider` preferences (order, allow_fallbacks, only, ignore, sort, max_price)
and the :floor / :nitro suffixes; Portkey-style routing configs (x-llmux-config / x-portkey-config,
or by id from routing_configs) in fallback, loadbalance and conditional mode, with retry,
request_timeout, override_params and provider-filtered targets, and the 400s for bad input.
Deployments of several providers (OpenAI-compatible ones) share one fault-injecting mock; each has
its own upstream model name, so the mock's records show which deployment was called."""
import json
import time

from harness import (Conn, ConnectionClosed, chat, check, check_error, eq, marker,
                     slow_factor, test, user_msg)
from harness import mock_dep as _dep
from harness import routing_settings as _quiet


def _pdep(name, mock, provider, upstream_model, info=None, **extra):
    """A deployment of an OpenAI-compatible provider (groq, together_ai, deepseek...) on the mock."""
    d = _dep(name, mock, upstream_model, info, **extra)
    d["litellm_params"]["model"] = f"{provider}/{upstream_model}"
    return d


def _models(mock, m):
    return [json.loads(r.body)["model"] for r in mock.find(m)]


def _body(model, m, **extra):
    # The marker is in the prompt too: some providers' adapters drop `user`.
    return {"model": model, "messages": user_msg(f"hi {m}"), "user": m, **extra}


def _pk(config, header="x-llmux-config"):
    return {header: config if isinstance(config, str) else json.dumps(config)}


def _fb(*models, **strategy):
    """A Portkey fallback config over llmux model groups."""
    return {"strategy": {"mode": "fallback", **strategy},
            "targets": [{"override_params": {"model": x}} for x in models]}


# ---------------------------------------------------------------------------------------------- OpenRouter
@test
def dialect_openrouter_models_array_fallback(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-or-a"), _dep("b", mock, "gpt-or-b"),
                                     _dep("c", mock, "gpt-or-c")],
                      **_quiet(router={"num_retries": 0})})
    # The body's model first, then `models` in order.
    mock.set_fault("gpt-fault-500", 1, model="gpt-or-a")
    m = marker("or-models")
    r = chat(gw.port, _body("a", m, models=["b", "c"]))
    eq(r.status, 200, f"second model answers ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-or-a", "gpt-or-b"], "a, then b; c never called")
    eq(r.header("x-llmux-fallback-used"), "true", "fallback header")
    eq(r.header("x-llmux-model-group"), "b", "answering group")
    eq(r.header("x-llmux-attempts"), "2", "attempts header")
    # No failure: the first model answers, no fallback.
    m = marker("or-models-ok")
    r = chat(gw.port, _body("a", m, models=["b", "c"]))
    eq(r.status, 200, "first answers")
    eq(_models(mock, m), ["gpt-or-a"], "only the first model")
    eq(r.header("x-llmux-fallback-used"), "false", "no fallback")
    # An unknown name in the list is skipped on the way to the next.
    mock.set_fault("gpt-fault-503", 1, model="gpt-or-a")
    m = marker("or-models-unknown")
    r = chat(gw.port, _body("a", m, models=["no-such-model", "c"]))
    eq(r.status, 200, f"third entry answers ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-or-a", "gpt-or-c"], "unknown model skipped")
    eq(r.header("x-llmux-model-group"), "c", "answering group")
    # Every model fails: the error lists each attempt.
    mock.set_fault("gpt-fault-500", 1, model="gpt-or-a")
    mock.set_fault("gpt-fault-502", 1, model="gpt-or-b")
    m = marker("or-models-allfail")
    r = chat(gw.port, _body("a", m, models=["b"]))
    eq(r.status, 500, "the first model's error is the answer (LiteLLM's rule)")
    err = r.json()["error"]
    eq([(a["model_group"], a["status"]) for a in err["attempts"]], [("a", 500), ("b", 502)],
       "each attempt listed")
    eq(_models(mock, m), ["gpt-or-a", "gpt-or-b"], "both called once")


@test
def dialect_openrouter_routing_fields_not_forwarded(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_pdep("g", mock, "groq", "gpt-fw-groq"),
                                     _dep("b", mock, "gpt-fw-b")], **_quiet(router={"num_retries": 0})})
    m = marker("or-strip")
    r = chat(gw.port, _body("g", m, temperature=0.25, max_tokens=9, models=["b"],
                            provider={"order": ["groq"], "allow_fallbacks": True,
                                      "sort": "price", "max_price": {"prompt": 100},
                                      "data_collection": "deny", "some_future_field": 1}))
    eq(r.status, 200, f"answered ({r.body[:300]!r})")
    rec = mock.wait_request(m)
    up = json.loads(rec.body)
    eq(up["model"], "gpt-fw-groq", "upstream model")
    check("models" not in up, f"`models` not sent upstream: {up!r}")
    check("provider" not in up, f"`provider` not sent upstream: {up!r}")
    eq((up.get("temperature"), up.get("max_tokens"), up.get("user")), (0.25, 9, m),
       "the client's other fields are kept")


@test
def dialect_openrouter_provider_order(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-po-openai"),
                                     _pdep("g", mock, "groq", "gpt-po-groq"),
                                     _pdep("g", mock, "together_ai", "gpt-po-together")],
                      **_quiet(router={"num_retries": 2, "disable_cooldowns": True})})
    order = {"order": ["together", "groq"]}  # OpenRouter's slug for together_ai
    # `order` decides the first choice every time (no load balancing).
    m = marker("po-first")
    for _ in range(4):
        r = chat(gw.port, _body("g", m, provider=order))
        eq(r.status, 200, "answered")
    eq(_models(mock, m), ["gpt-po-together"] * 4, "the first provider of `order` each time")
    # The first fails: the next of `order`.
    mock.set_fault("gpt-fault-500", 1, model="gpt-po-together")
    m = marker("po-next")
    r = chat(gw.port, _body("g", m, provider=order))
    eq(r.status, 200, f"answered ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-po-together", "gpt-po-groq"], "next provider in `order`")
    eq(r.header("x-llmux-deployment"), "g/1", "groq's deployment answered")
    # Both ordered providers fail: allow_fallbacks (default true) goes on to the others.
    mock.set_fault("gpt-fault-500", 1, model="gpt-po-together")
    mock.set_fault("gpt-fault-503", 1, model="gpt-po-groq")
    m = marker("po-rest")
    r = chat(gw.port, _body("g", m, provider=order))
    eq(r.status, 200, f"answered by the remaining provider ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-po-together", "gpt-po-groq", "gpt-po-openai"], "ordered, then the rest")
    # allow_fallbacks false: only the ordered providers, each in turn; then the error.
    mock.set_fault("gpt-fault-500", 1, model="gpt-po-together")
    m = marker("po-nofb-ok")
    r = chat(gw.port, _body("g", m, provider={**order, "allow_fallbacks": False}))
    eq(r.status, 200, "the second ordered provider answers")
    eq(_models(mock, m), ["gpt-po-together", "gpt-po-groq"], "within `order`")
    mock.set_fault("gpt-fault-500", 5, model="gpt-po-together")
    mock.set_fault("gpt-fault-503", 5, model="gpt-po-groq")
    m = marker("po-nofb")
    r = chat(gw.port, _body("g", m, provider={**order, "allow_fallbacks": False}), timeout=30)
    check(r.status in (500, 503), f"the upstream error is the answer ({r.status}: {r.body[:300]!r})")
    called = _models(mock, m)
    check("gpt-po-openai" not in called, f"a provider outside `order` was called: {called}")
    eq(called[:2], ["gpt-po-together", "gpt-po-groq"], "ordered providers tried first")
    mock.clear_faults()
    # allow_fallbacks false without `order`: one deployment, never a second.
    mock.set_fault("gpt-fault-500", 3)  # whichever is picked
    m = marker("po-single")
    r = chat(gw.port, _body("g", m, provider={"allow_fallbacks": False}))
    eq(r.status, 500, f"the single attempt's error ({r.body[:300]!r})")
    eq(len(mock.find(m)), 1, "one attempt only")
    mock.clear_faults()


@test
def dialect_openrouter_only_and_ignore(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-oi-openai"),
                                     _pdep("g", mock, "groq", "gpt-oi-groq"),
                                     _pdep("g", mock, "deepseek", "gpt-oi-deepseek",
                                           info={"id": "ds-main"})],
                      **_quiet(router={"num_retries": 1, "disable_cooldowns": True})})
    m = marker("only")
    for _ in range(8):
        eq(chat(gw.port, _body("g", m, provider={"only": ["GROQ"]})).status, 200, "answered")
    eq(set(_models(mock, m)), {"gpt-oi-groq"}, "only groq (slugs ignore case)")
    # `only` is a hard filter: the allowed provider's failure is the answer, nothing else is called.
    mock.set_fault("gpt-fault-503", 8, model="gpt-oi-groq")
    m = marker("only-fail")
    r = chat(gw.port, _body("g", m, provider={"only": ["groq"]}), timeout=30)
    eq(r.status, 503, f"groq's error ({r.body[:300]!r})")
    eq(set(_models(mock, m)), {"gpt-oi-groq"}, "no other provider called")
    mock.clear_faults()
    # A deployment id is a slug too.
    m = marker("only-id")
    for _ in range(4):
        eq(chat(gw.port, _body("g", m, provider={"only": ["ds-main"]})).status, 200, "answered")
    eq(set(_models(mock, m)), {"gpt-oi-deepseek"}, "only the named deployment")
    m = marker("ignore")
    for _ in range(10):
        eq(chat(gw.port, _body("g", m, provider={"ignore": ["openai", "deepseek"]})).status, 200,
           "answered")
    eq(set(_models(mock, m)), {"gpt-oi-groq"}, "ignored providers never called")
    # ignore wins over only; failover skips ignored providers.
    mock.set_fault("gpt-fault-500", 1, model="gpt-oi-openai")
    m = marker("ignore-fail")
    r = chat(gw.port, _body("g", m, provider={"order": ["openai"], "ignore": ["groq"]}))
    eq(r.status, 200, f"answered ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-oi-openai", "gpt-oi-deepseek"], "groq skipped on failover")
    m = marker("ignore-only")
    r = chat(gw.port, _body("g", m, provider={"only": ["groq", "openai"], "ignore": ["groq"]}))
    eq(_models(mock, m), ["gpt-oi-openai"], "ignore beats only")


def _priced(mock, prefix):
    # Listed most expensive first, so a price sort has to reorder them. USD per token.
    return [_pdep("g", mock, "together_ai", f"{prefix}-exp", input_cost_per_token=10e-6,
                  output_cost_per_token=30e-6),
            _pdep("g", mock, "groq", f"{prefix}-mid", input_cost_per_token=3e-6,
                  output_cost_per_token=6e-6),
            _pdep("g", mock, "deepseek", f"{prefix}-cheap", input_cost_per_token=1e-6,
                  output_cost_per_token=2e-6)]


@test
def dialect_openrouter_sort_price_and_floor(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": _priced(mock, "gpt-sp"),
                      **_quiet(router={"num_retries": 3, "disable_cooldowns": True})})
    for label, body in [("sort", {"model": "g", "provider": {"sort": "price"}}),
                        ("sort-by", {"model": "g", "provider": {"sort": {"by": "price"}}}),
                        ("floor", {"model": "g:floor"}),
                        ("floor-in-models", {"model": "nosuch", "models": ["g:floor"]})]:
        m = marker(label)
        for _ in range(3):
            r = chat(gw.port, {**body, "messages": user_msg("x"), "user": m})
            eq(r.status, 200, f"{label}: answered ({r.body[:300]!r})")
        eq(_models(mock, m), ["gpt-sp-cheap"] * 3, f"{label}: the cheapest each time")
        # The cheapest fails: the next cheapest, never the most expensive first.
        mock.set_fault("gpt-fault-500", 1, model="gpt-sp-cheap")
        m = marker(label + "-fail")
        r = chat(gw.port, {**body, "messages": user_msg("x"), "user": m})
        eq(r.status, 200, f"{label}: answered")
        eq(_models(mock, m), ["gpt-sp-cheap", "gpt-sp-mid"], f"{label}: by price")
    # A group literally named with the suffix is that group (no sort).
    m = marker("floor-unknown")
    r = chat(gw.port, _body("nosuch:floor", m))
    check_error(r, 404, code="model_not_found")


@test
def dialect_openrouter_nitro_sorts_by_throughput(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-ni-slow"),
                                     _pdep("g", mock, "groq", "gpt-ni-fast")],
                      **_quiet(router={"num_retries": 1, "disable_cooldowns": True})})
    # Throughput is learnt from answers: the slow one takes 300 ms for the same output.
    mock.set_latency(300, model="gpt-ni-slow")
    warm = marker("warm")
    for slug in ("openai", "groq", "openai", "groq"):
        eq(chat(gw.port, _body("g", warm, provider={"only": [slug]})).status, 200, "warm-up")
    m = marker("nitro")
    for _ in range(4):
        r = chat(gw.port, _body("g:nitro", m))
        eq(r.status, 200, f"answered ({r.body[:300]!r})")
        eq(r.header("x-llmux-model-group"), "g", "the base group answers")
    eq(_models(mock, m), ["gpt-ni-fast"] * 4, "highest throughput first, every time")
    # sort: throughput in the body is the same order.
    m = marker("sort-tp")
    eq(chat(gw.port, _body("g", m, provider={"sort": "throughput"})).status, 200, "answered")
    eq(_models(mock, m), ["gpt-ni-fast"], "throughput sort")
    # The fastest fails: the other one.
    mock.set_fault("gpt-fault-500", 1, model="gpt-ni-fast")
    m = marker("nitro-fail")
    r = chat(gw.port, _body("g:nitro", m))
    eq(r.status, 200, "answered")
    eq(_models(mock, m), ["gpt-ni-fast", "gpt-ni-slow"], "then the slower one")


@test
def dialect_openrouter_max_price(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": _priced(mock, "gpt-mp") + [_pdep("g", mock, "xai", "gpt-mp-unpriced")],
                      **_quiet(router={"num_retries": 3, "disable_cooldowns": True})})
    # USD per million tokens: exp 10/30, mid 3/6, cheap 1/2, unpriced unknown (kept).
    m = marker("mp-tight")
    for _ in range(12):
        r = chat(gw.port, _body("g", m, provider={"max_price": {"prompt": 5, "completion": 5}}))
        eq(r.status, 200, f"answered ({r.body[:300]!r})")
    seen = set(_models(mock, m))
    check(seen <= {"gpt-mp-cheap", "gpt-mp-unpriced"}, f"only cheap or unpriced deployments: {seen}")
    # The limit is inclusive, and numeric strings count (OpenRouter's SDKs send strings).
    m = marker("mp-edge")
    for _ in range(20):
        r = chat(gw.port, _body("g", m, provider={"max_price": {"prompt": "3", "completion": 6},
                                                  "ignore": ["xai"]}))
        eq(r.status, 200, "answered")
    seen = set(_models(mock, m))
    eq(seen, {"gpt-mp-cheap", "gpt-mp-mid"}, "mid is exactly at the limit; exp is over it")
    # Failover stays under the limit too.
    mock.set_fault("gpt-fault-500", 1, model="gpt-mp-cheap")
    m = marker("mp-fail")
    r = chat(gw.port, _body("g", m, provider={"max_price": {"completion": 6}, "sort": "price",
                                              "ignore": ["xai"]}))
    eq(r.status, 200, "answered")
    eq(_models(mock, m), ["gpt-mp-cheap", "gpt-mp-mid"], "exp never tried")
    # Nothing under the limit (the unpriced one ignored): no upstream call, a 400.
    m = marker("mp-none")
    r = chat(gw.port, _body("g", m, provider={"max_price": {"prompt": 0.5}, "ignore": ["xai"]}))
    check_error(r, 400, "invalid_request_error", code="no_matching_provider", param="provider",
                msg_contains="'g'")
    eq(len(mock.find(m)), 0, "no upstream call")


@test
def dialect_openrouter_no_matching_provider(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-nm-openai"),
                                     _pdep("g", mock, "groq", "gpt-nm-groq"),
                                     _pdep("h", mock, "mistral", "gpt-nm-mistral")],
                      **_quiet(router={"num_retries": 0})})
    m = marker("nomatch")
    for prefs in ({"only": ["mistral"]}, {"ignore": ["openai", "groq"]},
                  {"order": ["anthropic"], "allow_fallbacks": False},
                  {"only": ["groq"], "ignore": ["groq"]}):
        r = chat(gw.port, _body("g", m, provider=prefs))
        check_error(r, 400, "invalid_request_error", code="no_matching_provider", param="provider",
                    msg_contains="model 'g'")
    eq(len(mock.find(m)), 0, "no upstream call")
    # An `order` naming nothing, with fallbacks allowed, still uses the group.
    m = marker("order-none")
    eq(chat(gw.port, _body("g", m, provider={"order": ["anthropic"]})).status, 200, "answered")
    # With `models`, a model whose providers are all filtered out is skipped.
    m = marker("nomatch-models")
    r = chat(gw.port, _body("g", m, models=["h"], provider={"only": ["mistral"]}))
    eq(r.status, 200, f"h answers ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-nm-mistral"], "g skipped without a call")


@test
def dialect_openrouter_error_without_attempt_has_no_stale_headers(ctx):
    # An error reached before any upstream call must not carry another request's routing headers
    # (request scratch space is recycled between requests).
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-st-openai"),
                                     _pdep("g", mock, "groq", "gpt-st-groq")],
                      **_quiet(router={"num_retries": 0}, workers=1)})
    with Conn(gw.port) as c:
        c.request("POST", "/v1/chat/completions", _body("g", marker("st1"), provider={"only": ["groq"]}))
        r = c.read_response()
        eq((r.status, r.header("x-llmux-deployment")), (200, "g/1"), "answered by groq's deployment")
        c.request("POST", "/v1/chat/completions", _body("g", marker("st2"), provider={"only": ["mistral"]}))
        r = c.read_response()
        check_error(r, 400, code="no_matching_provider")
        eq(r.header("x-llmux-deployment"), None, "no deployment was called for this request")
        check(r.header("x-llmux-attempts") in (None, "0"),
              f"no attempt was made (x-llmux-attempts: {r.header('x-llmux-attempts')!r})")
    # The same error twice, each on its own connection (the first connection, and the request body
    # its headers were taken from, are gone when the second is answered).
    for body in (_body("g", "x", provider={"only": ["mistral"]}), _body("nosuch:floor", "x")):
        for i in range(2):
            try:
                r = chat(gw.port, body)
            except ConnectionClosed as e:
                raise AssertionError(f"gateway dropped the connection on request #{i + 1} of "
                                     f"{body['model']!r} ({e}); see the sanitizer report")
            check(r.status in (400, 404), f"an error ({r.status})")


@test
def dialect_openrouter_invalid_fields(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-inv")], **_quiet()})
    m = marker("or-invalid")
    cases = [({"models": "g"}, "models"), ({"models": ["g", ""]}, "models[1]"),
             ({"models": ["g", 3]}, "models[1]"), ({"models": ["x"] * 17}, "models"),
             ({"provider": "groq"}, "provider"), ({"provider": {"order": "groq"}}, "provider.order"),
             ({"provider": {"only": [1]}}, "provider.only[0]"),
             ({"provider": {"ignore": {"a": 1}}}, "provider.ignore"),
             ({"provider": {"allow_fallbacks": "no"}}, "provider.allow_fallbacks"),
             ({"provider": {"sort": "fastest"}}, "provider.sort"),
             ({"provider": {"sort": {"by": "cost"}}}, "provider.sort.by"),
             ({"provider": {"sort": {"by": "price", "partition": "all"}}}, "provider.sort.partition"),
             ({"provider": {"max_price": 5}}, "provider.max_price"),
             ({"provider": {"max_price": {"prompt": "cheap"}}}, "provider.max_price.prompt"),
             ({"provider": {"max_price": {"completion": -1}}}, "provider.max_price.completion"),
             ({"provider": {"data_collection": "maybe"}}, "provider.data_collection"),
             ({"provider": {"require_parameters": 1}}, "provider.require_parameters")]
    for extra, param in cases:
        r = chat(gw.port, _body("g", m, **extra))
        check_error(r, 400, "invalid_request_error", code="invalid_routing", param=param,
                    msg_contains=param)
    eq(len(mock.find(m)), 0, "no upstream call")
    # null means absent; unknown keys inside `provider` are accepted (forward compatible).
    r = chat(gw.port, _body("g", m, provider={"some_new_option": {"x": 1}, "order": None},
                            models=None))
    eq(r.status, 200, f"accepted ({r.body[:300]!r})")


# ---------------------------------------------------------------------------------------------- Portkey
@test
def dialect_portkey_fallback_mode(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-pf-a"), _dep("b", mock, "gpt-pf-b"),
                                     _dep("c", mock, "gpt-pf-c")], **_quiet()})
    for header in ("x-llmux-config", "x-portkey-config"):
        mock.set_fault("gpt-fault-500", 1, model="gpt-pf-a")
        m = marker(header)
        # The client's model is not used: the targets name the groups.
        r = chat(gw.port, _body("c", m), headers=_pk(_fb("a", "b", "c"), header))
        eq(r.status, 200, f"{header}: second target answers ({r.body[:300]!r})")
        eq(_models(mock, m), ["gpt-pf-a", "gpt-pf-b"], f"{header}: a, then b")
        eq(r.header("x-llmux-fallback-used"), "true", f"{header}: fallback header")
        eq(r.header("x-llmux-model-group"), "b", f"{header}: answering group")
        eq(r.header("x-llmux-attempts"), "2", f"{header}: attempts")
    # No failure: the first target, no retries by default (Portkey's retry is opt-in).
    m = marker("pf-ok")
    r = chat(gw.port, _body("c", m), headers=_pk(_fb("a", "b")))
    eq(_models(mock, m), ["gpt-pf-a"], "first target")
    eq(r.header("x-llmux-fallback-used"), "false", "no fallback")
    # A target without a model means the request's own model; "model" is shorthand.
    mock.set_fault("gpt-fault-502", 1, model="gpt-pf-b")
    m = marker("pf-own")
    cfg = {"strategy": {"mode": "fallback"}, "targets": [{"name": "own"}, {"model": "c"}]}
    r = chat(gw.port, _body("b", m), headers=_pk(cfg))
    eq(r.status, 200, "answered")
    eq(_models(mock, m), ["gpt-pf-b", "gpt-pf-c"], "the request's model, then c")
    # x-llmux-config wins over x-portkey-config when both are sent.
    m = marker("pf-both")
    r = chat(gw.port, _body("a", m), headers={**_pk({"model": "b"}),
                                               **_pk({"model": "c"}, "x-portkey-config")})
    eq(_models(mock, m), ["gpt-pf-b"], "x-llmux-config is read first")


@test
def dialect_portkey_on_status_codes(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-sc-a"), _dep("b", mock, "gpt-sc-b")],
                      **_quiet()})
    cfg = _pk(_fb("a", "b", on_status_codes=[429]))
    # 500 is not in on_status_codes: a's error is the answer.
    mock.set_fault("gpt-fault-500", 1, model="gpt-sc-a")
    m = marker("sc-500")
    r = chat(gw.port, _body("a", m), headers=cfg)
    check_error(r, 500)
    eq(_models(mock, m), ["gpt-sc-a"], "no fallback on 500")
    # 429 is: b answers.
    mock.set_fault("gpt-fault-429-nora", 1, model="gpt-sc-a")
    m = marker("sc-429")
    r = chat(gw.port, _body("a", m), headers=cfg)
    eq(r.status, 200, f"fallback on 429 ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-sc-a", "gpt-sc-b"], "a, then b")


@test
def dialect_portkey_nested_fallback(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-nf-a"), _dep("b", mock, "gpt-nf-b"),
                                     _dep("c", mock, "gpt-nf-c")], **_quiet()})
    cfg = _pk({"strategy": {"mode": "fallback", "on_status_codes": [503]},
               "targets": [_fb("a", "b", on_status_codes=[429]), {"override_params": {"model": "c"}}]})
    cases = [  # (faults on a, b), expected calls, expected status
        (("gpt-fault-429-nora", None), ["gpt-nf-a", "gpt-nf-b"], 200),      # inner fallback
        (("gpt-fault-503", None), ["gpt-nf-a", "gpt-nf-c"], 200),           # inner refuses, outer takes it
        (("gpt-fault-429-nora", "gpt-fault-503"), ["gpt-nf-a", "gpt-nf-b", "gpt-nf-c"], 200),
        (("gpt-fault-500", None), ["gpt-nf-a"], 500),                       # nobody accepts 500
        (("gpt-fault-429-nora", "gpt-fault-500"), ["gpt-nf-a", "gpt-nf-b"], 500),
    ]
    for (fa, fb), calls, status in cases:
        mock.set_fault(fa, 1, model="gpt-nf-a")
        if fb:
            mock.set_fault(fb, 1, model="gpt-nf-b")
        m = marker("nested")
        r = chat(gw.port, _body("a", m), headers=cfg)
        eq(r.status, status, f"{fa}/{fb}: status ({r.body[:300]!r})")
        eq(_models(mock, m), calls, f"{fa}/{fb}: targets called")
        mock.clear_faults()


@test
def dialect_portkey_loadbalance(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-lb-a"), _dep("b", mock, "gpt-lb-b")],
                      **_quiet()})
    cfg = _pk({"strategy": {"mode": "loadbalance"},
               "targets": [{"override_params": {"model": "a"}, "weight": 0.75},
                           {"override_params": {"model": "b"}, "weight": 0.25}]})
    m = marker("lb")
    for _ in range(60):
        eq(chat(gw.port, _body("a", m), headers=cfg).status, 200, "answered")
    seen = _models(mock, m)
    na, nb = seen.count("gpt-lb-a"), seen.count("gpt-lb-b")
    eq(na + nb, 60, "one call per request")
    check(nb >= 3, f"the lighter target is used too ({na}:{nb})")
    check(na > nb, f"the heavier target gets more ({na}:{nb})")
    # Weight 0 is never chosen.
    cfg0 = _pk({"strategy": {"mode": "loadbalance"},
                "targets": [{"model": "a", "weight": 0}, {"model": "b", "weight": 2}]})
    m = marker("lb0")
    for _ in range(15):
        eq(chat(gw.port, _body("a", m), headers=cfg0).status, 200, "answered")
    eq(set(_models(mock, m)), {"gpt-lb-b"}, "zero weight never chosen")
    # All weights zero: a 400 naming the problem.
    m = marker("lb-zero")
    r = chat(gw.port, _body("a", m), headers=_pk({"strategy": {"mode": "loadbalance"},
                                                  "targets": [{"model": "a", "weight": 0},
                                                              {"model": "b", "weight": 0}]}))
    check_error(r, 400, "invalid_request_error", code="invalid_routing_config",
                msg_contains=["targets", "weights sum to zero"])
    eq(len(mock.find(m)), 0, "no upstream call")


@test
def dialect_portkey_conditional(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("pro", mock, "gpt-cd-pro"), _dep("creative", mock, "gpt-cd-cr"),
                                     _dep("std", mock, "gpt-cd-std")], **_quiet()})
    targets = [{"name": "p", "model": "pro"}, {"name": "c", "model": "creative"},
               {"name": "s", "model": "std"}]
    conds = [{"query": {"metadata.tier": {"$in": ["pro", "enterprise"]}}, "then": "p"},
             {"query": {"$and": [{"params.temperature": {"$gt": 0.7}},
                                 {"metadata.tier": {"$ne": "banned"}}]}, "then": "c"}]
    cfg = _pk({"strategy": {"mode": "conditional", "conditions": conds, "default": "s"},
               "targets": targets})
    cases = [  # (metadata header, its value, extra body fields, expected upstream)
        ("x-portkey-metadata", {"tier": "pro"}, {}, "gpt-cd-pro"),
        ("x-llmux-metadata", {"tier": "enterprise"}, {"temperature": 0.9}, "gpt-cd-pro"),
        (None, None, {"temperature": 0.9}, "gpt-cd-cr"),
        ("x-llmux-metadata", {"tier": "free"}, {"temperature": 1.2}, "gpt-cd-cr"),
        ("x-portkey-metadata", {"tier": "banned"}, {"temperature": 1.2}, "gpt-cd-std"),
        ("x-llmux-metadata", {"tier": "free"}, {"temperature": 0.7}, "gpt-cd-std"),  # $gt is strict
        (None, None, {}, "gpt-cd-std"),
    ]
    for hname, hval, extra, want in cases:
        headers = dict(cfg)
        if hname:
            headers[hname] = json.dumps(hval)
        m = marker("cond")
        r = chat(gw.port, _body("std", m, **extra), headers=headers)
        eq(r.status, 200, f"{hname}={hval} {extra}: answered ({r.body[:300]!r})")
        eq(_models(mock, m), [want], f"{hname}={hval} {extra}: target")
    # No condition matches and there is no default: 400, no upstream call.
    nodef = _pk({"strategy": {"mode": "conditional", "conditions": conds}, "targets": targets})
    m = marker("cond-nodefault")
    r = chat(gw.port, _body("std", m), headers={**nodef, "x-llmux-metadata": '{"tier":"free"}'})
    check_error(r, 400, "invalid_request_error", code="invalid_routing_config",
                msg_contains=["no condition matched", "no default"])
    r = chat(gw.port, _body("std", m, temperature=0.8), headers=nodef)
    eq(r.status, 200, "a matching condition without a default")
    eq(_models(mock, m), ["gpt-cd-cr"], "the matching target")
    # A metadata header that is not a JSON object.
    m = marker("cond-badmeta")
    for bad in ("not json", "[1,2]"):
        r = chat(gw.port, _body("std", m), headers={**cfg, "x-portkey-metadata": bad})
        check_error(r, 400, "invalid_request_error", code="invalid_metadata")
    eq(len(mock.find(m)), 0, "no upstream call")


@test
def dialect_portkey_retry(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-rt-a"), _dep("b", mock, "gpt-rt-b")],
                      **_quiet()})
    cfg = _pk({"retry": {"attempts": 2, "on_status_codes": [503]}, "override_params": {"model": "a"}})
    # Two 503s then success: three calls.
    mock.set_fault("gpt-fault-503-ra0", 2, model="gpt-rt-a")
    m = marker("rt-ok")
    r = chat(gw.port, _body("a", m), headers=cfg, timeout=20)
    eq(r.status, 200, f"third call answers ({r.body[:300]!r})")
    eq(mock.stats()["by_model"]["gpt-rt-a"]["requests"], 3, "three calls in the mock's stats")
    eq(len(mock.find(m)), 3, "three calls")
    eq(r.header("x-llmux-attempts"), "3", "attempts header")
    # More failures than attempts: 1 + 2 calls, the error is the answer.
    mock.set_fault("gpt-fault-503-ra0", 4, model="gpt-rt-a")
    m = marker("rt-spent")
    r = chat(gw.port, _body("a", m), headers=cfg, timeout=20)
    eq(r.status, 503, "the last 503")
    eq(len(mock.find(m)), 3, "attempts 2 = three calls")
    mock.clear_faults()
    # A status not listed is not retried.
    mock.set_fault("gpt-fault-500", 1, model="gpt-rt-a")
    m = marker("rt-other")
    r = chat(gw.port, _body("a", m), headers=cfg)
    eq(r.status, 500, "not retried")
    eq(len(mock.find(m)), 1, "one call")
    # Without on_status_codes Portkey's default list applies (429, 500, 502, 503, 504), not 400.
    dflt = {"strategy": {"mode": "fallback"}, "retry": {"attempts": 1},
            "targets": [{"model": "a"}, {"model": "b"}]}
    mock.set_fault("gpt-fault-502-ra0", 1, model="gpt-rt-a")
    m = marker("rt-default")
    r = chat(gw.port, _body("a", m), headers=_pk(dflt), timeout=20)
    eq(r.status, 200, "retried")
    eq(_models(mock, m), ["gpt-rt-a", "gpt-rt-a"], "502 retried on the same target (inherited retry)")
    mock.set_fault("gpt-fault-400", 1, model="gpt-rt-a")
    m = marker("rt-400")
    r = chat(gw.port, _body("a", m), headers=_pk(dflt))
    eq(r.status, 200, "fallback after the 400")
    eq(_models(mock, m), ["gpt-rt-a", "gpt-rt-b"], "400 not retried, the next target instead")


@test
def dialect_portkey_request_timeout(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-to-a"), _dep("b", mock, "gpt-to-b")],
                      **_quiet()})
    limit_ms = int(500 * slow_factor())
    mock.set_fault("gpt-hang", 1, model="gpt-to-a")
    m = marker("timeout")
    cfg = {"strategy": {"mode": "fallback"},
           "targets": [{"model": "a", "request_timeout": limit_ms}, {"model": "b"}]}
    t0 = time.monotonic()
    r = chat(gw.port, _body("a", m), headers=_pk(cfg), timeout=30)
    dt = time.monotonic() - t0
    eq(r.status, 200, f"the next target answers after the timeout ({r.body[:300]!r})")
    eq(_models(mock, m), ["gpt-to-a", "gpt-to-b"], "a timed out, then b")
    check(limit_ms / 1000 * 0.9 <= dt < limit_ms / 1000 + 3 * slow_factor(),
          f"fell over after about request_timeout ({dt:.2f}s, limit {limit_ms} ms)")
    # Inherited from the root; the only target's timeout is the answer.
    mock.set_fault("gpt-hang", 1, model="gpt-to-a")
    m = marker("timeout-single")
    t0 = time.monotonic()
    r = chat(gw.port, _body("a", m), headers=_pk({"request_timeout": limit_ms, "model": "a"}),
             timeout=30)
    dt = time.monotonic() - t0
    check(r.status in (408, 504), f"a timeout error ({r.status}: {r.body[:300]!r})")
    check(dt < limit_ms / 1000 + 3 * slow_factor(), f"answered after the timeout ({dt:.2f}s)")


@test
def dialect_portkey_override_params(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-ov-a"), _dep("b", mock, "gpt-ov-b")],
                      **_quiet()})
    cfg = {"strategy": {"mode": "fallback"},
           "override_params": {"max_tokens": 7},  # inherited by both targets
           "targets": [{"override_params": {"model": "a", "temperature": 0.1, "top_p": 0.5}},
                       {"override_params": {"model": "b", "max_tokens": 11}}]}
    mock.set_fault("gpt-fault-500", 1, model="gpt-ov-a")
    m = marker("override")
    r = chat(gw.port, _body("a", m, temperature=0.9, max_tokens=100, seed=5), headers=_pk(cfg))
    eq(r.status, 200, f"answered ({r.body[:300]!r})")
    recs = mock.find(m)
    eq(len(recs), 2, "two calls")
    first, second = (json.loads(x.body) for x in recs)
    eq((first["model"], first["temperature"], first["top_p"], first["max_tokens"]),
       ("gpt-ov-a", 0.1, 0.5, 7), "first target: its overrides and the inherited ones win")
    eq((first["seed"], first["user"]), (5, m), "the client's other fields are kept")
    eq((second["model"], second["temperature"], second["max_tokens"]), ("gpt-ov-b", 0.9, 11),
       "second target: the client's temperature again, its own max_tokens")
    check("top_p" not in second, f"the first target's overrides do not leak: {second!r}")
    eq(second["seed"], 5, "client field kept")


@test
def dialect_portkey_provider_target(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("g", mock, "gpt-pt-openai"),
                                     _pdep("g", mock, "groq", "gpt-pt-groq"),
                                     _pdep("g", mock, "together_ai", "gpt-pt-together"),
                                     _dep("other", mock, "gpt-pt-other")],
                      **_quiet(router={"disable_cooldowns": True})})
    for slug, want in (("groq", {"gpt-pt-groq"}), ("@together-ai", {"gpt-pt-together"}),
                       ("openai", {"gpt-pt-openai"})):
        m = marker("prov")
        for _ in range(6):
            r = chat(gw.port, _body("other", m), headers=_pk({"provider": slug, "model": "g"}))
            eq(r.status, 200, f"{slug}: answered ({r.body[:300]!r})")
        eq(set(_models(mock, m)), want, f"{slug}: only that provider's deployment")
    # The filtered deployment fails: the config's fallback, not another deployment of the group.
    mock.set_fault("gpt-fault-500", 1, model="gpt-pt-groq")
    m = marker("prov-fb")
    cfg = {"strategy": {"mode": "fallback"}, "targets": [{"provider": "groq", "model": "g"},
                                                         {"model": "other"}]}
    r = chat(gw.port, _body("g", m), headers=_pk(cfg))
    eq(r.status, 200, "answered")
    eq(_models(mock, m), ["gpt-pt-groq", "gpt-pt-other"], "groq, then the next target")
    # A provider the group does not have: 400 naming it.
    m = marker("prov-none")
    r = chat(gw.port, _body("g", m), headers=_pk({"provider": "mistral", "model": "g"}))
    check_error(r, 400, "invalid_request_error", code="invalid_routing_config",
                msg_contains=["'mistral'", "'g'"])
    eq(len(mock.find(m)), 0, "no upstream call")


@test
def dialect_portkey_config_by_id(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-id-a"), _dep("b", mock, "gpt-id-b")],
                      "routing_configs": {
                          "support-bot": {"strategy": {"mode": "fallback", "on_status_codes": [500]},
                                          "targets": [{"override_params": {"model": "a",
                                                                           "temperature": 0.2}},
                                                      {"override_params": {"model": "b"}}]},
                          "only-b": {"override_params": {"model": "b"}}},
                      **_quiet()})
    for header in ("x-llmux-config", "x-portkey-config"):
        mock.set_fault("gpt-fault-500", 1, model="gpt-id-a")
        m = marker("byid")
        r = chat(gw.port, _body("b", m), headers={header: "support-bot"})
        eq(r.status, 200, f"{header}: answered ({r.body[:300]!r})")
        eq(_models(mock, m), ["gpt-id-a", "gpt-id-b"], f"{header}: the named config's fallback")
        eq(json.loads(mock.find(m)[0].body)["temperature"], 0.2, f"{header}: its override_params")
    # on_status_codes from the YAML config: 503 is not listed.
    mock.set_fault("gpt-fault-503", 1, model="gpt-id-a")
    m = marker("byid-503")
    r = chat(gw.port, _body("b", m), headers={"x-llmux-config": "support-bot"})
    eq(r.status, 503, "503 is not a fallback status in this config")
    m = marker("byid-b")
    r = chat(gw.port, _body("a", m), headers={"x-portkey-config": "only-b"})
    eq(_models(mock, m), ["gpt-id-b"], "second config")
    # An unknown id: 400 naming it.
    m = marker("byid-unknown")
    r = chat(gw.port, _body("a", m), headers={"x-llmux-config": "no-such-config"})
    check_error(r, 400, "invalid_request_error", code="invalid_routing_config",
                msg_contains="'no-such-config'")
    eq(len(mock.find(m)), 0, "no upstream call")


@test
def dialect_portkey_invalid_configs(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-ic-a"), _dep("b", mock, "gpt-ic-b")],
                      **_quiet()})
    m = marker("pk-invalid")
    cases = [  # (header value, what the message must name)
        ('{"strategy": {"mode": "fallback"}, "targets": [', ["invalid json"]),
        ('{"strategy": {"mode": "fallback"}, "targets": [{"model": "a"},]}', ["invalid json"]),
        (_fb("a", "nosuch-model"), ["targets[1]", "'nosuch-model'"]),
        ({"targets": [{"model": "a", "api_key": "sk-x"}], "strategy": {"mode": "fallback"}},
         ["targets[0].api_key"]),
        ({"strategy": {"mode": "fallback"},
          "targets": [{"model": "a"}, {"model": "b", "custom_host": "http://evil.example"}]},
         ["targets[1].custom_host"]),
        ({"strategy": {"mode": "roundrobin"}, "targets": [{"model": "a"}]}, ["strategy.mode", "roundrobin"]),
        ({"strategy": {"mode": "fallback"}, "targets": []}, ["targets", "must not be empty"]),
        ({"strategy": {"mode": "fallback"}, "targets": [{"model": "a", "wieght": 2}]},
         ["targets[0].wieght", "unknown key"]),
        ({"strategy": {"mode": "fallback"}, "targets": [{"model": "a", "retry": {"attempts": 9}}]},
         ["targets[0].retry.attempts"]),
        ({"strategy": {"mode": "fallback", "on_status_codes": [700]}, "targets": [{"model": "a"}]},
         ["strategy.on_status_codes[0]"]),
        ({"strategy": {"mode": "conditional", "conditions": [{"query": {"tier": "pro"}, "then": "x"}]},
          "targets": [{"name": "x", "model": "a"}]}, ["'tier'", "metadata."]),
        ({"strategy": {"mode": "conditional",
                       "conditions": [{"query": {"metadata.tier": {"$regex": "p"}}, "then": "x"}]},
          "targets": [{"name": "x", "model": "a"}]}, ["'$regex'"]),
        ({"model": "a", "request_timeout": 0}, ["request_timeout"]),
        ({"strategy": 1, "targets": [{"model": "a"}]}, ["strategy", "must be an object"]),
    ]
    for value, words in cases:
        r = chat(gw.port, _body("a", m), headers=_pk(value))
        check_error(r, 400, "invalid_request_error", code="invalid_routing_config", msg_contains=words)
    eq(len(mock.find(m)), 0, "no upstream call for an invalid config")


@test
def dialect_portkey_all_targets_fail(ctx):
    mock = ctx.mock()
    gw = ctx.gateway({"model_list": [_dep("a", mock, "gpt-af-a"), _dep("b", mock, "gpt-af-b"),
                                     _dep("c", mock, "gpt-af-c")], **_quiet()})
    mock.set_fault("gpt-fault-500", 1, model="gpt-af-a")
    mock.set_fault("gpt-fault-503", 1, model="gpt-af-b")
    mock.set_fault("gpt-fault-429-nora", 1, model="gpt-af-c")
    m = marker("allfail")
    r = chat(gw.port, _body("a", m), headers=_pk(_fb("a", "b", "c")))
    # Portkey answers with the last target's error (LiteLLM and OpenRouter's `models`: the first's).
    e = check_error(r, 429, msg_contains="All 3 attempts")
    eq([(a["deployment"], a["model_group"], a["status"]) for a in e["attempts"]],
       [("a/0", "a", 500), ("b/1", "b", 503), ("c/2", "c", 429)], "every attempt listed")
    eq(_models(mock, m), ["gpt-af-a", "gpt-af-b", "gpt-af-c"], "each target once")
    eq(r.header("x-llmux-attempts"), "3", "attempts header")
    eq(r.header("x-llmux-fallback-used"), "true", "fallback header")
    eq(r.header("x-llmux-model-group"), "c", "the last target's group")
