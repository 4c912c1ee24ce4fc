"""Mock of the Anthropic Messages API (wire_formats.md §2).

Endpoints (any path prefix, so api_base may be `http://127.0.0.1:PORT` or `.../v1`-less forms):
  POST .../v1/messages               non-streaming JSON, or SSE with "stream": true
  POST .../v1/messages/count_tokens  {"input_tokens": N}
  GET  .../v1/models                 a one-model list
Checks (answered with {"type":"error","error":{"type","message"},"request_id"}):
  x-api-key equal to the configured key (401 authentication_error; `Authorization: Bearer <key>` only with
  allow_bearer=True), anthropic-version present (400) and a known version, Content-Type JSON, a JSON
  object body, `model`, `max_tokens` (int >= 1), `messages` (non-empty; roles user/assistant only; strictly
  alternating and starting with user unless strict_alternation=False; non-empty content; known block
  types; tool_use only in assistant turns and tool_result only in user turns; every tool_use answered
  by a tool_result in the very next user turn, tool_result blocks first; no stray tool_result ids),
  no unknown top-level fields ("Extra inputs are not permitted" — OpenAI-only fields such as
  stream_options, n, max_completion_tokens, response_format, tool_choice strings are rejected),
  temperature 0..1, tools (name pattern, input_schema object), tool_choice shapes and names, thinking
  (budget_tokens >= 1024 and < max_tokens; not with forced tool use; temperature must stay 1).
Reply: see _base.plan_reply. Thinking when `thinking.type` is "enabled" (or "adaptive"): a thinking
block with a signature first. JSON mode when `output_config.format.type == "json_schema"`. Usage:
`cache_control` anywhere in the request adds cache_creation_input_tokens 20 and cache_read_input_tokens
100. Streams: message_start, then per block content_block_start / deltas / content_block_stop, a `ping`
right after the first content_block_start, tool input as input_json_delta fragments (first one empty,
then split mid-token), signature_delta before a thinking block's stop, message_delta with cumulative
usage, message_stop.
Faults (besides _base.FAULTS): fault-529 (overloaded_error, no retry-after), fault-429 (rate_limit_error
with retry-after: 1 and anthropic-ratelimit-* headers; Anthropic sends no retry-after-ms),
error-mid-stream = `event: error` overloaded_error after a few events, then the body ends (no
message_stop).
"""
from __future__ import annotations

import re

from ._base import (CREATED, Ask, MockBase, compact, count_words, json_fragments, plan_reply, rfc3339,
                    serve_forever, sse_event)

ANTHROPIC_KEY = "sk-ant-mock-ANTHROPICSECRET-5e21"
VERSIONS = ("2023-06-01", "2023-01-01")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error"}
ERROR_MESSAGES = {429: "Number of request tokens has exceeded your per-minute rate limit "
                       "(https://docs.claude.com/en/api/rate-limits); see the response headers for current usage.",
                  500: "Internal server error", 529: "Overloaded", 504: "Request timed out",
                  401: "invalid x-api-key", 403: "Your API key does not have permission to use the specified resource.",
                  404: "model: not found", 413: "Request exceeds the maximum allowed number of bytes."}
TOP_LEVEL = {"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature",
             "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier", "output_config", "cache_control",
             "container", "mcp_servers", "context_management", "output_format", "inference_geo"}
BLOCK_TYPES = {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
               "search_result", "server_tool_use", "web_search_tool_result", "container_upload"}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


