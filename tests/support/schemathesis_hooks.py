"""Schemathesis hooks for onsale (load with SCHEMATHESIS_HOOKS=tests.support.schemathesis_hooks):
the `error_shape` check, so a run fails on any error answer outside the error shape."""

from __future__ import annotations

from typing import Any

import schemathesis

from tests.support.raw_http import Answer, problem_with


@schemathesis.check
def error_shape(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx is `{"error": {"code", "message", "details"}}` with a stable code (and no 5xx)."""
    headers = {name.lower(): ", ".join(values) if isinstance(values, list) else str(values)
               for name, values in response.headers.items()}
    answer = Answer(response.status_code, headers, response.content or b"")
    problem = problem_with(answer, head=case.method.upper() == "HEAD")
    if problem is not None:
        raise AssertionError(f"not in the error shape: {problem}")
