"""Build raw RFC 5322 messages for the reader's tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"
REPLY_ADDRESS = "replies@closeloop.example.org"
TOKEN = "k7q2mzx4ta3bn5vw6cy7dp2eh3fj4gk5lm6no7pq"
SUBJECT = "Re: [closeloop] R-2026-000042 new referral: Boone County"


def raw_message(
    body: str,
    *,
    headers: dict[str, str] | None = None,
    content_type: str = 'text/plain; charset="utf-8"',
    encoding: str = "8bit",
) -> bytes:
    """A reply to a notification, with `headers` added or overriding the usual ones."""
    fields = {
        "From": "Maria Lopez <maria.lopez@riverbend-supports.org>",
        "To": f"closeloop <replies+{TOKEN}@closeloop.example.org>",
        "Subject": SUBJECT,
        "Message-ID": "<reply-1@riverbend-supports.org>",
        "In-Reply-To": "<notif-42@closeloop.example.org>",
        "MIME-Version": "1.0",
        "Content-Type": content_type,
        "Content-Transfer-Encoding": encoding,
    }
    fields.update(headers or {})
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value)
    return (head + "\r\n" + body.replace("\n", "\r\n")).encode("utf-8")
