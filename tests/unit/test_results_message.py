"""The results channel's message format: one `request id TAB json` line per decision."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from workers.publish import _quoted, results_message_lines


@given(st.text())
def test_quoted_is_json_dumps(text: str) -> None:
    assert json.loads(_quoted(text)) == text
    if text.isascii() and text.isprintable():
        assert _quoted(text) == json.dumps(text)


def test_lines_split_ids_from_undecoded_json_bytes_and_text() -> None:
    items = [{"request_id": "1-ab", "status": "held", "result": {"note": "a\tb\nc"}},
             {"request_id": "1-cd", "status": "rejected"}]
    text = "\n".join(f"{item['request_id']}\t{json.dumps(item)}" for item in items)
    for data in (text, text.encode()):
        lines = results_message_lines(data)
        assert [request_id for request_id, _ in lines] == ["1-ab", "1-cd"]
        assert [json.loads(body) for _, body in lines] == items


def test_an_empty_message_has_no_lines() -> None:
    assert results_message_lines(b"") == []
