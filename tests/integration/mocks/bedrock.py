"""Mock of AWS Bedrock Runtime Converse / ConverseStream (wire_formats.md §4).

Endpoints (any path prefix):
  POST .../model/{modelId}/converse          JSON answer
  POST .../model/{modelId}/converse-stream   application/vnd.amazon.eventstream answer
The model id is ONE path segment: `:` and `/` percent-encoded by the client (`%3A`, `%2F`); the mock
decodes it for rec.model and keeps the raw segment in rec.info["model_id_raw"].

Auth: SigV4, RECOMPUTED here for the configured access key / secret / region and service "bedrock" and
compared with the client's signature (hmac.compare_digest). Checked, with AWS's 403 answers
(x-amzn-ErrorType + {"message"}): Authorization present (MissingAuthenticationTokenException) and well
formed (IncompleteSignatureException); Credential=<AKID>/<date>/<region>/bedrock/aws4_request with the
configured AKID (UnrecognizedClientException), region, service and terminator (InvalidSignatureException);
x-amz-date present, ISO-8601 basic, equal to the credential date, within max_skew seconds of now
(default 300; "Signature expired"); SignedHeaders sorted, including host and x-amz-date (and
x-amz-security-token when a session token is configured; the token must match); x-amz-content-sha256,
when sent, equal to the hex SHA-256 of the body; then the signature over the canonical request
(method, canonical URI = every segment of the path as received URI-encoded AGAIN — so `%3A` is signed as
`%253A` —, canonical query, canonical headers, signed headers, SHA-256 of the body). A mismatch answers
InvalidSignatureException with the canonical request and string to sign the mock expected (as AWS does);
rec.info["sigv4"] holds both, the expected signature, and a hint when the client signed the
single-encoded path. With api_key set, `Authorization: Bearer <api_key>` (Bedrock API keys) is accepted too.
Body checks (400 ValidationException): Content-Type JSON; a JSON object; known top-level members only;
`messages` present and non-empty, starting with a user turn and alternating user/assistant; every
content a non-empty list of blocks with exactly one known member; non-blank text; toolUse/toolResult
need toolConfig ("The toolConfig field must be defined when using toolUse and toolResult content
blocks."); toolResult ids must answer the previous assistant turn's toolUse ids; toolConfig.tools are
toolSpec {name, inputSchema.json} (or cachePoint / systemTool); toolChoice auto / any / tool{name};
inferenceConfig.maxTokens >= 1, temperature / topP in 0..1, at most 4 stopSequences;
outputConfig.textFormat.structure.jsonSchema.schema must be a STRING.
Reply: _base.plan_reply. Thinking when additionalModelRequestFields.thinking.type == "enabled" (or
reasoning_config): a reasoningContent block (text + signature) first. JSON mode with
outputConfig.textFormat json_schema. cachePoint blocks add cacheReadInputTokens 100 /
cacheWriteInputTokens 20 to usage. Streams: messageStart; reasoning deltas (text, then signature) and
contentBlockStop; text deltas (no contentBlockStart for text); toolUse blocks with contentBlockStart
{toolUseId, name}, input fragments, contentBlockStop; messageStop {stopReason}; metadata {usage,
metrics} AFTER messageStop. Every event payload carries a `p` padding string. Frames have correct prelude
and message CRC-32s (zlib.crc32) and are split anywhere across HTTP chunks.
Faults (besides _base.FAULTS): fault-<status> with the matching exception (400 ValidationException,
403 AccessDeniedException, 404 ResourceNotFoundException, 408 ModelTimeoutException, 424
ModelErrorException, 429 ThrottlingException, 500 InternalServerException, 503
ServiceUnavailableException); error-mid-stream = an exception frame (throttlingException; suffixes
-internal, -modelstream, -validation, -unavailable pick internalServerException,
modelStreamErrorException, validationException, serviceUnavailableException); error-frame-mid-stream =
an unmodeled `:message-type error` frame; truncated-frame = half of the next frame then a clean end;
`guardrail` = stopReason guardrail_intervened.
"""
from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import re
import struct
import time
import urllib.parse
import uuid
import zlib

