"""Mock of Azure OpenAI chat completions (wire_formats.md §5): OpenAI wire format with Azure's URLs,
auth, content-filter annotations and errors.

Endpoints (any path prefix before /openai):
  POST .../openai/deployments/{deployment}/chat/completions?api-version=YYYY-MM-DD[-preview]
  POST .../openai/deployments/{deployment}/embeddings?api-version=...
  POST .../openai/v1/chat/completions          (v1 API: no api-version; "model" = deployment name)
Auth: `api-key: <key>`, or `Authorization: Bearer <ad_token>` (Entra ID; ad_token configurable); on the v1
path `Authorization: Bearer <key>` works too. Wrong or missing: 401 {"error":{"code":"401","message":
"Access denied due to invalid subscription key or wrong API endpoint..."}}.
Checks: deployments path needs api-version (missing: 404 {"error":{"code":"404","message":"Resource not
found"}}; not YYYY-MM-DD[-preview]: 400 BadRequest "API version not supported"); request fields newer than
the api-version are rejected like Azure does ("Unrecognized request argument supplied: X":
stream_options and max_completion_tokens need >= 2024-09-01, parallel_tool_calls >= 2024-08-01,
reasoning_effort >= 2024-12-01); the deployment must exist (names containing "notfound": 404
DeploymentNotFound); Content-Type JSON; `messages` present and non-empty with known roles; tool messages
answer the preceding assistant tool_calls ids; v1 needs "model". Reasoning deployments (name contains
o1 / o3 / o4 / gpt-5) reject max_tokens (400 unsupported_parameter) and a temperature other than 1
(unsupported_value), and report completion_tokens_details.reasoning_tokens.
Reply: _base.plan_reply (tool calls OpenAI-style, JSON mode for response_format json_object /
json_schema). Bodies are Azure-like: keys sorted, `model` = the underlying model version (not the
deployment), `prompt_filter_results` and per-choice `content_filter_results`. Streams: a first chunk with
empty id/model/object/created 0, no choices and prompt_filter_results; then the role chunk, content
chunks, the finish chunk (content_filter_results on each choice), the usage chunk when
stream_options.include_usage (every other chunk then has "usage": null), `data: [DONE]`.
Faults (besides _base.FAULTS): fault-429 (retry-after: 1 and retry-after-ms: 1000 unless -ra<N>, plus
x-ratelimit-remaining-*), fault-500, fault-503; `content-filter` (400 code content_filter with innererror
ResponsibleAIPolicyViolation); `content-filter-output` (finish_reason content_filter);
error-mid-stream = `data: {"error":{...}}` after a few chunks, then the body ends without [DONE].
"""
from __future__ import annotations

import hashlib
import json
import re
import struct

from ._base import CREATED, Ask, MockBase, count_words, json_fragments, plan_reply, serve_forever, sse_event

AZURE_KEY = "mock-azure-key-AZURESECRET-0a9f"
AZURE_AD_TOKEN = "mock-entra-token-ENTRASECRET-77"
DEPLOY_RE = re.compile(r"^(?P<prefix>.*?)/openai/deployments/(?P<dep>[^/]+)/(?P<op>chat/completions|embeddings|"
                       r"completions)$")
V1_RE = re.compile(r"^(?P<prefix>.*?)/openai/v1/(?P<op>chat/completions|embeddings)$")
MIN_VERSION = {"stream_options": "2024-09-01", "max_completion_tokens": "2024-09-01",
               "parallel_tool_calls": "2024-08-01", "reasoning_effort": "2024-12-01"}
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
SAFE = {"filtered": False, "severity": "safe"}


def _cf_output(filtered=False):
    d = {"hate": dict(SAFE), "protected_material_code": {"filtered": False, "detected": False},
         "protected_material_text": {"filtered": False, "detected": False}, "self_harm": dict(SAFE),
         "sexual": dict(SAFE), "violence": dict(SAFE)}
    if filtered:
        d["violence"] = {"filtered": True, "severity": "high"}
    return d


def _cf_prompt():
    return [{"prompt_index": 0, "content_filter_results": {
        "hate": dict(SAFE), "jailbreak": {"filtered": False, "detected": False}, "self_harm": dict(SAFE),
        "sexual": dict(SAFE), "violence": dict(SAFE)}}]


