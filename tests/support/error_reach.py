"""Which error codes a handler can answer, as far as its source says.

Follows the handler's own body and every function of `api.*` (or of a domain
`errors` module) it calls by name, collecting each `ApiErrorCode.X`,
`BookingCode.X` / `RoomCode.X` (also under their home names `ErrorCode.X`). Codes a lower
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

from api.http.error_codes import ApiErrorCode, BookingCode, ErrorCodeLike, RoomCode

_ENUMS: tuple[type[ErrorCodeLike], ...] = (ApiErrorCode, BookingCode, RoomCode)


def _followed(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return isinstance(obj, types.FunctionType) and (
        module.startswith("api.") or module.endswith(".errors"))


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
            if isinstance(node, ast.Call):
                target = _resolve(node.func, namespace)
                if _followed(target):
                    stack.append(target)
    return codes
