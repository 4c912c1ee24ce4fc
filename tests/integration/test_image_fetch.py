"""Remote images for providers that take no image URLs: the gateway downloads them (bounded, and
never from private or loopback addresses unless llmux_settings.image_fetch_allow_private)."""
import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import chat, check, check_error, deployment, eq, marker, test
from mocks import MockOllama

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _image_server(ctx, big=False):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/cat.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.startswith("/page"):
                body = b"<html>not an image</html>"
                ctype = "text/html"
            else:
                body = PNG * (200000 if big else 1)
                ctype = "image/png"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the gateway stops reading past its size limit
                pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    ctx.cleanups.append(srv.shutdown)
    return f"http://127.0.0.1:{srv.server_address[1]}"


def _msg(url, text):
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


@test
def image_urls_are_downloaded_for_providers_without_url_support(ctx):
    img = _image_server(ctx)
    m = MockOllama().start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [deployment("llava", "ollama_chat/llava", api_base=m.origin)],
                      "llmux_settings": {"access_log": "", "image_fetch_allow_private": True,
                                         "image_fetch_max_bytes": 100000}})
    by_name = img.replace("127.0.0.1", "localhost")  # resolved on the client-supplied-names resolver
    for url in (img + "/cat.png", img + "/redirect", by_name + "/cat.png"):
        path = url
        mk = marker("img")
        r = chat(gw.port, {"model": "llava", "messages": _msg(url, f"what is this {mk}")})
        eq(r.status, 200, f"{path}: status ({r.body[:300]!r})")
        up = m.wait_request(mk).json
        eq(up["messages"][0]["images"], [base64.b64encode(PNG).decode()], f"{path}: inlined as base64")
    r = chat(gw.port, {"model": "llava", "messages": _msg(img + "/page.html", "x")})
    check_error(r, 400, code="image_fetch_failed", msg_contains="not an image")
    big = _image_server(ctx, big=True)
    r = chat(gw.port, {"model": "llava", "messages": _msg(big + "/huge.png", "x")})
    check_error(r, 400, code="image_fetch_failed", msg_contains="larger than")
    many = [{"type": "image_url", "image_url": {"url": img + "/cat.png"}}] * 40
    r = chat(gw.port, {"model": "llava", "messages": [{"role": "user", "content": many}]})
    check_error(r, 400, msg_contains="at most")


@test
def image_fetch_refuses_private_addresses_by_default(ctx):
    img = _image_server(ctx)
    m = MockOllama().start()
    ctx.cleanups.append(m.stop)
    gw = ctx.gateway({"model_list": [deployment("llava", "ollama_chat/llava", api_base=m.origin)],
                      "llmux_settings": {"access_log": ""}})
    # Loopback (the image server), and the deployment's own private origin (no pooled reuse).
    for url in (img + "/cat.png", img.replace("127.0.0.1", "localhost") + "/cat.png",
                m.origin + "/api/tags", "http://[::1]:9/x.png", "http://169.254.169.254/x"):
        r = chat(gw.port, {"model": "llava", "messages": _msg(url, "x")})
        check_error(r, 400, code="image_fetch_failed")
        check("private" in r.json()["error"]["message"] or "connect" in r.json()["error"]["message"].lower(),
              f"{url}: {r.body[:200]!r}")
