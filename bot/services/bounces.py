"""Bounced email: stop writing to an address that does not deliver, and tell the admins."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from bot.actors import staff_by_email
from bot.audit import record
from bot.domain.vocab import Channel
from bot.notify import network_admins, notify


def mark_email_bouncing(
    session: Session, *, addresses: Iterable[str], channel: Channel = Channel.EMAIL
) -> list[str]:
    """Mark the staff behind bounced `addresses` as bouncing (bot.notify.addresses then skips
    them); each admin is told once per newly marked person. Returns the newly marked addresses."""
    marked: list[str] = []
    for address in dict.fromkeys(a.strip().lower() for a in addresses if a.strip()):
        staff = staff_by_email(session, address)
        if staff is None or staff.email_bouncing:
            continue
        staff.email_bouncing = True
        event = record(
            session, actor=None, channel=channel, action="email_bouncing", staff=staff.email
        )
        notify(
            session,
            event=event,
            kind="email_bouncing",
            people=network_admins(session),
            payload={"person": staff.name, "address": staff.email},
            skip_staff_id=staff.id,
        )
        marked.append(staff.email)
    return marked
