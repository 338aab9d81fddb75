"""Settings from the environment (12-factor), validated once at start-up."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///closeloop.db"
# A secret that is fine for a laptop demo and refused anywhere it would matter.
DEV_SECRET = "dev-only-not-secret"
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "xxx"}


class Settings(BaseSettings):
    """Everything closeloop reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = DEV_SECRET
    # The key before the last rotation: still accepted when verifying (reply tokens live 60
    # days), never used to sign. docs/operations.md, "Rotating SECRET_KEY".
    secret_key_previous: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str | None = None
    # `closeloop web`: processes that carry out acknowledged /referral commands (0: in the web
    # process). Needs a database other processes can open; see docs/slack.md.
    slack_answer_processes: int = Field(default=0, ge=0, le=16)
    smtp_url: str | None = None
    # `closeloop worker`: SMTP connections it sends on at once, each with a dispatcher thread of
    # its own (one takes every channel, the others email only). A message waits on four round
    # trips to the relay; a second connection sends while the first waits (docs/benchmarks.md).
    smtp_connections: int = Field(default=2, ge=1, le=16)
    imap_url: str | None = None
    mail_from: str = "closeloop@localhost"
    reply_to: str | None = None
    timezone: str = "America/Chicago"
    holiday_country: str = "US"
    holiday_subdivision: str | None = "MO"
    # Unset: as the directory's `network:` section says (off unless it says otherwise).
    consent_required: bool | None = None
    user_mou_text: str | None = None
    # Unset, it follows HOST and PORT (`closeloop web --port 8080` links to port 8080).
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    trusted_authserv_id: str | None = None
    # Email replies: how long a notification can be answered, which senders are ourselves (a
    # loop), and how big an inbound message may be (attachments are never used).
    reply_token_ttl_days: int = Field(default=60, ge=1, le=3650)
    own_addresses: str = ""
    email_max_bytes: int = Field(default=4_000_000, ge=10_000)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_base_delay_seconds: float = Field(default=30.0, gt=0)
    # How long a worker holds claimed rows without renewing them: a dead worker's rows wait
    # this long (docs/reliability.md); a live one renews them every quarter of it.
    outbox_lease_seconds: float = Field(default=2.0, ge=1.0)
    outbox_log: str | None = None
    digest_time: str = "07:30"
    # Logs: `text` lines for a terminal, `json` (one object per line) for a log collector.
    log_format: Literal["text", "json"] = "text"
    # `closeloop worker` and `clock` serve their own /metrics on this port when set (the web
    # process serves /metrics on its own port).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # The web pages: how long an emailed sign-in link works, and a signed-in session lasts.
    sign_in_link_minutes: int = Field(default=15, ge=1, le=24 * 60)
    web_session_hours: int = Field(default=12, ge=1, le=24 * 30)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if not scheme.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        if scheme in ("postgres", "postgresql"):
            # The driver we ship is psycopg 3; a bare postgres:// URL means it.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: str) -> str:
        if value.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; set a long random value")
        return value

    @field_validator("secret_key_previous")
    @classmethod
    def _secret_key_previous(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.strip().lower() in PLACEHOLDER_SECRETS or value == DEV_SECRET:
            raise ValueError("is a placeholder or the development key; set the old SECRET_KEY")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a known time zone (e.g. America/Chicago)") from exc
        return value

    @field_validator("smtp_url", "imap_url", "slack_api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if not parts.scheme or not parts.hostname:
            raise ValueError("must be a URL like scheme://host")
        return value

    @field_validator("reply_to", "mail_from")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("must be an email address")
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError("must be HH:MM")
        return value

    @model_validator(mode="after")
    def _public_url(self) -> Settings:
        if not self.public_url:
            # A wildcard listen address is reached, on this machine, through the loopback.
            host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
            host = f"[{host}]" if ":" in host else host
            self.public_url = f"http://{host}:{self.port}"
        return self

    @property
    def verifying_keys(self) -> tuple[str, ...]:
        """The keys a signature is checked against: SECRET_KEY, then SECRET_KEY_PREVIOUS."""
        if self.secret_key_previous and self.secret_key_previous != self.secret_key:
            return (self.secret_key, self.secret_key_previous)
        return (self.secret_key,)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def notify_channels(self) -> tuple[str, ...]:
        """The channels notifications are written for; the console when nothing else is set."""
        channels = []
        if self.smtp_url:
            channels.append("email")
        if self.slack_bot_token:
            channels.append("slack")
        return tuple(channels) or ("console",)

    @property
    def reply_base(self) -> str:
        """The address replies go to (`replies@host`); tokens are added as `replies+TOKEN@host`."""
        return parseaddr(self.reply_to or self.mail_from)[1].lower()

    @property
    def own_address_set(self) -> frozenset[str]:
        """Senders that are closeloop itself: MAIL_FROM, REPLY_TO and OWN_ADDRESSES (commas)."""
        extra = [a for a in self.own_addresses.split(",") if a.strip()]
        found = {parseaddr(a)[1].strip().lower() for a in (self.mail_from, self.reply_base, *extra)}
        return frozenset(a for a in found if "@" in a)

    @property
    def secure_cookies(self) -> bool:
        """Cookies are marked Secure when the site is served over https."""
        return self.public_url.lower().startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        return Path(path) if path and path != ":memory:" else None


class SettingsError(Exception):
    """Start-up cannot go on: one line names the setting and what is wrong."""


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; a missing or malformed setting becomes one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"setting {name}: {message}") from None
