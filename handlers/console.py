"""The console channel: prints what each person would receive (the demo, a first `make run`)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.delivery import Notification, Receipt
from bot.texts import render_email


class ConsoleTransport:
    """Writes each notification as the email it stands for, to a stream or a file."""

    def __init__(
        self, stream: TextIO | None = None, *, path: Path | None = None, public_url: str = ""
    ) -> None:
        self.stream = stream
        self.path = path
        self.public_url = public_url
        self.lock = threading.Lock()

    def deliver(self, notification: Notification) -> Receipt:
        email = render_email(notification.kind, notification.payload, public_url=self.public_url)
        block = (
            f"──── to {notification.address} ({notification.channel}) ────\n"
            f"Subject: {email.subject}\n\n{email.text}\n\n"
        )
        with self.lock:
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(block)
            else:
                (self.stream or sys.stdout).write(block)
        return Receipt(external_ref=f"console:{notification.id}")
