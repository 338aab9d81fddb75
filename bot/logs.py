"""Logging: redaction of secrets, and the output (text or JSON lines) with the ids of the
request, job or message each line belongs to.

Redaction is installed as the logging record factory, so it covers every logger (ours, uvicorn's
access log, libraries') whatever handlers or formats are configured later: each record's message
and traceback are rendered once and scrubbed before any handler sees them."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

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


# The ids of what the current thread or task is doing: request_id (web), job and run (clock),
# message_id (an outbox row being delivered). A contextvar follows asyncio tasks and is
# per-thread otherwise, so concurrent requests never see each other's ids.
_IDS: ContextVar[dict[str, str] | None] = ContextVar("closeloop_log_ids", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s"


@contextmanager
def bound(**ids: str) -> Iterator[None]:
    """Add ids to every log line written inside the block."""
    token = _IDS.set({**(_IDS.get() or {}), **ids})
    try:
        yield
    finally:
        _IDS.reset(token)


def current_ids() -> dict[str, str]:
    return dict(_IDS.get() or {})


class IdsFilter(logging.Filter):
    """Copies the bound ids onto each record: as fields for JSON, as a suffix for text."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _IDS.get() or {}
        for key, value in ids.items():
            setattr(record, key, value)
        record.ids = "".join(f" {k}={v}" for k, v in ids.items()) if ids else ""
        return True


class RedactedJson(JsonFormatter):
    """One JSON object per line. It renders tracebacks itself, from exc_info: they are scrubbed
    like every message."""

    def formatException(self, ei: Any) -> Any:
        rendered = super().formatException(ei)
        if isinstance(rendered, list):
            return [redact(line) for line in rendered]
        return redact(rendered)


def configure_logging(
    fmt: str = "text", level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """One handler on the root logger (uvicorn's loggers propagate to it): `json` writes one
    JSON object per line (python-json-logger), `text` one readable line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(IdsFilter())
    formatter: logging.Formatter
    if fmt == "json":
        formatter = RedactedJson(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=[*_RESERVED, "ids"],
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        # uvicorn installs its own handlers unless told not to (log_config=None); these lines
        # go through ours instead, one format for the whole process.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


_RESERVED: list[Any] = [
    "args",
    "created",
    "exc_info",
    "exc_text",
    "filename",
    "funcName",
    "levelno",
    "lineno",
    "module",
    "msecs",
    "msg",
    "pathname",
    "process",
    "processName",
    "relativeCreated",
    "stack_info",
    "thread",
    "threadName",
    "taskName",
]
