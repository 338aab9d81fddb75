"""An outbox row as the email one recipient gets: texts, HTML, signed Reply-To, thread headers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Notification
from bot.email_texts import EmailTexts
from bot.settings import Settings
from bot.texts import render
from handlers.email.smtp import RenderedEmail
from handlers.email.tokens import make_token, reply_address
from storage.db import transaction
from storage.models import OutboxMessage
from storage.types import utcnow

# Mail clients only need the recent part of a thread; a References header stays short.
MAX_REFERENCES = 20


class EmailRenderer:
    """Renders a notification for SmtpTransport (its `render` callable)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
        self._clock = sessions.kw.get("info", {}).get("clock") or utcnow
        self._reply_base = settings.reply_base
        # Threads of the batch being delivered (prepare), by outbox row id.
        self._threads: dict[int, list[str]] = {}
        # A fanout's 3,000 emails share their content but for a name or two: rendered once.
        self._texts = EmailTexts()

    def prepare(self, notes: Sequence[Notification]) -> None:
        """Look up the threads of a whole claimed batch in one query (SmtpTransport.prepare).

        A row that follows another of the batch in the same thread (one person, one referral)
        answers that one too: its Message-ID is known before it is sent (`message_id`), so the
        batch can be rendered ahead of the sends."""
        with transaction(self._sessions) as session:
            found = threads(session, notes)
        earlier: dict[tuple[int, str], list[str]] = {}
        for note in notes:
            if note.referral_id is None or note.channel != "email":
                continue
            before = earlier.setdefault((note.referral_id, note.address), [])
            found[note.id] = [*found[note.id], *before]
            before.append(message_id(note, self._domain))
        self._threads = found

    def __call__(self, note: Notification) -> RenderedEmail:
        texts = self._texts(note.kind, note.payload, public_url=self._settings.public_url)
        thread = self._threads.pop(note.id, None)
        if thread is None:
            with transaction(self._sessions) as session:
                thread = threads(session, [note])[note.id]
        moment = self._clock()
        answering = note.payload.get("in_reply_to")
        if isinstance(answering, str) and answering:
            thread = [*thread, answering]
        return RenderedEmail(
            subject=texts.subject,
            text=texts.text + "\n",
            html=(texts.html or generic_html(texts.text)) + "\n",
            reply_to=self.reply_to(note, moment),
            message_id=message_id(note, self._domain),
            in_reply_to=thread[-1] if thread else None,
            references=thread[-MAX_REFERENCES:],
        )

    def reply_to(self, note: Notification, issued: datetime) -> str | None:
        """`replies+TOKEN@host` naming the recipient and the referral (or, for messages about
        no single referral, this outbox row); None for addresses that are not staff."""
        if note.staff_id is None:
            return None
        kind, subject = ("r", note.referral_id) if note.referral_id is not None else ("d", note.id)
        token = make_token(
            self._settings.secret_key,
            staff_id=note.staff_id,
            subject_kind=kind,
            subject_id=subject,
            issued=issued,
            ttl_days=self._settings.reply_token_ttl_days,
        )
        return reply_address(self._reply_base, token)


def threads(session: Session, notes: Sequence[Notification]) -> dict[int, list[str]]:
    """For each row: Message-IDs of the earlier emails about its referral to its address,
    oldest first (one query for the lot)."""
    found: dict[int, list[str]] = {note.id: [] for note in notes}
    about = [note for note in notes if note.referral_id is not None]
    if not about:
        return found
    sent = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.referral_id,
            OutboxMessage.address,
            OutboxMessage.external_ref,
        )
        .where(
            OutboxMessage.referral_id.in_({note.referral_id for note in about}),
            OutboxMessage.address.in_({note.address for note in about}),
            OutboxMessage.channel == "email",
            OutboxMessage.status == "sent",
            OutboxMessage.external_ref.is_not(None),
        )
        .order_by(OutboxMessage.id)
    ).all()
    earlier: dict[tuple[int | None, str], list[tuple[int, str]]] = {}
    for row_id, referral_id, address, ref in sent:
        if ref:
            earlier.setdefault((referral_id, address), []).append((row_id, ref))
    for note in about:
        before = earlier.get((note.referral_id, note.address), [])
        found[note.id] = [ref for row_id, ref in before if row_id != note.id]
    return found


def message_id(note: Notification, domain: str) -> str:
    """The same id on every attempt at one row, so a resend after a crash is seen as a copy."""
    digest = hashlib.sha256(note.key.encode("utf-8")).hexdigest()[:16]
    return f"<closeloop.{note.id}.{digest}@{domain}>"


def generic_html(text: str) -> str:
    """The plain text as HTML paragraphs, for kinds without an HTML template of their own."""
    body = text.split("\n-- \n", 1)[0]  # the layout has its own signature
    paragraphs = [p.strip("\n") for p in body.split("\n\n") if p.strip()]
    return render("email/_generic.html", paragraphs=paragraphs)
