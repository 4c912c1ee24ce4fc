"""HTTPS upstreams: certificate verification against a CA bundle (ssl_verify: <path>), host-name
verification, ssl_verify: false, and an untrusted certificate refused with 502."""
import os
import shutil
import ssl
import subprocess

from harness import MASTER_KEY, UPSTREAM_KEY, MockOpenAI, check, eq, request, test

MSGS = [{"role": "user", "content": "hello over TLS"}]


def _make_pki(dirname):
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        return None
    def run(*args):
        subprocess.run(["openssl", *args], cwd=dirname, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=llmux test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    with open(os.path.join(dirname, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "srv.key",
        "-out", "srv.csr")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "srv.pem")
    return {k: os.path.join(dirname, f) for k, f in
            {"ca": "ca.pem", "cert": "srv.pem", "key": "srv.key"}.items()}


def _tls_mock(ctx, pki):
    sc = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sc.load_cert_chain(pki["cert"], pki["key"])
    m = MockOpenAI(name="tls-mock", ssl_context=sc).start()
    ctx.mocks.append(m)
    return m


@test
def tls_upstream_verified_with_ca_bundle(ctx):
    pki = _make_pki(ctx.tmp)
    check(pki is not None, "openssl CLI is needed to make test certificates")
    m = _tls_mock(ctx, pki)
    def dep(name, base, **extra):
        p = {"model": "openai/gpt-tls", "api_base": base, "api_key": UPSTREAM_KEY}
        p.update(extra)
        return {"model_name": name, "litellm_params": p}
    cfg = {
        "model_list": [
            dep("tls-ca", f"https://127.0.0.1:{m.port}/v1", ssl_verify=pki["ca"]),
            dep("tls-ca-hostname", f"https://localhost:{m.port}/v1", ssl_verify=pki["ca"]),
            dep("tls-noverify", f"https://127.0.0.1:{m.port}/v1", ssl_verify=False),
            dep("tls-system-ca", f"https://127.0.0.1:{m.port}/v1"),
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }
    g = ctx.gateway(cfg)
    for model in ("tls-ca", "tls-ca-hostname", "tls-noverify"):
        for stream in (False, True):
            body = {"model": model, "messages": MSGS, "stream": stream}
            r = request(g.port, "POST", "/v1/chat/completions", body=body, timeout=15)
            eq(r.status, 200, f"{model} stream={stream}: status ({r.body[:200]!r})")
            check(b"chat.completion" in r.body, f"{model}: completion relayed")
    # Signed by a CA the system store does not know: refused, 502 naming the TLS failure.
    r = request(g.port, "POST", "/v1/chat/completions", body={"model": "tls-system-ca", "messages": MSGS},
                timeout=15)
    eq(r.status, 502, "untrusted certificate")
    check(b"TLS" in r.body or b"certificate" in r.body, f"message names TLS ({r.body[:200]!r})")
    # The upstream saw the deployment's key over TLS.
    recs = [x for x in m.requests if x.header("authorization")]
    check(len(recs) >= 6, f"requests reached the TLS mock ({len(recs)})")
    eq(recs[0].header("authorization"), f"Bearer {UPSTREAM_KEY}", "upstream auth over TLS")
