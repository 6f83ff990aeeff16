"""Settings: defaults, parsing of every kind of variable, and errors that name the variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from api.launcher.settings import Settings, SettingsError, child_environment, unknown_variables


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.redis_prefix == "onsale"
    assert settings.data_dir == Path(".onsale-data")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert (settings.workers, settings.partitions) == (2, 8)
    assert settings.hold_ttl_seconds == 600.0
    assert settings.max_queue_depth == 5000
    assert settings.batch_max == 256
    assert settings.lease_ttl_ms == 2000
    assert (settings.log_level, settings.log_json) == ("INFO", False)
    assert settings.cors_origins == ()
    assert settings.max_body_bytes == 65536
    assert settings.demo_data is True


def test_every_kind_of_value_is_parsed() -> None:
    settings = Settings.from_env(
        {
            "ONSALE_DATABASE_URL": "postgresql+psycopg://u:p@db/onsale",
            "ONSALE_REDIS_URL": "redis://r:6379/0",
            "ONSALE_DATA_DIR": "/var/lib/onsale",
            "ONSALE_PORT": "9000",
            "ONSALE_WORKERS": "0",
            "ONSALE_HOLD_TTL_SECONDS": "90.5",
            "ONSALE_LOG_LEVEL": "debug",
            "ONSALE_LOG_JSON": "yes",
            "ONSALE_CORS_ORIGINS": "https://a.example, https://b.example,",
            "ONSALE_DEMO_DATA": "0",
        }
    )

    assert settings.database_url == "postgresql+psycopg://u:p@db/onsale"
    assert settings.redis_url == "redis://r:6379/0"
    assert settings.data_dir == Path("/var/lib/onsale")
    assert settings.port == 9000
    assert settings.workers == 0
    assert settings.hold_ttl_seconds == 90.5
    assert settings.log_level == "DEBUG"
    assert settings.log_json is True
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.demo_data is False


def test_empty_value_means_default() -> None:
    """docker-compose passes `${VAR:-}` as an empty string; that must not be an error."""
    assert Settings.from_env({"ONSALE_PORT": "", "ONSALE_DATABASE_URL": "  "}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("ONSALE_PORT", "eighty", "not a whole number"),
        ("ONSALE_PORT", "0", "at least 1"),
        ("ONSALE_PORT", "70000", "at most 65535"),
        ("ONSALE_WORKERS", "-1", "at least 0"),
        ("ONSALE_PARTITIONS", "0", "at least 1"),
        ("ONSALE_HOLD_TTL_SECONDS", "soon", "not a number"),
        ("ONSALE_HOLD_TTL_SECONDS", "nan", "not a finite number"),
        ("ONSALE_LOG_LEVEL", "LOUD", "must be one of"),
        ("ONSALE_LOG_JSON", "maybe", "not a boolean"),
        ("ONSALE_MAX_BODY_BYTES", "1.5", "not a whole number"),
        ("ONSALE_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local", "'proxy.local' is not an IP"),
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str, complaint: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})

    assert variable in str(raised.value)
    assert complaint in str(raised.value)


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_to_env_round_trips_so_children_see_what_the_parent_decided() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://postgres:@/onsale?host=%2Ftmp%2Fpg",
        redis_url="unix:///tmp/r/redis.socket?db=0",
        data_dir=Path("/tmp/data"),
        port=8181,
        hold_ttl_seconds=12.5,
        log_json=True,
        cors_origins=("https://a.example", "https://b.example"),
        demo_data=False,
    )

    assert Settings.from_env(settings.to_env()) == settings


def test_child_environment_replaces_inherited_onsale_variables() -> None:
    inherited = {"PATH": "/bin", "ONSALE_PORT": "1234", "ONSALE_TEST_PG_URL": "x"}

    environment = child_environment(Settings(port=8181), inherited)

    assert environment["PATH"] == "/bin"
    assert environment["ONSALE_PORT"] == "8181"
    assert environment["ONSALE_TEST_PG_URL"] == "x"
    assert "ONSALE_DATABASE_URL" not in environment


def test_unknown_variables_flags_typos_but_not_test_variables() -> None:
    env = {"ONSALE_WORKER": "3", "ONSALE_PORT": "1", "ONSALE_TEST_REDIS_URL": "x", "HOME": "/"}

    assert unknown_variables(env) == ["ONSALE_WORKER"]


def test_redacted_masks_url_passwords() -> None:
    settings = Settings(database_url="postgresql+psycopg://onsale:s3cret@db:5432/onsale")

    shown = settings.redacted()

    assert "s3cret" not in shown["ONSALE_DATABASE_URL"]
    assert shown["ONSALE_DATABASE_URL"] == "postgresql+psycopg://onsale:***@db:5432/onsale"


def test_ticket_signing_key_must_be_long_and_is_never_shown() -> None:
    with pytest.raises(SettingsError, match="ONSALE_TICKET_SIGNING_KEY"):
        Settings.from_env({"ONSALE_TICKET_SIGNING_KEY": "short"})

    key = "k" * 40
    settings = Settings.from_env({"ONSALE_TICKET_SIGNING_KEY": key})

    assert settings.signing_key() == key.encode()
    assert key not in repr(settings)
    assert settings.redacted()["ONSALE_TICKET_SIGNING_KEY"] == "***"


def test_links_in_mail_use_the_public_url_else_the_api_address() -> None:
    assert Settings().site_url() == "http://127.0.0.1:8080"
    assert Settings(host="::", port=9000).site_url() == "http://127.0.0.1:9000", \
        "a listen-on-everything host is no address to link to"
    public = Settings.from_env({"ONSALE_PUBLIC_URL": "https://tickets.example.com/"})
    assert public.site_url() == "https://tickets.example.com", "no double slash in links"


@pytest.mark.parametrize("raw", ["tickets.example.com", "ftp://tickets.example.com",
                                 "https://", "https://t.example/?a=1", "https://t.example/#x"])
def test_a_public_url_that_is_no_site_address_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="ONSALE_PUBLIC_URL"):
        Settings.from_env({"ONSALE_PUBLIC_URL": raw})
    assert Settings.from_env({"ONSALE_PUBLIC_URL": "https://t.example/shop/"}).site_url() == \
        "https://t.example/shop"
