"""JSON Schema of a request body, made from the type the code parses it into.

A body that a dataclass parses (`RoomConfig.from_mapping`, `AutopilotTargets.from_mapping`)
is documented from that dataclass: its fields, their types, their defaults and the
docstrings under them. Adding a field to the dataclass adds it to the OpenAPI document;
nothing is written twice.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


class _MayBeLeftOut:
    """Marker on an `X | None = None` field: None means the property was left out (it is
    optional), not that the client may send null; its schema is X's, without a default."""


MAY_BE_LEFT_OUT = _MayBeLeftOut()


class Keywords(dict[str, Any]):
    """Schema keywords on a type inside a Union (`Annotated[str, Keywords(maxLength=9)] |
    ...`): a Union hashes its members, and a plain dict is not hashable."""

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)


def type_schema(annotation: Any) -> dict[str, Any]:
    """The schema of one annotation: scalars, str enums, lists, optionals, dataclasses.

    Keywords the field's parser enforces ride on its type as a dict,
    `Annotated[str, {"minLength": 12}]` (a plain dict, so a lower layer's dataclass
    needs nothing of the API), and are merged in.
    """
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        if any(isinstance(item, _MayBeLeftOut) for item in metadata):
            base = typing.Union[tuple(arg for arg in typing.get_args(base)  # noqa: UP007
                                      if arg is not type(None))]
        schema = type_schema(base)
        for item in metadata:
            if isinstance(item, dict):
                schema.update(item)
        return schema
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        inner = type_schema(members[0]) if len(members) == 1 else {
            "oneOf": [type_schema(member) for member in members]}
        if len(members) == len(typing.get_args(annotation)):
            return inner
        if "type" in inner and isinstance(inner["type"], str):
            return {**inner, "type": [inner["type"], "null"]}
        return {"oneOf": [inner, {"type": "null"}]}
    if origin in (list, tuple) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        return {"type": "array", **({"items": type_schema(args[0])} if args else {})}
    if inspect.isclass(annotation) and issubclass(annotation, Enum):
        return {"type": "string", "enum": [member.value for member in annotation]}
    if annotation is datetime:
        return {"type": "string", "format": "date-time"}
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return object_schema(annotation, closed=False)
    for scalar, name in _SCALARS.items():
        if annotation is scalar:
            return {"type": name}
    raise TypeError(f"no JSON Schema for {annotation!r}")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a class, by field name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for statement, following in zip(body, body[1:], strict=False):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def _json_default(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


def object_schema(cls: type, *, all_optional: bool = False, closed: bool = True,
                  extra: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The object schema of dataclass `cls`.

    `all_optional` is for a change of some fields (PATCH); `closed` says unknown
    properties are refused (as `from_mapping` parsers do; a parser that ignores them
    passes False); `extra` adds properties the handler reads besides the dataclass's own.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    docs = field_docs(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for item in dataclasses.fields(cls):
        field_schema = type_schema(hints[item.name])
        if item.name in docs:
            field_schema["description"] = docs[item.name]
        left_out = any(isinstance(extra_item, _MayBeLeftOut)
                       for extra_item in getattr(hints[item.name], "__metadata__", ()))
        if item.default is not dataclasses.MISSING:
            if not left_out:
                field_schema["default"] = _json_default(item.default)
        elif item.default_factory is dataclasses.MISSING and not all_optional:
            required.append(item.name)
        properties[item.name] = field_schema
    properties.update(extra or {})
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if closed:
        schema["additionalProperties"] = False
    if required:
        schema["required"] = required
    return schema
