"""The referring side through the real Bolt app with signed requests: client search, the
referral modal (a bad field answered under it with nothing written; a good one previewed and
published), the shortcut, program lookup, capacity, and the edit with re-publish."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.actors import actor_by_email
from bot.domain.vocab import Channel, ReferralState
from bot.services import clients, reminders
from storage.db import transaction
from storage.models import AuditEvent, Consent, OutboxMessage, Program, Referral
from tests.adapter.slack.conftest import SlackWorld
from tests.fakes import slack_requests
from tests.network import COORD, GK_OZARK
from tests.service.helpers import published

pytestmark = pytest.mark.anyio

CASEY = "U0CASEY"


def _command(world: SlackWorld, user: str, text: str) -> Any:
    return slack_requests.slash_command(
        text=text, user_id=user, response_url=world.fake.hook_url(f"commands/{user}")
    )


async def _answers(world: SlackWorld, count: int = 1) -> list[dict[str, Any]]:
    await world.until(lambda: len(world.fake.responses()) >= count)
    return [c.params for c in world.fake.responses()]


def _client(world: SlackWorld) -> int:
    with transaction(world.sessions) as session:
        return clients.create_client(
            session,
            actor=actor_by_email(session, COORD),
            data={"first_name": "María", "last_name": "García", "birth_date": "1990-04-02"},
            channel=Channel.API,
        ).id


def _state(**values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block: {block: value} for block, value in values.items()}


def _text(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def _picks(*values: str) -> dict[str, Any]:
    return {
        "type": "multi_static_select",
        "selected_options": [
            {"text": {"type": "plain_text", "text": v}, "value": v} for v in values
        ],
    }


def _pick(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def _form(client_id: int, **changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = {
        "client": _text(str(client_id)),
        "needs": _picks("RES", "HSG"),
        "urgency": _pick("urgent"),
        "statewide": {"type": "checkboxes", "selected_options": []},
        "counties": _text("Boone County"),
        "exclude_programs": _text("river-hsg"),
        "facility_code": _text("CMO"),
        "primary_coordinator": {"type": "users_select", "selected_user": None},
        **changes,
    }
    return _state(**values)


async def test_client_search_answers_the_coordinator_alone(world: SlackWorld) -> None:
    client_id = _client(world)
    answer = await world.post(_command(world, CASEY, "client maria garcia"))
    assert answer.status_code == 200
    [reply] = await _answers(world)
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == "Clients matching: 1"
    section = reply["blocks"][1]
    assert section["text"]["text"] == f"*{client_id}* · María García · born 1990-04-02"
    assert section["accessory"]["value"] == str(client_id)
    with transaction(world.sessions) as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "client_searched")
        ).all()
        assert (event.channel, event.detail["client_ids"]) == ("slack", [client_id])


async def test_the_referral_modal_refuses_a_bad_field_then_previews_and_publishes(
    world: SlackWorld,
) -> None:
    client_id = _client(world)
    await world.post(_command(world, CASEY, "new"))
    await world.until(lambda: world.fake.calls("views.open"))
    [opened] = world.fake.calls("views.open")
    modal = opened.params["view"]
    assert modal["callback_id"] == "referral.new"
    assert [b["block_id"] for b in modal["blocks"]] == [
        "client",
        "needs",
        "urgency",
        "statewide",
        "counties",
        "exclude_programs",
        "facility_code",
        "primary_coordinator",
    ]

    before = world.counts()
    bad = await world.post(
        slack_requests.view_submission(
            CASEY, "referral.new", "", _form(client_id, counties=_text("Atlantis"))
        )
    )
    assert bad.status_code == 200
    body = bad.json()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == ["counties"]
    assert body["errors"]["counties"].startswith('"Atlantis" is not a county I know.')
    bad = await world.post(
        slack_requests.view_submission(
            CASEY, "referral.new", "", _form(client_id, facility_code=_text("C!O"))
        )
    )
    assert list(bad.json()["errors"]) == ["facility_code"]
    assert world.counts() == before

    good = await world.post(
        slack_requests.view_submission(CASEY, "referral.new", "", _form(client_id))
    )
    preview = good.json()
    assert preview["response_action"] == "update"
    view = preview["view"]
    assert view["callback_id"] == "referral.publish"
    number = view["private_metadata"]
    shown = json.dumps(view["blocks"])
    assert "Heartland Residential" in shown
    assert "River Housing: excluded by family preference" in shown
    assert "María" not in shown and "García" not in shown
    assert view["submit"]["text"] == "Publish"

    sent = await world.post(slack_requests.view_submission(CASEY, "referral.publish", number, {}))
    done = sent.json()
    assert done["response_action"] == "update"
    assert "is published to 1 program(s): Heartland Residential" in json.dumps(done["view"])
    with transaction(world.sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        assert (referral.state, referral.urgency.value) == (ReferralState.OPEN, "urgent")
        assert [p.key for p in referral.exclusions] == ["river-hsg"]
        kinds = session.scalars(select(OutboxMessage.kind)).all()
        assert set(kinds) == {"referral_published"}


async def test_publishing_to_nobody_is_refused_in_the_modal(world: SlackWorld) -> None:
    client_id = _client(world)
    answer = await world.post(
        slack_requests.view_submission(
            CASEY, "referral.new", "", _form(client_id, counties=_text("Jackson County"))
        )
    )
    view = answer.json()["view"]
    assert "submit" not in view
    assert "No program would receive it." in json.dumps(view["blocks"])
    assert "Heartland Residential: does not serve the referral's counties" in json.dumps(
        view["blocks"]
    )
    refused = await world.post(
        slack_requests.view_submission(CASEY, "referral.publish", view["private_metadata"], {})
    )
    assert refused.json()["response_action"] == "update"
    assert "no program would receive it" in json.dumps(refused.json()["view"])


async def test_the_shortcut_and_a_search_result_open_the_modal(world: SlackWorld) -> None:
    client_id = _client(world)
    await world.post(slack_requests.shortcut(CASEY, "referral_new"))
    await world.until(lambda: world.fake.calls("views.open"))
    await world.post(
        slack_requests.block_actions(
            CASEY,
            "referral.start",
            str(client_id),
            response_url=world.fake.hook_url("actions/casey"),
        )
    )
    await world.until(lambda: len(world.fake.calls("views.open")) == 2)
    first, second = (c.params["view"] for c in world.fake.calls("views.open"))
    assert first["callback_id"] == second["callback_id"] == "referral.new"
    assert "initial_value" not in first["blocks"][0]["element"]
    assert second["blocks"][0]["element"]["initial_value"] == str(client_id)


async def test_programs_lookup_and_capacity(world: SlackWorld) -> None:
    await world.post(_command(world, "U0OLIVIA", "capacity waitlist 12 program=ozark-rsp"))
    [said] = await _answers(world)
    assert said["text"] == "Ozark Respite now has waitlist of 12 (since 2026-03-02)."
    await world.post(_command(world, CASEY, "programs need RES county Greene"))
    _, listed = await _answers(world, 2)
    assert listed["text"] == "Programs: 1"
    assert "Capacity: waitlist of 12 (since 2026-03-02)" in json.dumps(listed["blocks"])
    with transaction(world.sessions) as session:
        program = session.scalar(select(Program).where(Program.key == "ozark-rsp"))
        assert program is not None and program.capacity_waitlist == 12
    assert GK_OZARK  # Olivia keeps Ozark's gates


async def test_the_edit_modal_republishes(world: SlackWorld) -> None:
    client_id = _client(world)
    good = await world.post(
        slack_requests.view_submission(CASEY, "referral.new", "", _form(client_id))
    )
    number = good.json()["view"]["private_metadata"]
    await world.post(slack_requests.view_submission(CASEY, "referral.publish", number, {}))
    await world.post(_command(world, CASEY, f"edit {number}"))
    await world.until(lambda: world.fake.calls("views.open"))
    [opened] = world.fake.calls("views.open")
    modal = opened.params["view"]
    assert modal["callback_id"] == "referral.edit"
    assert modal["blocks"][3]["element"]["initial_value"] == "Boone County"
    state = _state(
        needs=_picks("RES", "HSG"),
        urgency=_pick("urgent"),
        statewide={"type": "checkboxes", "selected_options": []},
        counties=_text("Greene County"),
        exclude_programs=_text("river-hsg"),
        confirm_no_capacity={"type": "checkboxes", "selected_options": []},
    )
    before = world.counts()
    bad = await world.post(
        slack_requests.view_submission(
            CASEY, "referral.edit", number, {**state, **_state(needs=_picks())}
        )
    )
    assert list(bad.json()["errors"]) == ["needs"]
    assert world.counts() == before
    done = await world.post(slack_requests.view_submission(CASEY, "referral.edit", number, state))
    message = json.dumps(done.json()["view"])
    assert "re-published to 1 program(s). Newly receiving: Ozark Respite." in message
    assert "No longer receiving: Heartland Residential." in message


async def test_capacity_from_the_button_under_the_30_day_reminder(
    world: SlackWorld, clock: Any
) -> None:

    published(world.sessions, needs=["RES"])
    clock.advance(days=30)
    with transaction(world.sessions) as session:
        assert reminders.thirty_day_reminders(session) >= 1
    world.drain()
    reminder = world.dm("U0GRACE")[-1]
    [actions] = [b for b in reminder["blocks"] if b.get("block_id") == "capacity_actions"]
    assert actions["elements"][0]["action_id"] == "program.capacity"

    await world.post(
        slack_requests.block_actions(
            "U0GRACE",
            "program.capacity",
            block_id="capacity_actions",
            response_url=world.fake.hook_url("actions/grace"),
        )
    )
    await world.until(lambda: world.fake.calls("views.open"))
    modal = world.fake.calls("views.open")[0].params["view"]
    assert modal["callback_id"] == "program.capacity"
    assert [o["value"] for o in modal["blocks"][0]["element"]["options"]] == [
        "heartland-day",
        "heartland-res",
    ]
    state = _state(
        program=_pick("heartland-res"),
        status=_pick("waitlist"),
        waitlist={"type": "number_input", "value": None},
        until={"type": "datepicker", "selected_date": None},
    )
    before = world.counts()
    bad = await world.post(slack_requests.view_submission("U0GRACE", "program.capacity", "", state))
    assert bad.json() == {
        "response_action": "errors",
        "errors": {
            "waitlist": "Say how many people are on the waitlist. "
            "For example: /referral capacity waitlist 12"
        },
    }
    assert world.counts() == before
    state["waitlist"] = {"waitlist": {"type": "number_input", "value": "3"}}
    good = await world.post(
        slack_requests.view_submission("U0GRACE", "program.capacity", "", state)
    )
    assert "Heartland Residential now has waitlist of 3" in json.dumps(good.json()["view"])


def _deleted(world: SlackWorld, number: str) -> tuple[ReferralState, str | None, int]:
    with transaction(world.sessions) as session:
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "referral_deleted")
        ).all()
        return referral.state, referral.deleted_reason, len(events)


async def test_delete_needs_a_reason_and_the_owner(world: SlackWorld) -> None:
    number = published(world.sessions, needs=["RES"])
    world.drain()
    before = world.counts()
    bare = await world.post(_command(world, CASEY, f"delete {number}"))
    said = bare.json()
    assert said["response_type"] == "ephemeral"
    assert said["text"].startswith(f"Say why {number} is deleted: the reason is required.")
    assert _deleted(world, number) == (ReferralState.OPEN, None, 0)
    assert world.counts() == before

    await world.post(_command(world, "U0SAM", f"delete {number} entered twice"))
    [refused] = await _answers(world)
    assert refused["response_type"] == "ephemeral"
    assert refused["text"] == (
        f"Only the primary coordinator of {number} or an admin can delete it."
    )
    assert _deleted(world, number) == (ReferralState.OPEN, None, 0)
    assert world.counts() == before

    await world.post(_command(world, CASEY, f"delete {number} entered   twice"))
    _, done = await _answers(world, 2)
    assert done["response_type"] == "ephemeral"
    assert done["text"] == (
        f"{number} is deleted; the reason is kept with it. "
        "The 1 program(s) it was sent to are told."
    )
    assert _deleted(world, number) == (ReferralState.DELETED, "entered twice", 1)
    with transaction(world.sessions) as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "referral_deleted")
        ).all()
        assert (event.channel, event.detail["reason"]) == ("slack", "entered twice")


def _consent_form(**changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = {
        "programs": _text("heartland-res, ozark-rsp"),
        "any_program": {"type": "checkboxes", "selected_options": []},
        "info_types": _text("demographics, service needs"),
        "signed_by": _text("Rosa García"),
        "signer_is_guardian": {"type": "checkboxes", "selected_options": [{"value": "yes"}]},
        "method": _pick("uploaded scan"),
        "reference": _text("DOC-7781"),
        "signed_on": {"type": "datepicker", "selected_date": "2026-02-20"},
        **changes,
    }
    return _state(**values)


def _consents(world: SlackWorld) -> list[Consent]:
    with transaction(world.sessions) as session:
        found = session.scalars(select(Consent)).all()
        for consent in found:
            _ = [p.key for p in consent.programs]
        session.expunge_all()
        return list(found)


async def test_the_consent_modal_refuses_a_bad_field_then_records_one(
    world: SlackWorld,
) -> None:
    client_id = _client(world)
    await world.post(_command(world, CASEY, f"consent {client_id}"))
    await world.until(lambda: world.fake.calls("views.open"))
    [opened] = world.fake.calls("views.open")
    modal = opened.params["view"]
    assert (modal["callback_id"], modal["private_metadata"]) == ("client.consent", str(client_id))
    assert [b.get("block_id") for b in modal["blocks"][1:]] == [
        "programs",
        "any_program",
        "info_types",
        "signed_by",
        "signer_is_guardian",
        "method",
        "reference",
        "signed_on",
    ]
    before = _consents(world)
    future = _consent_form(signed_on={"type": "datepicker", "selected_date": "2026-12-01"})
    bad = await world.post(
        slack_requests.view_submission(CASEY, "client.consent", str(client_id), future)
    )
    assert bad.json()["response_action"] == "errors"
    assert list(bad.json()["errors"]) == ["signed_on"]
    assert bad.json()["errors"]["signed_on"].startswith(
        "The signing date 2026-12-01 is in the future."
    )
    no_reference = _consent_form(reference=_text(""))
    bad = await world.post(
        slack_requests.view_submission(CASEY, "client.consent", str(client_id), no_reference)
    )
    assert bad.json()["response_action"] == "errors"
    assert list(bad.json()["errors"]) == ["reference"]
    assert bad.json()["errors"]["reference"].startswith(
        "Say where the signed paper's scan is kept."
    )
    assert _consents(world) == before == []

    good = await world.post(
        slack_requests.view_submission(CASEY, "client.consent", str(client_id), _consent_form())
    )
    assert good.json()["response_action"] == "update"
    assert f"Consent recorded for client {client_id}" in json.dumps(good.json()["view"])
    [consent] = _consents(world)
    assert consent.client_id == client_id
    assert sorted(p.key for p in consent.programs) == ["heartland-res", "ozark-rsp"]
    assert consent.any_program is False
    assert consent.info_types == ["demographics", "service needs"]
    assert (consent.signed_by, consent.signer_is_guardian) == ("Rosa García", True)
    assert (consent.method, consent.reference) == ("uploaded scan", "DOC-7781")
    assert consent.signed_at.date().isoformat() == "2026-02-20"
    assert consent.expires_on.isoformat() == "2027-02-20"
