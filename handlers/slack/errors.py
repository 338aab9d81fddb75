"""The one place a Slack request's error becomes an answer: a UserError is told to the person
who acted, anything else is logged once with its traceback and the person gets an apology."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DATABASE_AWAY, UserError
from handlers.slack.blocks import REASON_BLOCK, notice_modal, reply
from handlers.slack.screens import not_linked_home
from storage.db import database_away

log = logging.getLogger(__name__)

SORRY = "Something went wrong on closeloop's side. It has been logged; please try again later."
# A refusal naming one of these is shown beside the reason in the modal, not in place of it.
_REASON_FIELDS = {"reason", "provision reason", "decline reason"}


def told(error: Exception, what: str) -> str:
    """What the person is told about `error` (logged, with its traceback, unless a UserError)."""
    if isinstance(error, UserError):
        return str(error)
    if database_away(error):
        log.warning("Slack request while the database is unreachable: %s", what)
        return str(DATABASE_AWAY)
    log.error("Slack request failed: %s", what, exc_info=error)
    return SORRY


def answer_of(error: Exception, what: str) -> dict[str, Any]:
    """The ephemeral answer to a command carried out after its acknowledgement."""
    return reply(told(error, what)) | {"replace_original": False}


async def answer_error(
    error: Exception,
    body: dict[str, Any],
    response: BoltResponse | None,
    respond: AsyncRespond | None,
    client: AsyncWebClient,
) -> BoltResponse | None:
    """The one place errors are translated: a UserError is told to the person who acted,
    anything else is logged once with its traceback and the person gets an apology."""
    message = told(error, str(body.get("type")))
    kind = body.get("type")
    if kind == "view_submission" and response is not None:
        return _modal_answer(error, message)
    if kind == "event_callback":
        event = body.get("event") or {}
        if event.get("type") == "app_home_opened" and event.get("user"):
            await client.views_publish(user_id=event["user"], view=not_linked_home(message))
        return None
    if response is not None:
        # Not acknowledged yet: the answer goes in the acknowledgement itself.
        return BoltResponse(status=200, body=json.dumps(reply(message)), headers=_json_headers())
    if respond is not None and respond.response_url:
        await respond(**reply(message), replace_original=False)
    return None


def _modal_answer(error: Exception, message: str) -> BoltResponse:
    if isinstance(error, UserError) and error.field in _REASON_FIELDS:
        answer: dict[str, Any] = {
            "response_action": "errors",
            "errors": {REASON_BLOCK: message},
        }
    else:
        answer = {"response_action": "update", "view": notice_modal("Not sent", message)}
    return BoltResponse(status=200, body=json.dumps(answer), headers=_json_headers())


def _json_headers() -> dict[str, str | Sequence[str]]:
    return {"content-type": "application/json;charset=utf-8"}
