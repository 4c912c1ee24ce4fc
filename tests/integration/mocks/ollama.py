"""Mock of Ollama's native API (wire_formats.md §6.2).

Endpoints (any path prefix):
  POST .../api/chat      {model, messages, tools?, format?, options?, stream, think?, keep_alive?}
  POST .../api/generate  {model, prompt, system?, format?, options?, stream, think?}
  POST .../api/embed     {model, input}           GET .../api/tags     GET .../api/version
Streaming (the default in Ollama!) answers NDJSON (application/x-ndjson): one JSON object per line, the last
with "done": true, done_reason and the counters (prompt_eval_count, eval_count, *_duration in ns).
Auth: none by default; with api_key set, `Authorization: Bearer <key>` (401 {"error": "unauthorized"}).
Checks (Ollama's {"error": "..."} with 400): Content-Type JSON is NOT required (Ollama does not check it);
a JSON object; `model`; `messages` a list (may be empty: then a "load" answer, done_reason "load");
roles system/user/assistant/tool; `content` a STRING (a list gives Go's "cannot unmarshal array" error);
images a list of base64 strings; assistant tool_calls[].function.arguments an OBJECT (a JSON string gives
Go's unmarshal error); format "json" or a JSON-schema object; and — a mock-only rule for gateway tests —
"stream" must be present explicitly (require_explicit_stream=True, the default; Ollama itself would
stream when it is absent, which is what happens with require_explicit_stream=False).
Reply: _base.plan_reply. Thinking when `think` is true or "low"/"medium"/"high": message.thinking
(streamed as thinking-only lines before the content). JSON mode: format "json" or a schema. Tool calls:
message.tool_calls [{function: {name, arguments: OBJECT}}] (no ids), sent whole in one line, done_reason
"stop". options.num_predict truncates (done_reason "length"); options.stop cuts (done_reason "stop").
Models whose name contains "notfound": 404 {"error": "model \"x\" not found, try pulling it first"}.
Faults (besides _base.FAULTS): fault-<status> ({"error": "..."}), error-mid-stream = an {"error": "..."} line
after a few lines, then the body ends.
"""
from __future__ import annotations

import hashlib
import struct

from ._base import Ask, MockBase, compact, count_words, plan_reply, serve_forever

ROLES = ("system", "user", "assistant", "tool")


