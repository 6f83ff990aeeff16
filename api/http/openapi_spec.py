"""Small builders for the OpenAPI 3.1 path items each feature module declares.

Feature modules document their own routes next to them, in a dict named
`OPENAPI_PATHS` (and, for schemas of their own, `OPENAPI_SCHEMAS`);
`api.http.openapi` merges them. This module imports nothing of the API but the
error codes, so any feature module can use it without import cycles.

Each operation lists the error codes it may answer in `x-error-codes` (enum values;
the statuses in `responses` follow from them); codes any operation may answer
(an unknown path, a body over the limit, Postgres or Redis down) are listed once,
in the document's `x-error-codes-everywhere`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

from api.http.error_codes import ErrorCodeLike, status_of

JSON = "application/json"

ERROR_RESPONSES = {
    400: "InvalidRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    408: "RequestTimeout",
    409: "Conflict",
    410: "Gone",
    411: "LengthRequired",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    500: "InternalError",
    503: "Unavailable",
}
"""The shared error response of each status (`#/components/responses/<name>`)."""


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str = "", required: bool = True,
              example: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example  # shown in the docs, and sent by Schemathesis' examples phase
    return {"required": required, "description": description, "content": {JSON: media}}


def ok(schema: dict[str, Any] | None, description: str = "OK",
       content_type: str = JSON, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {content_type: {"schema": schema}}
    if headers:
        response["headers"] = headers
    return response


def param(name: str, where: str, schema: dict[str, Any], description: str,
          required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


class OperationCommon(TypedDict, total=False):
    """What several operations of one module share, passed as `**common`."""

    tags: list[str]
    signed_in: bool


def error_codes(codes: Iterable[ErrorCodeLike]) -> list[str]:
    """The codes as `x-error-codes` lists them: each value once, by status, then name."""
    statuses = {code.value: status_of(code) for code in codes}
    return sorted(statuses, key=lambda value: (statuses[value], value))


def operation(summary: str, *, who: str, tags: list[str], responses: dict[int, Any],
              errors: Iterable[ErrorCodeLike] = (),
              parameters: list[dict[str, Any]] | None = None,
              body: dict[str, Any] | None = None, description: str = "",
              signed_in: bool = False, operation_id: str | None = None) -> dict[str, Any]:
    """One operation; `who` says who may call it (also shown in the docs page)."""
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"**Who may call:** {who}" + (f"\n\n{description}" if description else ""),
        "tags": tags,
        "x-who-may-call": who,
        "responses": {str(status): response for status, response in responses.items()},
    }
    if operation_id:
        op["operationId"] = operation_id
    op["x-error-codes"] = error_codes(errors)
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    if signed_in:
        op["security"] = [{"bearerAuth": []}]
    return op


ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "examples": [1]}
DATETIME_SCHEMA: dict[str, Any] = {"type": "string", "format": "date-time"}
