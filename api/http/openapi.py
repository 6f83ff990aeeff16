"""The OpenAPI 3.1 document of the whole API, and a human-readable page made from it.

Each feature module documents its own routes in `OPENAPI_PATHS` (and its
schemas in `OPENAPI_SCHEMAS`) next to the handlers; `build_document(app)` merges
those of every module that serves a route of the app (sub-apps included), so this
module needs no list of features. A test checks that every route of the app
appears in the document, so a new route without documentation fails the build.
"""

from __future__ import annotations

import html
import importlib
import json
import re
import sys
from functools import cached_property
from typing import Any

from aiohttp import web

from api.http.error_codes import (
    ApiErrorCode,
    BookingCode,
    ErrorCodeLike,
    OrganizingCode,
    RoomCode,
    status_of,
)
from api.http.openapi_spec import ERROR_RESPONSES, error_codes, ok, operation

routes = web.RouteTableDef()

TITLE = "onsale API"
VERSION = "0.1.0"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"$ref": "#/components/schemas/ErrorCode",
                     "description": "Stable; clients branch on it."},
            "message": {"type": "string", "description": "For people."},
            "details": {"type": "object", "description": "Context: `field` and `reason` "
                                                         "for validation errors."},
        },
    }},
}
_ERROR_TEXT = {
    "InvalidRequest": "Invalid input: `details.field` names the field, `details.reason` why.",
    "Unauthorized": "No valid session token.",
    "Forbidden": "Signed in, but not allowed (role or ownership).",
    "NotFound": "No such resource (or not yours).",
    "Conflict": "The resource's state forbids this now.",
    "Gone": "It expired.",
    "PayloadTooLarge": "The request body exceeds the limit.",
    "TooManyRequests": "Slow down; see Retry-After.",
    "Unavailable": "A dependency (Postgres, Redis) is unavailable; retry after Retry-After.",
    "MethodNotAllowed": "This path does not take this method; see `Allow`.",
    "NotAcceptable": "No representation the client accepts.",
    "RequestTimeout": "The request took too long to arrive.",
    "LengthRequired": "Send Content-Length.",
    "UnsupportedMediaType": "Send JSON.",
    "UnprocessableEntity": "Well-formed but unprocessable.",
    "InternalError": "A bug; report the request id in `details.request_id`.",
}
ALL_CODES: tuple[ErrorCodeLike, ...] = (*ApiErrorCode, *BookingCode, *RoomCode,
                                         *OrganizingCode)
# What any operation may answer, decided before or after its handler: an unknown path or
# method, a body over the limit, a store down, a bug.
EVERYWHERE: tuple[ErrorCodeLike, ...] = (
    ApiErrorCode.NOT_FOUND, ApiErrorCode.METHOD_NOT_ALLOWED, ApiErrorCode.PAYLOAD_TOO_LARGE,
    ApiErrorCode.REDIS_UNAVAILABLE, ApiErrorCode.DATABASE_UNAVAILABLE,
    ApiErrorCode.INTERNAL_ERROR)


def _served_routes(app: web.Application) -> list[web.AbstractRoute]:
    """The app's routes with a handler of this project (sub-apps' included, static files not)."""
    return [route for route in app.router.routes()
            if getattr(route.handler, "__module__", "").startswith("api.")]


def _feature_modules(app: web.Application) -> list[Any]:
    """Every module serving a route, with its parent packages (a package may document them)."""
    names: dict[str, None] = {}
    for route in _served_routes(app):
        parts = route.handler.__module__.split(".")
        for end in range(2, len(parts) + 1):
            names.setdefault(".".join(parts[:end]), None)
    return [sys.modules.get(name) or importlib.import_module(name) for name in names]