class BadRequest(Exception):
    def __init__(self, message, status=400, type_=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_ or ERROR_TYPES.get(status, "invalid_request_error")


class MockAnthropic(MockBase):
    provider = "anthropic"
    CONFIG_KEYS = ("api_key", "strict_alternation", "allow_bearer")

    def __init__(self, api_key=ANTHROPIC_KEY, host="127.0.0.1", port=0, name="mock-anthropic",
                 strict_alternation=True, allow_bearer=False):
        super().__init__(host, port, name)
        self.api_key = api_key
        self.strict_alternation = strict_alternation
        self.allow_bearer = allow_bearer

    # ------------------------------------------------------------------ routing
    def handle_request(self, h, rec):
        route = rec.route
        if route.endswith("/v1/messages") and rec.method == "POST":
            rec.kind = "messages"
            return self._messages(h, rec)
        if route.endswith("/v1/messages/count_tokens") and rec.method == "POST":
            rec.kind = "count_tokens"
            return self._count_tokens(h, rec)
        if route.endswith("/v1/models") and rec.method == "GET":
            rec.kind = "models"
            if not self._auth_ok(h, rec):
                return None
            return self.send_json(h, rec, 200, {"data": [{"type": "model", "id": "claude-sonnet-4-5-20250929",
                                                          "display_name": "Claude Sonnet 4.5",
                                                          "created_at": "2025-09-29T00:00:00Z"}],
                                                "has_more": False, "first_id": "claude-sonnet-4-5-20250929",
                                                "last_id": "claude-sonnet-4-5-20250929"},
                                  headers=self._headers(rec))
        rec.rejected = "unknown path"
        return self.error(h, rec, 404, "Not Found")

    # ------------------------------------------------------------------ answers
    def _headers(self, rec):
        return [("request-id", f"req_011Mock{rec.seq:08d}"), ("anthropic-organization-id", "org-mock-0001")]

    def error(self, h, rec, status, message, type_=None, extra=()):
        type_ = type_ or ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        body = {"type": "error", "error": {"type": type_, "message": message},
                "request_id": f"req_011Mock{rec.seq:08d}"}
        return self.send_json(h, rec, status, body, headers=self._headers(rec) + list(extra))

    def _auth_ok(self, h, rec):
        key = rec.header("x-api-key")
        auth = rec.header("authorization") or ""
        if key is None and self.allow_bearer and auth == f"Bearer {self.api_key}":
            rec.auth = "bearer"
        elif key is None:
            rec.rejected = "auth: no x-api-key"
            self.error(h, rec, 401, "x-api-key header is required")
            return False
        elif key != self.api_key:
            rec.rejected = "auth: wrong x-api-key"
            self.error(h, rec, 401, "invalid x-api-key")
            return False
        else:
            rec.auth = "x-api-key"
        ver = rec.header("anthropic-version")
        if not ver:
            rec.rejected = "no anthropic-version"
            self.error(h, rec, 400, "anthropic-version: header is required")
            return False
        # Documented versions, plus any later date-shaped version: current SDKs send their own
        # release date (@anthropic-ai/sdk 1.14 sends 2026-10-21), which the API accepts.
        if ver not in VERSIONS and not (re.fullmatch(r"20\d\d-\d\d-\d\d", ver or "")
                                        and ver > VERSIONS[0]):
            rec.rejected = "bad anthropic-version"
            self.error(h, rec, 400, f"anthropic-version: invalid version '{ver}'")
            return False
        return True

    def _body(self, h, rec):
        if not self._auth_ok(h, rec):
            return None
        ctype = (rec.header("content-type") or "").lower()
        if not ctype.startswith("application/json"):
            rec.rejected = f"content-type {ctype!r}"
            self.error(h, rec, 400, "Content-Type must be application/json")
            return None
        if not isinstance(rec.json, dict):
            rec.rejected = "body is not a JSON object"
            self.error(h, rec, 400, "There was an error parsing the body of your request. Please make sure it is "
                                    "valid JSON.")
            return None
        return rec.json

    def _count_tokens(self, h, rec):
        req = self._body(h, rec)
        if req is None:
            return None
        if not isinstance(req.get("messages"), list):
            rec.rejected = "messages missing"
            return self.error(h, rec, 400, "messages: Field required")
        n = 3 + count_words(req.get("messages")) + count_words(req.get("system") or "")
        return self.send_json(h, rec, 200, {"input_tokens": n}, headers=self._headers(rec))

    def _messages(self, h, rec):
        req = self._body(h, rec)
        if req is None:
            return None
        rec.model = req.get("model")
        rec.stream = req.get("stream") is True
        try:
            ask = self._validate(req)
        except BadRequest as e:
            rec.rejected = e.message
            return self.error(h, rec, e.status, e.message, e.type)
        fault = self.pick_fault(rec, rec.model)
        status = fault.status()
        if status:
            return self._fault_status(h, rec, status, fault)
        self.pre_answer_faults(h, rec, fault)
        plan = plan_reply(ask, fault, self.provider)
        rec.reply = plan.to_dict()
        cache = _has_key(req, "cache_control")
        usage = {"input_tokens": plan.input_tokens,
                 "cache_creation_input_tokens": 20 if cache else 0,
                 "cache_read_input_tokens": 100 if cache else 0,
                 "cache_creation": {"ephemeral_5m_input_tokens": 20 if cache else 0, "ephemeral_1h_input_tokens": 0},
                 "output_tokens": plan.output_tokens, "service_tier": "standard"}
        rec.usage = usage
        msg_id = f"msg_01Mock{rec.seq:010d}"
        stop_reason = {"end": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence",
                       "tool_use": "tool_use"}[plan.stop]
        tool_ids = [f"toolu_01Mock{rec.seq:06d}{c['index']:02d}" for c in plan.tool_calls]
        if not rec.stream:
            content = []
            if plan.thinking is not None:
                content.append({"type": "thinking", "thinking": plan.thinking, "signature": plan.signature})
            if plan.text is not None:
                content.append({"type": "text", "text": plan.text})
            for c, tid in zip(plan.tool_calls, tool_ids):
                content.append({"type": "tool_use", "id": tid, "name": c["name"], "input": c["args"]})
            body = {"id": msg_id, "type": "message", "role": "assistant", "model": rec.model, "content": content,
                    "stop_reason": stop_reason, "stop_sequence": plan.stop_sequence, "usage": usage}
            raw = (compact(body) + "").encode()
            if fault.has("reset-mid-stream") or fault.has("eof-mid-stream"):
                return self.send_partial_then_reset(h, rec, 200, raw, headers=self._headers(rec))
            return self.send_json(h, rec, 200, raw, headers=self._headers(rec) + _ratelimit_headers())

        # ---- streaming
        events = []

        def ev(name, obj):
            events.append(({"event": name, "data": compact(obj)}, sse_event(compact(obj), name)))

        start_usage = dict(usage)
        start_usage["output_tokens"] = 1
        ev("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": rec.model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
        index = 0
        pinged = False

        def ping():
            nonlocal pinged
            if not pinged:
                ev("ping", {"type": "ping"})
                pinged = True

        if plan.thinking is not None:
            ev("content_block_start", {"type": "content_block_start", "index": index,
                                       "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
            ping()
            for p in plan.thinking_pieces:
                ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": {"type": "thinking_delta", "thinking": p}})
            ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                       "delta": {"type": "signature_delta", "signature": plan.signature}})
            ev("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        if plan.text is not None:
            ev("content_block_start", {"type": "content_block_start", "index": index,
                                       "content_block": {"type": "text", "text": ""}})
            ping()
            for p in plan.pieces:
                ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": {"type": "text_delta", "text": p}})
            ev("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        for c, tid in zip(plan.tool_calls, tool_ids):
            ev("content_block_start", {"type": "content_block_start", "index": index,
                                       "content_block": {"type": "tool_use", "id": tid, "name": c["name"],
                                                         "input": {}}})
            ping()
            for frag in [""] + json_fragments(c["arguments"]):
                ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": {"type": "input_json_delta", "partial_json": frag}})
            ev("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        delta_usage = {"input_tokens": usage["input_tokens"],
                       "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                       "cache_read_input_tokens": usage["cache_read_input_tokens"],
                       "output_tokens": usage["output_tokens"]}
        ev("message_delta", {"type": "message_delta",
                             "delta": {"stop_reason": stop_reason, "stop_sequence": plan.stop_sequence},
                             "usage": delta_usage})
        ev("message_stop", {"type": "message_stop"})
        err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        error_item = ({"event": "error", "data": compact(err)}, sse_event(compact(err), "error"))
        out = self.begin_stream(h, rec, "text/event-stream; charset=utf-8",
                                [("Cache-Control", "no-cache")] + self._headers(rec) + _ratelimit_headers())
        self.run_stream(h, out, events, fault, error_item)
        return None

    def _fault_status(self, h, rec, status, fault):
        extra = []
        ra = fault.retry_after(1 if status == 429 else None)
        if ra is not None:
            extra.append(("retry-after", str(ra)))
        if status == 429:
            extra += _ratelimit_headers(remaining=0)
        if fault.noretry:
            extra.append(("x-should-retry", "false"))
        msg = ERROR_MESSAGES.get(status, f"Mock Anthropic error {status}")
        return self.error(h, rec, status, msg, extra=extra)

    # ------------------------------------------------------------------ validation
    def _validate(self, req):
        for k in req:
            if k not in TOP_LEVEL:
                raise BadRequest(f"{k}: Extra inputs are not permitted")
        if not isinstance(req.get("model"), str) or not req["model"]:
            raise BadRequest("model: Field required")
        mt = req.get("max_tokens")
        if mt is None:
            raise BadRequest("max_tokens: Field required")
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise BadRequest("max_tokens: Input should be a valid integer greater than or equal to 1")
        if "stream" in req and not isinstance(req["stream"], bool):
            raise BadRequest("stream: Input should be a valid boolean")
        t = req.get("temperature")
        if t is not None and (not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 <= t <= 1):
            raise BadRequest("temperature: Input should be less than or equal to 1")
        sysp = req.get("system")
        if sysp is not None and not isinstance(sysp, str):
            if not isinstance(sysp, list) or not all(isinstance(b, dict) and b.get("type") == "text"
                                                      and isinstance(b.get("text"), str) for b in sysp):
                raise BadRequest("system: Input should be a valid string or a list of text blocks")
        ss = req.get("stop_sequences")
        if ss is not None and (not isinstance(ss, list) or not all(isinstance(s, str) for s in ss)):
            raise BadRequest("stop_sequences: Input should be a valid list of strings")
        md = req.get("metadata")
        if md is not None and (not isinstance(md, dict) or any(k != "user_id" for k in md)):
            raise BadRequest("metadata: only user_id is permitted")

        tools = req.get("tools")
        names = []
        if tools is not None:
            if not isinstance(tools, list):
                raise BadRequest("tools: Input should be a valid list")
            for i, tl in enumerate(tools):
                if not isinstance(tl, dict):
                    raise BadRequest(f"tools.{i}: Input should be a valid dictionary")
                if tl.get("type") not in (None, "custom"):
                    names.append(tl.get("name"))  # server tool
                    continue
                for k in tl:
                    if k not in ("name", "description", "input_schema", "cache_control", "type", "strict",
                                 "input_examples"):
                        raise BadRequest(f"tools.{i}.custom.{k}: Extra inputs are not permitted")
                if not isinstance(tl.get("name"), str) or not TOOL_NAME.match(tl["name"]):
                    raise BadRequest(f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
                sch = tl.get("input_schema")
                if not isinstance(sch, dict):
                    raise BadRequest(f"tools.{i}.custom.input_schema: Field required")
                if sch.get("type") != "object":
                    raise BadRequest(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
                names.append(tl["name"])
        tc = req.get("tool_choice")
        choice = None
        if tc is not None:
            if not isinstance(tc, dict) or tc.get("type") not in ("auto", "any", "tool", "none"):
                raise BadRequest("tool_choice: Input should be an object with type 'auto', 'any', 'tool' or 'none'")
            if tc["type"] == "tool":
                if not isinstance(tc.get("name"), str):
                    raise BadRequest("tool_choice.tool.name: Field required")
                if tc["name"] not in names:
                    raise BadRequest(f"tool_choice.name: tool '{tc['name']}' not found in tools")
                choice = ("tool", tc["name"])
            elif tc["type"] in ("any", "none"):
                choice = tc["type"]
            if tc["type"] in ("any", "tool") and not names:
                raise BadRequest("tool_choice: tool_choice may only be specified while providing tools.")
        th = req.get("thinking")
        thinking = False
        if th is not None:
            if not isinstance(th, dict) or th.get("type") not in ("enabled", "disabled", "adaptive"):
                raise BadRequest("thinking: Input tag found using 'type' does not match any of the expected tags: "
                                 "'enabled', 'disabled', 'adaptive'")
            if th["type"] == "enabled":
                b = th.get("budget_tokens")
                if not isinstance(b, int) or isinstance(b, bool):
                    raise BadRequest("thinking.enabled.budget_tokens: Field required")
                if b < 1024:
                    raise BadRequest("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
                if b >= mt:
                    raise BadRequest("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                                     "documentation at "
                                     "https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
            if th["type"] in ("enabled", "adaptive"):
                thinking = True
                if choice == "any" or isinstance(choice, tuple):
                    raise BadRequest("Thinking may not be enabled when tool_choice forces tool use.")
                if t is not None and t != 1:
                    raise BadRequest("`temperature` may only be set to 1 when thinking is enabled. Please consult "
                                     "our documentation at https://docs.claude.com/en/docs/build-with-claude/"
                                     "extended-thinking#important-considerations-when-using-extended-thinking")
        oc = req.get("output_config")
        json_mode = False
        if oc is not None:
            if not isinstance(oc, dict):
                raise BadRequest("output_config: Input should be a valid dictionary")
            fmt = oc.get("format")
            if fmt is not None:
                if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" \
                        or not isinstance(fmt.get("schema"), dict):
                    raise BadRequest("output_config.format: expected {\"type\": \"json_schema\", \"schema\": {...}}")
                json_mode = True
        of = req.get("output_format")
        if isinstance(of, dict) and of.get("type") == "json_schema":
            json_mode = True

        msgs = req.get("messages")
        if msgs is None:
            raise BadRequest("messages: Field required")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("messages: at least one message is required")
        prev_role = None
        pending_tool_ids = None  # ids of the previous assistant turn's tool_use blocks
        prev_tool_ids = set()
        for i, m in enumerate(msgs):
            if not isinstance(m, dict):
                raise BadRequest(f"messages.{i}: Input should be a valid dictionary")
            for k in m:
                if k not in ("role", "content"):
                    raise BadRequest(f"messages.{i}.{k}: Extra inputs are not permitted")
            role = m.get("role")
            if role == "system":
                raise BadRequest("messages: Unexpected role \"system\". The Messages API accepts a top-level "
                                 "`system` parameter, not \"system\" as an input message role.")
            if role not in ("user", "assistant"):
                raise BadRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if self.strict_alternation:
                if i == 0 and role != "user":
                    raise BadRequest("messages: first message must use the \"user\" role")
                if role == prev_role:
                    raise BadRequest(f"messages: roles must alternate between \"user\" and \"assistant\", but found "
                                     f"multiple \"{role}\" roles in a row")
            content = m.get("content")
            last = i == len(msgs) - 1
            if isinstance(content, str):
                if not content and not (last and role == "assistant"):
                    raise BadRequest(f"messages.{i}: all messages must have non-empty content except for the "
                                     "optional final assistant message")
                blocks = [{"type": "text", "text": content}]
            elif isinstance(content, list):
                if not content and not (last and role == "assistant"):
                    raise BadRequest(f"messages.{i}: all messages must have non-empty content except for the "
                                     "optional final assistant message")
                blocks = content
            else:
                raise BadRequest(f"messages.{i}.content: Input should be a valid string or list")
            tool_use_ids = []
            result_ids = []
            seen_other = False
            for j, b in enumerate(blocks):
                if not isinstance(b, dict) or b.get("type") not in BLOCK_TYPES:
                    tag = b.get("type") if isinstance(b, dict) else None
                    raise BadRequest(f"messages.{i}.content.{j}: Input tag '{tag}' found using 'type' does not match "
                                     "any of the expected tags: " + ", ".join(f"'{x}'" for x in sorted(BLOCK_TYPES)))
                bt = b["type"]
                if bt == "text":
                    if not isinstance(b.get("text"), str):
                        raise BadRequest(f"messages.{i}.content.{j}.text.text: Field required")
                    if not b["text"] and not (last and role == "assistant"):
                        raise BadRequest(f"messages.{i}.content.{j}.text: text content blocks must be non-empty")
                elif bt == "image":
                    src = b.get("source")
                    if not isinstance(src, dict) or src.get("type") not in ("base64", "url", "file"):
                        raise BadRequest(f"messages.{i}.content.{j}.image.source: Field required")
                    if src["type"] == "base64" and (src.get("media_type") not in ("image/jpeg", "image/png",
                                                                                  "image/gif", "image/webp")
                                                    or not isinstance(src.get("data"), str)):
                        raise BadRequest(f"messages.{i}.content.{j}.image.source.base64.media_type: Input should be "
                                         "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
                    if src["type"] == "url" and not isinstance(src.get("url"), str):
                        raise BadRequest(f"messages.{i}.content.{j}.image.source.url.url: Field required")
                elif bt == "tool_use":
                    if role != "assistant":
                        raise BadRequest(f"messages.{i}.content.{j}: tool_use blocks are only allowed in assistant "
                                         "messages")
                    if not isinstance(b.get("id"), str) or not re.match(r"^[a-zA-Z0-9_-]+$", b["id"]):
                        raise BadRequest(f"messages.{i}.content.{j}.tool_use.id: String should match pattern "
                                         "'^[a-zA-Z0-9_-]+$'")
                    if not isinstance(b.get("name"), str):
                        raise BadRequest(f"messages.{i}.content.{j}.tool_use.name: Field required")
                    if not isinstance(b.get("input"), dict):
                        raise BadRequest(f"messages.{i}.content.{j}.tool_use.input: Input should be a valid "
                                         "dictionary")
                    tool_use_ids.append(b["id"])
                elif bt == "tool_result":
                    if role != "user":
                        raise BadRequest(f"messages.{i}.content.{j}: tool_result blocks are only allowed in user "
                                         "messages")
                    if not isinstance(b.get("tool_use_id"), str):
                        raise BadRequest(f"messages.{i}.content.{j}.tool_result.tool_use_id: Field required")
                    if seen_other:
                        raise BadRequest(f"messages.{i}: tool_result blocks must come first in the content, before "
                                         "any other block")
                    c = b.get("content")
                    if c is not None and not isinstance(c, (str, list)):
                        raise BadRequest(f"messages.{i}.content.{j}.tool_result.content: Input should be a valid "
                                         "string or list")
                    result_ids.append(b["tool_use_id"])
                elif bt == "thinking":
                    if role != "assistant" or not isinstance(b.get("thinking"), str) \
                            or not isinstance(b.get("signature"), str):
                        raise BadRequest(f"messages.{i}.content.{j}.thinking: thinking blocks need `thinking` and "
                                         "`signature` and belong in assistant messages")
                if bt != "tool_result":
                    seen_other = True
            if pending_tool_ids:
                missing = [x for x in pending_tool_ids if x not in result_ids]
                if role != "user" or missing:
                    raise BadRequest(f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                                     f"immediately after: {', '.join(missing or pending_tool_ids)}. Each `tool_use` "
                                     "block must have a corresponding `tool_result` block in the next message.")
            for rid in result_ids:
                if rid not in prev_tool_ids:
                    raise BadRequest(f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` "
                                     f"blocks: {rid}. Each `tool_result` block must have a corresponding `tool_use` "
                                     "block in the previous message.")
            pending_tool_ids = tool_use_ids if role == "assistant" and not last else None
            prev_tool_ids = set(tool_use_ids) if role == "assistant" else set()
            prev_role = role

        ask = Ask()
        ask.tools = [n for n in names if isinstance(n, str)]
        ask.tool_choice = choice
        ask.thinking = thinking
        ask.json_mode = json_mode
        ask.max_tokens = mt
        ask.stop = req.get("stop_sequences") or []
        ask.input_words = count_words(msgs) + count_words(sysp or "")
        last_user = next((m for m in reversed(msgs) if m.get("role") == "user"), None)
        if last_user is not None:
            c = last_user["content"]
            if isinstance(c, str):
                ask.last_user_text = c
            else:
                ask.last_user_text = "".join(b.get("text", "") for b in c if b.get("type") == "text")
                results = [_result_text(b.get("content")) for b in c if b.get("type") == "tool_result"]
                if results and last_user is msgs[-1]:
                    ask.tool_results = results
        return ask


def _result_text(c):
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return "".join(b.get("text", "") for b in c if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _has_key(obj, key):
    if isinstance(obj, dict):
        return key in obj or any(_has_key(v, key) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_key(v, key) for v in obj)
    return False


def _ratelimit_headers(remaining=49):
    reset = rfc3339(CREATED + 60 if remaining == 0 else None)
    return [("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", str(remaining)),
            ("anthropic-ratelimit-requests-reset", reset),
            ("anthropic-ratelimit-tokens-limit", "40000"),
            ("anthropic-ratelimit-tokens-remaining", "39000" if remaining else "0"),
            ("anthropic-ratelimit-tokens-reset", reset)]


if __name__ == "__main__":
    serve_forever(MockAnthropic())
