"""FHIR REST-hook subscriptions: registered by an EHR, told through the outbox (in the same
transaction) whenever a Task it may see changes, whichever channel changed it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_for
from bot.audit import record
from bot.context import now
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import InvalidInput, NotFound
from bot.interop import fhir
from bot.notify import enqueue
from bot.services.fhir_intake import check_resource
from storage.models import FhirSubscription, Program, Recipient, Referral, Staff

CHANNEL = "fhir"
KIND = "fhir_task_changed"
_TASKS = "fhir_changed_tasks"
_REFERRALS = "fhir_changed_referrals"
# The active subscriptions, read once per transaction: every savepoint's commit (one per email
# reply of a batch) runs `_notify`, and asked again each time.
_SUBSCRIPTIONS = "fhir_active_subscriptions"
# What a Task's status, statusReason and businessStatus are made of.
_WATCHED = ("active", "assignee_id", "response", "response_reason", "service_status")


def subscribe(
    session: Session, *, actor: Actor, subscription: dict[str, Any], channel: Channel
) -> FhirSubscription:
    """Register a rest-hook for `Task` or `Task?owner=Organization/<program key>`."""
    check_resource(subscription, "Subscription")
    hook = subscription.get("channel") or {}
    if hook.get("type") != "rest-hook":
        raise InvalidInput(
            'Only "rest-hook" subscriptions are offered.', field="Subscription.channel.type"
        )
    endpoint = str(hook.get("endpoint") or "")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            "The endpoint must be an http(s) URL.", field="Subscription.channel.endpoint"
        )
    criteria = str(subscription.get("criteria") or "")
    program_id = None
    if criteria.startswith("Task?owner="):
        key = criteria.removeprefix("Task?owner=").removeprefix("Organization/")
        program = session.scalar(select(Program).where(Program.key == key))
        if program is None:
            raise NotFound(f'There is no program "{key}".', field="Subscription.criteria")
        program_id = program.id
    elif criteria != "Task":
        raise InvalidInput(
            f'"{criteria}" is not a criteria closeloop offers.',
            field="Subscription.criteria",
            hint="Use Task, or Task?owner=Organization/<program key>.",
        )
    headers = [str(h) for h in hook.get("header") or []]
    authorization = next(
        (h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("authorization:")),
        None,
    )
    row = FhirSubscription(
        staff_id=actor.staff_id,
        endpoint=endpoint,
        header=authorization,
        program_id=program_id,
        active=True,
        events=0,
        created_at=now(session),
    )
    session.add(row)
    session.flush()
    session.info.pop(_SUBSCRIPTIONS, None)
    record(session, actor=actor, channel=channel, action="fhir_subscribed", subscription=row.id)
    return row


def unsubscribe(session: Session, *, actor: Actor, subscription_id: int, channel: Channel) -> None:
    row = session.get(FhirSubscription, subscription_id)
    if row is None or (row.staff_id != actor.staff_id and not actor.is_admin):
        raise NotFound(f"There is no Subscription {subscription_id} of yours.", field="id")
    if row.active:
        row.active = False
        row.ended_at = now(session)
        session.info.pop(_SUBSCRIPTIONS, None)
        record(
            session, actor=actor, channel=channel, action="fhir_unsubscribed", subscription=row.id
        )


def as_resource(row: FhirSubscription, criteria: str) -> dict[str, Any]:
    return fhir.validated(
        {
            "resourceType": "Subscription",
            "id": str(row.id),
            "status": "active" if row.active else "off",
            "reason": "closeloop referral Task changes",
            "criteria": criteria,
            "channel": {
                "type": "rest-hook",
                "endpoint": row.endpoint,
                "payload": "application/fhir+json",
            },
        }
    )


# --- Noticing changes, whichever channel made them ---------------------------------------------


def install(sessions: sessionmaker[Session]) -> None:
    """Watch every transaction of these sessions for Task changes (idempotent)."""
    if not event.contains(sessions, "after_flush", _noticed):
        event.listen(sessions, "after_flush", _noticed)
        event.listen(sessions, "before_commit", _notify)
        event.listen(sessions, "after_rollback", _forget)
        event.listen(sessions, "after_transaction_end", _ended)


def _noticed(session: Session, _context: Any) -> None:
    tasks: set[int] = session.info.setdefault(_TASKS, set())
    referrals: set[int] = session.info.setdefault(_REFERRALS, set())
    for obj in [*session.new, *session.dirty]:
        if isinstance(obj, Recipient):
            if obj in session.new or any(_changed(obj, name) for name in _WATCHED):
                tasks.add(obj.id)
        elif isinstance(obj, Referral) and _changed(obj, "state"):
            referrals.add(obj.id)


def _changed(obj: Any, name: str) -> bool:
    return bool(inspect(obj).attrs[name].history.has_changes())


def _forget(session: Session) -> None:
    session.info.pop(_TASKS, None)
    session.info.pop(_REFERRALS, None)
    session.info.pop(_SUBSCRIPTIONS, None)


def _ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_SUBSCRIPTIONS, None)


def _notify(session: Session) -> None:
    tasks: set[int] = session.info.pop(_TASKS, set())
    referrals: set[int] = session.info.pop(_REFERRALS, set())
    if not tasks and not referrals:
        return
    subscriptions = session.info.get(_SUBSCRIPTIONS)
    if subscriptions is None:
        subscriptions = session.scalars(
            select(FhirSubscription).where(FhirSubscription.active.is_(True))
        ).all()
        session.info[_SUBSCRIPTIONS] = subscriptions
    if not subscriptions:
        return
    if referrals:
        tasks |= set(
            session.scalars(select(Recipient.id).where(Recipient.referral_id.in_(referrals)))
        )
    for recipient in session.scalars(
        select(Recipient).where(Recipient.id.in_(tasks)).order_by(Recipient.id)
    ):
        referral = recipient.referral
        if referral.number is None:
            continue
        status = fhir.current_status(referral, recipient)
        for sub in subscriptions:
            if _may_hear(session, sub, referral, recipient):
                _enqueue(session, sub, recipient, status)
    # Rows written here are flushed by the commit itself; nothing more to notice.
    session.info.pop(_TASKS, None)
    session.info.pop(_REFERRALS, None)


def _may_hear(
    session: Session, sub: FhirSubscription, referral: Referral, recipient: Recipient
) -> bool:
    """Only Tasks the subscriber could read: their own referrals, their programs', or all for
    an admin; and the one program named in the criteria."""
    if sub.program_id is not None and sub.program_id != recipient.program_id:
        return False
    staff = session.get(Staff, sub.staff_id)
    if staff is None or not staff.active:
        return False
    actor = actor_for(session, staff, check=False)
    if actor.is_admin or referral.primary_coordinator_id == actor.staff_id:
        return True
    return recipient.program_id in actor.programs(Role.GATEKEEPER, Role.PROVIDER)


def _enqueue(session: Session, sub: FhirSubscription, recipient: Recipient, status: str) -> None:
    # One number per notification, taken atomically: concurrent transactions never share one.
    events = session.execute(
        update(FhirSubscription)
        .where(FhirSubscription.id == sub.id)
        .values(events=FhirSubscription.events + 1)
        .returning(FhirSubscription.events)
    ).scalar_one()
    enqueue(
        session,
        key=f"{KIND}:sub{sub.id}:e{events}",
        channel=CHANNEL,
        kind=KIND,
        address=sub.endpoint,
        staff_id=sub.staff_id,
        referral_id=recipient.referral_id,
        payload={"subscription": sub.id, "event": events, "task": recipient.id, "status": status},
    )
