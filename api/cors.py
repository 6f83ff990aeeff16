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


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    allow_any = "*" in origins
    allowed = frozenset(origins)

    def headers_for(origin: str) -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": "*" if allow_any else origin,
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or not (allow_any or origin in allowed):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return web.Response(
                status=204,
                headers={
                    **headers_for(origin),
                    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
                },
            )
        response = await handler(request)
        if not response.prepared:
            response.headers.update(headers_for(origin))
        return response

    return cors
