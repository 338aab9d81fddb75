"""The signing key at start-up: a generated one beside an embedded database, the development
key kept to a server nobody else can reach."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from bot.settings import DEV_SECRET, Settings, SettingsError

# What the refusal tells an operator to run: any 32 random bytes will do.
MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
KEY_FILE_SUFFIX = ".secret-key"


def local_key_path(settings: Settings) -> Path | None:
    """Where the generated key of an embedded (SQLite file) database lives: beside it."""
    path = settings.sqlite_path()
    return path.with_name(path.name + KEY_FILE_SUFFIX) if path is not None else None


def with_local_key(settings: Settings) -> Settings:
    """Settings whose SECRET_KEY, when unset, is the embedded database's own random key,
    generated on first use (`make run` on a fresh clone). Other databases keep what they have."""
    if settings.secret_key != DEV_SECRET:
        return settings
    path = local_key_path(settings)
    if path is None:
        return settings
    return settings.model_copy(update={"secret_key": _read_or_create(path)})


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Only the owner may read it; O_EXCL so two processes starting at once keep one key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < 32:
            raise SettingsError(
                f"setting SECRET_KEY: the key file {path.name} beside the database is damaged; "
                "delete it (signed links and reply tokens already sent stop working) "
                "or set SECRET_KEY"
            ) from None
        return key
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key + "\n")
    return key


def refuse_development_key(settings: Settings) -> None:
    """A process started with the development key (published in the source) may only serve
    the machine it runs on: anyone could otherwise sign sign-in links and reply tokens."""
    if settings.secret_key != DEV_SECRET:
        return
    if _is_loopback(settings.host) and _is_loopback_http(settings.public_url):
        return
    raise SettingsError(
        "setting SECRET_KEY: the development key is refused when serving beyond this machine "
        f"(HOST {settings.host}, PUBLIC_URL {settings.public_url}); "
        f"make one with {MAKE_ONE} and set SECRET_KEY"
    )


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and _is_loopback(parts.hostname)
