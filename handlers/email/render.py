"""An outbox row as the email one recipient gets: texts, HTML, signed Reply-To, thread headers."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.context import now
from bot.delivery import Notification
from bot.settings import Settings
from bot.texts import render, render_email
from handlers.email.smtp import RenderedEmail
from handlers.email.tokens import make_token, reply_address
from storage.db import transaction
from storage.models import OutboxMessage

# Mail clients only need the recent part of a thread; a References header stays short.
MAX_REFERENCES = 20


class EmailRenderer:
    """Renders a notification for SmtpTransport (its `render` callable)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"

    def __call__(self, note: Notification) -> RenderedEmail:
        texts = render_email(note.kind, note.payload, public_url=self._settings.public_url)
        with transaction(self._sessions) as session:
            thread = self._thread(session, note)
            moment = now(session)
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
        return reply_address(self._settings.reply_base, token)

    @staticmethod
    def _thread(session: Session, note: Notification) -> list[str]:
        """Message-IDs of the earlier emails about this referral to this address, oldest first."""
        if note.referral_id is None:
            return []
        refs = session.scalars(
            select(OutboxMessage.external_ref)
            .where(
                OutboxMessage.referral_id == note.referral_id,
                OutboxMessage.address == note.address,
                OutboxMessage.channel == "email",
                OutboxMessage.status == "sent",
                OutboxMessage.external_ref.is_not(None),
                OutboxMessage.id != note.id,
            )
            .order_by(OutboxMessage.id)
        ).all()
        return [ref for ref in refs if ref]


def message_id(note: Notification, domain: str) -> str:
    """The same id on every attempt at one row, so a resend after a crash is seen as a copy."""
    digest = hashlib.sha256(note.key.encode("utf-8")).hexdigest()[:16]
    return f"<closeloop.{note.id}.{digest}@{domain}>"


def generic_html(text: str) -> str:
    """The plain text as HTML paragraphs, for kinds without an HTML template of their own."""
    body = text.split("\n-- \n", 1)[0]  # the layout has its own signature
    paragraphs = [p.strip("\n") for p in body.split("\n\n") if p.strip()]
    return render("email/_generic.html", paragraphs=paragraphs)
