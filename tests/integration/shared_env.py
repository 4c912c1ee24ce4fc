"""The shared fixture: one mock upstream and one llmux gateway with many model groups, started lazily on
first use and reused by every test that does not need special settings (tests run concurrently and tell
their requests apart by unique markers)."""
from __future__ import annotations

import os
import tempfile
import threading

from harness import (MASTER_KEY, UPSTREAM_KEY, Gateway, MockOpenAI, closed_port, deployment)

_lock = threading.Lock()
_env = None
_error = None


class SharedEnv:
    def __init__(self, root_tmp):
        self.tmp = tempfile.mkdtemp(prefix="shared-", dir=root_tmp)
        self.mock = MockOpenAI(name="shared-mock").start()
        self.access_log = os.path.join(self.tmp, "access.log")
        base = self.mock.base_url
        dead = f"http://127.0.0.1:{closed_port()}/v1"
        up = dict(api_base=base, api_key=UPSTREAM_KEY)
        self.model_list = [
            deployment("gpt-4o", "openai/gpt-4o-mini", id="dep-gpt4o-primary",
                       extra_headers={"X-Llmux-Test": "extra-1", "X-Team": "alpha"}, **up),
            deployment("fast", "hosted_vllm/gpt-echo", api_base=base, api_key="os.environ/LLMUX_TEST_ENV_KEY"),
            deployment("mock-echo", "mock/anything"),
            deployment("mock-fixed", "mock/anything", mock_response="fixed mock answer ✓"),
            deployment("metrics-probe", "mock/anything"),
            deployment("access-probe", "openai/gpt-echo", **up),
            deployment("fault-429", "openai/gpt-fault-429", **up),
            deployment("fault-500", "openai/gpt-fault-500", **up),
            deployment("fault-503-flat", "hosted_vllm/gpt-fault-503-flat", **up),
            deployment("fault-400", "openai/gpt-fault-400", **up),
            deployment("hang-1s", "openai/gpt-hang", timeout=1, **up),
            deployment("hang", "openai/gpt-hang", **up),
            deployment("slow-first-byte", "openai/gpt-slow-first-byte-4000", stream_timeout=1, **up),
            deployment("reset", "openai/gpt-reset-mid-stream", **up),
            deployment("eof-mid", "openai/gpt-eof-mid-stream", **up),
            deployment("truncated", "openai/gpt-truncated-stream", **up),
            deployment("error-mid", "openai/gpt-error-mid-stream", **up),
            deployment("stall", "openai/gpt-stream-stall", stream_idle_timeout_ms=700, **up),
            deployment("pause", "openai/gpt-pause-mid-stream", **up),
            deployment("slow-stream", "openai/gpt-slow-stream-300x50", **up),
            deployment("chunked", "openai/gpt-chunked", **up),
            deployment("close-delimited", "openai/gpt-close-delimited", **up),
            deployment("keepalive-comments", "openai/gpt-keepalive-comments", **up),
            deployment("crlf", "openai/gpt-crlf", **up),
            deployment("tools", "openai/gpt-tools", **up),
            deployment("big", "openai/gpt-big-2048", **up),
            deployment("dead", "openai/gpt-4o", api_base=dead, api_key=UPSTREAM_KEY),
            deployment("dns-fail", "openai/gpt-4o", api_base="http://llmux-test-host.invalid/v1", api_key=UPSTREAM_KEY),
            deployment("tls-fail", "openai/gpt-4o", api_base=base.replace("http://", "https://"),
                       api_key=UPSTREAM_KEY),
            deployment("slow-mock", "mock/anything", mock_latency_ms=200, mock_chunk_delay_ms=150),
        ]
        self.groups = [d["model_name"] for d in self.model_list]
        self.settings = {
            "host": "127.0.0.1", "workers": 2, "max_body_bytes": 262144, "max_header_bytes": 8192,
            "header_timeout_ms": 1000, "body_timeout_ms": 1000, "idle_timeout_ms": 30000,
            "shutdown_grace_ms": 5000, "connect_timeout_ms": 2000, "stream_idle_timeout_ms": 30000,
            "access_log": self.access_log, "log_level": "info",
        }
        self.config = {"model_list": self.model_list, "general_settings": {"master_key": MASTER_KEY},
                       "llmux_settings": self.settings}
        self.gw = Gateway(self.config, self.tmp, name="shared-llmux")
        self.gw.start()
        self.port = self.gw.port

    def deployment_id(self, group):
        for i, d in enumerate(self.model_list):
            if d["model_name"] == group:
                return (d.get("model_info") or {}).get("id") or f"{group}/{i}"
        raise KeyError(group)

    def stop(self):
        rc = self.gw.stop()
        self.mock.stop()
        return rc


def shared(ctx):
    global _env, _error
    with _lock:
        if _env is None and _error is None:
            try:
                _env = SharedEnv(ctx.root_tmp)
            except Exception as e:  # every test using the fixture fails with the same cause
                _error = e
        if _error is not None:
            raise AssertionError(f"shared gateway failed to start: {_error}")
    ctx.use(_env.gw)
    return _env


def current():
    return _env