from ._base import Ask, MockBase, compact, count_words, json_fragments, plan_reply, serve_forever

AWS_ACCESS_KEY_ID = "AKIAMOCKLLMUXTEST001"
AWS_SECRET_ACCESS_KEY = "mockSecretKey/LLMUX+TEST/0123456789abcdefXYZ"
AWS_REGION = "us-east-1"
SERVICE = "bedrock"
PATH_RE = re.compile(r"^(?P<prefix>.*?)/model/(?P<id>[^/]+)/(?P<op>converse|converse-stream|invoke|"
                     r"invoke-with-response-stream)$")
TOP_LEVEL = {"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig", "additionalModelRequestFields",
             "promptVariables", "additionalModelResponseFieldPaths", "requestMetadata", "performanceConfig",
             "serviceTier", "outputConfig"}
BLOCK_KEYS = {"text", "image", "document", "video", "audio", "toolUse", "toolResult", "guardContent",
              "reasoningContent", "cachePoint", "citationsContent", "searchResult"}
EXC_STATUS = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
              408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
              500: "InternalServerException", 503: "ServiceUnavailableException"}
EXC_MESSAGES = {429: "Too many requests, please wait before trying again.",
                500: "The server encountered an internal error while processing the request.",
                503: "Bedrock is unable to process your request.",
                403: "You don't have access to the model with the specified model ID.",
                404: "The model could not be found.", 408: "Model has timed out in processing the request.",
                424: "The model encountered an error while processing the request.",
                400: "Malformed input request, please reformat your input and try again."}
SIG_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                "Secret Access Key and signing method. Consult the service documentation for details.")
PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


# ---------------------------------------------------------------------------------------------- SigV4 (server side)
def uri_encode(s):
    """RFC 3986 as SigV4 wants it: A-Za-z0-9-_.~ kept, everything else %XX (uppercase)."""
    return urllib.parse.quote(s, safe="-_.~")


def canonical_uri(raw_path, double_encode=True):
    if not raw_path:
        return "/"
    if not double_encode:
        return raw_path
    return "/".join(uri_encode(seg) for seg in raw_path.split("/"))


def canonical_query(qs):
    if not qs:
        return ""
    pairs = []
    for item in qs.split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(k)), uri_encode(urllib.parse.unquote(v))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def expected_signature(method, raw_path, query, headers, signed, body, amz_date, region, secret,
                       service=SERVICE, double_encode=True):
    """(canonical_request, string_to_sign, signature) the server computes. headers: [(name, value)]."""
    canon_headers = ""
    for name in signed:
        vals = [re.sub(r"\s+", " ", v.strip()) for k, v in headers if k.lower() == name]
        canon_headers += f"{name}:{','.join(vals)}\n"
    creq = "\n".join([method, canonical_uri(raw_path, double_encode), canonical_query(query), canon_headers,
                      ";".join(signed), hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(signing_key(secret, amz_date[:8], region, service), sts.encode(), hashlib.sha256).hexdigest()
    return creq, sts, sig


class AwsError(Exception):
    def __init__(self, status, type_, message):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


# ---------------------------------------------------------------------------------------------- event stream
def encode_headers(headers):
    out = b""
    for name, value in headers:
        n, v = name.encode(), value.encode()
        out += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
    return out


def encode_message(headers, payload):
    """One application/vnd.amazon.eventstream message (string headers only, as Bedrock sends)."""
    hb = encode_headers(headers)
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hb))
    head = prelude + struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    msg = head + hb + payload
    return msg + struct.pack(">I", zlib.crc32(msg) & 0xFFFFFFFF)


def event_frame(event_type, payload_obj):
    payload = compact(payload_obj).encode()
    return encode_message([(":event-type", event_type), (":content-type", "application/json"),
                           (":message-type", "event")], payload)


def exception_frame(exc_type, payload_obj):
    payload = compact(payload_obj).encode()
    return encode_message([(":exception-type", exc_type), (":content-type", "application/json"),
                           (":message-type", "exception")], payload)


