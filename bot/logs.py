"""Log redaction: no secret (tokens, signed links, passwords) reaches a log line, whoever logs it.

Installed as the logging record factory, so it covers every logger (ours, uvicorn's access
log, libraries') whatever handlers or formats are configured later: each record's message and
traceback are rendered once and scrubbed before any handler sees them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

REDACTED = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Email reply tokens in plus-addresses: replies+TOKEN@host.
    (re.compile(r"\+[a-z2-7]{40}@", re.IGNORECASE), f"+{REDACTED}@"),
    # Signed web sign-in links (the path is the credential).
    (re.compile(r"/sign-in/[^\s\"'?#&]+"), f"/sign-in/{REDACTED}"),
    # API bearer tokens, Slack tokens and signing secrets.
    (re.compile(r"\bcl_[A-Za-z0-9_-]{40,}"), REDACTED),
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"(?i)(bearer\s+)[^\s\"']+"), rf"\1{REDACTED}"),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE), rf"\1{REDACTED}@"),
)

_installed: Callable[..., logging.LogRecord] | None = None


def redact(text: str) -> str:
    """`text` with every secret-looking part replaced by [redacted]."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def install() -> None:
    """Scrub every log record from now on (idempotent)."""
    global _installed
    if _installed is not None:
        return
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let logging report it as it always does
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    _installed = previous
    logging.setLogRecordFactory(factory)


def uninstall() -> None:
    """Back to the record factory before `install` (tests)."""
    global _installed
    if _installed is not None:
        logging.setLogRecordFactory(_installed)
        _installed = None
