"""The one place onsale reads its configuration from the environment.

Every process (`onsale up` and the children it starts) builds one frozen
`Settings` at start-up; nothing else reads `os.environ`. Only the launcher reads
`Settings` (its composition roots, `api.launcher.roots`, build each process's
clients and adapters from it), and the HTTP app it creates, which carries it for
its handlers (`api.http.appkeys.SETTINGS_KEY`).
Each field maps to `ONSALE_<FIELD NAME IN CAPS>`, so adding a setting is one
line here plus a row in the README table. The supervisor hands its resolved
settings to its children through `to_env()`, so a child sees exactly what the
parent decided (embedded server URLs, `--port`, `--no-demo`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workers.gateways import GATEWAYS

ENV_PREFIX = "ONSALE_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TICKET_SIGNING_KEY_FILE = "ticket-signing.key"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """A variable has a value onsale cannot use; the message names the variable."""


def _at_least(minimum: float) -> dict[str, Any]:
    return {"min": minimum}


def _between(minimum: float, maximum: float) -> dict[str, Any]:
    return {"min": minimum, "max": maximum}


@dataclass(frozen=True)
class Settings:
    """Everything a process of onsale may be configured with. See README for each variable."""

    database_url: str | None = None
    database_read_url: str | None = None
    """A streaming replica that browse and search read from (optional); holds, sales and
    everything else use `database_url`."""
    database_max_connections: int = field(default=0, metadata=_at_least(0))
    """The connections Postgres (or PgBouncer's `max_client_conn`) allows. Set, each API
    process's pool is derived from it (engine/store/pool_budget.py); 0 keeps the default pool."""
    database_reserved_connections: int = field(default=10, metadata=_at_least(0))
    database_transaction_pooling: bool = False
    """Postgres is reached through PgBouncer in transaction mode: no prepared statements."""
    redis_url: str | None = None
    redis_prefix: str = "onsale"
    redis_max_connections: int = field(default=1000, metadata=_at_least(1))
    data_dir: Path = Path(".onsale-data")
    host: str = "127.0.0.1"
    port: int = field(default=8080, metadata=_between(1, 65535))
    api_processes: int = field(default=1, metadata=_between(1, 64))
    """API processes `onsale up` runs on the one port (SO_REUSEPORT): one can die while the
    others serve."""
    workers: int = field(default=2, metadata=_at_least(0))
    partitions: int = field(default=8, metadata=_at_least(1))
    hold_ttl_seconds: float = field(default=600.0, metadata=_at_least(1.0))
    max_queue_depth: int = field(default=5000, metadata=_at_least(1))
    batch_max: int = field(default=256, metadata=_between(1, 2000))
    """Requests per partition batch; at most 2000, as the scripts unpack two values a request
    and Lua unpacks at most ~8000."""
    lease_ttl_ms: int = field(default=2000, metadata=_at_least(100))
    log_level: str = field(default="INFO", metadata={"choices": LOG_LEVELS, "upper": True})
    log_json: bool = False
    cors_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = field(default=(), metadata={"networks": True})
    """Networks our own proxies send from: their X-Forwarded-For names the client for the
    per-IP limits (api/http/client_address.py). Empty: the header is ignored."""
    max_body_bytes: int = field(default=65536, metadata=_at_least(1))
    signups_per_ip_per_minute: int = field(default=10, metadata=_at_least(0))
    """Accounts one address may create a minute (each costs an argon2 hash); 0: no limit."""
    sign_ins_per_ip_per_minute: int = field(default=30, metadata=_at_least(0))
    """Sign-in attempts one address may make a minute; 0: no limit."""
    failed_sign_ins_per_account: int = field(default=10, metadata=_at_least(0))
    """Failed sign-ins an account takes in 15 minutes before further attempts are refused
    until the window ends; 0: no limit."""
    demo_data: bool = True
    ticket_signing_key: str | None = field(default=None, repr=False, metadata={"min_length": 32})
    mail_url: str = field(default="log", metadata={"mail_url": True})
    """Where `onsale notifier` sends fans' mail: `log`, `file:<path>` or `smtp://host[:port]`."""
    mail_from: str = "onsale <tickets@onsale.invalid>"
    public_url: str | None = field(default=None, metadata={"site_url": True})
    """The address fans open the site at (`https://tickets.example.com`), for links in their
    mail; unset: `http://{host}:{port}` (127.0.0.1 for a host of every address)."""
    payment_gateway: str = field(default="test", metadata={"choices": tuple(GATEWAYS)})
    """Which payment gateway the API (card tokens) and the payments worker talk to, by its
    name in `workers.gateways.GATEWAYS`."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read every `ONSALE_*` variable; unset or empty means the default."""
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            name = env_name(spec.name)
            raw = env.get(name, "").strip()
            if not raw:
                continue
            values[spec.name] = _parse(name, raw, hints[spec.name], spec.metadata)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The variables that make `from_env` rebuild exactly these settings in a child."""
        rendered: dict[str, str] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, tuple):
                text = ",".join(value)
            else:
                text = str(value)
            rendered[env_name(spec.name)] = text
        return rendered

    def site_url(self) -> str:
        """The address fans open the site at, without a trailing slash (links in mail)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{_reachable(self.host)}:{self.port}"

    def signing_key(self) -> bytes:
        """The secret e-ticket QR codes are signed with (an HMAC key).

        Every process that issues or checks tickets must use the same one. Set
        ONSALE_TICKET_SIGNING_KEY wherever processes do not share a data
        directory (containers); otherwise one is created on first use under
        `data_dir`, so `onsale up` and its children agree without configuration.
        """
        if self.ticket_signing_key:
            return self.ticket_signing_key.encode()
        return _load_or_create_key(self.data_dir / TICKET_SIGNING_KEY_FILE)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def redacted(self) -> dict[str, str]:
        """The settings as they may appear in logs: passwords in URLs are masked."""
        shown = self.to_env()
        for name in ("ONSALE_DATABASE_URL", "ONSALE_DATABASE_READ_URL", "ONSALE_REDIS_URL"):
            if name in shown:
                shown[name] = _mask_password(shown[name])
        if "ONSALE_TICKET_SIGNING_KEY" in shown:
            shown["ONSALE_TICKET_SIGNING_KEY"] = "***"
        return shown


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def child_environment(settings: Settings, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment for a child process: ours, with every ONSALE_ setting replaced."""
    known = {env_name(spec.name) for spec in dataclasses.fields(Settings)}
    inherited = {key: value for key, value in base.items() if key not in known}
    return {**inherited, **settings.to_env()}


def unknown_variables(env: Mapping[str, str] = os.environ) -> list[str]:
    """`ONSALE_*` variables no setting reads (usually a typo); test-only ones are ignored."""
    known = {env_name(spec.name) for spec in dataclasses.fields(Settings)}
    return sorted(
        key
        for key in env
        if key.startswith(ENV_PREFIX) and key not in known and not key.startswith("ONSALE_TEST_")
    )


def _reachable(host: str) -> str:
    """A host to link to: loopback for a host that means every address."""
    try:
        unspecified = not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a name, not an address
        unspecified = False
    return "127.0.0.1" if unspecified else host


def _parse(name: str, raw: str, annotation: Any, rules: Mapping[str, Any]) -> Any:
    target = _without_none(annotation)
    parser = _PARSERS.get(target)
    if parser is None:
        raise TypeError(f"Settings has no parser for {name} ({annotation!r})")
    try:
        value = parser(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}") from None
    return _checked(name, raw, value, rules)


def _checked(name: str, raw: str, value: Any, rules: Mapping[str, Any]) -> Any:
    if rules.get("upper"):
        value = value.upper()
    choices = rules.get("choices")
    if choices is not None and value not in choices:
        raise SettingsError(f"{name}={raw!r}: must be one of {', '.join(choices)}")
    if rules.get("networks"):
        try:
            parse_networks(value)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r}: {exc}") from None
    if rules.get("mail_url"):
        from workers.mailers import parse_mail_url

        try:
            parse_mail_url(value)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r}: {exc}") from None
    if rules.get("site_url"):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
                or parts.fragment:
            raise SettingsError(f"{name}={raw!r}: must be an http(s) address such as"
                                " https://tickets.example.com (no query or fragment)")
    min_length = rules.get("min_length")
    if min_length is not None and len(value) < min_length:
        raise SettingsError(f"{name}: must be at least {min_length} characters long")
    minimum, maximum = rules.get("min"), rules.get("max")
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={raw!r}: must be at most {maximum}")
    return value


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Each item a network (`10.0.0.0/8`) or an address; ValueError names a bad one."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return tuple(networks)


def _without_none(annotation: Any) -> Any:
    """`str | None` -> `str`: an unset optional variable never reaches the parser."""
    if isinstance(annotation, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None


def _parse_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return value


def _parse_bool(raw: str) -> bool:
    word = raw.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError("not a boolean (use true/false, yes/no, on/off or 1/0)")


def _parse_csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


_PARSERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: _parse_int,
    float: _parse_float,
    bool: _parse_bool,
    Path: Path,
    tuple[str, ...]: _parse_csv,
}


def _load_or_create_key(path: Path) -> bytes:
    """Read the key file, creating it first if absent; safe when several processes race.

    The new key is written to a private temporary file and hard-linked into
    place, so a reader never sees a half-written key and the first writer wins.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip().encode()


def _mask_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, at, location = rest.rpartition("@")
    user, colon, password = credentials.partition(":")
    if not colon or not password:
        return url
    return f"{scheme}://{user}:***{at}{location}"