def _aj(obj):
    """Azure JSON: compact, keys sorted."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _is_reasoning(dep):
    return re.search(r"(?<![a-z0-9])(o1|o3|o4|gpt-5)", dep.lower()) is not None


class AzureError(Exception):
    def __init__(self, status, body, extra=()):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.extra = list(extra)


def _oai_err(message, type_="invalid_request_error", param=None, code=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class MockAzure(MockBase):
    provider = "azure"
    CONFIG_KEYS = ("api_key", "ad_token", "models")

    def __init__(self, api_key=AZURE_KEY, ad_token=AZURE_AD_TOKEN, models=None, host="127.0.0.1", port=0,
                 name="mock-azure"):
        super().__init__(host, port, name)
        self.api_key = api_key
        self.ad_token = ad_token
        self.models = dict(models or {})  # deployment -> underlying model version

    def model_version(self, dep):
        if dep in self.models:
            return self.models[dep]
        low = dep.lower()
        for k, v in (("gpt-5", "gpt-5-2025-08-07"), ("o4-mini", "o4-mini-2025-04-16"),
                     ("o3-mini", "o3-mini-2025-01-31"),
                     ("o1", "o1-2024-12-17"), ("o3", "o3-2025-04-16"), ("4o-mini", "gpt-4o-mini-2024-07-18"),
                     ("gpt-4.1", "gpt-4.1-2025-04-14")):
            if k in low:
                return v
        return "gpt-4o-2024-11-20"

    # ------------------------------------------------------------------ routing
    def handle_request(self, h, rec):
        m = DEPLOY_RE.match(rec.route)
        v1 = None
        if not m:
            v1 = V1_RE.match(rec.route)
        if (not m and not v1) or rec.method != "POST":
            rec.rejected = "unknown path"
            return self._send_err(h, rec, AzureError(404, {"error": {"code": "404", "message": "Resource not found"}}))
        try:
            self._auth(rec, v1 is not None)
            if m:
                dep, op = m.group("dep"), m.group("op")
                ver = rec.q("api-version")
                if ver is None:
                    raise AzureError(404, {"error": {"code": "404", "message": "Resource not found"}})
                if not re.match(r"^\d{4}-\d{2}-\d{2}(-preview)?$", ver):
                    raise AzureError(400, {"error": {"code": "BadRequest", "message": "API version not supported"}})
            else:
                op = v1.group("op")
                ver = rec.q("api-version")
                if ver not in (None, "preview", "latest", "v1"):
                    raise AzureError(400, {"error": {"code": "BadRequest", "message": "API version not supported"}})
                dep = None
            rec.info.update(api="v1" if v1 else "deployments", api_version=ver, deployment=dep)
            ctype = (rec.header("content-type") or "").lower()
            if not ctype.startswith("application/json"):
                raise AzureError(415, _oai_err("Unsupported Media Type: only application/json is supported"))
            if not isinstance(rec.json, dict):
                raise AzureError(400, _oai_err("We could not parse the JSON body of your request. (HINT: This likely "
                                               "means you aren't using your HTTP library correctly.)"))
            req = rec.json
            if v1:
                dep = req.get("model")
                if not isinstance(dep, str) or not dep:
                    raise AzureError(400, _oai_err("you must provide a model parameter", param="model",
                                                   code="missing_required_parameter"))
                rec.info["deployment"] = dep
            rec.model = dep
            if "notfound" in dep.lower():
                raise AzureError(404, {"error": {"code": "DeploymentNotFound", "message":
                                                 "The API deployment for this resource does not exist. If you created "
                                                 "the deployment within the last 5 minutes, please wait a moment and "
                                                 "try again."}})
            if m and ver:
                for field, minv in MIN_VERSION.items():
                    if field in req and ver[:10] < minv:
                        raise AzureError(400, _oai_err(f"Unrecognized request argument supplied: {field}"))
            if op == "embeddings":
                rec.kind = "embeddings"
                return self._embeddings(h, rec, req)
            if op != "chat/completions":
                raise AzureError(400, _oai_err("The completions operation does not work with the specified model, "
                                               f"{self.model_version(dep)}. Please choose different model and try "
                                               "again.", code="OperationNotSupported"))
            rec.kind = "chat"
            ask = self._validate(req, dep)
        except AzureError as e:
            rec.rejected = json.dumps(e.body)[:300]
            return self._send_err(h, rec, e)
        return self._chat(h, rec, req, dep, ask)

    def _auth(self, rec, v1):
        key = rec.header("api-key")
        bearer = rec.header("authorization") or ""
        tok = bearer[7:].strip() if bearer.lower().startswith("bearer ") else None
        if key is not None and key == self.api_key:
            rec.auth = "api-key"
            return
        if key is None and tok is not None and (tok == self.ad_token or (v1 and tok == self.api_key)):
            rec.auth = "bearer-entra" if tok == self.ad_token else "bearer-key"
            return
        raise AzureError(401, {"error": {"code": "401", "message":
                                         "Access denied due to invalid subscription key or wrong API endpoint. Make "
                                         "sure to provide a valid key for an active subscription and use a correct "
                                         "regional API endpoint for your resource."}})

    def _headers(self, rec, dep=None):
        rid = hashlib.sha256(f"azure-{rec.seq}".encode()).hexdigest()
        rid = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}"
        hdrs = [("apim-request-id", rid), ("x-request-id", rid), ("x-ms-region", "East US"),
                ("x-ratelimit-remaining-requests", "99"), ("x-ratelimit-remaining-tokens", "99000")]
        if dep:
            hdrs.append(("x-ms-deployment-name", dep))
        return hdrs

    def _send_err(self, h, rec, e):
        return self.send_bytes(h, rec, e.status, _aj(e.body).encode(), "application/json",
                               self._headers(rec) + e.extra)

    # ------------------------------------------------------------------ validation
    def _validate(self, req, dep):
        msgs = req.get("messages")
        if msgs is None:
            raise AzureError(400, _oai_err("'messages' is a required property", param="messages"))
        if not isinstance(msgs, list) or not msgs:
            raise AzureError(400, _oai_err("[] is too short - 'messages'", param="messages"))
        pending = []
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise AzureError(400, _oai_err(f"Invalid value for 'messages[{i}].role'", param=f"messages[{i}].role"))
            if pending and m["role"] != "tool":
                raise AzureError(400, _oai_err("An assistant message with 'tool_calls' must be followed by tool "
                                               "messages responding to each 'tool_call_id'. The following "
                                               f"tool_call_ids did not have response messages: {', '.join(pending)}",
                                               param=f"messages.[{i}].role"))
            if m["role"] == "tool":
                tid = m.get("tool_call_id")
                if not isinstance(tid, str):
                    raise AzureError(400, _oai_err(f"Missing required parameter: 'messages[{i}].tool_call_id'.",
                                                   param=f"messages[{i}].tool_call_id",
                                                   code="missing_required_parameter"))
                if tid not in pending:
                    raise AzureError(400, _oai_err("Invalid parameter: messages with role 'tool' must be a response to "
                                                   "a preceeding message with 'tool_calls'.",
                                                   param=f"messages.[{i}].role"))
                pending.remove(tid)
            if m["role"] == "assistant" and m.get("tool_calls"):
                pending = [tc.get("id") for tc in m["tool_calls"] if isinstance(tc, dict)]
        if "stream" in req and not isinstance(req["stream"], bool):
            raise AzureError(400, _oai_err("'stream' must be a boolean", param="stream"))
        if req.get("stream_options") is not None and req.get("stream") is not True:
            raise AzureError(400, _oai_err("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                           param="stream_options"))
        if _is_reasoning(dep):
            if "max_tokens" in req:
                raise AzureError(400, _oai_err("Unsupported parameter: 'max_tokens' is not supported with this model. "
                                               "Use 'max_completion_tokens' instead.", param="max_tokens",
                                               code="unsupported_parameter"))
            t = req.get("temperature")
            if t is not None and t != 1:
                raise AzureError(400, _oai_err(f"Unsupported value: 'temperature' does not support {t} with this "
                                               "model. Only the default (1) value is supported.", param="temperature",
                                               code="unsupported_value"))
        elif "reasoning_effort" in req:
            raise AzureError(400, _oai_err("Unrecognized request argument supplied: reasoning_effort"))
        tools = req.get("tools")
        names = []
        if tools is not None:
            if not isinstance(tools, list):
                raise AzureError(400, _oai_err("Invalid type for 'tools'", param="tools"))
            for i, t in enumerate(tools):
                if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(t.get("function"), dict) \
                        or not isinstance(t["function"].get("name"), str):
                    raise AzureError(400, _oai_err(f"Missing required parameter: 'tools[{i}].function'.",
                                                   param=f"tools[{i}].function", code="missing_required_parameter"))
                names.append(t["function"]["name"])
        tc = req.get("tool_choice")
        choice = None
        if tc == "none":
            choice = "none"
        elif tc == "required":
            choice = "any"
        elif isinstance(tc, dict) and isinstance(tc.get("function"), dict):
            choice = ("tool", tc["function"].get("name"))
        rf = req.get("response_format")
        json_mode = False
        if rf is not None:
            if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object", "json_schema"):
                raise AzureError(400, _oai_err("Invalid value for 'response_format.type'", param="response_format"))
            if rf["type"] == "json_schema" and not isinstance((rf.get("json_schema") or {}).get("name"), str):
                raise AzureError(400, _oai_err("Missing required parameter: 'response_format.json_schema.name'.",
                                               param="response_format.json_schema.name",
                                               code="missing_required_parameter"))
            json_mode = rf["type"] != "text"
        ask = Ask()
        ask.tools = names
        ask.tool_choice = choice
        ask.json_mode = json_mode
        ask.max_tokens = req.get("max_completion_tokens", req.get("max_tokens"))
        stop = req.get("stop")
        ask.stop = [stop] if isinstance(stop, str) else (stop or [])
        ask.input_words = count_words(msgs)
        trailing_tools = []
        for m in reversed(msgs):
            if m["role"] == "tool":
                trailing_tools.append(m)
            else:
                break
        if trailing_tools:
            ask.tool_results = [_text(m.get("content")) for m in reversed(trailing_tools)]
        for m in reversed(msgs):
            if m["role"] == "user":
                ask.last_user_text = _text(m.get("content"))
                break
        return ask

    # ------------------------------------------------------------------ answers
    def _chat(self, h, rec, req, dep, ask):
        stream = req.get("stream") is True
        rec.stream = stream
        fault = self.pick_fault(rec, dep)
        if fault.has("content-filter") and not fault.has("content-filter-output"):
            body = {"error": {"code": "content_filter", "message": "The response was filtered due to the prompt "
                              "triggering Azure OpenAI's content management policy. Please modify your prompt and "
                              "retry. To learn more about our content filtering policies please read our "
                              "documentation: https://go.microsoft.com/fwlink/?linkid=2198766", "param": "prompt",
                              "status": 400, "innererror": {"code": "ResponsibleAIPolicyViolation",
                                                            "content_filter_result": {
                                                                "hate": dict(SAFE), "jailbreak": {"filtered": False,
                                                                                                  "detected": False},
                                                                "self_harm": dict(SAFE), "sexual": dict(SAFE),
                                                                "violence": {"filtered": True, "severity": "high"}}}}}
            rec.rejected = "content filter (fault)"
            return self._send_err(h, rec, AzureError(400, body))
        status = fault.status()
        if status:
            extra = []
            ra = fault.retry_after(1 if status == 429 else None)
            if ra is not None:
                extra += [("retry-after", str(ra)), ("retry-after-ms", str(ra * 1000))]
            if status == 429:
                extra += [("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-remaining-tokens", "0")]
                body = {"error": {"code": "429", "message": f"Requests to the ChatCompletions_Create Operation under "
                                  f"Azure OpenAI API version {rec.info.get('api_version')} have exceeded token rate "
                                  f"limit of your current OpenAI S0 pricing tier. Please retry after {ra} second. "
                                  "Please go here: https://aka.ms/oai/quotaincrease if you would like to further "
                                  "increase the default rate limit."}}
            elif status == 503:
                body = {"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unable to "
                                  "process your request. Please try again later."}}
            elif status >= 500:
                body = _oai_err("The server had an error while processing your request. Sorry about that!",
                                "server_error")
            else:
                body = _oai_err(f"Mock Azure error {status}.")
            if fault.noretry:
                extra.append(("x-should-retry", "false"))
            hdrs = self._headers(rec, dep)
            hdrs = [x for x in hdrs if not (status == 429 and x[0].startswith("x-ratelimit"))]
            return self.send_bytes(h, rec, status, _aj(body).encode(), "application/json", hdrs + extra)
        self.pre_answer_faults(h, rec, fault)
        plan = plan_reply(ask, fault, self.provider)
        rec.reply = plan.to_dict()
        reasoning = 64 if _is_reasoning(dep) else 0
        completion = plan.output_tokens + reasoning
        usage = {"completion_tokens": completion, "prompt_tokens": plan.input_tokens,
                 "total_tokens": plan.input_tokens + completion,
                 "completion_tokens_details": {"accepted_prediction_tokens": 0, "audio_tokens": 0,
                                               "reasoning_tokens": reasoning, "rejected_prediction_tokens": 0},
                 "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0}}
        rec.usage = usage
        finish = {"end": "stop", "max_tokens": "length", "stop_sequence": "stop", "tool_use": "tool_calls"}[plan.stop]
        filtered = fault.has("content-filter-output")
        if filtered:
            finish = "content_filter"
        cid = f"chatcmpl-AzMock{rec.seq:08d}"
        model = self.model_version(dep)
        calls = [{"id": f"call_AzMock{rec.seq:04d}{c['index']}", "type": "function",
                  "function": {"name": c["name"], "arguments": c["arguments"]}} for c in plan.tool_calls]
        fp = "fp_mockazure1"
        if not stream:
            msg = {"role": "assistant", "content": plan.text, "refusal": None, "annotations": []}
            if calls:
                msg["tool_calls"] = calls
            body = {"id": cid, "object": "chat.completion", "created": CREATED, "model": model,
                    "system_fingerprint": fp, "prompt_filter_results": _cf_prompt(),
                    "choices": [{"index": 0, "finish_reason": finish, "logprobs": None, "message": msg,
                                 "content_filter_results": _cf_output(filtered)}],
                    "usage": usage}
            raw = _aj(body).encode()
            if fault.has("reset-mid-stream") or fault.has("eof-mid-stream"):
                return self.send_partial_then_reset(h, rec, 200, raw, headers=self._headers(rec, dep))
            return self.send_bytes(h, rec, 200, raw, "application/json", self._headers(rec, dep))

        so = req.get("stream_options") if isinstance(req.get("stream_options"), dict) else {}
        include_usage = so.get("include_usage") is True
        items = []

        def chunk(delta, fr=None, cfr=None):
            ch = {"index": 0, "delta": delta, "finish_reason": fr, "logprobs": None,
                  "content_filter_results": cfr if cfr is not None else _cf_output(False)}
            o = {"id": cid, "object": "chat.completion.chunk", "created": CREATED, "model": model,
                 "system_fingerprint": fp, "choices": [ch]}
            if include_usage:
                o["usage"] = None
            s = _aj(o)
            items.append((s, sse_event(s)))

        first = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                 "prompt_filter_results": _cf_prompt()}
        items.append((_aj(first), sse_event(_aj(first))))
        chunk({"role": "assistant", "content": "", "refusal": None}, cfr={})
        if plan.text is not None:
            for p in plan.pieces:
                chunk({"content": p})
        for c, call in zip(plan.tool_calls, calls):
            chunk({"tool_calls": [{"index": c["index"], "id": call["id"], "type": "function",
                                   "function": {"name": c["name"], "arguments": ""}}]}, cfr={})
            for frag in json_fragments(c["arguments"]):
                chunk({"tool_calls": [{"index": c["index"], "function": {"arguments": frag}}]}, cfr={})
        chunk({}, finish, cfr=_cf_output(True) if filtered else {})
        if include_usage:
            u = _aj({"id": cid, "object": "chat.completion.chunk", "created": CREATED, "model": model,
                     "system_fingerprint": fp, "choices": [], "usage": usage})
            items.append((u, sse_event(u)))
        items.append(("[DONE]", sse_event("[DONE]")))
        err = _aj(_oai_err("The server had an error while processing your request. Sorry about that!",
                           "server_error"))
        out = self.begin_stream(h, rec, "text/event-stream; charset=utf-8", self._headers(rec, dep))
        self.run_stream(h, out, items, fault, (err, sse_event(err)))
        return None

    def _embeddings(self, h, rec, req):
        inp = req.get("input")
        if inp is None:
            raise_ = AzureError(400, _oai_err("'input' is a required property", param="input"))
            rec.rejected = "input missing"
            return self._send_err(h, rec, raise_)
        texts = [inp] if isinstance(inp, str) else list(inp)
        dims = req.get("dimensions") or 8
        data = []
        for i, t in enumerate(texts):
            seed = hashlib.sha256(str(t).encode()).digest()
            vec = [round(struct.unpack(">i", hashlib.sha256(seed + bytes([k])).digest()[:4])[0] / 2 ** 31, 6)
                   for k in range(int(dims))]
            data.append({"object": "embedding", "index": i, "embedding": vec})
        n = sum(len(str(t).split()) for t in texts)
        body = {"object": "list", "model": "text-embedding-3-small", "data": data,
                "usage": {"prompt_tokens": n, "total_tokens": n}}
        return self.send_bytes(h, rec, 200, _aj(body).encode(), "application/json", self._headers(rec))


def _text(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


if __name__ == "__main__":
    serve_forever(MockAzure())
