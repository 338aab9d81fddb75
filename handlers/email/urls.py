"""SMTP_URL and IMAP_URL settings parsed into connection parameters, never echoing a password."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

Security = Literal["plain", "starttls", "tls"]

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_KNOWN_OPTIONS = {"starttls", "verify"}


@dataclass(frozen=True)
class SmtpUrl:
    """Where and how to submit outgoing mail. `security` "tls" is implicit TLS (smtps)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: Security = "plain"
    verify: bool = True

    def redacted(self) -> str:
        """The URL without its password, for logs and error messages."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        return _redacted(scheme, self.username, self.host, self.port, "", self)


@dataclass(frozen=True)
class ImapUrl:
    """Which mailbox folder to read replies from. `security` "tls" is implicit TLS (imaps)."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    security: Security = "plain"
    verify: bool = True

    def redacted(self) -> str:
        """The URL without its password, for logs and error messages."""
        scheme = "imaps" if self.security == "tls" else "imap"
        return _redacted(scheme, self.username, self.host, self.port, self.folder, self)


def parse_smtp_url(url: str) -> SmtpUrl:
    """Parse `smtp://user:pass@host:587?starttls=true` or `smtps://user:pass@host`."""
    parts = _Parts.split("SMTP_URL", url, {"smtp": 25, "smtps": 465})
    if parts.path not in ("", "/"):
        raise ValueError("SMTP_URL must not have a path after the host")
    if parts.password is not None and parts.username is None:
        raise ValueError("SMTP_URL has a password but no user name")
    return SmtpUrl(
        host=parts.host,
        port=parts.port,
        username=parts.username,
        password=parts.password,
        security=parts.security,
        verify=parts.verify,
    )


def parse_imap_url(url: str) -> ImapUrl:
    """Parse `imaps://user:pass@host/INBOX` or `imap://user:pass@host:143/Folder?starttls=true`."""
    parts = _Parts.split("IMAP_URL", url, {"imap": 143, "imaps": 993})
    if parts.username is None or parts.password is None:
        raise ValueError("IMAP_URL needs a user name and a password: imaps://user:pass@host/INBOX")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapUrl(
        host=parts.host,
        port=parts.port,
        username=parts.username,
        password=parts.password,
        folder=folder,
        security=parts.security,
        verify=parts.verify,
    )


@dataclass(frozen=True)
class _Parts:
    host: str
    port: int
    username: str | None
    password: str | None
    path: str
    security: Security
    verify: bool

    @classmethod
    def split(cls, setting: str, url: str, default_ports: dict[str, int]) -> _Parts:
        schemes = " or ".join(f"{scheme}://" for scheme in default_ports)
        if "://" not in url:
            raise ValueError(f"{setting} must start with {schemes}")
        scheme = url.split("://", 1)[0].lower()
        if scheme not in default_ports:
            raise ValueError(f"{setting} must start with {schemes}, not {scheme[:10]!r}://")
        if "#" in url:
            # An unencoded '#' in a password would silently cut the URL short.
            raise ValueError(f"{setting} contains '#': URL-encode it as %23 in the password")
        split = urlsplit(url)
        try:
            port = split.port
        except ValueError:
            # urlsplit's own message quotes the text it took for a port, which can be a
            # fragment of a password with an unencoded '/' or '?' in it.
            raise ValueError(
                f"{setting} has an invalid port (a password containing '/', '?' or '@' "
                "must be URL-encoded)"
            ) from None
        host = split.hostname
        if not host:
            raise ValueError(f"{setting} has no host name")
        if port == 0:
            raise ValueError(f"{setting} has an invalid port (0)")
        username = unquote(split.username) if split.username else None
        password = unquote(split.password) if split.password is not None else None
        options = _options(setting, split.query)
        implicit_tls = scheme.endswith("s")
        starttls = options.get("starttls")
        if implicit_tls and starttls:
            raise ValueError(f"{setting}: starttls=true cannot be combined with {scheme}://")
        security: Security = "tls" if implicit_tls else ("starttls" if starttls else "plain")
        return cls(
            host=host,
            port=port or default_ports[scheme],
            username=username,
            password=password,
            path=split.path,
            security=security,
            verify=options.get("verify", True),
        )


def _options(setting: str, query: str) -> dict[str, bool]:
    options: dict[str, bool] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        key = name.lower()
        if key not in _KNOWN_OPTIONS:
            known = ", ".join(sorted(_KNOWN_OPTIONS))
            raise ValueError(f"{setting} has an unknown option {name[:20]!r} (known: {known})")
        if value.lower() in _TRUE:
            options[key] = True
        elif value.lower() in _FALSE:
            options[key] = False
        else:
            raise ValueError(f"{setting} option {key} must be true or false, not {value[:10]!r}")
    return options


def _redacted(
    scheme: str, username: str | None, host: str, port: int, folder: str, url: SmtpUrl | ImapUrl
) -> str:
    user = f"{quote(username, safe='')}@" if username else ""
    netloc_host = f"[{host}]" if ":" in host else host
    path = f"/{quote(folder)}" if folder else ""
    query = []
    if url.security == "starttls":
        query.append("starttls=true")
    if not url.verify:
        query.append("verify=false")
    suffix = f"?{'&'.join(query)}" if query else ""
    return f"{scheme}://{user}{netloc_host}:{port}{path}{suffix}"


def tls_context(verify: bool) -> ssl.SSLContext:
    """The TLS context for a mail server, SMTP or IMAP, as its URL's `verify` option asks."""
    context = ssl.create_default_context()
    if not verify:
        # Only for `?verify=false`: self-signed certificates in tests and private servers.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
