"""A client that speaks only HTTP/1.1 over a socket, for requests no HTTP library would send
(a lone surrogate in a header, a request line of 20 KB, a `Content-Length` that lies), and
the check every answer of the API must pass: no 5xx, and every error in the error shape."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import quote

ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
READ_LIMIT_BYTES = 1 << 20


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def encode_path_segment(value: str) -> str:
    """Percent-encode anything, lone surrogates included (as their UTF-8-like bytes)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def request_bytes(method: str, target: str | bytes, headers: list[tuple[str, str | bytes]] = (),
                  body: bytes | None = None, *, content_length: bool = True) -> bytes:
    """One request, `Connection: close`, headers sent as given (str as UTF-8 with lone
    surrogates kept as their bytes, so any byte can be sent)."""
    raw_target = target if isinstance(target, bytes) else target.encode("utf-8", "surrogatepass")
    lines = [method.encode("latin-1") + b" " + raw_target + b" HTTP/1.1",
             b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
        lines.append(name.encode("latin-1") + b": " + raw)
    if body is not None and content_length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def exchange(host: str, port: int, request: bytes, *, head: bool = False,
             timeout: float = 15.0) -> Answer:
    """Send `request`, read the one answer. An event stream's answer is its head: a valid
    subscription stays open, and that it opened is all a fuzz test needs to know."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        # the server may answer and close before taking everything: then read that answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        reader = sock.makefile("rb")
        status_line = reader.readline(65536)
        if not status_line:
            raise AssertionError(f"no answer to {request[:120]!r}")
        headers: dict[str, str] = {}
        while True:
            line = reader.readline(65536)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        answer = Answer(status, headers)
        if head or status in (204, 304) or answer.content_type == "text/event-stream":
            return answer
        if "content-length" in headers:
            return Answer(status, headers, reader.read(int(headers["content-length"])))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return Answer(status, headers, _chunked(reader))
        return Answer(status, headers, reader.read(READ_LIMIT_BYTES))


def _chunked(reader: object) -> bytes:
    body = b""
    while len(body) < READ_LIMIT_BYTES:
        size_line = reader.readline(1024)  # type: ignore[attr-defined]
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        body += reader.read(size)  # type: ignore[attr-defined]
        reader.readline(16)  # type: ignore[attr-defined]
    return body


def problem_with(answer: Answer, *, head: bool = False) -> str | None:
    """What is wrong with an answer of the API to any request, or None: a 5xx is a bug, and
    an error (4xx) must be `{"error": {"code", "message", "details"}}` with a stable code.
    Successes are whatever the route serves (JSON, a page, a stream, a redirect)."""
    if answer.status >= 500:
        return f"{answer.status}: {answer.body[:300]!r}"
    if answer.status < 400 or head:
        return None
    if answer.content_type != "application/json":
        kind = answer.content_type or "no content type"
        return f"{answer.status} as {kind}: {answer.body[:200]!r}"
    try:
        document = json.loads(answer.body)
    except ValueError:
        return f"{answer.status} with a body that is not JSON: {answer.body[:200]!r}"
    error = document.get("error") if isinstance(document, dict) else None
    if set(document) != {"error"} or not isinstance(error, dict) \
            or set(error) != {"code", "message", "details"}:
        return f"{answer.status} not in the error shape: {answer.body[:200]!r}"
    if not isinstance(error["code"], str) or not ERROR_CODE.match(error["code"]) \
            or not isinstance(error["message"], str) or not isinstance(error["details"], dict):
        return f"{answer.status} with a malformed code, message or details: {answer.body[:200]!r}"
    return None
