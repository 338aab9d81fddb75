"""The two kinds of error: a UserError is answered to the person; anything else is a bug."""

from __future__ import annotations


class UserError(Exception):
    """Something the person asked for cannot be done; the message is written for them.

    `field` names the input at fault (when there is one) and `hint` says what to do next.
    """

    status = 409

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} {self.hint}"
        return text


class NotFound(UserError):
    """The named thing (a referral number, a program, a person) does not exist."""

    status = 404


class InvalidInput(UserError):
    """The input is malformed: a field has a value that cannot be accepted."""

    status = 422


class Forbidden(UserError):
    """The actor's roles do not allow this."""

    status = 403


class Conflict(UserError):
    """A domain rule refuses the change in the current state (already assigned, closed...)."""

    status = 409


class Unavailable(UserError):
    """closeloop cannot reach its database (a restart, a network cut): nothing was changed."""

    status = 503


DATABASE_AWAY = Unavailable(
    "closeloop cannot reach its database right now, so nothing was changed.",
    hint="Please try again in a minute.",
)
