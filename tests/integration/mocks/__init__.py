"""Faithful mock upstreams for llmux integration tests, one module per provider (stdlib only).

    from mocks import MockAnthropic, MockGemini, MockBedrock, MockAzure, MockCohere, MockOllama, MockVertexOAuth

Each mock: `m = MockX(...).start()`, `m.base_url`, `m.requests` / `m.wait_request(marker)` /
`m.find(marker)` / `m.wait_close(seq)`, `m.set_fault(name, count)`, `m.reset()`, `m.stop()`; the same over
HTTP at /_mock/* (or /__mock/*). See README.md in this directory and each module's docstring.
"""
from ._base import FAULTS, Fault, MockBase, Record  # noqa: F401
from .anthropic import ANTHROPIC_KEY, MockAnthropic  # noqa: F401
from .azure import AZURE_AD_TOKEN, AZURE_KEY, MockAzure  # noqa: F401
from .bedrock import AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY, MockBedrock  # noqa: F401
from .cohere import COHERE_KEY, MockCohere  # noqa: F401
from .gemini import GEMINI_KEY, MockGemini  # noqa: F401
from .ollama import MockOllama  # noqa: F401
from .vertex_oauth import MockVertexOAuth  # noqa: F401

__all__ = ["ANTHROPIC_KEY", "AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_SECRET_ACCESS_KEY", "AZURE_AD_TOKEN", "AZURE_KEY",
           "COHERE_KEY", "FAULTS", "GEMINI_KEY", "Fault", "MockAnthropic", "MockAzure", "MockBase", "MockBedrock",
           "MockCohere", "MockGemini", "MockOllama", "MockVertexOAuth", "Record"]