def build_document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, "ErrorCode": {
        "type": "string", "enum": error_codes(ALL_CODES),
        "description": "Every code the API answers (`x-error-codes` per operation)."}}
    for module in _feature_modules(app):
        for path, item in getattr(module, "OPENAPI_PATHS", {}).items():
            paths.setdefault(path, {}).update(item)
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
    _fill_who_may_call(paths, app)
    _error_responses_by_code(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Ticket booking for on-sale rushes. Every error has the shape "
                "`{\"error\": {\"code\", \"message\", \"details\"}}`; every response carries "
                "`X-Request-Id`. Sign in with `POST /auth/login` and send "
                "`Authorization: Bearer <token>`; booking calls for an event behind the "
                "waiting room also need `X-Admission-Token`."),
        },
        "servers": [{"url": "/"}],
        "x-error-codes-everywhere": error_codes(EVERYWHERE),
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "responses": {name: {"description": _ERROR_TEXT[name],
                                 "content": {"application/json": {
                                     "schema": {"$ref": "#/components/schemas/Error"}}}}
                          for name in ERROR_RESPONSES.values()},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A session token from /auth/login."},
                "admissionToken": {"type": "apiKey", "in": "header",
                                   "name": "X-Admission-Token",
                                   "description": "The waiting room's signed admission."},
            },
        },
    }


def _error_responses_by_code(paths: dict[str, dict[str, Any]]) -> None:
    """Give each operation a response for every status its `x-error-codes` answer with
    (an operation that lists none gets an empty list: it decides no error itself)."""
    by_value = {code.value: code for code in ALL_CODES}
    for item in paths.values():
        for method, op in item.items():
            if method not in _METHOD_ORDER:
                continue
            for value in op.setdefault("x-error-codes", []):
                status = status_of(by_value[value])
                op["responses"].setdefault(str(status), {
                    "$ref": f"#/components/responses/{ERROR_RESPONSES[status]}"})


def _fill_who_may_call(paths: dict[str, dict[str, Any]], app: web.Application) -> None:
    """Take `x-who-may-call` from the handler's docstring where a module did not state it.

    Every handler's docstring starts with who may call it (STYLE: "Every endpoint
    states who may call it"), so the document and the code say the same.
    """
    for route in _served_routes(app):
        path = route.resource.canonical if route.resource is not None else ""
        operation = paths.get(path, {}).get(route.method.lower())
        if operation is None or operation.get("x-who-may-call"):
            continue
        first_line = (route.handler.__doc__ or "").strip().split("\n")[0]
        who = first_line.split(":", 1)[0] if ":" in first_line else first_line
        operation["x-who-may-call"] = who.strip() or "unstated"


class ApiReference:
    """The app's document and docs page, made once, on first request (the routes are
    all added by then)."""

    def __init__(self, app: web.Application):
        self._app = app

    @cached_property
    def document_bytes(self) -> bytes:
        return json.dumps(build_document(self._app), separators=(",", ":")).encode()

    @cached_property
    def docs_html(self) -> str:
        return render_docs(build_document(self._app))


API_REFERENCE_KEY = web.AppKey("api_reference", ApiReference)


def add_api_reference(app: web.Application) -> None:
    """Serve `/openapi.json` and `/docs` for `app`, documenting every route it has."""
    app[API_REFERENCE_KEY] = ApiReference(app)
    app.add_routes(routes)


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    """Anyone: this API's OpenAPI 3.1 document."""
    return web.Response(body=request.app[API_REFERENCE_KEY].document_bytes,
                        content_type="application/json",
                        headers={"Cache-Control": "public, max-age=60"})


# ---------------------------------------------------------------- the docs page

_METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def _inline(text: str) -> str:
    """Escape, then the two bits of Markdown the descriptions use: `code` and **bold**."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped).replace("\n\n", "<br>")


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{name}">{html.escape(name)}</a>'
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    extras = [f"{key} {schema[key]}" for key in ("minimum", "maximum", "maxLength", "pattern")
              if key in schema]
    if "enum" in schema:
        extras.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    return html.escape(f"{kind}" + (f" ({'; '.join(extras)})" if extras else ""))


def _operation_html(path: str, method: str, op: dict[str, Any]) -> str:
    anchor = f"{method}-{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-')}"
    parts = [f'<section class="op" id="{anchor}"><h3><span class="method {method}">'
             f"{method.upper()}</span> <code>{html.escape(path)}</code> "
             f"{html.escape(op.get('summary', ''))}</h3>",
             f"<p>{_inline(op.get('description', ''))}</p>"]
    parameters = op.get("parameters", [])
    if parameters:
        rows = "".join(
            f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
            f"<td>{'yes' if p.get('required') else ''}</td>"
            f"<td>{_schema_text(p.get('schema', {}))}</td>"
            f"<td>{_inline(p.get('description', ''))}</td></tr>" for p in parameters)
        parts.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th>"
                     f"<th>meaning</th></tr>{rows}</table>")
    body = op.get("requestBody")
    if body:
        media: dict[str, Any] | None = next(iter(body.get("content", {}).values()), None)
        schema = media.get("schema", {}) if media else {}
        parts.append(f"<p><strong>Body:</strong> {_schema_text(schema)} "
                     f"{_inline(body.get('description', ''))}</p>")
    responses = ", ".join(
        f"<code>{status}</code> {html.escape(response.get('description', '') or '')}"
        if "$ref" not in response else
        f"<code>{status}</code> {html.escape(response['$ref'].rsplit('/', 1)[-1])}"
        for status, response in op.get("responses", {}).items())
    parts.append(f"<p><strong>Responses:</strong> {responses}</p></section>")
    return "".join(parts)


def render_docs(document: dict[str, Any]) -> str:
    by_tag: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        for method in _METHOD_ORDER:
            if method in item:
                tag = (item[method].get("tags") or ["Other"])[0]
                by_tag.setdefault(tag, []).append(_operation_html(path, method, item[method]))
    toc = "".join(f'<li><a href="#tag-{re.sub(r"[^a-z0-9]+", "-", tag.lower())}">'
                  f"{html.escape(tag)}</a></li>" for tag in sorted(by_tag))
    sections = "".join(
        f'<h2 id="tag-{re.sub(r"[^a-z0-9]+", "-", tag.lower())}">{html.escape(tag)}</h2>'
        + "".join(ops) for tag, ops in sorted(by_tag.items()))
    schemas = "".join(
        f'<h3 id="schema-{html.escape(name)}">{html.escape(name)}</h3>'
        f"<pre>{html.escape(json.dumps(schema, indent=2))}</pre>"
        for name, schema in sorted(document["components"]["schemas"].items()))
    info = document["info"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(info['title'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 980px; margin: 2em auto;
       padding: 0 1em; color: #1d2433; }}
code, pre {{ font-family: ui-monospace, monospace; font-size: 13px; }}
pre {{ background: #f4f6fa; padding: .8em; overflow-x: auto; }}
.op {{ border-top: 1px solid #dde2ec; padding: .4em 0; }}
.method {{ display: inline-block; min-width: 4.5em; text-align: center; color: #fff;
          border-radius: 3px; font-size: 12px; padding: 1px 4px; }}
.get {{ background: #2f6fdb; }} .post {{ background: #1c8a4c; }}
.patch, .put {{ background: #b7791f; }} .delete {{ background: #c53030; }}
table {{ border-collapse: collapse; margin: .4em 0; }}
td, th {{ border: 1px solid #dde2ec; padding: 2px 6px; text-align: left;
          vertical-align: top; }}
</style></head><body>
<h1>{html.escape(info['title'])} <small>{html.escape(info['version'])}</small></h1>
<p>{_inline(info['description'])}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<ul>{toc}<li><a href="#schemas">Schemas</a></li></ul>
{sections}
<h2 id="schemas">Schemas</h2>{schemas}
</body></html>"""


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    """Anyone: the API reference as a web page, made from the OpenAPI document."""
    return web.Response(text=request.app[API_REFERENCE_KEY].docs_html, content_type="text/html")


OPENAPI_PATHS: dict[str, Any] = {
    "/openapi.json": {"get": operation(
        "This OpenAPI document", who="anyone", tags=["Meta"],
        responses={200: ok({"type": "object"}, "OpenAPI 3.1.")})},
    "/docs": {"get": operation(
        "API reference page", who="anyone", tags=["Meta"],
        responses={200: ok({"type": "string"}, "HTML.", content_type="text/html")})},
}
