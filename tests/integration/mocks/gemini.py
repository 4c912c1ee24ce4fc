"""Mock of the Google Gemini API (wire_formats.md §3): AI Studio and Vertex AI paths on one server.

Endpoints (any path prefix before the version segment):
  AI Studio  POST .../{v1beta|v1|v1alpha}/models/{model}:generateContent
             POST .../{v1beta|v1|v1alpha}/models/{model}:streamGenerateContent[?alt=sse]
             POST ...:countTokens, ...:embedContent, ...:batchEmbedContents;  GET .../v1beta/models
  Vertex     POST .../{v1|v1beta1}/projects/{project}/locations/{location}/publishers/google/models/{model}:
             generateContent | streamGenerateContent[?alt=sse] | countTokens
Auth: AI Studio needs `x-goog-api-key: <key>` or `?key=<key>` (missing: 403 PERMISSION_DENIED; wrong: 400
INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID). Vertex needs `Authorization: Bearer <token>` where
the token was issued by the MockVertexOAuth given as `oauth=` and has not expired (missing: 401
CREDENTIALS_MISSING; unknown or revoked: 401 ACCESS_TOKEN_TYPE_UNSUPPORTED; expired: 401
ACCESS_TOKEN_EXPIRED) and the path's project is the service account's project (403 PERMISSION_DENIED).
Body checks (400 INVALID_ARGUMENT, Google RPC error shape): Content-Type JSON; a JSON object; no unknown
fields at the top level, in generationConfig, thinkingConfig, parts, or in function-declaration
`parameters` (OpenAPI subset: `additionalProperties`, `$schema`, `$ref`... are rejected as "Unknown name";
`parametersJsonSchema` takes any JSON Schema); `contents` present and non-empty; roles "user"/"model" only
(Vertex: role required); non-empty parts with exactly one data member; functionResponse needs a name;
responseSchema and responseJsonSchema not both; responseJsonSchema/responseSchema need responseMimeType
application/json; for gemini-3 models every model turn that has functionCall parts must carry the
thoughtSignature the mock issued (or "skip_thought_signature_validator") on its first functionCall part.
Reply: _base.plan_reply. Thinking is requested by generationConfig.thinkingConfig (includeThoughts true,
thinkingBudget > 0 or -1, or thinkingLevel): thoughtsTokenCount in usage, and thought parts
({"text", "thought": true}) when includeThoughts is true. JSON mode: responseMimeType application/json.
Tool calls come as whole functionCall parts (args objects); the first carries a thoughtSignature for
gemini-2.5 / gemini-3 models or when thinking was requested. `cachedContent` in the request adds
cachedContentTokenCount 100 (included in promptTokenCount).
Streams: `data: <GenerateContentResponse>` + CRLF CRLF, no [DONE]; each chunk holds only its new parts;
usageMetadata (cumulative), modelVersion and responseId on every chunk; finishReason on the last only.
Without alt=sse the same chunks come as one JSON array written incrementally (application/json).
Faults (besides _base.FAULTS): fault-429 (RESOURCE_EXHAUSTED with a RetryInfo retryDelay "<N>s" in
details; AI Studio sends no Retry-After header), fault-500 INTERNAL, fault-503 UNAVAILABLE ("The model is
overloaded."), fault-504 DEADLINE_EXCEEDED; `blocked` (HTTP 200, promptFeedback.blockReason SAFETY, no
candidates); `finish-safety` (a candidate with finishReason SAFETY and no content); error-mid-stream =
`data: {"error":{"code":503,...,"status":"UNAVAILABLE"}}` after a few chunks, then the body ends.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import struct

from ._base import Ask, MockBase, count_words, plan_reply, serve_forever

GEMINI_KEY = "AIzaSyMock-GEMINISECRET-7c3d"
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
STUDIO_RE = re.compile(r"^(?P<prefix>.*?)/(?P<ver>v1beta|v1|v1alpha)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
VERTEX_RE = re.compile(r"^(?P<prefix>.*?)/(?P<ver>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
                       r"/publishers/google/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
DUMMY_SIGNATURE = "skip_thought_signature_validator"


def _snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _both(*names):
    return set(names) | {_snake(n) for n in names}


TOP_LEVEL = _both("contents", "systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent",
                  "generationConfig", "serviceTier", "labels", "model", "store")
GEN_CONFIG = _both("stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities",
                   "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
                   "frequencyPenalty", "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers", "speechConfig",
                   "thinkingConfig", "imageConfig", "mediaResolution", "audioTimestamp", "routingConfig",
                   "modelSelectionConfig") | {"_responseJsonSchema"}
THINKING_CONFIG = _both("thinkingBudget", "includeThoughts", "thinkingLevel")
PART_DATA = _both("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
                  "codeExecutionResult")
PART_META = _both("thought", "thoughtSignature", "videoMetadata", "partMetadata", "mediaResolution")
SCHEMA_KEYS = _both("type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
                    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
                    "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum")
SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL", "TYPE_UNSPECIFIED"}
FUNC_DECL = _both("name", "description", "parameters", "parametersJsonSchema", "response", "responseJsonSchema",
                  "behavior")


class BadRequest(Exception):
    def __init__(self, message, status=400, details=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details


def _g(d, camel, default=None):
    if not isinstance(d, dict):
        return default
    if camel in d:
        return d[camel]
    return d.get(_snake(camel), default)


class MockGemini(MockBase):
    provider = "gemini"
    CONFIG_KEYS = ("api_key", "oauth", "vertex_project")

    def __init__(self, api_key=GEMINI_KEY, oauth=None, vertex_project=None, host="127.0.0.1", port=0,
                 name="mock-gemini"):
        super().__init__(host, port, name)
        self.api_key = api_key
        self.oauth = oauth  # a MockVertexOAuth (same process) that issues the Vertex bearer tokens
        self.vertex_project = vertex_project  # default: oauth.project_id
        self.issued_signatures = set()

    @property
    def studio_base(self):
        """AI Studio base URL, ending at the API version (`{base}/models/{model}:generateContent`)."""
        return self.origin + "/v1beta"

    def vertex_url(self, model, method="generateContent", project=None, location="us-central1"):
        project = project or self.vertex_project or (self.oauth.project_id if self.oauth else "p")
        return (f"{self.origin}/v1/projects/{project}/locations/{location}/publishers/google/models/"
                f"{model}:{method}")

    # ------------------------------------------------------------------ routing
    def handle_request(self, h, rec):
        route = rec.route
        m = VERTEX_RE.match(route)
        if m and rec.method == "POST":
            rec.info.update(api="vertex", project=m.group("project"), location=m.group("location"),
                            version=m.group("ver"))
            if not self._vertex_auth(h, rec, m.group("project")):
                return None
            return self._method(h, rec, m.group("model"), m.group("method"), vertex=True)
        m = STUDIO_RE.match(route)
        if m and rec.method == "POST":
            rec.info.update(api="studio", version=m.group("ver"))
            if not self._studio_auth(h, rec):
                return None
            return self._method(h, rec, m.group("model"), m.group("method"), vertex=False)
        if re.search(r"/(v1beta|v1|v1alpha)/models$", route) and rec.method == "GET":
            rec.kind = "models"
            if not self._studio_auth(h, rec):
                return None
            return self.send_json(h, rec, 200, {"models": [{
                "name": "models/gemini-2.5-flash", "version": "001", "displayName": "Gemini 2.5 Flash",
                "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens", "streamGenerateContent"],
                "thinking": True}]}, indent=2, ctype="application/json; charset=UTF-8")
        rec.rejected = "unknown path"
        return self.error(h, rec, 404, f"Method not found: {rec.method} {route}")

    def _method(self, h, rec, model, method, vertex):
        rec.model = model
        if method in ("generateContent", "streamGenerateContent"):
            rec.kind = method
            return self._generate(h, rec, model, method == "streamGenerateContent", vertex)
        if method == "countTokens":
            rec.kind = method
            req = self._body(h, rec)
            if req is None:
                return None
            inner = _g(req, "generateContentRequest") or req
            contents = _g(inner, "contents")
            if not isinstance(contents, list):
                rec.rejected = "contents missing"
                return self.error(h, rec, 400, "* CountTokensRequest.contents: contents is not specified\n")
            n = 3 + count_words(contents) + count_words(_g(inner, "systemInstruction") or {})
            return self.send_json(h, rec, 200, {"totalTokens": n, "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": n}]}, indent=2, ctype="application/json; charset=UTF-8")
        if method in ("embedContent", "batchEmbedContents") and not vertex:
            rec.kind = method
            req = self._body(h, rec)
            if req is None:
                return None
            if method == "embedContent":
                reqs = [req]
            else:
                reqs = req.get("requests")
                if not isinstance(reqs, list) or not reqs:
                    rec.rejected = "requests missing"
                    return self.error(h, rec, 400, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
                for i, r in enumerate(reqs):
                    if not isinstance(r, dict) or r.get("model") != f"models/{model}":
                        rec.rejected = f"requests[{i}].model"
                        return self.error(h, rec, 400, f"Model names should match in the batch: requests[{i}].model "
                                                       f"must be \"models/{model}\"")
            vecs = []
            for i, r in enumerate(reqs):
                parts = _g(_g(r, "content") or {}, "parts")
                if not isinstance(parts, list) or not parts:
                    rec.rejected = f"requests[{i}].content.parts"
                    return self.error(h, rec, 400, "* EmbedContentRequest.content: contents is not specified\n")
                text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
                dims = _g(r, "outputDimensionality") or 8
                vecs.append({"values": _embedding(text, int(dims))})
            body = {"embedding": vecs[0]} if method == "embedContent" else {"embeddings": vecs}
            return self.send_json(h, rec, 200, body, indent=2, ctype="application/json; charset=UTF-8")
        rec.rejected = f"unknown method {method}"
        return self.error(h, rec, 404, f"Method not found: {method}")

    # ------------------------------------------------------------------ auth
    def _studio_auth(self, h, rec):
        key = rec.header("x-goog-api-key")
        how = "x-goog-api-key"
        if key is None and rec.q("key") is not None:
            key, how = rec.q("key"), "key-query"
        if key is None:
            if (rec.header("authorization") or "").lower().startswith("bearer "):
                rec.rejected = "auth: bearer token on AI Studio"
                self._unauthenticated(h, rec, "ACCESS_TOKEN_TYPE_UNSUPPORTED", invalid=True)
                return False
            rec.rejected = "auth: no API key"
            self.error(h, rec, 403, "Method doesn't allow unregistered callers (callers without established identity)."
                                    " Please use API Key or other form of API consumer identity to call this API.")
            return False
        if key != self.api_key:
            rec.rejected = "auth: wrong API key"
            self.error(h, rec, 400, "API key not valid. Please pass a valid API key.", details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
                {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                 "message": "API key not valid. Please pass a valid API key."}])
            return False
        rec.auth = how
        return True

    def _vertex_auth(self, h, rec, project):
        auth = rec.header("authorization") or ""
        if not auth.lower().startswith("bearer "):
            rec.rejected = "auth: no bearer token"
            self._unauthenticated(h, rec, "CREDENTIALS_MISSING", invalid=False)
            return False
        token = auth[7:].strip()
        state = self.oauth.check_token(token) if self.oauth is not None else "unknown"
        rec.info["token_state"] = state
        if state != "ok":
            rec.rejected = f"auth: token {state}"
            self._unauthenticated(h, rec, "ACCESS_TOKEN_EXPIRED" if state == "expired"
                                  else "ACCESS_TOKEN_TYPE_UNSUPPORTED", invalid=True)
            return False
        want = self.vertex_project or (self.oauth.project_id if self.oauth else None)
        if want and project != want:
            rec.rejected = f"auth: project {project!r} is not {want!r}"
            model = rec.route.rsplit("/", 1)[-1].split(":")[0]
            self.error(h, rec, 403, f"Permission 'aiplatform.endpoints.predict' denied on resource "
                                    f"'//aiplatform.googleapis.com/projects/{project}/locations/"
                                    f"{rec.info.get('location')}/publishers/google/models/{model}'"
                                    " (or it may not exist).", details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED",
                 "domain": "aiplatform.googleapis.com",
                 "metadata": {"permission": "aiplatform.endpoints.predict"}}])
            return False
        rec.auth = "oauth"
        return True

    def _unauthenticated(self, h, rec, reason, invalid):
        msg = ("Request had invalid authentication credentials. " if invalid else
               "Request is missing required authentication credential. ")
        msg += ("Expected OAuth 2 access token, login cookie or other valid authentication credential. "
                "See https://developers.google.com/identity/sign-in/web/devconsole-project.")
        self.error(h, rec, 401, msg, details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                                               "domain": "googleapis.com",
                                               "metadata": {"service": "aiplatform.googleapis.com",
                                                            "method": "google.cloud.aiplatform.v1.PredictionService."
                                                                      "GenerateContent"}}],
                   headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"'
                             + (', error="invalid_token"' if invalid else ""))])

    # ------------------------------------------------------------------ answers
    def error(self, h, rec, status, message, details=None, headers=()):
        err = {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
        if details:
            err["details"] = details
        return self.send_json(h, rec, status, {"error": err}, headers=list(headers) + [("Vary", "Origin, X-Origin")],
                              ctype="application/json; charset=UTF-8", indent=2)

    def _body(self, h, rec):
        ctype = (rec.header("content-type") or "").lower()
        if not ctype.startswith("application/json"):
            rec.rejected = f"content-type {ctype!r}"
            self.error(h, rec, 400, "Invalid JSON payload received. Content-Type must be application/json.")
            return None
        if not isinstance(rec.json, dict):
            rec.rejected = "body is not a JSON object"
            self.error(h, rec, 400, "Invalid JSON payload received. Unexpected token.")
            return None
        return rec.json

    def _generate(self, h, rec, model, stream, vertex):
        req = self._body(h, rec)
        if req is None:
            return None
        rec.stream = stream
        sse = rec.q("alt") == "sse"
        rec.info["alt"] = rec.q("alt")
        try:
            ask, thinking_cfg = self._validate(req, model, vertex)
        except BadRequest as e:
            rec.rejected = e.message
            return self.error(h, rec, e.status, e.message, e.details)
        if "notfound" in model.lower():
            rec.rejected = "model not found"
            return self.error(h, rec, 404, f"models/{model} is not found for API version "
                                           f"{rec.info.get('version')}, or is not supported for generateContent. "
                                           "Call ListModels to see the list of available models and their supported "
                                           "methods.")
        fault = self.pick_fault(rec, model)
        status = fault.status()
        if status:
            return self._fault_status(h, rec, status, fault, vertex)
        self.pre_answer_faults(h, rec, fault)
        plan = plan_reply(ask, fault, self.provider)
        rec.reply = plan.to_dict()
        include_thoughts = bool(_g(thinking_cfg, "includeThoughts")) if isinstance(thinking_cfg, dict) else False
        budget = _g(thinking_cfg, "thinkingBudget") if isinstance(thinking_cfg, dict) else None
        want_sig = (("gemini-3" in model or "gemini-2.5" in model) and budget != 0) or ask.thinking
        cached = 100 if _g(req, "cachedContent") else 0
        prompt = plan.input_tokens + cached
        resp_id = f"mockResp{rec.seq:08d}"
        thoughts = plan.thinking_tokens if ask.thinking else 0

        def usage(cands, th):
            u = {"promptTokenCount": prompt}
            if cands or not stream:
                u["candidatesTokenCount"] = cands
            total = prompt + cands + th
            u["totalTokenCount"] = total
            if cached:
                u["cachedContentTokenCount"] = cached
            u["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
            if th:
                u["thoughtsTokenCount"] = th
            if vertex:
                u["trafficType"] = "ON_DEMAND"
            return u

        def envelope(cand, u):
            o = {"candidates": [cand]} if cand is not None else {}
            o["usageMetadata"] = u
            o["modelVersion"] = model
            if vertex:
                o["createTime"] = "2026-01-01T00:00:00.000000Z"
            o["responseId"] = resp_id
            return o

        finish = {"end": "STOP", "max_tokens": "MAX_TOKENS", "stop_sequence": "STOP", "tool_use": "STOP"}[plan.stop]
        fc_parts = []
        for i, c in enumerate(plan.tool_calls):
            part = {"functionCall": {"name": c["name"], "args": c["args"]}}
            if i == 0 and want_sig:
                sig = _signature(rec.seq, c["name"])
                self.issued_signatures.add(sig)
                part["thoughtSignature"] = sig
            fc_parts.append(part)
        text_tokens = len(plan.pieces) if plan.text else 0
        cand_tokens = text_tokens + 10 * len(plan.tool_calls) + (0 if ask.thinking else plan.thinking_tokens)
        rec.usage = usage(cand_tokens, thoughts)
        rec.usage["candidatesTokenCount"] = cand_tokens

        special = None
        if fault.has("blocked"):
            special = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]},
                "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt}, "modelVersion": model,
                "responseId": resp_id}
        elif fault.has("finish-safety"):
            special = envelope({"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]},
                usage(0, 0))

        if not stream:
            if special is not None:
                body = special
            else:
                parts = []
                if ask.thinking and include_thoughts and plan.thinking:
                    parts.append({"text": plan.thinking, "thought": True})
                if plan.text is not None:
                    parts.append({"text": plan.text})
                parts += fc_parts
                cand = {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}
                body = envelope(cand, usage(cand_tokens, thoughts))
            raw = _gjson(body, indent=2).encode() + b"\n"
            hdrs = [("Vary", "Origin, X-Origin, Referer"), ("Server", "scaffolding on HTTPServer2")]
            if fault.has("reset-mid-stream") or fault.has("eof-mid-stream"):
                return self.send_partial_then_reset(h, rec, 200, raw, "application/json; charset=UTF-8", hdrs)
            return self.send_json(h, rec, 200, raw, headers=hdrs, ctype="application/json; charset=UTF-8")

        # ---- streaming: chunks of new parts, cumulative usage on each, finishReason on the last
        chunks = []
        if special is not None:
            chunks.append(special)
        else:
            groups = []  # (parts, candidate tokens added, thought tokens added)
            if ask.thinking and include_thoughts and plan.thinking:
                tp = plan.thinking_pieces
                for i in range(0, len(tp), 3):
                    groups.append(([{"text": "".join(tp[i:i + 3]), "thought": True}], 0, len(tp[i:i + 3])))
            elif thoughts:
                groups.append(([], 0, thoughts))  # thinking happened, nothing shown
            if plan.text is not None:
                pc = plan.pieces
                for i in range(0, len(pc), 2):
                    groups.append(([{"text": "".join(pc[i:i + 2])}], len(pc[i:i + 2]), 0))
            if fc_parts:
                groups.append((fc_parts, 10 * len(fc_parts), 0))
            groups = [g for g in groups if g[0]] or [([{"text": ""}], 0, 0)]
            if len(groups) == 1:  # a separate last chunk, as Gemini often sends: {"text": ""} + finishReason
                groups.append(([{"text": ""}], 0, 0))
            if thoughts and not (ask.thinking and include_thoughts and plan.thinking):
                groups[0] = (groups[0][0], groups[0][1], thoughts)
            cands = ths = 0
            for gi, (parts, dc, dt) in enumerate(groups):
                cands += dc
                ths += dt
                cand = {"content": {"parts": parts, "role": "model"}, "index": 0}
                if gi == len(groups) - 1:
                    cand["finishReason"] = finish
                    cands = cand_tokens
                chunks.append(envelope(cand, usage(cands, ths)))
        err = {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                         "status": "UNAVAILABLE"}}
        hdrs = [("Vary", "Origin, X-Origin, Referer"), ("Server", "scaffolding on HTTPServer2"),
                ("X-XSS-Protection", "0")]
        if sse:
            items = [(_gjson(c), ("data: " + _gjson(c) + "\r\n\r\n").encode()) for c in chunks]
            error_item = (_gjson(err), ("data: " + _gjson(err) + "\r\n\r\n").encode())
            out = self.begin_stream(h, rec, "text/event-stream", hdrs + [("Content-Disposition", "attachment")])
            self.run_stream(h, out, items, fault, error_item)
            return None
        # JSON array mode: "[" + obj + "\n,\r\n" + obj ... + "]"
        items = []
        for i, c in enumerate(chunks):
            txt = _gjson(c, indent=2)
            raw = ("[" if i == 0 else "\n,\r\n") + txt + ("\n]" if i == len(chunks) - 1 else "")
            items.append((txt, raw.encode()))
        error_item = (_gjson(err), ("\n,\r\n" + _gjson(err, indent=2) + "\n]").encode())
        out = self.begin_stream(h, rec, "application/json; charset=UTF-8", hdrs)
        self.run_stream(h, out, items, fault, error_item)
        return None

    def _fault_status(self, h, rec, status, fault, vertex):
        headers = []
        ra = fault.retry_after(None)
        if ra is not None:
            headers.append(("Retry-After", str(ra)))
        if status == 429:
            if vertex:
                return self.error(h, rec, 429, "Resource exhausted. Please try again later. Please refer to "
                                               "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 "
                                               "for more details.", headers=headers)
            delay = fault.retry_after(7)
            return self.error(h, rec, 429, "You exceeded your current quota, please check your plan and billing "
                                           "details. For more information on this error, head to: "
                                           "https://ai.google.dev/gemini-api/docs/rate-limits.", details=[
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                    {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                     "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                     "quotaDimensions": {"location": "global", "model": rec.model}, "quotaValue": "10"}]},
                {"@type": "type.googleapis.com/google.rpc.Help", "links": [
                    {"description": "Learn more about Gemini API quotas",
                     "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}], headers=headers)
        msgs = {500: "An internal error has occurred. Please retry or report in "
                     "https://developers.generativeai.google/guide/troubleshooting",
                503: "The model is overloaded. Please try again later.",
                504: "The request timed out. Please try again.",
                400: "Request contains an invalid argument.", 403: "The caller does not have permission",
                404: "Requested entity was not found."}
        return self.error(h, rec, status, msgs.get(status, f"Mock Gemini error {status}"), headers=headers)

    # ------------------------------------------------------------------ validation
    def _validate(self, req, model, vertex):
        for k in req:
            if k not in TOP_LEVEL:
                raise BadRequest(f"Invalid JSON payload received. Unknown name \"{k}\": Cannot find field.", details=[
                    {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                        {"description": f"Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."}]}])
        gc = _g(req, "generationConfig")
        thinking_cfg = None
        if gc is not None:
            if not isinstance(gc, dict):
                raise BadRequest("Invalid value at 'generation_config' "
                                 "(type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig)")
            for k in gc:
                if k not in GEN_CONFIG:
                    raise BadRequest(f"Invalid JSON payload received. Unknown name \"{k}\" at 'generation_config': "
                                     "Cannot find field.")
            thinking_cfg = _g(gc, "thinkingConfig")
            if thinking_cfg is not None:
                if not isinstance(thinking_cfg, dict):
                    raise BadRequest("Invalid value at 'generation_config.thinking_config'")
                for k in thinking_cfg:
                    if k not in THINKING_CONFIG:
                        raise BadRequest(f"Invalid JSON payload received. Unknown name \"{k}\" at "
                                         "'generation_config.thinking_config': Cannot find field.")
            if _g(gc, "responseSchema") is not None and _g(gc, "responseJsonSchema") is not None:
                raise BadRequest("responseSchema and responseJsonSchema cannot both be set.")
            mime = _g(gc, "responseMimeType")
            if (_g(gc, "responseSchema") is not None or _g(gc, "responseJsonSchema") is not None) \
                    and mime != "application/json":
                raise BadRequest("response_mime_type must be application/json when response_schema or "
                                 "response_json_schema is set.")
            sseq = _g(gc, "stopSequences")
            if sseq is not None and (not isinstance(sseq, list) or len(sseq) > 5):
                raise BadRequest("stop_sequences: at most 5 stop sequences are allowed")
            mot = _g(gc, "maxOutputTokens")
            if mot is not None and (not isinstance(mot, int) or isinstance(mot, bool) or mot < 1):
                raise BadRequest("max_output_tokens must be a positive integer")
        tools = _g(req, "tools")
        names = []
        if tools is not None:
            if not isinstance(tools, list):
                raise BadRequest("Invalid value at 'tools'")
            for ti, tl in enumerate(tools):
                if not isinstance(tl, dict):
                    raise BadRequest(f"Invalid value at 'tools[{ti}]'")
                fds = _g(tl, "functionDeclarations")
                if fds is None:
                    continue
                for fi, fd in enumerate(fds if isinstance(fds, list) else []):
                    where = f"tools[{ti}].function_declarations[{fi}]"
                    if not isinstance(fd, dict):
                        raise BadRequest(f"Invalid value at '{where}'")
                    for k in fd:
                        if k not in FUNC_DECL:
                            raise BadRequest(f"Invalid JSON payload received. Unknown name \"{k}\" at '{where}': "
                                             "Cannot find field.")
                    if not isinstance(fd.get("name"), str) or not re.match(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$",
                                                                           fd["name"]):
                        raise BadRequest(f"* GenerateContentRequest.{where}.name: Invalid function name. Must start "
                                         "with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), "
                                         "underscores (_), dots (.), colons (:), or dashes (-), with a maximum length "
                                         "of 128.\n")
                    if _g(fd, "parameters") is not None and _g(fd, "parametersJsonSchema") is not None:
                        raise BadRequest(f"* GenerateContentRequest.{where}: parameters and parameters_json_schema "
                                         "cannot both be set.\n")
                    if _g(fd, "parameters") is not None:
                        _check_schema(_g(fd, "parameters"), f"{where}.parameters")
                    names.append(fd["name"])
            if _g(gc or {}, "responseSchema") is not None:
                _check_schema(_g(gc, "responseSchema"), "generation_config.response_schema")
        tcfg = _g(req, "toolConfig")
        choice = None
        if tcfg is not None:
            fcc = _g(tcfg, "functionCallingConfig") if isinstance(tcfg, dict) else None
            if fcc is not None:
                mode = _g(fcc, "mode")
                if mode not in (None, "AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
                    raise BadRequest(f"Invalid value at 'tool_config.function_calling_config.mode' "
                                     f"(type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig."
                                     f"Mode), \"{mode}\"")
                allowed = _g(fcc, "allowedFunctionNames")
                if allowed and mode != "ANY":
                    raise BadRequest("allowed_function_names may only be set when mode is ANY.")
                if mode == "NONE":
                    choice = "none"
                elif mode == "ANY":
                    choice = ("tool", allowed[0]) if allowed and len(allowed) == 1 else "any"
                    if not names:
                        raise BadRequest("Function calling config is set without function_declarations.")
        si = _g(req, "systemInstruction")
        if si is not None:
            if isinstance(si, str):
                raise BadRequest("Invalid value at 'system_instruction' (type.googleapis.com/google.ai."
                                 "generativelanguage.v1beta.Content), \"" + si[:40] + "\"")
            self._check_parts(_g(si, "parts"), "system_instruction")

        contents = _g(req, "contents")
        if contents is None or contents == []:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified\n")
        if not isinstance(contents, list):
            raise BadRequest("Invalid value at 'contents'")
        for i, c in enumerate(contents):
            if not isinstance(c, dict):
                raise BadRequest(f"Invalid value at 'contents[{i}]'")
            for k in c:
                if k not in ("role", "parts"):
                    raise BadRequest(f"Invalid JSON payload received. Unknown name \"{k}\" at 'contents[{i}]': "
                                     "Cannot find field.")
            role = c.get("role")
            if role is None and vertex:
                raise BadRequest("Please use a valid role: user, model.")
            if role not in (None, "user", "model"):
                raise BadRequest("Please use a valid role: user, model.")
            self._check_parts(c.get("parts"), f"contents[{i}]")
            if "gemini-3" in model and role == "model":
                fcs = [p for p in c["parts"] if _g(p, "functionCall") is not None]
                if fcs:
                    sig = _g(fcs[0], "thoughtSignature")
                    if not sig:
                        raise BadRequest(f"Function call is missing a thought_signature in functionCall parts. This "
                                         f"is required for tools to work correctly, and missing thought_signature may "
                                         f"lead to degraded model performance. Additional data, function call "
                                         f"`default_api:{_g(fcs[0], 'functionCall').get('name')}` , position {i + 1}. "
                                         "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures "
                                         "for more details.")
                    if sig != DUMMY_SIGNATURE and sig not in self.issued_signatures:
                        raise BadRequest("Corrupted thought signature.")

        ask = Ask()
        ask.tools = names
        ask.tool_choice = choice
        if isinstance(thinking_cfg, dict):
            b = _g(thinking_cfg, "thinkingBudget")
            ask.thinking = bool(_g(thinking_cfg, "includeThoughts")) or (isinstance(b, int) and (b > 0 or b == -1)) \
                or _g(thinking_cfg, "thinkingLevel") is not None
            if b == 0:
                ask.thinking = False
        ask.json_mode = _g(gc or {}, "responseMimeType") == "application/json"
        ask.max_tokens = _g(gc or {}, "maxOutputTokens")
        ask.stop = _g(gc or {}, "stopSequences") or []
        ask.input_words = count_words(contents) + count_words(si or {})
        last = contents[-1]
        if last.get("role", "user") == "user":
            parts = last["parts"]
            ask.last_user_text = "".join(_g(p, "text", "") for p in parts if isinstance(_g(p, "text"), str)
                                         and not _g(p, "thought"))
            frs = [_g(p, "functionResponse") for p in parts if _g(p, "functionResponse") is not None]
            if frs:
                ask.tool_results = [json.dumps(fr.get("response"), sort_keys=True, ensure_ascii=False) for fr in frs]
        return ask, thinking_cfg

    def _check_parts(self, parts, where):
        if not isinstance(parts, list) or not parts:
            raise BadRequest(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.\n")
        for j, p in enumerate(parts):
            if not isinstance(p, dict):
                raise BadRequest(f"Invalid value at '{where}.parts[{j}]'")
            data = [k for k in p if k in PART_DATA]
            for k in p:
                if k not in PART_DATA and k not in PART_META:
                    raise BadRequest(f"Invalid JSON payload received. Unknown name \"{k}\" at '{where}.parts[{j}]': "
                                     "Cannot find field.")
            if len(data) != 1:
                raise BadRequest(f"* GenerateContentRequest.{where}.parts[{j}].data: required oneof field 'data' must "
                                 "have one initialized field\n" if not data else
                                 f"Invalid JSON payload received. Oneof field 'data' is already set. Cannot set "
                                 f"'{data[1]}' at '{where}.parts[{j}]'")
            fr = _g(p, "functionResponse")
            if fr is not None and (not isinstance(fr, dict) or not isinstance(fr.get("name"), str)
                                   or not fr["name"]):
                raise BadRequest(f"* GenerateContentRequest.{where}.parts[{j}].function_response.name: Name cannot "
                                 "be empty.\n")
            if fr is not None and "response" in fr and not isinstance(fr["response"], dict):
                raise BadRequest(f"Invalid value at '{where}.parts[{j}].function_response.response' "
                                 "(type.googleapis.com/google.protobuf.Struct)")
            fc = _g(p, "functionCall")
            if fc is not None and (not isinstance(fc, dict) or not isinstance(fc.get("name"), str)):
                raise BadRequest(f"* GenerateContentRequest.{where}.parts[{j}].function_call.name: Name cannot be "
                                 "empty.\n")
            if fc is not None and "args" in fc and not isinstance(fc["args"], dict):
                raise BadRequest(f"Invalid value at '{where}.parts[{j}].function_call.args' "
                                 "(type.googleapis.com/google.protobuf.Struct)")
            idata = _g(p, "inlineData")
            if idata is not None and (not isinstance(idata, dict) or not _g(idata, "mimeType")
                                      or not isinstance(_g(idata, "data"), str)):
                raise BadRequest(f"* GenerateContentRequest.{where}.parts[{j}].inline_data: mime_type and data are "
                                 "required\n")


def _check_schema(s, where):
    if not isinstance(s, dict):
        raise BadRequest(f"Invalid value at '{where}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Schema)")
    for k, v in s.items():
        if k not in SCHEMA_KEYS:
            raise BadRequest(f"Invalid JSON payload received. Unknown name \"{k}\" at '{where}': Cannot find field.",
                             details=[{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                                 {"field": where, "description": f"Invalid JSON payload received. Unknown name "
                                                                 f"\"{k}\" at '{where}': Cannot find field."}]}])
    t = s.get("type")
    if t is not None and (not isinstance(t, str) or t.upper() not in SCHEMA_TYPES):
        raise BadRequest(f"Invalid value at '{where}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta."
                         f"Type), {json.dumps(t)}")
    props = s.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            _check_schema(sub, f"{where}.properties[{name}].value")
    if s.get("items") is not None:
        _check_schema(s["items"], f"{where}.items")
    for i, sub in enumerate(_g(s, "anyOf") or []):
        _check_schema(sub, f"{where}.any_of[{i}]")


def _gjson(obj, indent=None):
    """Google's JSON: non-ASCII kept, '<' and '>' escaped as \\u003c / \\u003e."""
    s = json.dumps(obj, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":"))
    return s.replace("<", "\\u003c").replace(">", "\\u003e")


def _signature(seq, name):
    """A thought signature as Gemini sends it: standard base64 (with padding) of opaque bytes (the real
    ones start with "CiQB", the base64 of a protobuf header). 34 bytes, so the text ends in "==" and holds
    '+' / '/' often enough to catch clients that do not give it back byte for byte."""
    raw = b"\x0a\x24\x01" + hashlib.sha256(f"mock-thought-signature:{seq}:{name}".encode()).digest()[:31]
    return base64.b64encode(raw).decode()


def _embedding(text, dims):
    out = []
    seed = hashlib.sha256(text.encode()).digest()
    while len(out) < dims:
        seed = hashlib.sha256(seed).digest()
        for i in range(0, 32, 4):
            if len(out) < dims:
                out.append(round(struct.unpack(">i", seed[i:i + 4])[0] / 2 ** 31, 6))
    return out


if __name__ == "__main__":
    serve_forever(MockGemini())
