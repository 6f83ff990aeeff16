"""Without ONSALE_TICKET_SIGNING_KEY, every process sharing a data directory must
derive the same ticket signing key (it is created once, then read)."""

from __future__ import annotations

import stat
from pathlib import Path

from api.launcher.settings import TICKET_SIGNING_KEY_FILE, Settings


def test_key_is_created_once_privately_and_then_shared(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "data").signing_key()
    second = Settings(data_dir=tmp_path / "data").signing_key()
    other_machine = Settings(data_dir=tmp_path / "elsewhere").signing_key()

    assert first == second
    assert len(first) == 64
    assert other_machine != first
    key_file = tmp_path / "data" / TICKET_SIGNING_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [path.name for path in key_file.parent.iterdir()] == [TICKET_SIGNING_KEY_FILE]
