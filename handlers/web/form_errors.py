"""A refused form shown again: the refusal placed next to the field it names."""

from __future__ import annotations

from bot.errors import UserError


def errors_of(exc: UserError, fields: tuple[str, ...]) -> dict[str, str]:
    """{field: message} for the form's own field ("needs.0" is "needs"), else {"form": ...}."""
    name = (exc.field or "").split(".")[0]
    return {name if name in fields else "form": str(exc)}


def split_list(text: str | None) -> list[str]:
    """A comma- or line-separated form field as a list, blanks dropped."""
    return [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]
