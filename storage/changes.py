"""A count of the changes this thread made to mapped objects, flushed or not.

Code that holds many steps' changes unflushed reads it before and after a step to tell whether
the step changed anything (handlers/email/replies.py: a refused reply that changed nothing has
nothing to undo). `session.dirty` cannot tell: an object changed by an earlier step stays dirty
whatever the next step does to it.
"""

from __future__ import annotations

import threading

from sqlalchemy import event

from storage.models import Base

_counts = threading.local()
_watching = threading.Lock()
_watched = False


def changes_made() -> int:
    """Changes made by this thread so far (only differences between two readings mean anything),
    once `watch()` has been called."""
    return int(getattr(_counts, "n", 0))


def _count(*_args: object) -> None:
    _counts.n = getattr(_counts, "n", 0) + 1


def watch() -> None:
    """Count every attribute set, collection append or removal and `flag_modified` on every
    mapped class; idempotent. Objects added to or deleted from a session are not attribute
    changes: compare `len(session.new)` and `len(session.deleted)` as well."""
    global _watched
    with _watching:
        if _watched:
            return
        for mapper in Base.registry.mappers:
            for column in mapper.column_attrs:
                attribute = getattr(mapper.class_, column.key)
                event.listen(attribute, "set", _count, raw=True)
                event.listen(attribute, "modified", _count, raw=True)
            for relationship in mapper.relationships:
                attribute = getattr(mapper.class_, relationship.key)
                if relationship.uselist:
                    for name in ("append", "remove", "bulk_replace"):
                        event.listen(attribute, name, _count, raw=True)
                else:
                    event.listen(attribute, "set", _count, raw=True)
        _watched = True
