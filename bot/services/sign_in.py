"""Web sign-in by emailed link: request a link, use it once to open a session, sign out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actors import actor_for, staff_by_email
from bot.audit import record
from bot.context import now, settings_of, today
from bot.domain.permissions import Actor, require_may_act
from bot.domain.vocab import Channel
from bot.errors import Forbidden, InvalidInput, UserError
from bot.notify import enqueue
from bot.signing import BadSignature, new_nonce, sign, unsign
from storage.db import insert
from storage.models import AuditEvent, Staff, WebSession

LINK_PURPOSE = "web-sign-in-link"
# At most this many links per person in any quarter of an hour: enough for a lost email or two.
LINKS_PER_WINDOW = 3
_LINK_WINDOW = timedelta(minutes=15)
SESSION_PURPOSE = "web-session"
ASK_AGAIN = "Ask for a new link on the sign-in page."


class SignInRefused(UserError):
    """A sign-in link that cannot be used: not ours, expired, or used already."""

    status = 400


class SignedOut(UserError):
    """No live web session: never signed in, signed out, or the session is too old."""

    status = 401


@dataclass(frozen=True)
class LinkHolder:
    """Whom a valid, unused sign-in link is for."""

    staff_id: int
    name: str
    email: str


@dataclass(frozen=True)
class Started:
    """A session opened by a sign-in link: the signed cookie value that names it."""

    cookie: str
    staff_id: int
    # The yearly user MOU has lapsed: the person is sent to sign it first.
    needs_agreement: bool = False


def request_sign_in(session: Session, *, email: str) -> bool:
    """Write a one-time sign-in link to the outbox when the address is an active staff member's.

    True when a link was written; callers must answer the same either way, so that the page
    does not tell who has an account.
    """
    address = email.strip()
    if "@" not in address or len(address) > 254 or any(ch.isspace() for ch in address):
        raise InvalidInput(
            "That is not an email address.",
            field="email",
            hint="Enter the work email address your agency registered, e.g. name@agency.org.",
        )
    staff = staff_by_email(session, address)
    if staff is None or not staff.active:
        return False
    settings = settings_of(session)
    issued = now(session)
    if _links_sent_lately(session, staff.id, since=issued - _LINK_WINDOW) >= LINKS_PER_WINDOW:
        # Anyone can type an address: without a limit, a page reload in a loop would fill the
        # person's inbox. Withheld links are audited for the security officer.
        record(
            session,
            actor=None,
            channel=Channel.WEB,
            action="sign_in_link_withheld",
            staff_id=staff.id,
        )
        return False
    nonce = new_nonce()
    token = sign(
        settings.secret_key, LINK_PURPOSE, str(staff.id), nonce, str(int(issued.timestamp()))
    )
    # No actor: anyone can type an address, and that must not count as the person's activity.
    event = record(
        session, actor=None, channel=Channel.WEB, action="sign_in_link_sent", staff_id=staff.id
    )
    # A sign-in link goes by email (the console in a demo), never to a Slack DM; and it carries
    # no reply token (staff_id None): there is nothing to answer.
    channel = "email" if "email" in settings.notify_channels else "console"
    enqueue(
        session,
        key=f"sign_in_link:e{event.id}:{nonce}",
        channel=channel,
        kind="sign_in_link",
        address=staff.email,
        staff_id=None,
        referral_id=None,
        payload={
            "recipient_name": staff.name,
            "link": f"{settings.public_url.rstrip('/')}/sign-in/{token}",
            "minutes": settings.sign_in_link_minutes,
        },
    )
    return True


def _links_sent_lately(session: Session, staff_id: int, *, since: datetime) -> int:
    """How many sign-in links this person was sent since then (the audit trail's recent rows,
    found by the index on their time)."""
    details = session.scalars(
        select(AuditEvent.detail).where(
            AuditEvent.at > since, AuditEvent.action == "sign_in_link_sent"
        )
    )
    return sum(1 for detail in details if detail.get("staff_id") == staff_id)


def check_sign_in_link(session: Session, *, token: str) -> LinkHolder:
    """Whom the link is for, if it is ours, in time and unused (nothing is changed)."""
    staff, nonce = _link(session, token)
    _refuse_used(session, nonce)
    return LinkHolder(staff.id, staff.name, staff.email)


def complete_sign_in(session: Session, *, token: str) -> Started:
    """Use the link (once) and open a web session; the person is checked like on any channel."""
    staff, nonce = _link(session, token)
    started = now(session)
    values = {"nonce": nonce, "staff_id": staff.id, "started_at": started}
    # The unique nonce is the whole single-use guarantee, even for two clicks at once.
    added = session.execute(
        insert(session, WebSession)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(WebSession.id)
    ).scalar()
    if added is None:
        _refuse_used(session, nonce)
    # Removed access is refused here; a lapsed user MOU is not, so that the person can reach
    # the one page where it is signed again (every other page still refuses them).
    if not staff.active:
        actor_for(session, staff)
    actor = actor_for(session, staff, check=False)
    record(session, actor=actor, channel=Channel.WEB, action="signed_in")
    settings = settings_of(session)
    cookie = sign(
        settings.secret_key, SESSION_PURPOSE, str(staff.id), nonce, str(int(started.timestamp()))
    )
    try:
        require_may_act(actor, today(session))
        lapsed = False
    except Forbidden:
        lapsed = True
    return Started(cookie=cookie, staff_id=staff.id, needs_agreement=lapsed)


def session_actor(session: Session, *, cookie: str | None) -> Actor:
    """The signed-in person as an Actor, re-checked now: an account made inactive (or a lapsed
    user MOU) is refused at once, and revoked roles are gone from the Actor."""
    row = _live_session(session, cookie)
    staff = session.get(Staff, row.staff_id)
    if staff is None:  # pragma: no cover - staff rows are deactivated, not deleted
        raise SignedOut("Please sign in.")
    return actor_for(session, staff)


def session_staff(session: Session, *, cookie: str | None) -> Staff:
    """The signed-in person, not yet checked for a lapsed user MOU: the one page that lets
    them sign it again. An account whose access was removed is still refused."""
    row = _live_session(session, cookie)
    staff = session.get(Staff, row.staff_id)
    if staff is None:  # pragma: no cover - staff rows are deactivated, not deleted
        raise SignedOut("Please sign in.")
    if not staff.active:
        actor_for(session, staff)  # raises the usual refusal, naming the day
    return staff


def end_session(session: Session, *, cookie: str | None) -> None:
    """Sign out: the session cookie stops working at once, wherever it was copied to."""
    try:
        row = _live_session(session, cookie)
    except SignedOut:
        return
    row.ended_at = now(session)
    staff = session.get(Staff, row.staff_id)
    if staff is not None:
        record(
            session,
            actor=actor_for(session, staff, check=False),
            channel=Channel.WEB,
            action="signed_out",
        )


def _link(session: Session, token: str) -> tuple[Staff, str]:
    settings = settings_of(session)
    try:
        staff_id, nonce, issued = unsign(settings.verifying_keys, LINK_PURPOSE, token, count=3)
        issued_at = datetime.fromtimestamp(int(issued), UTC)
        staff = session.get(Staff, int(staff_id))
    except (BadSignature, ValueError):
        staff = None
    if staff is None:
        raise SignInRefused(
            "This sign-in link is not one we sent: it may have been cut or changed by your "
            "email program.",
            field="link",
            hint="Copy the whole link from the email, or " + ASK_AGAIN[0].lower() + ASK_AGAIN[1:],
        )
    lifetime = timedelta(minutes=settings.sign_in_link_minutes)
    if now(session) - issued_at > lifetime:
        raise SignInRefused(
            f"This sign-in link has expired: links work for {settings.sign_in_link_minutes} "
            "minutes.",
            field="link",
            hint=ASK_AGAIN,
        )
    return staff, nonce


def _refuse_used(session: Session, nonce: str) -> None:
    if session.scalar(select(WebSession.id).where(WebSession.nonce == nonce)) is not None:
        raise SignInRefused(
            "This sign-in link was already used: each link opens one session only.",
            field="link",
            hint=ASK_AGAIN,
        )


def _live_session(session: Session, cookie: str | None) -> WebSession:
    if not cookie:
        raise SignedOut("Please sign in.")
    settings = settings_of(session)
    try:
        staff_id, nonce, _started = unsign(
            settings.verifying_keys, SESSION_PURPOSE, cookie, count=3
        )
        wanted = int(staff_id)
    except (BadSignature, ValueError):
        raise SignedOut("Please sign in.") from None
    row = session.scalar(
        select(WebSession).where(WebSession.nonce == nonce, WebSession.staff_id == wanted)
    )
    if row is None or row.ended_at is not None:
        raise SignedOut("You are signed out.", hint="Sign in again.")
    if now(session) - row.started_at > timedelta(hours=settings.web_session_hours):
        raise SignedOut(
            f"Your session ended after {settings.web_session_hours} hours.", hint="Sign in again."
        )
    return row
