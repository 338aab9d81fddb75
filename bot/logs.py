"""Logging set-up: text or JSON lines, each carrying the request, job or message it belongs to."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

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


def configure_logging(
    fmt: str = "text", level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """One handler on the root logger (uvicorn's loggers propagate to it): `json` writes one
    JSON object per line (python-json-logger), `text` one readable line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(IdsFilter())
    formatter: logging.Formatter
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        formatter = JsonFormatter(
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
