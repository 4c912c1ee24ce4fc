"""Run one mock in the foreground:  cd tests/integration && python3 -m mocks PROVIDER [--port N] [--port-file F]

PROVIDER: anthropic | gemini (with a Vertex OAuth mock on a second port) | bedrock | azure | cohere | ollama |
vertex_oauth. Prints `<name> listening on HOST:PORT` (and the credentials to use)."""
import argparse
import sys
import time

from . import (MockAnthropic, MockAzure, MockBedrock, MockCohere, MockGemini, MockOllama, MockVertexOAuth)
from ._base import serve_forever


def main():
    ap = argparse.ArgumentParser(prog="python3 -m mocks", description=__doc__.split("\n", 1)[0])
    ap.add_argument("provider", choices=["anthropic", "gemini", "bedrock", "azure", "cohere", "ollama",
                                         "vertex_oauth"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    if a.provider == "gemini":
        oauth = MockVertexOAuth(host=a.host).start()
        print(f"vertex oauth token endpoint {oauth.token_uri}; service account file {oauth.credentials_path}",
              flush=True)
        m = MockGemini(oauth=oauth, host=a.host, port=a.port)
        try:
            serve_forever(m, a.port_file)
        finally:
            oauth.stop()
        return 0
    cls = {"anthropic": MockAnthropic, "bedrock": MockBedrock, "azure": MockAzure, "cohere": MockCohere,
           "ollama": MockOllama, "vertex_oauth": MockVertexOAuth}[a.provider]
    m = cls(host=a.host, port=a.port)
    if a.provider == "vertex_oauth":
        m.start()
        print(f"service account file {m.credentials_path}", flush=True)
        print(f"{m.name} listening on {m.host}:{m.port}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            m.stop()
        return 0
    serve_forever(m, a.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
