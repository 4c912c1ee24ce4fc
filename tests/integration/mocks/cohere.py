"""Mock of the Cohere v2 Chat API (wire_formats.md §6.3).

Endpoint (any path prefix): POST .../v2/chat  (non-streaming JSON, or SSE with "stream": true)
Auth: `Authorization: Bearer <key>` (missing or wrong: 401 {"id", "message": "invalid api token"}).
Checks (400 {"id", "message": "invalid request: ..."}): Content-Type JSON; a JSON object; no unknown
top-level fields (OpenAI-only fields such as max_completion_tokens, top_p, n, stream_options,
tool_choice "auto" are rejected); `model` and non-empty `messages`; roles system/user/assistant/tool;
tool messages need tool_call_id answering an earlier assistant tool call; tools are
{type:"function", function:{name, parameters (required)}}; tool_choice only "REQUIRED" / "NONE";
response_format type text / json_object; `stream` boolean.
Reply: _base.plan_reply. Thinking when `thinking.type == "enabled"`: a content block {type:"thinking",
thinking} before the text. JSON mode: response_format json_object. A tool call comes with a tool_plan
("I will call <name>."). Usage: billed_units {input_tokens, output_tokens} and tokens {input_tokens =
billed + 64 (prompt template), output_tokens}.
Stream (SSE with `event:` lines): message-start, content-start / content-delta (delta.message.content.text
or .thinking) / content-end per block, or tool-plan-delta(s), tool-call-start (id, function.name,
arguments ""), tool-call-delta (argument fragments), tool-call-end; message-end with finish_reason
(COMPLETE, MAX_TOKENS, STOP_SEQUENCE, TOOL_CALL) and usage. No [DONE].
Faults (besides _base.FAULTS): fault-<status> ({"id","message"}; 429 "You are past the per minute request
limit..."), error-mid-stream = message-end with finish_reason ERROR and delta.error after a few events.
"""
from __future__ import annotations

import uuid

from ._base import Ask, MockBase, compact, count_words, json_fragments, plan_reply, serve_forever, sse_event

COHERE_KEY = "mock-cohere-key-COHERESECRET-3b8e"
TOP_LEVEL = {"model", "messages", "tools", "documents", "citation_options", "response_format", "safety_mode",
             "max_tokens", "stop_sequences", "temperature", "seed", "frequency_penalty", "presence_penalty", "k", "p",
             "logprobs", "tool_choice", "thinking", "stream", "strict_tools", "return_prompt", "raw_prompting",
             "priority"}
FINISH = {"end": "COMPLETE", "max_tokens": "MAX_TOKENS", "stop_sequence": "STOP_SEQUENCE", "tool_use": "TOOL_CALL"}


