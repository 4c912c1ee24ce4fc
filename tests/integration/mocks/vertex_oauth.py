"""Mock of Google's OAuth 2.0 token endpoint for service accounts (JWT bearer grant, RFC 7523).

At construction it generates an RSA-2048 key pair with the `openssl` CLI and, once started, writes a
service-account JSON file (`credentials_path`) whose `token_uri` points at this mock:
  {"type": "service_account", "project_id", "private_key_id", "private_key" (PKCS#8 PEM), "client_email",
   "client_id", "auth_uri", "token_uri", "auth_provider_x509_cert_url", "client_x509_cert_url",
   "universe_domain"}
A gateway loads that file (vertex_credentials), signs a JWT with the private key and exchanges it here.

  POST /token   (application/x-www-form-urlencoded)
      grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>
  -> 200 {"access_token": "ya29.mock-…", "expires_in": N, "token_type": "Bearer"}
Checks, answered like Google ({"error": "...", "error_description": "..."}, HTTP 400/401):
  form content type; grant_type (unsupported_grant_type); assertion present (invalid_request); three
  base64url parts; header alg RS256 (and kid, if sent, equal to private_key_id); the RS256 signature,
  verified against the public key with `openssl dgst -sha256 -verify` (invalid_grant "Invalid JWT
  Signature."); iss == client_email (invalid_grant "Invalid grant: account not found"); aud == token_uri
  (Google's own https://oauth2.googleapis.com/token too if accept_google_aud); scope contains
  https://www.googleapis.com/auth/cloud-platform (invalid_scope); iat/exp integers, exp > now,
  exp - iat <= 3600, iat not more than 60 s ahead (invalid_grant "Invalid JWT: Token must be a short-lived
  token (60 minutes) and in a reasonable timeframe...").
Tokens live `expires_in` seconds (default 3599; `configure(expires_in=N)` / POST /_mock/config changes
the lifetime of tokens issued afterwards). `issued_count`, `issued` (claims + token + times),
`check_token(token)` ("ok" | "expired" | "revoked" | "unknown"), `revoke_all()`; GET /_mock/state returns
{"issued_count", "valid_tokens", "expires_in"}. GET /tokeninfo?access_token=T answers like Google's.
Faults (set_fault / x-mock-fault): fault-<status> answers {"error": "internal_failure"|"temporarily_unavailable"|
..., "error_description"}; hang, slow-first-byte[-ms].
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

from ._base import MockBase, serve_forever

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_AUD = "https://oauth2.googleapis.com/token"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    s = s.encode() if isinstance(s, str) else s
    if b"=" in s or b"+" in s or b"/" in s:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def openssl(*args, input_=None):
    p = subprocess.run(["openssl", *args], input=input_, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def generate_rsa_key(path_private, path_public):
    rc, _, err = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path_private)
    if rc != 0:
        raise RuntimeError(f"openssl genpkey failed: {err.decode(errors='replace')}")
    rc, _, err = openssl("pkey", "-in", path_private, "-pubout", "-out", path_public)
    if rc != 0:
        raise RuntimeError(f"openssl pkey -pubout failed: {err.decode(errors='replace')}")


def sign_jwt(claims, private_key_path, kid=None, header=None, workdir=None):
    """An RS256 JWT (what a gateway sends as `assertion`), signed with `openssl dgst -sha256 -sign`."""
    hdr = dict(header) if header is not None else {"alg": "RS256", "typ": "JWT"}
    if kid is not None and header is None:
        hdr["kid"] = kid
    signing_input = (b64url(json.dumps(hdr, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    d = tempfile.mkdtemp(dir=workdir)
    try:
        inp = os.path.join(d, "in")
        with open(inp, "wb") as f:
            f.write(signing_input.encode())
        rc, sig, err = openssl("dgst", "-sha256", "-sign", private_key_path, inp)
        if rc != 0:
            raise RuntimeError(f"openssl dgst -sign failed: {err.decode(errors='replace')}")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return signing_input + "." + b64url(sig)


def verify_rs256(signing_input, signature, public_key_path, workdir=None):
    d = tempfile.mkdtemp(dir=workdir)
    try:
        inp, sig = os.path.join(d, "in"), os.path.join(d, "sig")
        with open(inp, "wb") as f:
            f.write(signing_input)
        with open(sig, "wb") as f:
            f.write(signature)
        rc, out, _ = openssl("dgst", "-sha256", "-verify", public_key_path, "-signature", sig, inp)
        return rc == 0 and b"Verified OK" in out
    finally:
        shutil.rmtree(d, ignore_errors=True)


class OAuthError(Exception):
    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class MockVertexOAuth(MockBase):
    provider = "vertex_oauth"
    CONFIG_KEYS = ("expires_in", "accept_google_aud", "max_lifetime")

    def __init__(self, workdir=None, project_id="llmux-mock-project", client_email=None, expires_in=3599,
                 accept_google_aud=False, host="127.0.0.1", port=0, name="mock-vertex-oauth"):
        super().__init__(host, port, name)
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="mock-vertex-oauth-")
        os.makedirs(self.workdir, exist_ok=True)
        self.project_id = project_id
        self.client_email = client_email or f"llmux-test@{project_id}.iam.gserviceaccount.com"
        self.client_id = "1" + str(int(hashlib.sha256(self.client_email.encode()).hexdigest(), 16))[:20]
        self.expires_in = expires_in
        self.accept_google_aud = accept_google_aud
        self.max_lifetime = 3600
        self.key_path = os.path.join(self.workdir, "sa-private.pem")
        self.pub_path = os.path.join(self.workdir, "sa-public.pem")
        generate_rsa_key(self.key_path, self.pub_path)
        with open(self.key_path) as f:
            self.private_key_pem = f.read()
        self.private_key_id = hashlib.sha1(open(self.pub_path, "rb").read()).hexdigest()
        self.credentials_path = os.path.join(self.workdir, "service-account.json")
        self.tokens = {}  # token -> {"issued": t, "expires": t, "seq": n, "revoked": bool}
        self.issued = []  # [{"token", "t", "expires_in", "claims"}]
        self._tok_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        super().start()
        with open(self.credentials_path + ".tmp", "w") as f:
            json.dump(self.credentials, f, indent=2)
        os.replace(self.credentials_path + ".tmp", self.credentials_path)
        return self

    def stop(self):
        super().stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def token_uri(self):
        return self.origin + "/token"

    @property
    def credentials(self):
        """The service-account JSON (dict) written to credentials_path."""
        return {
            "type": "service_account", "project_id": self.project_id, "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem, "client_email": self.client_email, "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                    + self.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com"}

    @property
    def credentials_json(self):
        return json.dumps(self.credentials)

    # ------------------------------------------------------------------ test API
    @property
    def issued_count(self):
        with self._tok_lock:
            return len(self.issued)

    def check_token(self, token):
        with self._tok_lock:
            t = self.tokens.get(token)
            if t is None:
                return "unknown"
            if t["revoked"]:
                return "revoked"
            if time.time() >= t["expires"]:
                return "expired"
            return "ok"

    def revoke_all(self):
        with self._tok_lock:
            for t in self.tokens.values():
                t["revoked"] = True

    def valid_tokens(self):
        now = time.time()
        with self._tok_lock:
            return [k for k, t in self.tokens.items() if not t["revoked"] and now < t["expires"]]

    def state(self):
        return {"issued_count": self.issued_count, "valid_tokens": len(self.valid_tokens()),
                "expires_in": self.expires_in, "token_uri": self.token_uri, "client_email": self.client_email,
                "project_id": self.project_id}

    def make_assertion(self, now=None, key_path=None, kid="default", **overrides):
        """A valid assertion for this mock (what a correct gateway would send); overrides change claims
        (value None removes the claim)."""
        now = int(time.time() if now is None else now)
        claims = {"iss": self.client_email, "scope": SCOPE, "aud": self.token_uri, "iat": now, "exp": now + 3600}
        for k, v in overrides.items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        return sign_jwt(claims, key_path or self.key_path, kid=self.private_key_id if kid == "default" else kid,
                        workdir=self.workdir)

    # ------------------------------------------------------------------ routing
    def handle_request(self, h, rec):
        if rec.route.endswith("/token") and rec.method == "POST":
            rec.kind = "token"
            return self._token(h, rec)
        if rec.route.endswith("/tokeninfo"):
            rec.kind = "tokeninfo"
            tok = rec.q("access_token")
            state = self.check_token(tok) if tok else "unknown"
            if state != "ok":
                return self.send_json(h, rec, 400, {"error": "invalid_token",
                                                    "error_description": "Invalid Value"})
            with self._tok_lock:
                t = self.tokens[tok]
            return self.send_json(h, rec, 200, {"azp": self.client_id, "aud": self.client_id, "scope": SCOPE,
                                                "exp": str(int(t["expires"])),
                                                "expires_in": str(max(0, int(t["expires"] - time.time()))),
                                                "email": self.client_email, "access_type": "online"})
        rec.rejected = "unknown path"
        return self.send_json(h, rec, 404, {"error": "not_found", "error_description": "Not Found"})

    def _token(self, h, rec):
        fault = self.pick_fault(rec, "")
        status = fault.status()
        if status:
            err = {429: "rate_limit_exceeded", 500: "internal_failure", 503: "temporarily_unavailable",
                   401: "invalid_client", 403: "access_denied"}.get(status, "invalid_request")
            return self.send_json(h, rec, status, {"error": err, "error_description": f"Mock OAuth error {status}"},
                                  ctype="application/json; charset=utf-8")
        self.pre_answer_faults(h, rec, fault)
        try:
            claims = self._check(rec)
        except OAuthError as e:
            rec.rejected = f"{e.error}: {e.description}"
            return self.send_json(h, rec, e.status, {"error": e.error, "error_description": e.description},
                                  ctype="application/json; charset=utf-8",
                                  headers=[("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")])
        now = time.time()
        lifetime = int(self.expires_in)
        with self._tok_lock:
            n = len(self.issued) + 1
            token = f"ya29.mock-{n:04d}-{uuid.uuid4().hex}"
            self.tokens[token] = {"issued": now, "expires": now + lifetime, "seq": n, "revoked": False}
            self.issued.append({"token": token, "t": now, "expires_in": lifetime, "claims": claims})
        rec.auth = "jwt-bearer"
        rec.info["claims"] = claims
        rec.info["token"] = token
        return self.send_json(h, rec, 200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"},
                              ctype="application/json; charset=utf-8", indent=2,
                              headers=[("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
                                       ("Pragma", "no-cache")])

    def _check(self, rec):
        ctype = (rec.header("content-type") or "").lower()
        if not ctype.startswith("application/x-www-form-urlencoded") or rec.form is None:
            raise OAuthError("invalid_request", "Request must be application/x-www-form-urlencoded")
        form = rec.form
        gt = form.get("grant_type")
        if gt is None:
            raise OAuthError("unsupported_grant_type", "Invalid grant_type: ")
        if gt != GRANT:
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {gt}")
        assertion = form.get("assertion")
        if not assertion:
            raise OAuthError("invalid_request", "Missing required parameter: assertion")
        parts = assertion.split(".")
        if len(parts) != 3:
            raise OAuthError("invalid_grant", "Invalid JWT: Malformed token (expected three segments)")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_grant", "Invalid JWT: segments must be base64url (no padding) JSON")
        rec.info["jwt_header"] = header
        rec.info["claims"] = claims
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT: unsupported alg (want RS256)")
        if "typ" in header and header["typ"] != "JWT":
            raise OAuthError("invalid_grant", "Invalid JWT: typ must be JWT")
        if "kid" in header and header["kid"] != self.private_key_id:
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        if not verify_rs256((parts[0] + "." + parts[1]).encode(), sig, self.pub_path, self.workdir):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        if not isinstance(claims, dict):
            raise OAuthError("invalid_grant", "Invalid JWT: claims must be an object")
        if claims.get("iss") != self.client_email:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        auds = {self.token_uri} | ({GOOGLE_AUD} if self.accept_google_aud else set())
        if claims.get("aud") not in auds:
            raise OAuthError("invalid_grant", f"Invalid JWT: Failed audience check. The right audience is "
                                              f"{self.token_uri}")
        scope = claims.get("scope")
        if not isinstance(scope, str) or SCOPE not in scope.split(" "):
            raise OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        iat, exp = claims.get("iat"), claims.get("exp")
        now = time.time()
        bad_time = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. " \
                   "Check your iat and exp values in the JWT claim."
        if not isinstance(iat, int) or not isinstance(exp, int) or isinstance(iat, bool) or isinstance(exp, bool):
            raise OAuthError("invalid_grant", bad_time)
        if exp <= now or exp - iat > self.max_lifetime or exp <= iat or iat > now + 60:
            raise OAuthError("invalid_grant", bad_time)
        if "sub" in claims and claims["sub"] != self.client_email:
            raise OAuthError("unauthorized_client", "Client is unauthorized to retrieve access tokens using this "
                                                    "method, or client not authorized for any of the scopes requested.")
        return claims


if __name__ == "__main__":
    serve_forever(MockVertexOAuth())
