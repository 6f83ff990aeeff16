"""Requests aiohttp's HTTP parser refuses before any handler runs (a request line or header
too long, too many headers, bad syntax, lying lengths) are answered in the error shape with
a stable code, by the server `onsale api` runs (ApiRunner), never in aiohttp's plain text."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.http.errors import MAX_HEADER_FIELD_BYTES, MAX_HEADERS, MAX_REQUEST_LINE_BYTES
from tests.e2e.conftest import LiveServer
from tests.support.raw_http import exchange, problem_with, request_bytes

pytestmark = pytest.mark.e2e

CASES: list[tuple[str, bytes, int, str]] = [
    ("request line too long",
     request_bytes("GET", "/events?q=" + "a" * MAX_REQUEST_LINE_BYTES), 414,
     "request_line_too_long"),
    ("header value too long",
     request_bytes("GET", "/healthz", [("X-Big", "a" * (MAX_HEADER_FIELD_BYTES + 10))]), 431,
     "request_header_too_large"),
    ("header name too long",
     request_bytes("GET", "/healthz", [("X" * (MAX_HEADER_FIELD_BYTES + 10), "1")]), 431,
     "request_header_too_large"),
    ("too many headers",
     request_bytes("GET", "/healthz", [(f"X-{n}", "1") for n in range(MAX_HEADERS + 5)]), 431,
     "request_header_too_large"),
    ("not HTTP", b"GARBAGE\r\n\r\n", 400, "malformed_request"),
    ("TLS on the HTTP port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40, 400,
     "malformed_request"),
    ("unknown method", request_bytes("FOO", "/healthz"), 400, "malformed_request"),
    ("no Host header", b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 400,
     "malformed_request"),
    ("HTTP/9.9", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "malformed_request"),
    ("NUL in the target", b"GET /health\x00z HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "malformed_request"),
    ("raw non-ASCII in the target", request_bytes("GET", "/events/²"), 400, "malformed_request"),
    ("space in the target", request_bytes("GET", "/events/ 1"), 400, "malformed_request"),
    ("two Content-Lengths",
     b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
     400, "malformed_request"),
    ("negative Content-Length",
     request_bytes("POST", "/auth/login", [("Content-Length", "-1")], b"{}",
                   content_length=False), 400, "malformed_request"),
    ("Content-Length overflow",
     request_bytes("POST", "/auth/login", [("Content-Length", "9" * 30)], b"{}",
                   content_length=False), 400, "malformed_request"),
    ("bad Transfer-Encoding",
     request_bytes("POST", "/auth/login", [("Transfer-Encoding", "chunked, gzip")], b"{}"), 400,
     "malformed_request"),
    ("bad chunk size",
     request_bytes("POST", "/auth/login", [("Transfer-Encoding", "chunked"),
                                           ("Content-Type", "application/json")],
                   b"zz\r\n{}\r\n0\r\n\r\n", content_length=False), 400, "malformed_request"),
    ("gzip that is not",
     request_bytes("POST", "/auth/login", [("Content-Encoding", "gzip"),
                                           ("Content-Type", "application/json")], b"abcd"), 400,
     "malformed_request"),
    ("header without a colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400,
     "malformed_request"),
    ("obsolete line folding", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400,
     "malformed_request"),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "malformed_request"),
]


@pytest.mark.parametrize(("request_data", "status", "code"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_what_the_parser_refuses_is_a_json_4xx_with_a_stable_code(
        live_server: LiveServer, request_data: bytes, status: int, code: str) -> None:
    answer = exchange(live_server.host, live_server.port, request_data)

    assert problem_with(answer) is None, problem_with(answer)
    assert answer.status == status
    assert json.loads(answer.body)["error"]["code"] == code


def test_limits_leave_room_for_real_requests(live_server: LiveServer) -> None:
    """Just under each limit is still served: the limits refuse only abuse."""
    line = request_bytes("GET", "/healthz?pad=" + "a" * (MAX_REQUEST_LINE_BYTES - 40))
    header = request_bytes("GET", "/healthz", [("X-Pad", "a" * (MAX_HEADER_FIELD_BYTES - 20))])
    for request in (line, header):
        assert exchange(live_server.host, live_server.port, request).status == 200


no_line_breaks = st.binary(max_size=200).map(
    lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(method=st.one_of(st.sampled_from([b"GET", b"POST", b"DELETE"]), no_line_breaks),
       target=st.one_of(no_line_breaks, no_line_breaks.map(lambda raw: b"/events/" + raw)),
       version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2", b""]),
       headers=st.lists(st.tuples(no_line_breaks, no_line_breaks), max_size=4))
def test_any_request_head_is_answered_in_the_error_shape(
        live_server: LiveServer, method: bytes, target: bytes, version: bytes,
        headers: list[tuple[bytes, bytes]]) -> None:
    head = method + b" " + target + b" " + version + b"\r\nHost: x\r\nConnection: close\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    answer = exchange(live_server.host, live_server.port, head + b"\r\n",
                      head=method == b"HEAD")

    assert problem_with(answer, head=method == b"HEAD") is None, (head, problem_with(answer))