class OllamaError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class MockOllama(MockBase):
    provider = "ollama"
    CONFIG_KEYS = ("api_key", "require_explicit_stream")

    def __init__(self, api_key=None, require_explicit_stream=True, host="127.0.0.1", port=0, name="mock-ollama"):
        super().__init__(host, port, name)
        self.api_key = api_key
        self.require_explicit_stream = require_explicit_stream

    def error(self, h, rec, status, message, headers=()):
        return self.send_json(h, rec, status, {"error": message}, ctype="application/json; charset=utf-8",
                              headers=headers)

    def handle_request(self, h, rec):
        route = rec.route
        if self.api_key is not None:
            auth = rec.header("authorization") or ""
            if auth != f"Bearer {self.api_key}":
                rec.rejected = "auth: bad bearer token"
                return self.error(h, rec, 401, "unauthorized")
            rec.auth = "bearer"
        if route.endswith("/api/version") and rec.method == "GET":
            rec.kind = "version"
            return self.send_json(h, rec, 200, {"version": "0.12.6"}, ctype="application/json; charset=utf-8")
        if route.endswith("/api/tags") and rec.method == "GET":
            rec.kind = "tags"
            return self.send_json(h, rec, 200, {"models": [{
                "name": "llama3.2:latest", "model": "llama3.2:latest", "modified_at": "2026-01-01T00:00:00Z",
                "size": 2019393189, "digest": "a80c4f17acd5" + "0" * 52,
                "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M"}}]}, ctype="application/json; charset=utf-8")
        if rec.method != "POST" or not any(route.endswith(p) for p in ("/api/chat", "/api/generate", "/api/embed")):
            rec.rejected = "unknown path"
            return self.send_bytes(h, rec, 404, b"404 page not found", "text/plain")
        rec.kind = route.rsplit("/", 1)[1]
        try:
            if not isinstance(rec.json, dict):
                raise OllamaError(400, "invalid character looking for beginning of value" if rec.body
                                  else "missing request body")
            req = rec.json
            model = req.get("model")
            if not isinstance(model, str) or not model:
                raise OllamaError(400, "model is required")
            rec.model = model
            if rec.kind == "embed":
                return self._embed(h, rec, req)
            if self.require_explicit_stream and "stream" not in req:
                raise OllamaError(400, "mock-ollama: the request must set \"stream\" explicitly (Ollama streams "
                                       "NDJSON when it is absent)")
            if "stream" in req and not isinstance(req["stream"], bool):
                struct_ = "ChatRequest" if rec.kind == "chat" else "GenerateRequest"
                raise OllamaError(400, f"json: cannot unmarshal {_gotype(req['stream'])} into Go struct field "
                                       f"{struct_}.stream of type bool")
            ask = self._validate_chat(req) if rec.kind == "chat" else self._validate_generate(req)
            if "notfound" in model.lower():
                raise OllamaError(404, f"model \"{model}\" not found, try pulling it first")
        except OllamaError as e:
            rec.rejected = e.message
            return self.error(h, rec, e.status, e.message)
        return self._answer(h, rec, req, ask)

    # ------------------------------------------------------------------ validation
    def _common(self, req, ask):
        fmt = req.get("format")
        if fmt is not None and fmt != "" and fmt != "json" and not isinstance(fmt, dict):
            raise OllamaError(400, f"invalid format: {compact(fmt)}")
        ask.json_mode = fmt == "json" or isinstance(fmt, dict)
        think = req.get("think")
        if think is not None and think not in (True, False, "low", "medium", "high"):
            raise OllamaError(400, f"invalid think value: {compact(think)}")
        ask.thinking = think not in (None, False)
        opts = req.get("options")
        if opts is not None and not isinstance(opts, dict):
            raise OllamaError(400, "json: cannot unmarshal into Go struct field ChatRequest.options of type "
                                   "map[string]interface {}")
        opts = opts or {}
        np = opts.get("num_predict")
        ask.max_tokens = np if isinstance(np, int) and np > 0 else None
        stop = opts.get("stop")
        ask.stop = [stop] if isinstance(stop, str) else (stop or [])

    def _validate_chat(self, req):
        msgs = req.get("messages")
        if msgs is None:
            msgs = []
        if not isinstance(msgs, list):
            raise OllamaError(400, f"json: cannot unmarshal {_gotype(msgs)} into Go struct field ChatRequest.messages "
                                   "of type []api.Message")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict):
                raise OllamaError(400, "json: cannot unmarshal into Go struct field ChatRequest.messages of type "
                                       "api.Message")
            if m.get("role") not in ROLES:
                raise OllamaError(400, f"invalid role: {m.get('role')!r}" if m.get("role") else "invalid message: "
                                                                                                  "role is required")
            c = m.get("content", "")
            if not isinstance(c, str):
                raise OllamaError(400, f"json: cannot unmarshal {_gotype(c)} into Go struct field "
                                       "ChatRequest.messages.content of type string")
            imgs = m.get("images")
            if imgs is not None and (not isinstance(imgs, list) or not all(isinstance(x, str) for x in imgs)):
                raise OllamaError(400, "json: cannot unmarshal into Go struct field ChatRequest.messages.images of "
                                       "type api.ImageData")
            for tc in m.get("tool_calls") or []:
                f = tc.get("function") if isinstance(tc, dict) else None
                if not isinstance(f, dict) or not isinstance(f.get("name"), str):
                    raise OllamaError(400, "invalid tool call: function.name is required")
                if "arguments" in f and not isinstance(f["arguments"], dict):
                    raise OllamaError(400, f"json: cannot unmarshal {_gotype(f['arguments'])} into Go struct field "
                                           "ToolCallFunction.messages.tool_calls.function.arguments of type "
                                           "api.ToolCallFunctionArguments")
        tools = req.get("tools")
        names = []
        if tools is not None:
            if not isinstance(tools, list):
                raise OllamaError(400, "json: cannot unmarshal into Go struct field ChatRequest.tools of type "
                                       "api.Tools")
            for t in tools:
                f = t.get("function") if isinstance(t, dict) else None
                if not isinstance(f, dict) or not isinstance(f.get("name"), str):
                    raise OllamaError(400, "invalid tool: function.name is required")
                names.append(f["name"])
        ask = Ask()
        self._common(req, ask)
        ask.tools = names
        ask.input_words = count_words(msgs)
        trailing = []
        for m in reversed(msgs):
            if m["role"] == "tool":
                trailing.append(m)
            else:
                break
        if trailing:
            ask.tool_results = [m.get("content", "") for m in reversed(trailing)]
        for m in reversed(msgs):
            if m["role"] == "user":
                ask.last_user_text = m.get("content", "")
                break
        ask.empty = not msgs
        return ask

    def _validate_generate(self, req):
        p = req.get("prompt", "")
        if not isinstance(p, str):
            raise OllamaError(400, f"json: cannot unmarshal {_gotype(p)} into Go struct field GenerateRequest.prompt "
                                   "of type string")
        ask = Ask()
        self._common(req, ask)
        ask.last_user_text = p
        ask.input_words = count_words(p) + count_words(req.get("system") or "")
        ask.empty = p == ""
        return ask

    # ------------------------------------------------------------------ answers
    def _answer(self, h, rec, req, ask):
        stream = req.get("stream", True) is not False
        rec.stream = stream
        chat = rec.kind == "chat"
        model = rec.model
        fault = self.pick_fault(rec, model)
        status = fault.status()
        if status:
            msgs = {429: "too many requests", 500: "an error was encountered while running the model: unexpected EOF",
                    503: "server busy, please try again.  maximum pending requests exceeded"}
            # -ra<N> forces Retry-After (as in every mock); Ollama itself sends none.
            extra = [("Retry-After", str(fault.retry_after()))] if fault.retry_after() is not None else []
            return self.error(h, rec, status, msgs.get(status, f"mock ollama error {status}"), extra)
        self.pre_answer_faults(h, rec, fault)
        if getattr(ask, "empty", False):
            body = {"model": model, "created_at": _ts(rec.seq, 0), "done": True, "done_reason": "load"}
            if chat:
                body["message"] = {"role": "assistant", "content": ""}
            else:
                body["response"] = ""
            rec.reply = {"load": True}
            return self.send_json(h, rec, 200, body, ctype="application/json; charset=utf-8")
        plan = plan_reply(ask, fault, self.provider)
        rec.reply = plan.to_dict()
        done_reason = {"end": "stop", "max_tokens": "length", "stop_sequence": "stop", "tool_use": "stop"}[plan.stop]
        counters = {"total_duration": 498000000 + 1000 * plan.output_tokens, "load_duration": 2100000,
                    "prompt_eval_count": plan.input_tokens, "prompt_eval_duration": 130000000,
                    "eval_count": plan.output_tokens, "eval_duration": 350000000}
        rec.usage = {"prompt_eval_count": plan.input_tokens, "eval_count": plan.output_tokens}
        calls = [{"function": {"name": c["name"], "arguments": c["args"]}} for c in plan.tool_calls]
        if not stream:
            if chat:
                msg = {"role": "assistant", "content": plan.text or ""}
                if plan.thinking is not None:
                    msg["thinking"] = plan.thinking
                if calls:
                    msg["tool_calls"] = calls
                body = {"model": model, "created_at": _ts(rec.seq, 0), "message": msg, "done": True,
                        "done_reason": done_reason}
            else:
                body = {"model": model, "created_at": _ts(rec.seq, 0), "response": plan.text or "", "done": True,
                        "done_reason": done_reason}
                if plan.thinking is not None:
                    body["thinking"] = plan.thinking
                body["context"] = [1, 2, 3]
            body.update(counters)
            raw = compact(body).encode()
            if fault.has("reset-mid-stream") or fault.has("eof-mid-stream"):
                return self.send_partial_then_reset(h, rec, 200, raw, "application/json; charset=utf-8")
            return self.send_json(h, rec, 200, raw, ctype="application/json; charset=utf-8")

        items = []
        n = 0

        def line(obj):
            nonlocal n
            s = compact(obj)
            items.append((s, (s + "\n").encode()))
            n += 1

        def piece(content="", thinking=None, tool_calls=None):
            if chat:
                msg = {"role": "assistant", "content": content}
                if thinking is not None:
                    msg["thinking"] = thinking
                if tool_calls:
                    msg["tool_calls"] = tool_calls
                line({"model": model, "created_at": _ts(rec.seq, n), "message": msg, "done": False})
            else:
                o = {"model": model, "created_at": _ts(rec.seq, n), "response": content, "done": False}
                if thinking is not None:
                    o["thinking"] = thinking
                line(o)

        for p in plan.thinking_pieces:
            piece("", thinking=p)
        if plan.text is not None:
            for p in plan.pieces:
                piece(p)
        if calls:
            piece("", tool_calls=calls)
        final = {"model": model, "created_at": _ts(rec.seq, n)}
        if chat:
            final["message"] = {"role": "assistant", "content": ""}
        else:
            final["response"] = ""
        final.update({"done": True, "done_reason": done_reason})
        if not chat:
            final["context"] = [1, 2, 3]
        final.update(counters)
        line(final)
        err = compact({"error": "an error was encountered while running the model: unexpected EOF"})
        out = self.begin_stream(h, rec, "application/x-ndjson")
        self.run_stream(h, out, items, fault, (err, (err + "\n").encode()))
        return None

    def _embed(self, h, rec, req):
        inp = req.get("input")
        if inp is None:
            rec.rejected = "input missing"
            return self.error(h, rec, 400, "invalid input type")
        texts = [inp] if isinstance(inp, str) else inp
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            rec.rejected = "bad input"
            return self.error(h, rec, 400, "invalid input type")
        vecs = []
        for t in texts:
            d = hashlib.sha256(t.encode()).digest()
            vecs.append([round(struct.unpack(">i", d[i:i + 4])[0] / 2 ** 31, 6) for i in range(0, 32, 4)])
        return self.send_json(h, rec, 200, {"model": rec.model, "embeddings": vecs, "total_duration": 14143917,
                                            "load_duration": 1019500,
                                            "prompt_eval_count": sum(len(t.split()) for t in texts)},
                              ctype="application/json; charset=utf-8")


def _ts(seq, n):
    return f"2026-01-01T00:{seq % 60:02d}:{n % 60:02d}.{(n * 12345) % 1000000:06d}Z"


def _gotype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


if __name__ == "__main__":
    serve_forever(MockOllama())
