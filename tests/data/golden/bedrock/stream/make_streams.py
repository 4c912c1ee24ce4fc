#!/usr/bin/env python3
"""Regenerates the Bedrock ConverseStream golden inputs (*.bin) in this directory.

Each file is a sequence of application/vnd.amazon.eventstream frames (wire_formats.md §4.5):

    total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | message_crc u32

big-endian, CRC-32/IEEE (zlib.crc32) over bytes [0, 8) for the prelude and over everything before
the message CRC for the message. Headers are `name_len u8 | name | type u8 | value`; Bedrock uses
type 7 (string: u16 length + UTF-8) only. Event payloads are the event member's JSON, not wrapped
in the event name, and carry random "p" padding that decoders must ignore.

Run from anywhere: python3 make_streams.py  (writes next to this script, deterministic output).
The fuzz seeds: python3 make_streams.py --fuzz-corpus ../../../../../fuzz/corpus/bedrock_stream
After changing a case, rerun the golden tests with LLMUX_UPDATE_GOLDEN=1 and review the
.expected.sse files.
"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def header(name, value):
    n = name.encode()
    v = value if isinstance(value, bytes) else value.encode()
    return bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v


def frame(headers, payload):
    hdr = b"".join(header(k, v) for k, v in headers)
    total = 12 + len(hdr) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hdr))
    out = prelude + struct.pack(">I", zlib.crc32(prelude))
    out += hdr + payload
    return out + struct.pack(">I", zlib.crc32(out))


def event(event_type, body):
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return frame(
        [
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload,
    )


def exception(exception_type, body):
    payload = json.dumps(body, separators=(",", ":")).encode()
    return frame(
        [
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload,
    )


def start():
    return event("messageStart", {"role": "assistant", "p": "abcdefghij"})


def text(index, t):
    return event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": t}, "p": "abc"})


def block_stop(index):
    return event("contentBlockStop", {"contentBlockIndex": index, "p": "abcdefgh"})


def stop(reason):
    return event("messageStop", {"stopReason": reason, "p": "abcdefghijklmnop"})


def metadata(usage):
    return event(
        "metadata", {"usage": usage, "metrics": {"latencyMs": 812}, "p": "abcdefghijklmnopqrstu"}
    )


USAGE = {"inputTokens": 25, "outputTokens": 9, "totalTokens": 34}

TEXT = (
    start()
    + text(0, "Hello")
    + text(0, ", wörld ")
    + text(0, "\"quoted\"\n😀")
    + block_stop(0)
    + stop("end_turn")
    + metadata(
        {
            "inputTokens": 20,
            "outputTokens": 9,
            "totalTokens": 129,
            "cacheReadInputTokens": 100,
            "cacheWriteInputTokens": 0,
        }
    )
)

TOOLS = (
    start()
    + text(0, "Checking both.")
    + block_stop(0)
    + event(
        "contentBlockStart",
        {
            "contentBlockIndex": 1,
            "start": {"toolUse": {"toolUseId": "tooluse_kZJ1", "name": "get_weather"}},
            "p": "abcd",
        },
    )
    + event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": ""}}})
    + event(
        "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city":'}}}
    )
    + event(
        "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '"Paris"}'}}}
    )
    + block_stop(1)
    + event(
        "contentBlockStart",
        {
            "contentBlockIndex": 2,
            "start": {"toolUse": {"toolUseId": "tooluse_Qx2", "name": "get_time"}},
        },
    )
    + event(
        "contentBlockDelta",
        {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"tz":"Europe/Rome"}'}}},
    )
    + block_stop(2)
    + stop("tool_use")
    + metadata({"inputTokens": 412, "outputTokens": 57, "totalTokens": 469})
)

REASONING = (
    start()
    + event(
        "contentBlockDelta",
        {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "The user wants "}}},
    )
    + event(
        "contentBlockDelta",
        {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "a short answer."}}},
    )
    + event(
        "contentBlockDelta",
        {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "EqQBCkYIBRgCKkA"}}},
    )
    + block_stop(0)
    + event(
        "contentBlockDelta",
        {"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "c2VjcmV0"}}},
    )
    + text(2, "42.")
    + block_stop(2)
    + stop("end_turn")
    + metadata({"inputTokens": 30, "outputTokens": 120, "totalTokens": 150})
)

THROTTLED = (
    start()
    + text(0, "Partial")
    + exception("throttlingException", {"message": "Too many requests, please wait before trying again."})
    # Anything after the exception must be ignored.
    + text(0, " ignored")
)

MODEL_STREAM_ERROR = (
    start()
    + exception(
        "modelStreamErrorException",
        {
            "message": "The model produced an invalid sequence.",
            "originalStatusCode": 500,
            "originalMessage": "internal model failure",
        },
    )
)

VALIDATION = exception(
    "validationException", {"message": "Input is too long for requested model."}
)

ERROR_FRAME = start() + frame(
    [
        (":error-code", "InternalFailure"),
        (":error-message", "An internal error occurred."),
        (":message-type", "error"),
    ],
    b"",
)

# Header values are raw bytes: invalid UTF-8 must not leak into the JSON error event.
ERROR_FRAME_BAD_UTF8 = start() + frame(
    [
        (":error-code", "InternalFailure"),
        # stray continuation bytes, then a cut 3-byte sequence
        (":error-message", b"boo\x93\xf6\xff\xfd ok \xe2\x82"),
        (":message-type", "error"),
    ],
    b"",
)


def corrupt_message_crc(f):
    b = bytearray(f)
    b[-1] ^= 0xFF
    return bytes(b)


def corrupt_prelude_crc(f):
    b = bytearray(f)
    b[11] ^= 0x01
    return bytes(b)


BAD_CRC = start() + text(0, "Fine so far") + corrupt_message_crc(text(0, " broken")) + stop("end_turn")
BAD_PRELUDE_CRC = start() + corrupt_prelude_crc(text(0, "broken"))

_cut = text(0, " and then the connection dropped")
TRUNCATED = start() + text(0, "Hello") + _cut[: len(_cut) // 2]

_meta = metadata(USAGE)
TRUNCATED_AFTER_STOP = start() + text(0, "Done.") + stop("end_turn") + _meta[:20]

NO_MESSAGE_STOP = start() + text(0, "Hello") + block_stop(0)

NO_METADATA = start() + text(0, "No usage follows.") + stop("stop_sequence")

MAX_TOKENS = start() + text(0, "This answer was cut") + stop("max_tokens") + metadata(
    {"inputTokens": 10, "outputTokens": 16, "totalTokens": 26}
)

GUARDRAIL = start() + text(0, "Sorry, I can't help with that.") + stop("guardrail_intervened") + metadata(
    USAGE
)

UNKNOWN_EVENTS = (
    event("messageStart", {"role": "assistant"})
    + event("somethingNew", {"x": 1})
    + frame([(":message-type", "future-kind")], b"{}")
    + event("contentBlockStart", {"contentBlockIndex": 0, "start": {"image": {"format": "png"}}})
    + text(0, "Hi")
    # A toolUse fragment without its start event has no call to extend: ignored.
    + event("contentBlockDelta", {"contentBlockIndex": 5, "delta": {"toolUse": {"input": "{}"}}})
    + stop("tool_use")  # no tool call was made: finish_reason "stop"
    + metadata(USAGE)
)

MALFORMED_PAYLOAD = start() + frame(
    [
        (":event-type", "contentBlockDelta"),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ],
    b'{"contentBlockIndex":0,"delta":{"text":"unterminated',
)

CASES = {
    "text": TEXT,
    "text_nousage": TEXT,
    "tools": TOOLS,
    "reasoning": REASONING,
    "exception_throttling": THROTTLED,
    "exception_model_stream": MODEL_STREAM_ERROR,
    "exception_validation_context": VALIDATION,
    "error_frame": ERROR_FRAME,
    "error_frame_bad_utf8": ERROR_FRAME_BAD_UTF8,
    "bad_crc": BAD_CRC,
    "bad_prelude_crc": BAD_PRELUDE_CRC,
    "truncated": TRUNCATED,
    "truncated_after_stop": TRUNCATED_AFTER_STOP,
    "no_message_stop": NO_MESSAGE_STOP,
    "no_metadata": NO_METADATA,
    "max_tokens": MAX_TOKENS,
    "guardrail_nousage": GUARDRAIL,
    "unknown_events": UNKNOWN_EVENTS,
    "malformed_payload": MALFORMED_PAYLOAD,
}


# Seeds for fuzz/bedrock_stream_fuzz.cpp's framed mode (control byte bit 1): records
# `kind u8 | len u16 | payload` that the fuzzer wraps into valid frames. Kinds 0-6 are the events
# messageStart, contentBlockStart, contentBlockDelta, contentBlockStop, messageStop, metadata,
# somethingNew; 7 an exception, 8 an error frame, 9 a frame without headers.
def record(kind, body):
    payload = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return bytes([kind]) + struct.pack(">H", len(payload)) + payload


FRAMED_SEEDS = {
    "framed_text": record(0, {"role": "assistant"})
    + record(2, {"contentBlockIndex": 0, "delta": {"text": "Hi"}})
    + record(4, {"stopReason": "end_turn"})
    + record(5, {"usage": {"inputTokens": 3, "outputTokens": 1, "cacheReadInputTokens": 2}}),
    "framed_tools": record(1, {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}})
    + record(2, {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a":1}'}}})
    + record(2, {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hmm"}}})
    + record(4, {"stopReason": "tool_use"})
    + record(5, {"usage": {"inputTokens": 1e30, "outputTokens": -4}}),
    "framed_exception": record(2, {"contentBlockIndex": 0, "delta": {"text": "x"}})
    + record(7 | 0x10, {"message": "Too many requests"}),
    "framed_error": record(0, {}) + record(8, b"boom") + record(9, b"{}"),
    # Found by the fuzzer: an error frame whose :error-message is not UTF-8.
    "framed_error_bad_utf8": record(8, b"boo\x93\xf6\xff\xfd{{h"),
}


def main():
    import sys

    for name, data in CASES.items():
        with open(os.path.join(HERE, name + ".bin"), "wb") as f:
            f.write(data)
    print(f"wrote {len(CASES)} streams to {HERE}")
    # --fuzz-corpus DIR: also write the fuzzer seeds (the streams with their control byte, raw
    # mode; include_usage unless the case ends in _nousage; split points vary), plus framed seeds.
    if len(sys.argv) == 3 and sys.argv[1] == "--fuzz-corpus":
        out = sys.argv[2]
        os.makedirs(out, exist_ok=True)
        for i, (name, data) in enumerate(sorted(CASES.items())):
            control = (0 if name.endswith("_nousage") else 1) | ((i * 7 % 64) << 2)
            with open(os.path.join(out, name), "wb") as f:
                f.write(bytes([control]) + data)
        for i, (name, data) in enumerate(sorted(FRAMED_SEEDS.items())):
            with open(os.path.join(out, name), "wb") as f:
                f.write(bytes([3 | (i * 5 << 2)]) + data)
        print(f"wrote {len(CASES) + len(FRAMED_SEEDS)} fuzz seeds to {out}")


if __name__ == "__main__":
    main()
