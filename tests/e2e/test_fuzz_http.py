"""Property-based fuzzing of every route over a raw socket: whatever a client sends in the
path, the query, the body or the headers, the API answers without a 5xx, and every error
is `{"error": {"code", "message", "details"}}` with a stable code.

The routes come from the app's own router, so a new route is fuzzed the day it is added.
Requests go to a real server (`live_server`: ApiRunner over the e2e Postgres and Redis),
signed in as nobody, a fan, an organizer, ops, or with a junk token, so both the refusals
and the handlers behind them are reached. Bounded: ONSALE_FUZZ_EXAMPLES examples per
test (150 by default, a few seconds each); raise it for a long run.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import Engine

from api.http.app import create_app
from api.http.openapi import build_document
from api.launcher.settings import Settings
from tests.e2e.conftest import LiveServer
from tests.support.catalog_http import make_listed_event, quick_account, unique_city
from tests.support.raw_http import (
    Answer,
    encode_path_segment,
    exchange,
    problem_with,
    request_bytes,
)

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("ONSALE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=os.environ.get("ONSALE_FUZZ_RANDOM") != "1",
                suppress_health_check=list(HealthCheck))
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
STANDARD_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    template: str

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.template)


def _unstarted_app() -> web.Application:
    """The app, built and never started: no connection to Postgres or Redis is made."""
    return create_app(Settings(database_url="postgresql+psycopg://unused@127.0.0.1/unused",
                               redis_url="redis://127.0.0.1:1"))


def _routes() -> list[Route]:
    """Every (method, path) the app routes, HEAD aside (aiohttp adds it to each GET); a
    static folder as its prefix plus `{name}`."""
    app = _unstarted_app()
    found = {Route(route.method, route.resource.canonical
                   + ("/{name}" if isinstance(route.resource, web.StaticResource) else ""))
             for route in app.router.routes()
             if route.method != "HEAD" and route.resource is not None}
    return sorted(found, key=lambda r: (r.template, r.method))


def _openapi_names() -> tuple[list[str], dict[tuple[str, str], list[str]]]:
    """Body field names, and each operation's query parameters, as the API documents them:
    fuzzing them reaches the validation behind each one, not only the refusal of junk."""
    fields: set[str] = set()
    queries: dict[tuple[str, str], list[str]] = {}
    for path, operations in build_document(_unstarted_app())["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):  # path-level `parameters`
                continue
            queries[(method.upper(), path)] = sorted(
                parameter["name"] for parameter in operation.get("parameters", [])
                if parameter.get("in") == "query")
            pending: list[Any] = [operation.get("requestBody", {})]
            while pending:
                item = pending.pop()
                if isinstance(item, dict):
                    fields.update(item.get("properties", {}))
                    pending.extend(item.values())
                elif isinstance(item, list):
                    pending.extend(item)
    fields.update(("name", "starts_at", "onsale_at", "venue_id", "price_tiers", "performers",
                   "currency", "category", "description", "hold_ttl_seconds", "buyer_limit",
                   "sections", "rows", "seats", "ga_zones", "city", "capacity", "hold_id"))
    return sorted(fields), queries


ROUTES = _routes()
BODY_ROUTES = [route for route in ROUTES if route.method in BODY_METHODS]
FIELD_NAMES, QUERIES_OF = _openapi_names()
QUERY_NAMES = sorted({name for names in QUERIES_OF.values() for name in names})

# --- values ---------------------------------------------------------------------------------

any_char = st.characters(exclude_categories=[])  # lone surrogates and NUL included
any_text = st.text(any_char, max_size=60)
digits_elsewhere = st.one_of(  # str.isdigit() says yes; int() reads some ('١٢٣'), fails others
    st.sampled_from(["١٢٣", "²", "1²", "１２", "৭", "߀", "𝟙", "¹²³"]),
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=8),
)
numbers_as_text = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["-0", "1e400", "0x1f", "1_000", " 7", "+7", "07", "9" * 19, "9" * 5000]),
)
dates_as_text = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.sampled_from(["0001-01-01", "9999-12-31T23:59:59+23:59", "2025-02-30", "2025-13-01",
                     "2025-06-01T25:00:00Z", "2025-06-01T19:30:00", "-2025-01-01", "20250601",
                     "2025-06-01T19:30:00.123456789Z", "Z", "T"]),
)
cursors = st.one_of(
    st.binary(max_size=40).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.recursive(st.none() | st.integers() | st.text(any_char, max_size=8),
                 lambda inner: st.lists(inner, max_size=3), max_leaves=6)
    .map(lambda doc: base64.urlsafe_b64encode(
        json.dumps(doc).encode("utf-8", "surrogatepass")).decode().rstrip("=")),
)
junk_values = st.one_of(any_text, digits_elsewhere, numbers_as_text, dates_as_text, cursors,
                        st.text(any_char, min_size=200, max_size=3000),
                        st.sampled_from(["", "%00", "..", "null", "true", "[]", "{}"]))

# --- who is asking --------------------------------------------------------------------------

callers = st.sampled_from(["anonymous", "fan", "organizer", "ops", "junk"])
junk_tokens = st.binary(max_size=80).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))


@dataclass(frozen=True)
class Stage:
    server: LiveServer
    event_id: int
    tokens: dict[str, str]

    def auth(self, caller: str, junk: bytes, route: Route) -> list[tuple[str, str | bytes]]:
        if caller == "anonymous":
            return []
        if caller == "junk" or route.template == "/auth/logout":  # keep the sessions alive
            return [("Authorization", b"Bearer " + junk)]
        return [("Authorization", f"Bearer {self.tokens[caller]}")]

    def path(self, route: Route, values: dict[str, str | None]) -> str:
        def fill(match: re.Match[str]) -> str:
            value = values.get(match[1])
            return str(self.event_id) if value is None else encode_path_segment(value)

        return _PARAM.sub(fill, route.template)

    def send(self, method: str, target: str, headers: list[tuple[str, str | bytes]],
             body: bytes | None = None) -> Answer:
        return exchange(self.server.host, self.server.port,
                        request_bytes(method, target, headers, body))


@pytest.fixture()
def settings(database_url: str, redis_url: str, redis_prefix: str) -> Settings:
    """The e2e settings with the default body limit: room for deep nesting and long text."""
    return Settings(database_url=database_url, redis_url=redis_url, redis_prefix=redis_prefix,
                    demo_data=False)


@pytest.fixture()
def stage(live_server: LiveServer, engine: Engine) -> Stage:
    event_id = make_listed_event(engine, city=unique_city())
    tokens = {role: quick_account(engine, role)["Authorization"].split(" ", 1)[1]
              for role in ("fan", "organizer", "ops")}
    return Stage(live_server, event_id, tokens)


def _check(answer: Answer, what: str) -> None:
    if currently_in_test_context():  # --hypothesis-show-statistics lists what was reached
        event(f"status {answer.status}")
    problem = problem_with(answer)
    assert problem is None, f"{what} -> {problem}"


path_values = st.one_of(st.none(), digits_elsewhere, junk_values)  # None: the real event id


@FUZZ
@given(route=st.sampled_from([route for route in ROUTES if route.params]), data=st.data(),
       caller=callers, junk=junk_tokens)
def test_any_path_parameter_on_any_route(stage: Stage, route: Route, data: st.DataObject,
                                         caller: str, junk: bytes) -> None:
    values = data.draw(st.fixed_dictionaries({name: path_values for name in route.params}))
    target = stage.path(route, values)
    _check(stage.send(route.method, target, stage.auth(caller, junk, route),
                      b"{}" if route.method in BODY_METHODS else None),
           f"{route.method} {target[:200]}")


@FUZZ
@given(route=st.sampled_from(ROUTES), pairs=st.lists(st.tuples(
    st.one_of(st.sampled_from(QUERY_NAMES), any_text), junk_values), max_size=4),
    repeat=st.booleans(), caller=callers, junk=junk_tokens)
def test_any_query_on_any_route(stage: Stage, route: Route, pairs: list[tuple[str, str]],
                                repeat: bool, caller: str, junk: bytes) -> None:
    if repeat:
        pairs = pairs + pairs
    query = "&".join(f"{encode_path_segment(name)}={encode_path_segment(value)}"
                     for name, value in pairs)
    target = f"{stage.path(route, {})}?{query}"
    _check(stage.send(route.method, target, stage.auth(caller, junk, route)),
           f"{route.method} {target[:300]}")


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.just(-0.0), any_text, junk_values,
)
json_documents = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), any_text), inner, max_size=5),
    max_leaves=16,
)


def _dumps(document: Any, ascii_only: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=ascii_only)  # NaN and Infinity as JS writes them
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate as raw bytes: not UTF-8


bodies = st.one_of(
    st.tuples(st.dictionaries(st.sampled_from(FIELD_NAMES), json_documents, max_size=8),
              st.booleans()).map(lambda pair: _dumps(*pair)),
    st.tuples(json_documents, st.booleans()).map(lambda pair: _dumps(*pair)),
    st.integers(min_value=1, max_value=30_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=1, max_value=12_000).map(
        lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.sampled_from([b"1e400", b"-0", b"NaN", b'{"quantity": 1e400}', b'{"seats": [1e999]}',
                     b'{"email": "\\u0000"}', b'{"email": "\\ud800"}', b'{"\\udfff": 1}',
                     b'{"best_available": ' + b"9" * 5000 + b"}", b"", b"\xef\xbb\xbf{}",
                     b'{"a": "' + b"x" * 60_000 + b'"}']),
    st.binary(max_size=300),
)
content_types = st.sampled_from([
    None, "application/json", "application/json; charset=utf-8",
    "application/json; charset=latin-1", "application/json; charset=utf-16",
    "application/json; charset=bogus", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "multipart/form-data", "garbage/;;;", "",
])


@FUZZ
@given(route=st.sampled_from(BODY_ROUTES), body=bodies, content_type=content_types,
       idempotency_key=st.one_of(st.none(), st.just("fuzz-key"), any_text),
       caller=callers, junk=junk_tokens)
def test_any_body_on_any_route_that_takes_one(stage: Stage, route: Route, body: bytes,
                                              content_type: str | None,
                                              idempotency_key: str | None, caller: str,
                                              junk: bytes) -> None:
    headers = stage.auth(caller, junk, route)
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if idempotency_key is not None:
        headers.append(("Idempotency-Key", idempotency_key))
    target = stage.path(route, {})
    _check(stage.send(route.method, target, headers, body),
           f"{route.method} {target} {content_type} {body[:200]!r}")


header_values = st.one_of(
    any_text,
    st.binary(max_size=300).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"")),
    junk_values,
    st.sampled_from(["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "bearer a|b|c", "*", "W/\"x\"",
                     "1.2.3.4, 300.1.1.1, ::::", "a=\"; b", "text/html", "*/*;q=x",
                     "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.", "-1", "²", "١٢٣", "9" * 40]),
)
header_names = st.sampled_from([
    "Authorization", "X-Admission-Token", "Idempotency-Key", "Cookie", "Content-Type",
    "Accept", "Accept-Encoding", "Accept-Language", "X-Forwarded-For", "If-None-Match",
    "If-Modified-Since", "Last-Event-ID", "Origin", "X-Request-Id", "Range", "Referer",
    "User-Agent", "Access-Control-Request-Method", "Forwarded", "X-Real-IP",
])


@FUZZ
@given(route=st.sampled_from(ROUTES),
       extra=st.lists(st.tuples(header_names, header_values), min_size=1, max_size=4),
       caller=callers, junk=junk_tokens)
def test_any_header_on_any_route(stage: Stage, route: Route,
                                 extra: list[tuple[str, str | bytes]], caller: str,
                                 junk: bytes) -> None:
    headers = stage.auth(caller, junk, route)
    if any(name == "Authorization" for name, _ in extra):
        headers = []
    headers += extra
    target = stage.path(route, {})
    _check(stage.send(route.method, target, headers,
                      b"{}" if route.method in BODY_METHODS else None),
           f"{route.method} {target} {extra!r:.300}")


def _served(method: str, path: str) -> bool:
    """Whether some route takes `method` on this concrete path (`/venues/check` is also
    `/venues/{venue_id}`)."""
    return any(route.method == method
               and re.fullmatch(_PARAM.sub("[^/]+", route.template), path) is not None
               for route in ROUTES)


def test_every_route_refuses_other_methods_with_405(stage: Stage) -> None:
    for template in sorted({route.template for route in ROUTES}):
        path = stage.path(Route("GET", template), {})
        for method in STANDARD_METHODS:
            if _served(method, path):
                continue
            answer = stage.send(method, path, [])
            _check(answer, f"{method} {template}")
            assert answer.status == 405, f"{method} {template} -> {answer.status}"
            assert json.loads(answer.body)["error"]["code"] == "method_not_allowed"


@FUZZ
@given(path=st.lists(any_text, min_size=1, max_size=4), method=st.sampled_from(STANDARD_METHODS))
def test_unknown_routes_are_404_in_the_error_shape(stage: Stage, path: list[str],
                                                   method: str) -> None:
    target = "/nowhere/" + "/".join(encode_path_segment(part) for part in path)
    answer = stage.send(method, target, [])
    _check(answer, f"{method} {target}")
    assert answer.status == 404


# --- every class of bad input on every route, deterministically -----------------------------
# Hypothesis explores combinations; these sweeps make sure each class reaches each route on
# every run, signed in as ops (the role most gates let through to the parsing behind them).

PATH_CLASSES = ["²", "١٢٣", "１２", "-1", "0", "9" * 19, "9" * 40, "1e3", " 1", "1_0", "\x00",
                "1\x00", "\ud800", "\U0001f600", "%", "a" * 3000, "1-\x00", "²-1", "9" * 30 + "-1"]
QUERY_CLASSES = ["²", "١٢٣", "-1", "9" * 19, "9" * 400, "1e400", "nan", "\x00", "rock\x00roll",
                 "\ud800", "", "0001-01-01", "9999-12-31T23:59:59-23:59", "2025-02-30",
                 "W251bGwsbnVsbF0", "WyJvZmZzZXQiLDEsMl0", "WyJcdTAwMDAiXQ",
                 "W1tbW1tbW1tbW1tbXV1dXV1dXV1dXV1d", "AAAA====", "x" * 2000]
HEADER_CLASSES: list[tuple[str, str | bytes]] = [
    ("Authorization", b"Bearer \xff\xfe"), ("Authorization", b"Bearer \xed\xa0\x80"),
    ("Authorization", "Bearer " + "x" * 7000), ("Authorization", "Basic Zm9vOmJhcg=="),
    ("X-Admission-Token", b"\xed\xa0\x80"), ("X-Admission-Token", "a.b.c"),
    ("X-Admission-Token", "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ."),
    ("Idempotency-Key", "x" * 5000), ("Idempotency-Key", b"\xff"), ("Idempotency-Key", ""),
    ("Cookie", b"a=\xff; b"), ("Cookie", '"";;;=;'), ("Content-Type", "garbage/;;;"),
    ("Content-Type", "application/json; charset=bogus"), ("Accept", b"\xff"),
    ("X-Forwarded-For", b"junk, \xff, ::::"), ("If-None-Match", b"\xff\xfe"),
    ("Last-Event-ID", "²"), ("Last-Event-ID", "١٢٣"), ("Last-Event-ID", "9" * 40),
    ("Origin", b"\xff"), ("X-Request-Id", b"\xff\x00"), ("Range", "bytes=junk"),
]
BODY_CLASSES = [b"{", b"[]", b"1", b'"x"', b"null", b"[" * 30000 + b"]" * 30000,
                b'{"a":' * 12000 + b"1" + b"}" * 12000, b"\xff\xfe", b'{"x": "\\ud800"}',
                b'{"x": "\\u0000"}', b"1e400", b'{"n": NaN}', b'{"n": ' + b"9" * 5000 + b"}",
                b"\x00", b'{"a": "' + b"x" * 60000 + b'"}']


def _sweep(stage: Stage, requests: list[tuple[str, str, list[tuple[str, str | bytes]],
                                              bytes | None]]) -> None:
    problems = []
    for method, target, headers, body in requests:
        problem = problem_with(stage.send(method, target, headers, body))
        if problem is not None:
            problems.append(f"{method} {target[:160]} {headers!r:.120} {body!r:.80} -> {problem}")
    assert not problems, "\n".join(problems[:30])


def test_every_path_class_on_every_route(stage: Stage) -> None:
    ops = [("Authorization", f"Bearer {stage.tokens['ops']}")]
    _sweep(stage, [(route.method, stage.path(route, dict.fromkeys(route.params, value)), ops,
                    b"{}" if route.method in BODY_METHODS else None)
                   for route in ROUTES if route.params for value in PATH_CLASSES])


def test_every_query_class_on_every_route(stage: Stage) -> None:
    """All documented names at once on every route, then each of a route's own parameters
    alone (so no other parameter's refusal comes first)."""
    ops = [("Authorization", f"Bearer {stage.tokens['ops']}")]
    requests: list[tuple[str, str, list[tuple[str, str | bytes]], bytes | None]] = []
    for route in ROUTES:
        path = stage.path(route, {})
        for value in QUERY_CLASSES:
            requests.append((route.method, path + "?" + "&".join(
                f"{name}={encode_path_segment(value)}" for name in QUERY_NAMES), ops, None))
            requests.extend((route.method, f"{path}?{name}={encode_path_segment(value)}", ops,
                             None) for name in QUERIES_OF.get((route.method, route.template), []))
    _sweep(stage, requests)


def test_every_header_class_on_every_route(stage: Stage) -> None:
    ops = ("Authorization", f"Bearer {stage.tokens['ops']}")
    _sweep(stage, [(route.method, stage.path(route, {}),
                    [header] if header[0] == "Authorization" else [ops, header],
                    b"{}" if route.method in BODY_METHODS else None)
                   for route in ROUTES for header in HEADER_CLASSES])


def test_every_body_class_on_every_route_that_takes_one(stage: Stage) -> None:
    ops = ("Authorization", f"Bearer {stage.tokens['ops']}")
    organizer = ("Authorization", f"Bearer {stage.tokens['organizer']}")
    _sweep(stage, [(route.method, stage.path(route, {}),
                    [caller, ("Content-Type", "application/json")], body)
                   for route in BODY_ROUTES for body in BODY_CLASSES
                   for caller in (ops, organizer)])
