"""CORS for the browser origins listed in ONSALE_CORS_ORIGINS (none by default).

The fan pages and the ops dashboard are served by the API itself, so CORS is
only needed when another site embeds the booking flow. `*` allows any origin.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

ALLOWED_HEADERS = (
    "Authorization, Content-Type, Idempotency-Key, X-Request-Id, X-Admission-Token"
)
EXPOSED_HEADERS = "X-Request-Id, Retry-After, Location"
PREFLIGHT_MAX_AGE_SECONDS = 600


class CorsPolicy:
    """Which origins may read the API's answers, and the headers that tell the browser."""

    def __init__(self, origins: tuple[str, ...]):
        self._allow_any = "*" in origins
        self._allowed = frozenset(origins)

    def allowed_origin(self, request: web.Request) -> str | None:
        """The request's Origin if it is allowed, else None (no CORS headers)."""
        origin = request.headers.get("Origin")
        if origin is None or not (self._allow_any or origin in self._allowed):
            return None
        return origin

    def headers_for(self, origin: str) -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": "*" if self._allow_any else origin,
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    policy = CorsPolicy(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = policy.allowed_origin(request)
        if origin is None:
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return web.Response(
                status=204,
                headers={
                    **policy.headers_for(origin),
                    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
                },
            )
        response = await handler(request)
        if not response.prepared:
            response.headers.update(policy.headers_for(origin))
        return response

    return cors
