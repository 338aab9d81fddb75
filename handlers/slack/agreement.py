"""`/referral agreement [sign]`: read and sign the yearly user agreement (user MOU) from Slack.

Resolved without the usual actor check (a lapsed MOU refuses every other command): the
person is linked by their Slack profile email, and removed access is still refused."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_for
from bot.context import today
from bot.domain.vocab import Channel
from bot.errors import InvalidInput
from bot.services.agreements import sign_user_mou, user_mou_of
from bot.texts import as_typed_in_slack as typed
from handlers.slack.blocks import reply
from handlers.slack.runner import UseCaseRunner
from storage.db import transaction
from storage.models import Staff

Answer = dict[str, Any]


@dataclass(frozen=True)
class Agreement:
    sign: bool


def parse_agreement(words: list[str]) -> Agreement:
    if not words:
        return Agreement(sign=False)
    if [w.lower() for w in words] == ["sign"]:
        return Agreement(sign=True)
    raise InvalidInput(
        f'"/referral agreement {" ".join(words)}" is not understood.',
        field="agreement",
        hint="Use /referral agreement to read it, /referral agreement sign to sign it.",
    )


async def run_agreement(
    cmd: Agreement, gw: UseCaseRunner, client: AsyncWebClient, user_id: str
) -> Answer:
    staff_id = await gw.link(client, user_id)
    return await asyncio.to_thread(_carry_out, gw.sessions, staff_id, cmd.sign)


def _carry_out(sessions: sessionmaker[Session], staff_id: int, sign: bool) -> Answer:
    with transaction(sessions) as session:
        if sign:
            signed = sign_user_mou(session, staff_id=staff_id, channel=Channel.SLACK)
            return reply(f"Signed. Your user agreement is valid until {signed.valid_until}.")
        staff = session.get(Staff, staff_id)
        assert staff is not None
        if not staff.active:
            actor_for(session, staff)  # refuses, naming the day access was removed
        mou = user_mou_of(session, staff)
        if mou.signed_on is None or mou.valid_until is None:
            status = "You have not signed it yet."
        elif mou.valid_until < today(session):
            status = f"You signed it on {mou.signed_on}; it lapsed on {mou.valid_until}."
        else:
            status = f"You signed it on {mou.signed_on}; it is valid until {mou.valid_until}."
        action = " To agree for one year: /referral agreement sign" if mou.may_sign else ""
        return reply(f"The network's user agreement:\n>{typed(mou.text)}\n{status}{action}")
