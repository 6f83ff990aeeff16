"""Security headers on every answer, set as it is prepared (so streams and errors get them).

- `X-Content-Type-Options: nosniff`: a browser uses the declared type, never a guess.
- `Referrer-Policy: no-referrer`: queue tickets and ids in our URLs stay with us.
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page of ours is framed
  (clickjacking the booking or ops buttons).
- `Content-Security-Policy`: pages (text/html) load scripts, styles, images and connections
  from this origin only (the fan pages and the ops dashboard use only their own static files;
  inline styles stay allowed for the API reference page's `<style>` and the chart library);
  everything else gets `default-src 'none'`, so a JSON answer opened as a document runs nothing.
  Pages that set their own (the box office's `PAGE_HEADERS`, the ops dashboard) keep theirs.
- `Server: onsale`: no framework or Python version for a scanner to match against.
- `Cache-Control: no-store` on answers to signed-in requests and the account endpoints, unless
  the route chose its own caching: tokens and personal data stay out of shared caches.
HSTS is the TLS terminator's (the load balancer's) to send: the API itself speaks plain HTTP.
"""

from __future__ import annotations

from aiohttp import web

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
          "X-Frame-Options": "DENY", "Server": "onsale"}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    for name, value in ALWAYS.items():
        headers.setdefault(name, value)
    headers["Server"] = "onsale"  # aiohttp wrote its own (with versions) just before this hook
    page = response.content_type == "text/html"
    headers.setdefault("Content-Security-Policy", PAGE_POLICY if page else DATA_POLICY)
    if "Authorization" in request.headers or request.path.startswith("/auth/"):
        headers.setdefault("Cache-Control", "no-store")
