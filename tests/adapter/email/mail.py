"""Replies as mail clients write them, built from the notification a test server received."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from itertools import count

from tests.servers.smtp import ReceivedMessage

_ids = count(1)
SENT = "Monday, March 2, 2026 9:00 AM"


def message_id(domain: str = "agency.example.org") -> str:
    return f"<reply-{next(_ids)}@{domain}>"


def plain_reply(
    notice: ReceivedMessage,
    command: str,
    *,
    sender: str | None = None,
    name: str = "",
    to: str | None = None,
    headers: dict[str, str] | None = None,
    msgid: str | None = None,
) -> bytes:
    """A Gmail-style top-posted plain-text reply quoting the notification."""
    original = notice.message
    text = original.get_body(preferencelist=("plain",))
    assert text is not None
    quoted = "\n".join(f"> {line}" for line in text.get_content().splitlines())
    body = f"{command}\n\nOn Mon, Mar 2, 2026 at 9:00 AM closeloop wrote:\n{quoted}\n"
    message = _headers(notice, sender=sender, name=name, to=to, headers=headers, msgid=msgid)
    message.set_content(body)
    return message.as_bytes(policy=SMTP)


def outlook_html_reply(notice: ReceivedMessage, command: str, *, name: str) -> bytes:
    """An Outlook desktop reply: HTML only, the history under a rule and a From:/Sent: block."""
    original = notice.message
    html = original.get_body(preferencelist=("html",))
    assert html is not None
    sender = notice.rcpt_tos[0]
    body = (
        '<html><head><style>p.MsoNormal{margin:0}</style></head><body lang="EN-US">'
        f'<div class="WordSection1"><p class="MsoNormal">{command}<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        f'<p class="MsoNormal">{name}<o:p></o:p></p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">'
        f'<p class="MsoNormal"><b>From:</b> closeloop &lt;{original["From"].addresses[0].addr_spec}'
        f"&gt;<br><b>Sent:</b> {SENT}<br><b>To:</b> {name} &lt;{sender}&gt;<br>"
        f"<b>Subject:</b> {original['Subject']}<o:p></o:p></p></div>"
        f"{html.get_content()}</div></body></html>"
    )
    message = _headers(notice, sender=sender, name=name, to=None, headers=None, msgid=None)
    message["Thread-Topic"] = original["Subject"]
    message["X-Mailer"] = "Microsoft Outlook 16.0"
    message.set_content(body, subtype="html")
    return message.as_bytes(policy=SMTP)


def with_attachment(raw_reply: bytes, size: int) -> bytes:
    """The reply with a binary attachment of `size` bytes (a scanned form, say)."""

    message = message_from_bytes(raw_reply, policy=policy.default)
    assert isinstance(message, EmailMessage)
    message.add_attachment(
        bytes(range(256)) * (size // 256), maintype="application", subtype="pdf", filename="a.pdf"
    )
    return message.as_bytes(policy=SMTP)


def _headers(
    notice: ReceivedMessage,
    *,
    sender: str | None,
    name: str,
    to: str | None,
    headers: dict[str, str] | None,
    msgid: str | None,
) -> EmailMessage:
    original = notice.message
    address = sender or notice.rcpt_tos[0]
    message = EmailMessage()
    message["From"] = formataddr((name, address)) if name else address
    message["To"] = to or str(original["Reply-To"])
    message["Subject"] = f"Re: {original['Subject']}"
    message["Date"] = format_datetime(original["Date"].datetime)
    message["Message-ID"] = msgid or make_msgid(domain=address.rpartition("@")[2])
    message["In-Reply-To"] = str(original["Message-ID"])
    message["References"] = str(original["Message-ID"])
    for key, value in (headers or {}).items():
        message[key] = value
    return message