class CohereError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class MockCohere(MockBase):
    provider = "cohere"
    CONFIG_KEYS = ("api_key",)

    def __init__(self, api_key=COHERE_KEY, host="127.0.0.1", port=0, name="mock-cohere"):
        super().__init__(host, port, name)
        self.api_key = api_key

    def _id(self, rec):
        return str(uuid.UUID(int=(rec.seq * 0x2545F4914F6CDD1D) & ((1 << 128) - 1)))

    def error(self, h, rec, status, message, extra=()):
        return self.send_json(h, rec, status, {"id": self._id(rec), "message": message},
                              headers=[("x-request-id", self._id(rec))] + list(extra))

    def handle_request(self, h, rec):
        if not (rec.route.endswith("/v2/chat") and rec.method == "POST"):
            rec.rejected = "unknown path"
            return self.error(h, rec, 404, f"path not found: {rec.route}")
        rec.kind = "chat"
        auth = rec.header("authorization") or ""
        if not auth.lower().startswith("bearer ") or auth[7:].strip() != self.api_key:
            rec.rejected = "auth: bad bearer token"
            return self.error(h, rec, 401, "invalid api token")
        rec.auth = "bearer"
        try:
            if not (rec.header("content-type") or "").lower().startswith("application/json"):
                raise CohereError(400, "invalid request: Content-Type must be application/json")
            if not isinstance(rec.json, dict):
                raise CohereError(400, "invalid request: could not parse the request body as JSON")
            ask = self._validate(rec.json)
        except CohereError as e:
            rec.rejected = e.message
            return self.error(h, rec, e.status, e.message)
        req = rec.json
        rec.model = req["model"]
        rec.stream = req.get("stream") is True
        if "notfound" in rec.model.lower():
            rec.rejected = "model not found"
            return self.error(h, rec, 404, f"model '{rec.model}' not found, make sure the correct model ID was used "
                                           "and that you have access to the model.")
        fault = self.pick_fault(rec, rec.model)
        status = fault.status()
        if status:
            msgs = {429: "You are past the per minute request limit, please wait and try again later.",
                    500: f"internal server error, this has been reported to our developers. id {self._id(rec)}",
                    503: "service unavailable", 504: "request timed out", 498: "invalid api token"}
            extra = [("Retry-After", str(fault.retry_after()))] if fault.retry_after() is not None else []
            return self.error(h, rec, status, msgs.get(status, f"mock cohere error {status}"), extra)
        self.pre_answer_faults(h, rec, fault)
        plan = plan_reply(ask, fault, self.provider)
        rec.reply = plan.to_dict()
        usage = {"billed_units": {"input_tokens": plan.input_tokens, "output_tokens": plan.output_tokens},
                 "tokens": {"input_tokens": plan.input_tokens + 64, "output_tokens": plan.output_tokens}}
        rec.usage = usage
        finish = FINISH[plan.stop]
        mid = self._id(rec)
        calls = [{"id": f"{c['name']}_mock{rec.seq:04d}{c['index']}", "type": "function",
                  "function": {"name": c["name"], "arguments": c["arguments"]}} for c in plan.tool_calls]
        tool_plan = f"I will call {calls[0]['function']['name']}." if calls else None
        if not rec.stream:
            msg = {"role": "assistant"}
            content = []
            if plan.thinking is not None:
                content.append({"type": "thinking", "thinking": plan.thinking})
            if plan.text is not None and not calls:
                content.append({"type": "text", "text": plan.text})
            if content:
                msg["content"] = content
            if calls:
                msg["tool_plan"] = tool_plan if plan.text is None else plan.text
                msg["tool_calls"] = calls
            body = {"id": mid, "message": msg, "finish_reason": finish, "usage": usage}
            raw = compact(body).encode()
            if fault.has("reset-mid-stream") or fault.has("eof-mid-stream"):
                return self.send_partial_then_reset(h, rec, 200, raw)
            return self.send_json(h, rec, 200, raw, headers=[("x-request-id", mid)])

        items = []

        def ev(obj):
            s = compact(obj)
            items.append(({"event": obj["type"], "data": s}, sse_event(s, obj["type"])))

        ev({"id": mid, "type": "message-start", "delta": {"message": {"role": "assistant", "content": [],
                                                                     "tool_plan": "", "tool_calls": [],
                                                                     "citations": []}}})
        idx = 0
        if plan.thinking is not None:
            ev({"type": "content-start", "index": idx, "delta": {"message": {"content": {"type": "thinking",
                                                                                         "thinking": ""}}}})
            for p in plan.thinking_pieces:
                ev({"type": "content-delta", "index": idx, "delta": {"message": {"content": {"thinking": p}}}})
            ev({"type": "content-end", "index": idx})
            idx += 1
        if calls:
            for p in (plan.pieces if plan.text is not None else [tool_plan]):
                ev({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": p}}})
            for i, call in enumerate(calls):
                ev({"type": "tool-call-start", "index": i, "delta": {"message": {"tool_calls": {
                    "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}}}})
                for frag in json_fragments(call["function"]["arguments"]):
                    ev({"type": "tool-call-delta", "index": i,
                        "delta": {"message": {"tool_calls": {"function": {"arguments": frag}}}}})
                ev({"type": "tool-call-end", "index": i})
        elif plan.text is not None:
            ev({"type": "content-start", "index": idx, "delta": {"message": {"content": {"type": "text",
                                                                                         "text": ""}}}})
            for p in plan.pieces:
                ev({"type": "content-delta", "index": idx, "delta": {"message": {"content": {"text": p}}}})
            ev({"type": "content-end", "index": idx})
        ev({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}})
        err = {"type": "message-end", "delta": {"finish_reason": "ERROR",
                                                "error": "internal server error, this has been reported to our "
                                                         "developers", "usage": usage}}
        error_item = ({"event": "message-end", "data": compact(err)}, sse_event(compact(err), "message-end"))
        out = self.begin_stream(h, rec, "text/event-stream", [("x-request-id", mid), ("Cache-Control", "no-cache")])
        self.run_stream(h, out, items, fault, error_item)
        return None

    def _validate(self, req):
        def bad(msg):
            return CohereError(400, "invalid request: " + msg)

        for k in req:
            if k not in TOP_LEVEL:
                raise bad(f"unknown field: parameter {k} is not a valid field")
        if not isinstance(req.get("model"), str) or not req["model"]:
            raise bad("model must be specified")
        msgs = req.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise bad("messages cannot be empty")
        if "stream" in req and not isinstance(req["stream"], bool):
            raise bad("stream must be a boolean")
        tools = req.get("tools")
        names = []
        if tools is not None:
            if not isinstance(tools, list):
                raise bad("tools must be a list")
            for i, t in enumerate(tools):
                f = t.get("function") if isinstance(t, dict) else None
                if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(f, dict) \
                        or not isinstance(f.get("name"), str):
                    raise bad(f"tools[{i}]: type must be \"function\" with a function.name")
                if not isinstance(f.get("parameters"), dict):
                    raise bad(f"tools[{i}].function.parameters is required")
                names.append(f["name"])
        tc = req.get("tool_choice")
        choice = None
        if tc is not None:
            if tc not in ("REQUIRED", "NONE"):
                raise bad(f"tool_choice must be one of REQUIRED, NONE; received {tc!r}")
            if not names:
                raise bad("tool_choice requires tools")
            choice = "any" if tc == "REQUIRED" else "none"
        rf = req.get("response_format")
        json_mode = False
        if rf is not None:
            if not isinstance(rf, dict) or rf.get("type") not in ("text", "json_object"):
                raise bad("response_format.type must be one of text, json_object")
            json_mode = rf["type"] == "json_object"
        th = req.get("thinking")
        thinking = False
        if th is not None:
            if not isinstance(th, dict) or th.get("type") not in ("enabled", "disabled"):
                raise bad("thinking.type must be one of enabled, disabled")
            thinking = th["type"] == "enabled"
        call_ids = set()
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
                raise bad(f"messages[{i}].role must be one of system, user, assistant, tool")
            role = m["role"]
            if role == "assistant":
                for tcall in m.get("tool_calls") or []:
                    if not isinstance(tcall, dict) or not isinstance(tcall.get("id"), str):
                        raise bad(f"messages[{i}].tool_calls: each tool call needs an id")
                    call_ids.add(tcall["id"])
                if m.get("content") is None and not m.get("tool_calls"):
                    raise bad(f"messages[{i}]: assistant messages need content or tool_calls")
            elif role == "tool":
                tid = m.get("tool_call_id")
                if not isinstance(tid, str):
                    raise bad(f"messages[{i}].tool_call_id is required for tool messages")
                if tid not in call_ids:
                    raise bad(f"messages[{i}].tool_call_id {tid!r} does not match any tool call")
                if m.get("content") is None:
                    raise bad(f"messages[{i}].content is required")
            else:
                c = m.get("content")
                if not isinstance(c, (str, list)) or (isinstance(c, str) and not c.strip()) or c == []:
                    raise bad(f"messages[{i}].content must be a non-empty string or list of content blocks")
                if isinstance(c, list):
                    for j, b in enumerate(c):
                        if not isinstance(b, dict) or b.get("type") not in ("text", "image_url", "document"):
                            raise bad(f"messages[{i}].content[{j}].type must be one of text, image_url, document")
        ask = Ask()
        ask.tools = names
        ask.tool_choice = choice
        ask.json_mode = json_mode
        ask.thinking = thinking
        ask.max_tokens = req.get("max_tokens")
        ask.stop = req.get("stop_sequences") or []
        ask.input_words = count_words(msgs)
        trailing = []
        for m in reversed(msgs):
            if m["role"] == "tool":
                trailing.append(m)
            else:
                break
        if trailing:
            ask.tool_results = [_text(m["content"]) for m in reversed(trailing)]
        for m in reversed(msgs):
            if m["role"] == "user":
                ask.last_user_text = _text(m.get("content"))
                break
        return ask


def _text(c):
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        out = []
        for b in c:
            if isinstance(b, dict):
                if b.get("type") == "text" and isinstance(b.get("text"), str):
                    out.append(b["text"])
                elif b.get("type") == "document" and isinstance(b.get("document"), dict):
                    d = b["document"].get("data")
                    out.append(d if isinstance(d, str) else compact(d))
        return "".join(out)
    return ""


if __name__ == "__main__":
    serve_forever(MockCohere())
