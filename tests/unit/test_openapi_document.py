"""The OpenAPI document covers every route of the app, and every operation says who may call it."""

from __future__ import annotations

from aiohttp import web

from api.http.app import create_app
from api.http.openapi import build_document, render_docs
from api.launcher.settings import Settings

METHODS = ("get", "post", "put", "patch", "delete")


def _app() -> web.Application:
    # The app is built, never started: no connection to Postgres or Redis is made.
    return create_app(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                               redis_url="redis://127.0.0.1:1/0"))


def _app_routes() -> set[tuple[str, str]]:
    routes = set()
    for route in _app().router.routes():
        if route.method.lower() in METHODS and route.resource is not None:
            path = route.resource.canonical
            if isinstance(route.resource, web.StaticResource):
                path += "/{name}"  # a folder of files, documented as one operation
            routes.add((route.method.lower(), path))
    return routes


def test_every_route_is_documented_and_nothing_else() -> None:
    document = build_document(_app())
    documented = {(method, path) for path, item in document["paths"].items()
                  for method in item if method in METHODS}
    routes = _app_routes()
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations the app does not serve"


def test_every_operation_states_who_may_call_it_and_its_errors_share_one_shape() -> None:
    document = build_document(_app())
    assert document["openapi"].startswith("3.1")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            assert operation.get("x-who-may-call"), f"{method} {path}: who may call it?"
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[-1]
                    assert name in document["components"]["responses"], (path, name)


def test_the_docs_page_lists_every_operation() -> None:
    document = build_document(_app())
    page = render_docs(document)
    for path in document["paths"]:
        assert f"<code>{path}</code>" in page.replace("&#x27;", "'"), path


def test_the_ops_room_body_is_generated_from_room_config_and_lists_every_field() -> None:
    from dataclasses import fields

    from waitingroom.autopilot import AutopilotTargets
    from waitingroom.config import RoomConfig

    document = build_document(_app())
    room = document["paths"]["/ops/events/{event_id}/waiting-room"]["patch"]
    schema = room["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {f.name for f in fields(RoomConfig)} | {"sale"}
    assert schema["properties"]["mode"]["enum"] == ["fifo", "shuffle"]
    assert schema["properties"]["paused"] == {
        "type": "boolean", "default": False}
    assert "lose" in schema["properties"]["position_expiry_seconds"]["description"]
    autopilot = document["paths"]["/ops/events/{event_id}/autopilot"]["post"]
    body = autopilot["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {f.name for f in fields(AutopilotTargets)} | {"enabled"}
