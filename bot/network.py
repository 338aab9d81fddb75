"""The network's own settings, kept in the directory (`network:` in the directory file); an
environment variable of the same name, when set, wins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import settings_of
from storage.models import NetworkSetting

CONSENT_REQUIRED = "consent_required"
USER_MOU_TEXT = "user_mou_text"
# Used until the network writes its own (the directory file's network.user_mou_text).
DEFAULT_USER_MOU = (
    "I use closeloop only for the referrals of the people my role serves. I keep client "
    "information confidential, share it only as the client's release of information allows, "
    "never copy it outside closeloop, and tell my agency's security officer at once if my "
    "access may have been misused."
)


def _stored(session: Session, key: str) -> Any:
    cache: dict[str, Any] = session.info.setdefault("network_settings", {})
    if key not in cache:
        cache[key] = session.scalar(select(NetworkSetting.value).where(NetworkSetting.key == key))
    return cache[key]


def consent_required(session: Session) -> bool:
    """Route only to programs covered by the client's active consent (CONSENT_REQUIRED, else
    the directory's network.consent_required, else no)."""
    configured = settings_of(session).consent_required
    if configured is not None:
        return configured
    return bool(_stored(session, CONSENT_REQUIRED))


def user_mou_text(session: Session) -> str:
    """The user agreement people confirm yearly."""
    return str(
        settings_of(session).user_mou_text or _stored(session, USER_MOU_TEXT) or DEFAULT_USER_MOU
    )


def set_network_settings(session: Session, values: dict[str, Any]) -> list[str]:
    """Store the given settings; returns the keys that changed."""
    changed = []
    for key, value in sorted(values.items()):
        row = session.get(NetworkSetting, key)
        if row is None:
            session.add(NetworkSetting(key=key, value=value))
        elif row.value == value:
            continue
        else:
            row.value = value
        changed.append(key)
    session.info.pop("network_settings", None)
    return changed
