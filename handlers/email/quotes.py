"""Cut an email body down to the newly written text: quoted history and signatures removed."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.email.body_lines import ReadTimeout as ReadTimeout
from handlers.email.body_lines import has_text, join_lines, normalise, only_salutation
from handlers.email.history import below_history, first_boundary
from handlers.email.history import is_quoted as is_quoted
from handlers.email.notices import drop_banner
from handlers.email.sign_offs import name_forms as name_forms
from handlers.email.signatures import strip_signature


def extract_reply(
    text: str, *, sender_names: Iterable[str] = (), deadline: float | None = None
) -> str:
    """The text the sender wrote: top-posted above the history, or the first block under it."""
    lines = drop_banner(normalise(text))
    boundary = first_boundary(lines, 0, deadline)
    above = strip_signature(lines[:boundary], sender_names, deadline)
    if has_text(above) and not only_salutation(above):
        return join_lines(above)
    below = strip_signature(below_history(lines, boundary, deadline), sender_names, deadline)
    # "Hi Dana," above the quote and the answer under it: both are the reply.
    return join_lines(
        [*above, "", *below] if has_text(above) and has_text(below) else above or below
    )
