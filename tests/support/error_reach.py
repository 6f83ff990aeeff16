"""Which error codes a handler can answer, as far as its source says.

Follows the handler's own body and every function of `api.*`, of a domain `errors`
module or of a use-case module it names (calls, or passes on as to `asyncio.to_thread`;
also as `module.function`), collecting each `ApiErrorCode.X`, `BookingCode.X`, `RoomCode.X`,
`OrganizingCode.X` (also under their home names `ErrorCode.X`). Codes a lower
layer raises from inside an object (the waiting room's scripts, the engine) are
not visible here; operations list those by hand.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

from api.http.error_codes import ApiErrorCode, BookingCode, ErrorCodeLike, OrganizingCode, RoomCode

_ENUMS: tuple[type[ErrorCodeLike], ...] = (ApiErrorCode, BookingCode, RoomCode, OrganizingCode)
USE_CASE_MODULES = ("engine.store.organizing", "workers.checkout")
"""The use cases below the HTTP layer whose refusals reach a client as they are."""


def _followed(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return isinstance(obj, types.FunctionType | types.MethodType) and (
        module.startswith("api.") or module.endswith(".errors") or module in USE_CASE_MODULES)


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def reachable_codes(handler: Callable[..., Any]) -> set[ErrorCodeLike]:
    codes: set[ErrorCodeLike] = set()
    seen: set[Callable[..., Any]] = set()
    stack: list[Callable[..., Any]] = [inspect.unwrap(handler)]
    while stack:
        func = stack.pop()
        if func in seen:
            continue
        seen.add(func)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        except (OSError, TypeError, SyntaxError):
            continue
        namespace = dict(func.__globals__)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                owner = namespace.get(node.value.id)
                if owner in _ENUMS and node.attr in owner.__members__:
                    codes.add(owner[node.attr])
            if isinstance(node, ast.Name | ast.Attribute):  # called, or passed to to_thread
                target = _resolve(node, namespace)
                if _followed(target):
                    stack.append(target)
    return codes
