"""Email replies in: read one message, check who sent it and about what, apply one use case, answer.

`process(uid, raw)` is the InboxListener's processor. Every message is recorded by Message-ID
with its outcome, in the transaction that applies it, so a message delivered again (or found
again after a crash before it was filed) is never applied twice and never answered twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_for, staff_by_email
from bot.bulk_insert import insert_rows
from bot.context import now
from bot.domain.vocab import Channel
from bot.errors import UserError
from bot.services.bounces import mark_email_bouncing
from bot.services.verbs import apply
from bot.settings import Settings
from handlers.email import answers, ledger, questions
from handlers.email.batch import Preloaded, preload
from handlers.email.capacity import capacity_stated
from handlers.email.classify import KIND_AUTO_REPLY, KIND_BOUNCE, KIND_OTHER, KIND_REPLY
from handlers.email.commands import EXAMPLES, work_command
from handlers.email.inbox import ProcessorUnavailable
from handlers.email.ledger import FiledAs
from handlers.email.reading import ReadMessage, read_message
from handlers.email.refusals import (
    HINT_NO_TOKEN,
    HINT_NOT_YOURS,
    HINT_TOO_LARGE,
    MSG_GONE,
    MSG_NO_TOKEN,
    MSG_NOT_YOURS,
    MSG_TOO_LARGE,
    Refused,
    describe,
    first_line,
)
from handlers.email.targets import command_target
from handlers.email.tokens import ExpiredToken, TokenClaims, TokenError, check_token
from storage import changes
from storage.db import transaction
from storage.models import InboundEmail, Referral, Staff

log = logging.getLogger(__name__)

EMAIL = Channel.EMAIL
PROCESSED = "processed"
REJECTED = "rejected"
# The refusal reason for a reply from someone whose access was removed.
ACCESS_REMOVED = "access_removed"


def read_inbound(raw: bytes, settings: Settings) -> ReadMessage:
    """The one way closeloop reads an inbound message: the listener and `closeloop email parse`."""
    return read_message(
        raw,
        reply_address=settings.reply_base,
        own_addresses=settings.own_address_set,
        trusted_authserv_id=settings.trusted_authserv_id,
    )


class ReplyProcessor:
    """The listener's `process(uid, raw)` and `process_batch(messages)`: the folder each message
    is filed in.

    A batch is one transaction: each reply's change, audit events, confirmation and Message-ID
    record stand or fall together, a refused or failing reply undoes only its own effect, and one
    commit (then one wake-up of the dispatcher, `wake`) serves the whole batch.

    It is first applied without savepoints (`_quick`): the use cases' changes and audit events
    wait for one flush at its end, its outbox rows and Message-ID records for one INSERT each,
    and a reply refused before it changed anything has nothing to undo. A reply refused after a
    change, a failing one, or a clash of Message-ID records rolls the batch back whole; it is
    then applied again the careful way (`_one`), with a savepoint per reply. Statements per
    reply went from 6.4 to 0.17 on PostgreSQL (docs/benchmarks.md).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._wake = wake
        # Settings' derived addresses are parsed on every access: read once, not per reply.
        self._reply_base = settings.reply_base
        self._own = settings.own_address_set
        # Before the worker's threads start: listeners are not added while others change objects.
        changes.watch()

    def __call__(self, uid: int, raw: bytes) -> str:
        return self.process_batch([(uid, raw)])[0]

    def process_batch(self, messages: Sequence[tuple[int, bytes]]) -> list[str]:
        reads = [self._read(raw) for _uid, raw in messages]
        keys = [
            ledger.message_key(read.message_id, raw)
            for read, (_uid, raw) in zip(reads, messages, strict=True)
        ]
        try:
            outcomes = self._apply(reads, messages, keys)
        except (OperationalError, InterfaceError) as exc:
            # Unreachable, locked or deadlocked: nothing was committed, so try again later
            # rather than file replies as rejected that were never read.
            raise ProcessorUnavailable(f"database: {type(exc.orig).__name__}") from exc
        if self._wake is not None:
            self._wake()
        for read, (uid, _raw), outcome in zip(reads, messages, outcomes, strict=True):
            # The sender's domain only: an address identifies a person, and logs travel further.
            log.info(
                "email UID %s (%s) from @%s: %s, %s",
                uid,
                read.kind,
                (read.from_address or "").rpartition("@")[2] or "?",
                outcome.folder,
                outcome.reason,
            )
        return [outcome.folder for outcome in outcomes]

    def _read(self, raw: bytes) -> ReadMessage:
        return read_message(
            raw,
            reply_address=self._reply_base,
            own_addresses=self._own,
            trusted_authserv_id=self._settings.trusted_authserv_id,
        )

    def _apply(
        self, reads: list[ReadMessage], messages: Sequence[tuple[int, bytes]], keys: list[str]
    ) -> list[FiledAs]:
        try:
            return self._apply_all(reads, messages, keys, careful=False)
        except _Careful:
            # A reply's effect could not be undone on its own (see `_quick`): the batch was
            # rolled back whole, and goes again with a savepoint per reply.
            return self._apply_all(reads, messages, keys, careful=True)

    def _apply_all(
        self,
        reads: list[ReadMessage],
        messages: Sequence[tuple[int, bytes]],
        keys: list[str],
        *,
        careful: bool,
    ) -> list[FiledAs]:
        outcomes: list[FiledAs] = []
        with transaction(self._sessions) as session:
            seen = ledger.outcomes_of(session, keys)
            fresh = [
                read.reply_token for read, key in zip(reads, keys, strict=True) if key not in seen
            ]
            loaded = preload(session, self._settings, fresh)
            with contextlib.ExitStack() as stack:
                held = None
                if not careful:
                    outbox = stack.enter_context(answers.outbox_held(session))
                    held = stack.enter_context(_Held(session, outbox))
                for read, (uid, raw), key in zip(reads, messages, keys, strict=True):
                    folder = seen.get(key)
                    if folder is not None:
                        # Delivered again: filed as before, nothing applied, nobody answered.
                        outcome = FiledAs(folder, "repeat")
                    elif held is None:
                        outcome = self._one(session, uid, read, raw, key, loaded)
                    else:
                        outcome = self._quick(session, held, read, raw, key, loaded)
                    if folder is None:
                        seen[key] = outcome.folder
                    outcomes.append(outcome)
                if held is not None:
                    held.write()
        return outcomes

    def _quick(
        self,
        session: Session,
        held: _Held,
        read: ReadMessage,
        raw: bytes,
        key: str,
        loaded: Preloaded,
    ) -> FiledAs:
        """Apply one message without a savepoint; its outbox rows and its ledger row wait in
        `held`, written for the whole batch at its end. A refusal before anything was written
        leaves nothing to undo; anything else raises _Careful, for the careful way (`_one`)."""
        mark = held.mark()
        try:
            try:
                outcome = self._decide(session, read, raw, key, loaded)
            except Refused as refusal:
                if not held.untouched_since(mark):
                    raise _Careful from None
                held.drop_since(mark)
                outcome = self._refused(session, read, refusal)
        except (OperationalError, InterfaceError, _Careful):
            raise  # the database is away (the listener tries the batch again later), or above
        except Exception:
            raise _Careful from None  # the careful way logs it, once
        held.ledger.append(self._record(session, key, read, outcome))
        return outcome

    def _one(
        self, session: Session, uid: int, read: ReadMessage, raw: bytes, key: str, loaded: Preloaded
    ) -> FiledAs:
        """Apply one message inside its own savepoint of the batch's transaction."""
        try:
            with session.begin_nested():
                with answers.outbox_held(session):
                    outcome = self._decide(session, read, raw, key, loaded)
                self._remember(session, key, read, outcome)
                return outcome
        except Refused as refusal:
            return self._refuse(session, read, key, refusal)
        except IntegrityError:
            # The same message was recorded by another worker meanwhile: that one counts.
            return self._repeat(session, key)
        except SQLAlchemyError:
            # The database itself failed: the whole batch goes back to the listener.
            raise
        except Exception:
            # A bug in one reply's path: its savepoint is undone, the rest of the batch stands,
            # and the message is recorded so that it is not tried (and logged) again and again.
            log.exception("processing email UID %s failed; filing it as rejected", uid)
            outcome = FiledAs(REJECTED, "failed")
            with session.begin_nested():
                self._remember(session, key, read, outcome)
            return outcome

    def _refuse(self, session: Session, read: ReadMessage, key: str, refusal: Refused) -> FiledAs:
        try:
            with session.begin_nested():
                outcome = self._refused(session, read, refusal)
                self._remember(session, key, read, outcome)
                return outcome
        except IntegrityError:
            return self._repeat(session, key)

    def _refused(self, session: Session, read: ReadMessage, refusal: Refused) -> FiledAs:
        """A refused reply's outcome, and the email that says why (to a person it may go to)."""
        staff = self._answerable(session, read, refusal.reason)
        if staff is not None:
            answers.explain(
                session,
                staff=staff,
                reason=refusal.reason,
                why=refusal.why,
                hint=refusal.hint,
                line=first_line(read.reply),
                read_as=refusal.read_as,
                number=refusal.number,
                referral_id=refusal.referral_id,
                in_reply_to=read.message_id,
            )
        return FiledAs(REJECTED, refusal.reason, staff.id if staff else None, refusal.referral_id)

    @staticmethod
    def _repeat(session: Session, key: str) -> FiledAs:
        seen = ledger.outcomes_of(session, [key]).get(key)
        return FiledAs(seen or REJECTED, "repeat")

    def _decide(
        self, session: Session, read: ReadMessage, raw: bytes, key: str, loaded: Preloaded
    ) -> FiledAs:
        """Apply the reply and write its confirmation, or raise Refused (and roll back)."""
        settings = self._settings
        if read.from_address in self._own:
            return FiledAs(REJECTED, "own_mail")
        if read.kind == KIND_BOUNCE:
            mark_email_bouncing(session, addresses=read.bounced_recipients, channel=EMAIL)
            return FiledAs(REJECTED, "bounce")
        if read.kind == KIND_AUTO_REPLY:
            return FiledAs(REJECTED, "auto_reply")
        if read.dmarc == "fail":
            # Our own border server says the From is forged: nobody to answer.
            return FiledAs(REJECTED, "dmarc_fail")
        if len(raw) > settings.email_max_bytes:
            size = f"{len(raw) / 1_000_000:.1f}"
            raise Refused("too_large", MSG_TOO_LARGE.format(size=size), hint=HINT_TOO_LARGE)
        if read.kind != KIND_REPLY or read.reply_token is None:
            raise Refused("no_token", MSG_NO_TOKEN, hint=HINT_NO_TOKEN)
        claims = self._claims(read.reply_token, session)
        staff = session.get(Staff, claims.staff_id)
        if staff is None or staff.email.strip().lower() != read.from_address:
            raise Refused("forged_from", MSG_NOT_YOURS, hint=HINT_NOT_YOURS)
        referral = self._token_referral(session, claims)
        number = referral.number if referral is not None else None
        command = read.command
        if command is None and read.choice is not None:
            # "2" in answer to our question "Did you mean ...? Reply 1 or 2".
            command, reason, why, hint = questions.answered(
                session,
                staff=staff,
                referral_id=referral.id if referral else None,
                in_reply_to=read.in_reply_to,
                choice=read.choice,
            )
            if command is None:
                raise Refused(
                    reason,
                    why,
                    hint=hint,
                    number=number,
                    referral_id=referral.id if referral else None,
                )
        if command is None and not read.choices:
            why = (read.error or "").removesuffix(EXAMPLES).strip() or "No command was found."
            raise Refused(
                "no_command", why, number=number, referral_id=referral.id if referral else None
            )
        # A reply that reads two ways is checked like a command, then asked about, not applied.
        meant = command if command is not None else read.choices[0]
        read_as = describe(meant)
        try:
            actor = actor_for(session, staff, grants=loaded.grants.get(staff.id))
        except UserError as exc:
            reason = "not_applied" if staff.active else ACCESS_REMOVED
            raise Refused(
                reason, exc.message, hint=exc.hint, number=number, read_as=read_as
            ) from None
        try:
            if command is not None and command.verb == "capacity":
                stated = capacity_stated(session, actor, command)
                answers.confirm(
                    session,
                    staff=staff,
                    message_key=key,
                    result=stated,
                    referral_id=None,
                    line=first_line(read.reply),
                    in_reply_to=read.message_id,
                )
                return FiledAs(PROCESSED, "applied" if stated.changed else "unchanged", staff.id)
            target = command_target(session, claims, staff, referral, meant, read_as)
            if command is None:
                questions.ask(
                    session,
                    staff=staff,
                    message_key=key,
                    choices=read.choices,
                    referral_id=target.id,
                    number=target.number,
                    line=first_line(read.reply),
                    in_reply_to=read.message_id,
                )
                return FiledAs(PROCESSED, "asked", staff.id, target.id)
            work = work_command(command, target.number or "")
            result = apply(session, actor=actor, command=work, channel=EMAIL)
        except UserError as exc:
            raise Refused(
                "not_applied",
                exc.message,
                hint=exc.hint,
                number=number or meant.number,
                referral_id=referral.id if referral else None,
                read_as=read_as,
            ) from None
        answers.confirm(
            session,
            staff=staff,
            message_key=key,
            result=result,
            referral_id=target.id,
            line=first_line(read.reply),
            in_reply_to=read.message_id,
        )
        return FiledAs(PROCESSED, "applied" if result.changed else "unchanged", staff.id, target.id)

    def _claims(self, token: str, session: Session) -> TokenClaims:
        try:
            return check_token(self._settings.verifying_keys, token, now=now(session))
        except ExpiredToken as exc:
            raise Refused("expired_token", exc.message, hint=exc.hint) from None
        except TokenError as exc:
            raise Refused("bad_token", exc.message, hint=exc.hint) from None

    @staticmethod
    def _token_referral(session: Session, claims: TokenClaims) -> Referral | None:
        if claims.subject_kind != "r":
            return None
        referral = session.get(Referral, claims.subject_id)
        if referral is None or referral.number is None:
            raise Refused("wrong_referral", MSG_GONE)
        return referral

    def _answerable(self, session: Session, read: ReadMessage, reason: str) -> Staff | None:
        """Whom a refusal may be answered to: a known, active staff member who wrote a reply
        (never machine mail, never a sender our border server calls forged). A person whose
        access was removed is told only that, when their own signed token proved who they are."""
        if read.kind not in (KIND_REPLY, KIND_OTHER) or read.dmarc == "fail":
            return None
        if read.from_address is None or read.from_address in self._own:
            return None
        staff = staff_by_email(session, read.from_address)
        if staff is None:
            return None
        return staff if staff.active or reason == ACCESS_REMOVED else None

    @classmethod
    def _remember(cls, session: Session, key: str, read: ReadMessage, outcome: FiledAs) -> None:
        session.add(InboundEmail(**cls._record(session, key, read, outcome)))

    @staticmethod
    def _record(session: Session, key: str, read: ReadMessage, outcome: FiledAs) -> dict[str, Any]:
        return ledger.record(
            session,
            key=key,
            message_id=read.message_id,
            from_address=read.from_address,
            kind=read.kind,
            outcome=outcome,
        )


