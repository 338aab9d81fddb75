"""storage.changes: the count of changes to mapped objects that tells a batch of replies whether
a refused reply changed something, flushed or not."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.context import now
from storage import changes
from storage.db import transaction
from storage.models import Note, Recipient, Staff


def test_a_second_change_to_an_object_already_changed_is_counted(
    network: sessionmaker[Session],
) -> None:
    changes.watch()
    with transaction(network) as session:
        staff = session.scalars(select(Staff).order_by(Staff.id)).first()
        assert staff is not None
        before = changes.changes_made()
        staff.last_active_at = now(session)
        dirty_after_first = set(session.dirty)
        after_first = changes.changes_made()
        staff.name = staff.name + " (changed again)"

        # session.dirty cannot tell the second change from none; the count can.
        assert set(session.dirty) == dirty_after_first == {staff}
        assert after_first == before + 1
        assert changes.changes_made() == before + 2
        session.rollback()


def test_loading_is_not_a_change_and_new_objects_and_collections_are(
    network: sessionmaker[Session],
) -> None:
    changes.watch()
    with transaction(network) as session:
        before = changes.changes_made()
        assert session.scalars(select(Staff)).all()
        assert changes.changes_made() == before  # reading changes nothing

        recipient = Recipient()
        note = Note(text="called the family")
        after_building = changes.changes_made()
        recipient.notes.append(note)

        assert after_building == before + 1  # the note's text
        # The append, and the note's side of it (note.recipient), set by the backref.
        assert changes.changes_made() == after_building + 2
        session.rollback()


def test_each_thread_counts_its_own_changes(network: sessionmaker[Session]) -> None:
    changes.watch()
    with transaction(network) as session:
        staff = session.scalars(select(Staff).order_by(Staff.id)).first()
        assert staff is not None
        before = changes.changes_made()
        seen_elsewhere: list[int] = []

        def other() -> None:
            seen_elsewhere.append(changes.changes_made())
            staff.last_active_at = None
            seen_elsewhere.append(changes.changes_made())

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()

        assert seen_elsewhere == [0, 1]
        assert changes.changes_made() == before
        session.rollback()