def error_frame(code, message):
    return encode_message([(":error-code", code), (":error-message", message), (":message-type", "error")], b"")


# ---------------------------------------------------------------------------------------------- the mock
class MockBedrock(MockBase):
    provider = "bedrock"
    CONFIG_KEYS = ("access_key_id", "secret_access_key", "region", "session_token", "api_key", "max_skew")

    def __init__(self, access_key_id=AWS_ACCESS_KEY_ID, secret_access_key=AWS_SECRET_ACCESS_KEY, region=AWS_REGION,
                 session_token=None, api_key=None, max_skew=300, host="127.0.0.1", port=0, name="mock-bedrock"):
        super().__init__(host, port, name)
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.region = region
        self.session_token = session_token
        self.api_key = api_key
        self.max_skew = max_skew

    @property
    def aws_env(self):
        """Environment variables for a gateway using the default AWS credential chain."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
               "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env

    def litellm_params(self, model_id):
        """litellm_params for a deployment pointing at this mock."""
        p = {"model": f"bedrock/{model_id}", "aws_access_key_id": self.access_key_id,
             "aws_secret_access_key": self.secret_access_key, "aws_region_name": self.region,
             "aws_bedrock_runtime_endpoint": self.origin, "api_base": self.origin}
        if self.session_token:
            p["aws_session_token"] = self.session_token
        return p

    # ------------------------------------------------------------------ routing
    def handle_request(self, h, rec):
        m = PATH_RE.match(rec.route)
        if not m or rec.method != "POST":
            rec.rejected = "unknown path"
            return self.error(h, rec, 404, "UnknownOperationException", "Unknown operation")
        raw_id, op = m.group("id"), m.group("op")
        rec.kind = op
        rec.model = urllib.parse.unquote(raw_id)
        rec.info["model_id_raw"] = raw_id
        try:
            self._auth(rec)
        except AwsError as e:
            rec.rejected = f"auth: {e.type}: {e.message.splitlines()[0]}"
            return self.error(h, rec, e.status, e.type, e.message)
        if op not in ("converse", "converse-stream"):
            rec.rejected = "invoke not implemented"
            return self.error(h, rec, 400, "ValidationException", "mock-bedrock implements converse and "
                                                                  "converse-stream only")
        return self._converse(h, rec, op == "converse-stream")

    def error(self, h, rec, status, type_, message, extra=()):
        headers = [("x-amzn-RequestId", _req_id(rec)),
                   ("x-amzn-ErrorType", f"{type_}:http://internal.amazon.com/coral/com.amazon.bedrock/")]
        return self.send_json(h, rec, status, {"message": message}, headers=headers + list(extra))

    # ------------------------------------------------------------------ SigV4
    def _auth(self, rec):
        auth = rec.header("authorization")
        if auth is None:
            raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        if auth.startswith("Bearer "):
            if self.api_key and hmac.compare_digest(auth[7:].strip(), self.api_key):
                rec.auth = "bearer"
                return
            raise AwsError(403, "AccessDeniedException", "Authentication failed: Please make sure your API Key is "
                                                         "valid.")
        m = re.match(r"^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$",
                     auth)
        if not m:
            raise AwsError(403, "IncompleteSignatureException",
                           f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters "
                           f"(AWS4-HMAC-SHA256). Authorization={auth}")
        cred, signed_s, sig = m.groups()
        parts = cred.split("/")
        if len(parts) != 5:
            raise AwsError(403, "IncompleteSignatureException",
                           f"Credential should be scoped to a valid region. Credential={cred}")
        akid, cdate, cregion, cservice, term = parts
        info = rec.info.setdefault("sigv4", {})
        info.update(credential=cred, signed_headers=signed_s, signature=sig)
        if akid != self.access_key_id:
            raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if term != "aws4_request":
            raise AwsError(403, "IncompleteSignatureException", f"Credential should be scoped with a valid terminator: "
                                                                f"'aws4_request', not '{term}'.")
        if cservice != SERVICE:
            raise AwsError(403, "InvalidSignatureException", f"Credential should be scoped to correct service: "
                                                             f"'{SERVICE}'. ")
        if cregion != self.region:
            raise AwsError(403, "InvalidSignatureException", f"Credential should be scoped to a valid region. "
                                                             f"(got '{cregion}', expected '{self.region}')")
        amz = rec.header("x-amz-date")
        if amz is None:
            raise AwsError(403, "IncompleteSignatureException",
                           f"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                           f"Authorization={auth}")
        if not re.match(r"^\d{8}T\d{6}Z$", amz):
            raise AwsError(403, "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got "
                                                                f"'{amz}'. See http://en.wikipedia.org/wiki/ISO_8601")
        if cdate != amz[:8]:
            raise AwsError(403, "InvalidSignatureException",
                           f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                           f"HTTP: '{cdate}' != '{amz[:8]}', from '{amz}'.")
        try:
            t = calendar.timegm(time.strptime(amz, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise AwsError(403, "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. Got "
                                                                f"'{amz}'.")
        now = time.time()
        if self.max_skew is not None and t < now - self.max_skew:
            raise AwsError(403, "InvalidSignatureException",
                           f"Signature expired: {amz} is now earlier than {_amz(now - self.max_skew)} "
                           f"({_amz(now)} - {self.max_skew // 60} min.)")
        if self.max_skew is not None and t > now + self.max_skew:
            raise AwsError(403, "InvalidSignatureException",
                           f"Signature not yet current: {amz} is still later than {_amz(now + self.max_skew)} "
                           f"({_amz(now)} + {self.max_skew // 60} min.)")
        signed = signed_s.split(";")
        if signed != sorted(signed) or any(s != s.lower() or not s for s in signed):
            raise AwsError(403, "InvalidSignatureException", f"{SIG_MISMATCH} (SignedHeaders must be lowercase and "
                                                             f"sorted: {signed_s})")
        if "host" not in signed:
            raise AwsError(403, "InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the "
                                                             "AWS Authorization.")
        if "x-amz-date" not in signed:
            raise AwsError(403, "InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the AWS "
                                                             "Authorization when it is used as the request date.")
        for name in signed:
            if rec.header(name) is None:
                raise AwsError(403, "InvalidSignatureException", f"{SIG_MISMATCH} (signed header '{name}' is not in "
                                                                 f"the request)")
        tok = rec.header("x-amz-security-token")
        if self.session_token:
            if tok is None or not hmac.compare_digest(tok, self.session_token):
                raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is "
                                                                   "invalid.")
            if "x-amz-security-token" not in signed:
                raise AwsError(403, "InvalidSignatureException", f"{SIG_MISMATCH} (x-amz-security-token must be "
                                                                 "signed)")
        elif tok is not None:
            raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        body_hash = hashlib.sha256(rec.body).hexdigest()
        csha = rec.header("x-amz-content-sha256")
        info["x_amz_content_sha256"] = csha
        if csha is not None and csha != body_hash:
            raise AwsError(400, "InvalidSignatureException",
                           f"The provided 'x-amz-content-sha256' header does not match what was computed. "
                           f"(got {csha}, body hash {body_hash})")
        creq, sts, want = expected_signature(rec.method, rec.route, rec.query_string, rec.headers, signed, rec.body,
                                             amz, self.region, self.secret_access_key)
        info.update(canonical_request=creq, string_to_sign=sts, expected=want)
        if not hmac.compare_digest(want, sig):
            _, _, single = expected_signature(rec.method, rec.route, rec.query_string, rec.headers, signed, rec.body,
                                              amz, self.region, self.secret_access_key, double_encode=False)
            if hmac.compare_digest(single, sig):
                info["hint"] = "the client signed the single-encoded path (non-S3 services sign it encoded twice)"
            info["ok"] = False
            raise AwsError(403, "InvalidSignatureException",
                           f"{SIG_MISMATCH}\n\nThe Canonical String for this request should have been\n'{creq}'\n\n"
                           f"The String-to-Sign should have been\n'{sts}'\n")
        info["ok"] = True
        rec.auth = "sigv4"

    # ------------------------------------------------------------------ converse
    def _converse(self, h, rec, stream):
        rec.stream = stream
        ctype = (rec.header("content-type") or "").lower()
        if not ctype.startswith("application/json"):
            rec.rejected = f"content-type {ctype!r}"
            return self.error(h, rec, 415, "UnsupportedMediaTypeException", "Unsupported Media Type")
        if not isinstance(rec.json, dict):
            rec.rejected = "body is not a JSON object"
            return self.error(h, rec, 400, "SerializationException", "Unexpected JSON body: expected an object")
        req = rec.json
        try:
            ask = self._validate(req)
        except AwsError as e:
            rec.rejected = e.message
            return self.error(h, rec, e.status, e.type, e.message)
        if "notfound" in rec.model.lower():
            rec.rejected = "model not found"
            return self.error(h, rec, 400, "ValidationException", "The provided model identifier is invalid.")
        fault = self.pick_fault(rec, rec.model)
        status = fault.status()
        if status:
            extra = [("Retry-After", str(fault.retry_after()))] if fault.retry_after() is not None else []
            return self.error(h, rec, status, EXC_STATUS.get(status, "InternalServerException"),
                              EXC_MESSAGES.get(status, f"Mock Bedrock error {status}"), extra)
        self.pre_answer_faults(h, rec, fault)
        plan = plan_reply(ask, fault, self.provider)
        rec.reply = plan.to_dict()
        cache = _has_key(req, "cachePoint")
        usage = {"inputTokens": plan.input_tokens, "outputTokens": plan.output_tokens,
                 "totalTokens": plan.input_tokens + plan.output_tokens + (120 if cache else 0)}
        if cache:
            usage["cacheReadInputTokens"] = 100
            usage["cacheWriteInputTokens"] = 20
        rec.usage = usage
        stop = {"end": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence",
                "tool_use": "tool_use"}[plan.stop]
        if fault.has("guardrail"):
            stop = "guardrail_intervened"
        tool_ids = [f"tooluse_Mock{rec.seq:06d}x{c['index']}" for c in plan.tool_calls]
        hdrs = [("x-amzn-RequestId", _req_id(rec))]
        if not stream:
            content = []
            if plan.thinking is not None:
                content.append({"reasoningContent": {"reasoningText": {"text": plan.thinking,
                                                                       "signature": plan.signature}}})
            if plan.text is not None:
                content.append({"text": plan.text})
            for c, tid in zip(plan.tool_calls, tool_ids):
                content.append({"toolUse": {"toolUseId": tid, "name": c["name"], "input": c["args"]}})
            body = {"metrics": {"latencyMs": 321}, "output": {"message": {"content": content, "role": "assistant"}},
                    "stopReason": stop, "usage": usage}
            raw = compact(body).encode()
            if fault.has("reset-mid-stream") or fault.has("eof-mid-stream"):
                return self.send_partial_then_reset(h, rec, 200, raw, headers=hdrs)
            return self.send_json(h, rec, 200, raw, headers=hdrs)

        rng = self.rng_for(rec)
        items = []

        def ev(et, payload):
            payload = dict(payload)
            payload["p"] = PAD[: rng.randint(1, len(PAD))]
            frame = event_frame(et, payload)
            items.append(({"event-type": et, "payload": compact(payload)}, frame))

        ev("messageStart", {"role": "assistant"})
        idx = 0
        if plan.thinking is not None:
            for p in plan.thinking_pieces:
                ev("contentBlockDelta", {"contentBlockIndex": idx, "delta": {"reasoningContent": {"text": p}}})
            ev("contentBlockDelta", {"contentBlockIndex": idx,
                                     "delta": {"reasoningContent": {"signature": plan.signature}}})
            ev("contentBlockStop", {"contentBlockIndex": idx})
            idx += 1
        if plan.text is not None:
            for p in plan.pieces:
                ev("contentBlockDelta", {"contentBlockIndex": idx, "delta": {"text": p}})
            ev("contentBlockStop", {"contentBlockIndex": idx})
            idx += 1
        for c, tid in zip(plan.tool_calls, tool_ids):
            ev("contentBlockStart", {"contentBlockIndex": idx, "start": {"toolUse": {"toolUseId": tid,
                                                                                     "name": c["name"]}}})
            for frag in json_fragments(c["arguments"]):
                ev("contentBlockDelta", {"contentBlockIndex": idx, "delta": {"toolUse": {"input": frag}}})
            ev("contentBlockStop", {"contentBlockIndex": idx})
            idx += 1
        ev("messageStop", {"stopReason": stop})
        ev("metadata", {"usage": usage, "metrics": {"latencyMs": 321}})

        if fault.has("error-frame-mid-stream"):
            error_item = ({"message-type": "error", "error-code": "InternalFailure",
                           "error-message": "We encountered an internal error. Please try again."},
                          error_frame("InternalFailure", "We encountered an internal error. Please try again."))
            fault = _with(fault, "error-mid-stream")
        else:
            kind, payload = "throttlingException", {"message": "Too many requests, please wait before trying again."}
            if fault.has("error-mid-stream-internal"):
                kind, payload = "internalServerException", {"message": "The server encountered an internal error."}
            elif fault.has("error-mid-stream-modelstream"):
                kind, payload = "modelStreamErrorException", {
                    "message": "Model stream error", "originalStatusCode": 500,
                    "originalMessage": "The model produced an invalid sequence."}
            elif fault.has("error-mid-stream-validation"):
                kind, payload = "validationException", {"message": "Input is too long for requested model."}
            elif fault.has("error-mid-stream-unavailable"):
                kind, payload = "serviceUnavailableException", {"message": "Bedrock is unable to process your request."}
            error_item = ({"exception-type": kind, "payload": compact(payload)}, exception_frame(kind, payload))
        out = self.begin_stream(h, rec, "application/vnd.amazon.eventstream", hdrs)
        self.run_stream(h, out, items, fault, error_item)
        return None

    # ------------------------------------------------------------------ validation
    def _validate(self, req):
        def bad(msg):
            return AwsError(400, "ValidationException", msg)

        for k in req:
            if k not in TOP_LEVEL:
                raise bad(f"Malformed input request: extraneous key [{k}] is not permitted, please reformat your input "
                          "and try again.")
        msgs = req.get("messages")
        if msgs is None:
            raise bad("1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must "
                      "not be null")
        if not isinstance(msgs, list) or not msgs:
            raise bad("A conversation must start with a user message. Try again with a conversation that starts with "
                      "a user message.")
        ic = req.get("inferenceConfig") or {}
        if not isinstance(ic, dict):
            raise bad("Malformed input request: inferenceConfig must be an object")
        mt = ic.get("maxTokens")
        if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or mt < 1):
            raise bad("1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to satisfy "
                      "constraint: Member must have value greater than or equal to 1")
        for key in ("temperature", "topP"):
            v = ic.get(key)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1):
                raise bad(f"1 validation error detected: Value at 'inferenceConfig.{key}' failed to satisfy "
                          "constraint: Member must have value less than or equal to 1")
        ss = ic.get("stopSequences")
        if ss is not None and (not isinstance(ss, list) or len(ss) > 4 or not all(isinstance(s, str) for s in ss)):
            raise bad("1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy "
                      "constraint: Member must have length less than or equal to 4")
        for k in ic:
            if k not in ("maxTokens", "temperature", "topP", "stopSequences"):
                raise bad(f"Malformed input request: extraneous key [{k}] in inferenceConfig is not permitted")
        system = req.get("system")
        if system is not None:
            if not isinstance(system, list):
                raise bad("Malformed input request: system must be a list of SystemContentBlock")
            for i, b in enumerate(system):
                if not isinstance(b, dict) or len(b) != 1 \
                        or next(iter(b)) not in ("text", "guardContent", "cachePoint"):
                    raise bad(f"Malformed input request: system.{i} must have exactly one of text, guardContent, "
                              "cachePoint")
                if "text" in b and (not isinstance(b["text"], str) or not b["text"].strip()):
                    raise bad(f"The text field in the SystemContentBlock object at system.{i} is blank. Add text to "
                              "the text field, and try again.")
        tc = req.get("toolConfig")
        names = []
        choice = None
        if tc is not None:
            if not isinstance(tc, dict) or not isinstance(tc.get("tools"), list) or not tc["tools"]:
                raise bad("1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: "
                          "Member must have length greater than or equal to 1")
            for i, t in enumerate(tc["tools"]):
                if not isinstance(t, dict) or len(t) != 1:
                    raise bad(f"Malformed input request: toolConfig.tools.{i} must have exactly one member")
                if "toolSpec" in t:
                    spec = t["toolSpec"]
                    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) \
                            or not re.match(r"^[a-zA-Z0-9_-]{1,64}$", spec["name"]):
                        raise bad(f"1 validation error detected: Value at 'toolConfig.tools.{i + 1}.member.toolSpec."
                                  "name' failed to satisfy constraint: Member must satisfy regular expression "
                                  "pattern: [a-zA-Z0-9_-]+")
                    sch = spec.get("inputSchema")
                    if not isinstance(sch, dict) or not isinstance(sch.get("json"), dict):
                        raise bad(f"Malformed input request: toolConfig.tools.{i}.toolSpec.inputSchema.json is "
                                  "required")
                    names.append(spec["name"])
                elif not ("cachePoint" in t or "systemTool" in t):
                    raise bad(f"Malformed input request: toolConfig.tools.{i}: unknown member {next(iter(t))}")
            ch = tc.get("toolChoice")
            if ch is not None:
                if not isinstance(ch, dict) or len(ch) != 1 or next(iter(ch)) not in ("auto", "any", "tool"):
                    raise bad("Malformed input request: toolConfig.toolChoice must be one of auto, any, tool")
                if "any" in ch:
                    choice = "any"
                elif "tool" in ch:
                    nm = ch["tool"].get("name") if isinstance(ch["tool"], dict) else None
                    if nm not in names:
                        raise bad(f"The tool {nm} in toolChoice is not defined in toolConfig.tools.")
                    choice = ("tool", nm)
        oc = req.get("outputConfig")
        json_mode = False
        if oc is not None:
            tf = oc.get("textFormat") if isinstance(oc, dict) else None
            if not isinstance(tf, dict) or tf.get("type") != "json_schema":
                raise bad("Malformed input request: outputConfig.textFormat.type must be json_schema")
            js = (tf.get("structure") or {}).get("jsonSchema") if isinstance(tf.get("structure"), dict) else None
            if not isinstance(js, dict) or not isinstance(js.get("schema"), str):
                raise bad("1 validation error detected: Value at 'outputConfig.textFormat.structure.jsonSchema.schema' "
                          "failed to satisfy constraint: Member must be a string containing a JSON Schema")
            try:
                json.loads(js["schema"])
            except ValueError:
                raise bad("outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON")
            json_mode = True

        uses_tools = False
        prev_role = None
        prev_ids = []
        for i, m in enumerate(msgs):
            if not isinstance(m, dict):
                raise bad(f"Malformed input request: messages.{i} must be an object")
            for k in m:
                if k not in ("role", "content"):
                    raise bad(f"Malformed input request: extraneous key [{k}] in messages.{i} is not permitted")
            role = m.get("role")
            if role not in ("user", "assistant"):
                raise bad(f"1 validation error detected: Value '{role}' at 'messages.{i + 1}.member.role' failed to "
                          "satisfy constraint: Member must satisfy enum value set: [user, assistant]")
            if i == 0 and role != "user":
                raise bad("A conversation must start with a user message. Try again with a conversation that starts "
                          "with a user message.")
            if role == prev_role:
                raise bad("A conversation must alternate between user and assistant roles. Make sure the conversation "
                          "alternates between user and assistant roles and try again.")
            content = m.get("content")
            if not isinstance(content, list):
                raise bad(f"Malformed input request: messages.{i}.content must be a list of ContentBlock, not "
                          f"{type(content).__name__}")
            if not content:
                raise bad(f"The content field in the Message object at messages.{i} is empty. Add a ContentBlock "
                          "object to the content field and try again.")
            ids, results = [], []
            for j, b in enumerate(content):
                if not isinstance(b, dict) or len(b) != 1 or next(iter(b)) not in BLOCK_KEYS:
                    raise bad(f"Malformed input request: messages.{i}.content.{j} must have exactly one of "
                              + ", ".join(sorted(BLOCK_KEYS)))
                key = next(iter(b))
                v = b[key]
                if key == "text" and (not isinstance(v, str) or not v.strip()):
                    raise bad(f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add "
                              "text to the text field, and try again.")
                if key == "image":
                    if not isinstance(v, dict) or v.get("format") not in ("png", "jpeg", "gif", "webp") \
                            or not isinstance(v.get("source"), dict):
                        raise bad(f"Malformed input request: messages.{i}.content.{j}.image needs format "
                                  "(png|jpeg|gif|webp) and source")
                if key == "toolUse":
                    uses_tools = True
                    if role != "assistant" or not isinstance(v, dict) or not isinstance(v.get("toolUseId"), str) \
                            or not isinstance(v.get("name"), str) or "input" not in v:
                        raise bad(f"Malformed input request: messages.{i}.content.{j}.toolUse needs toolUseId, name, "
                                  "input and belongs in an assistant message")
                    ids.append(v["toolUseId"])
                if key == "toolResult":
                    uses_tools = True
                    if role != "user" or not isinstance(v, dict) or not isinstance(v.get("toolUseId"), str) \
                            or not isinstance(v.get("content"), list):
                        raise bad(f"Malformed input request: messages.{i}.content.{j}.toolResult needs toolUseId and "
                                  "a content list and belongs in a user message")
                    if v.get("status") not in (None, "success", "error"):
                        raise bad(f"1 validation error detected: Value at 'messages.{i + 1}.member.content.{j + 1}."
                                  "member.toolResult.status' failed to satisfy constraint: Member must satisfy enum "
                                  "value set: [success, error]")
                    results.append(v["toolUseId"])
            if role == "user" and prev_ids:
                missing = [x for x in prev_ids if x not in results]
                if missing:
                    raise bad(f"Expected toolResult blocks at messages.{i}.content for the following Ids: "
                              f"{', '.join(missing)}")
            if results:
                extra = [x for x in results if x not in prev_ids]
                if extra:
                    raise bad(f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse "
                              "blocks of previous turn.")
            prev_ids = ids if role == "assistant" else []
            prev_role = role
        if uses_tools and tc is None:
            raise bad("The toolConfig field must be defined when using toolUse and toolResult content blocks.")

        amrf = req.get("additionalModelRequestFields")
        thinking = False
        if isinstance(amrf, dict):
            th = amrf.get("thinking")
            if isinstance(th, dict) and th.get("type") == "enabled":
                thinking = True
            rc = amrf.get("reasoning_config")
            if isinstance(rc, dict) and rc.get("type") == "enabled":
                thinking = True
        ask = Ask()
        ask.tools = names
        ask.tool_choice = choice
        ask.thinking = thinking
        ask.json_mode = json_mode
        ask.max_tokens = mt
        ask.stop = ss or []
        ask.input_words = count_words(msgs) + count_words(system or [])
        last = msgs[-1]
        if last["role"] == "user":
            ask.last_user_text = "".join(b["text"] for b in last["content"] if "text" in b)
            res = [b["toolResult"] for b in last["content"] if "toolResult" in b]
            if res:
                ask.tool_results = ["".join(c.get("text", "") if "text" in c else compact(c.get("json"))
                                            for c in r["content"] if isinstance(c, dict)) for r in res]
        return ask


def _with(fault, name):
    from ._base import Fault
    return Fault(fault.spec + " " + name)


def _has_key(obj, key):
    if isinstance(obj, dict):
        return key in obj or any(_has_key(v, key) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_key(v, key) for v in obj)
    return False


def _req_id(rec):
    return str(uuid.UUID(int=(rec.seq * 0x9E3779B97F4A7C15) & ((1 << 128) - 1)))


def _amz(t):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


if __name__ == "__main__":
    serve_forever(MockBedrock())