class _Careful(Exception):
    """A batch applied without savepoints met a reply that cannot be undone on its own."""


class _Held:
    """A batch's writes held back: its changes and audit events (one flush, `write`), its
    outbox rows (`answers.outbox_held`, written as the batch ends) and its ledger rows (`write`),
    one INSERT each; and counts of what changed, flushed or not, to tell whether a refused reply
    had changed something already."""

    def __init__(self, session: Session, outbox: list[dict[str, Any]]) -> None:
        self._session = session
        self.outbox = outbox
        self.ledger: list[dict[str, Any]] = []
        self._writes = 0
        self._connection = session.connection()

    def __enter__(self) -> _Held:
        event.listen(self._connection, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc_info: object) -> None:
        event.remove(self._connection, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            self._writes += 1

    def mark(self) -> _Mark:
        session = self._session
        changed = (self._writes, changes.changes_made(), len(session.new), len(session.deleted))
        return _Mark(changed, len(self.outbox))

    def untouched_since(self, mark: _Mark) -> bool:
        """Nothing changed since `mark`: no statement that writes, no attribute of an object
        (those of earlier replies still wait to be flushed), no object added or deleted."""
        return self.mark().changed == mark.changed

    def drop_since(self, mark: _Mark) -> None:
        del self.outbox[mark.outbox :]

    def write(self) -> None:
        """The batch's changes and the ledger rows. A clash (a Message-ID another worker
        recorded meanwhile) fails the batch: it goes again the careful way, which files that
        message as a repeat and finds the reply behind any other clash."""
        try:
            self._session.flush()
            insert_rows(self._session, InboundEmail, self.ledger)
        except IntegrityError:
            raise _Careful from None


class _Mark(NamedTuple):
    changed: tuple[int, int, int, int]
    outbox: int
