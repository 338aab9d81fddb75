"""The email transport: one SMTP message per notification over one reused connection."""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from bot.delivery import DeliveryError, Notification, Receipt
from handlers.email import mime
from handlers.email.urls import SmtpUrl, tls_context

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedEmail:
    """A notification rendered for one recipient; threading ids include their angle brackets."""

    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = ()


class SmtpTransport:
    """Delivers notifications by SMTP; implements bot.delivery.Transport.

    One connection is kept open between deliveries (the dispatcher sends in bursts) and is
    checked with NOOP when it has been idle, because servers close idle sessions on their own.
    """

    def __init__(
        self,
        url: SmtpUrl,
        *,
        mail_from: str,
        render: Callable[[Notification], RenderedEmail],
        timeout: float = 30.0,
        idle_check_seconds: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        envelope_from = parseaddr(mail_from)[1]
        if "@" not in envelope_from:
            raise ValueError(f"MAIL_FROM must be an email address, not {mail_from!r}")
        self._url = url
        self._mail_from = mail_from
        name = parseaddr(mail_from)[0]
        self._from_header = mime.header("From", formataddr((name, envelope_from), "utf-8"))
        self._envelope_from = envelope_from
        self._domain = envelope_from.rpartition("@")[2]
        self._render = render
        self._timeout = timeout
        self._idle_check_seconds = idle_check_seconds
        self._ssl_context = ssl_context or tls_context(url.verify)
        self._local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0
        # The dispatcher may share one transport between threads; SMTP sessions are sequential.
        self._lock = threading.Lock()
        # The batch's order (prepare) and the next message, written ahead (`_ahead`).
        self._following: dict[int, Notification] = {}
        self._composed: tuple[int, tuple[bytes, str]] | None = None

    def deliver(self, notification: Notification) -> Receipt:
        with self._lock:
            raw, message_id = self._take(notification) or self.compose(notification)
            self._send(raw, notification.address, lambda: self._ahead(notification))
        return Receipt(external_ref=message_id)

    def prepare(self, notifications: Sequence[Notification]) -> None:
        """Before a batch: the renderer looks up what it needs for all of it at once, and each
        message is written while the server reads the one before it (`_ahead`)."""
        prepare = getattr(self._render, "prepare", None)
        if prepare is not None:
            prepare(notifications)
        with self._lock:
            self._following = {a.id: b for a, b in itertools.pairwise(notifications)}
            self._composed = None

    def _ahead(self, sending: Notification) -> None:
        """Compose the message after `sending` in its batch, while the server takes `sending`:
        the same thread that waits for the server's reply, so no other thread competes with
        the sending one for the interpreter (a helper thread did, and slowed every reply)."""
        following = self._following.pop(sending.id, None)
        if following is None:
            return
        try:
            self._composed = (following.id, self.compose(following))
        except Exception:  # composed again when its turn comes, and fails there, for that row
            self._composed = None

    def _take(self, notification: Notification) -> tuple[bytes, str] | None:
        composed, self._composed = self._composed, None
        if composed is not None and composed[0] == notification.id:
            return composed[1]
        return None

    def compose(self, notification: Notification) -> tuple[bytes, str]:
        """The message `deliver` sends for this notification, and its Message-ID."""
        rendered = self._render(notification)
        message_id = rendered.message_id or make_msgid(domain=self._domain)
        head = [
            self._from_header,
            mime.header("To", notification.address),
            mime.header("Subject", rendered.subject),
            mime.header("Date", formatdate(usegmt=True)),
            mime.header("Message-ID", message_id),
            # RFC 3834: tells well-behaved responders not to send out-of-office replies to us.
            b"Auto-Submitted: auto-generated\r\n",
            # Exchange ignores Auto-Submitted for its own auto-replies but honours this.
            b"X-Auto-Response-Suppress: All\r\n",
        ]
        if rendered.reply_to:
            head.append(mime.header("Reply-To", rendered.reply_to))
        if rendered.in_reply_to:
            head.append(mime.header("In-Reply-To", rendered.in_reply_to))
        if rendered.references:
            head.append(mime.id_list("References", rendered.references))
        return mime.compose(b"".join(head), rendered.text, rendered.html), message_id

    def close(self) -> None:
        with self._lock:
            self._disconnect(polite=True)

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, message: bytes, recipient: str, meanwhile: Callable[[], None]) -> None:
        reused = self._smtp is not None and self._alive()
        try:
            self._send_once(message, recipient, meanwhile)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._disconnect(polite=False)
            if not reused:
                raise self._gone() from exc
            # A reused connection can have been closed by the server since the last check.
            # Resending once is safe enough: a disconnect after the server took the message but
            # before its reply could duplicate it, and the outbox is at-least-once anyway.
            logger.info("SMTP connection to %s was closed; reconnecting", self._where())
            try:
                self._send_once(message, recipient, meanwhile)
            except (smtplib.SMTPServerDisconnected, OSError) as again:
                self._disconnect(polite=False)
                raise self._gone() from again

    def _gone(self) -> DeliveryError:
        return DeliveryError(f"SMTP server {self._where()} closed the connection", unreachable=True)

    def _send_once(self, message: bytes, recipient: str, meanwhile: Callable[[], None]) -> None:
        smtp = self._connection()
        try:
            send_one(smtp, self._envelope_from, recipient, message, meanwhile)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(recipient, (0, b""))
            raise _refusal(f"recipient {recipient} refused", code, reply) from None
        except smtplib.SMTPSenderRefused as exc:
            # A sender problem is our configuration, not this message: keep it for a retry.
            raise DeliveryError(
                f"sender {self._envelope_from} refused by {self._where()}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPDataError as exc:
            raise _refusal("message refused", exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            closing = exc.smtp_code == 421
            if closing:
                # 421: the server is closing the session; the next delivery must reconnect.
                self._disconnect(polite=False)
            raise DeliveryError(
                f"SMTP server {self._where()} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                unreachable=closing,
            ) from None
        self._last_used = time.monotonic()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        url = self._url
        try:
            smtp: smtplib.SMTP
            if url.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    url.host,
                    url.port,
                    local_hostname=self._local_hostname,
                    timeout=self._timeout,
                    context=self._ssl_context,
                )
            else:
                smtp = smtplib.SMTP(
                    url.host, url.port, local_hostname=self._local_hostname, timeout=self._timeout
                )
            try:
                smtp.ehlo()
                if url.security == "starttls":
                    smtp.starttls(context=self._ssl_context)
                    smtp.ehlo()
                if url.username is not None:
                    smtp.login(url.username, url.password or "")
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            # Fixing the credentials lets queued mail go out, so this stays retryable.
            raise DeliveryError(
                f"SMTP login to {url.redacted()} failed: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"SMTP server {url.redacted()}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP server {url.redacted()} answered {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to SMTP server {url.redacted()}: {exc}", unreachable=True
            ) from None
        self._smtp = smtp
        self._last_used = time.monotonic()
        return smtp

    def _alive(self) -> bool:
        """False, after dropping it, when an idle connection no longer answers NOOP."""
        if self._smtp is None:
            return False
        if time.monotonic() - self._last_used < self._idle_check_seconds:
            return True
        try:
            code, _ = self._smtp.noop()
        except (OSError, smtplib.SMTPException):
            code = 0
        if code == 250:
            self._last_used = time.monotonic()
            return True
        self._disconnect(polite=False)
        return False

    def _disconnect(self, *, polite: bool) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if polite:
            try:
                smtp.quit()
                return
            except (OSError, smtplib.SMTPException):
                pass
        smtp.close()

    def _where(self) -> str:
        return f"{self._url.host}:{self._url.port}"


def send_one(
    smtp: smtplib.SMTP,
    sender: str,
    recipient: str,
    message: bytes,
    meanwhile: Callable[[], None],
) -> None:
    """smtplib's `sendmail` for one recipient, raising the same exceptions, with `meanwhile`
    called where it would only wait: after the message is sent, before the server's verdict on
    it (the transport writes the next message then)."""
    smtp.ehlo_or_helo_if_needed()
    # An address outside ASCII needs SMTPUTF8, which the server must offer.
    options = ["SMTPUTF8"] if not recipient.isascii() else []
    if options:
        code, reply = smtp.mail(sender, options)
    else:
        smtp.putcmd("mail", f"FROM:{quoted(sender)}")
        code, reply = smtp.getreply()
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    smtp.putcmd("rcpt", f"TO:{quoted(recipient)}")
    code, reply = smtp.getreply()
    if code not in (250, 251):
        _abandon(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    smtp.send(mime.dot_stuffed(message) + b".\r\n")
    meanwhile()
    code, reply = smtp.getreply()
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


# A bare RFC 5322 dot-atom address, as staff addresses and our sender are.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def quoted(address: str) -> str:
    """smtplib's `quoteaddr` (what `mail` and `rcpt` send): `<address>`. A bare dot-atom address
    parses to itself, so it skips the email package's full address parser, a tenth of the
    sending thread's CPU for two addresses a message; anything else still goes through it."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _abandon(smtp: smtplib.SMTP, code: int) -> None:
    """End the mail transaction as `sendmail` does: a 421 closes the session, else RSET."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _refusal(what: str, code: int, reply: bytes | str) -> DeliveryError:
    # 5xx is the server's final word on this message; 4xx may succeed later.
    return DeliveryError(f"{what}: {code} {_text(reply)}", permanent=500 <= code < 600)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
