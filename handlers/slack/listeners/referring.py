"""The referring side's listeners: `/referral client|new|programs|capacity|edit|delete|consent`,
the "New referral" shortcut, the referral modal, its recipient preview and publish, the edit,
the consent modal."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.permissions import Actor, require_coordinator
from bot.domain.vocab import Channel, Role
from bot.errors import InvalidInput, NotFound, UserError
from bot.services import clients, programs, referrals
from bot.services.lookup import visible_referral
from bot.services.preview import preview_of
from bot.services.revise import revise_referral
from handlers.slack import consent_form as cf
from handlers.slack import referring as r
from handlers.slack import referring_commands as rc
from handlers.slack.blocks import notice_modal, reply
from handlers.slack.commands import HELP_HINT
from handlers.slack.form_parts import split
from handlers.slack.runner import UseCaseRunner
from storage.models import Client, Program, ServiceCode, Staff

SLACK = Channel.SLACK
Body = dict[str, Any]
COMMAND = "/referral"


def register(app: AsyncApp, gateway: UseCaseRunner) -> None:
    """Registered before the work verbs' `/referral` listener: Bolt hands a request to the
    first listener whose matcher accepts it, so this one takes only its own verbs."""

    async def referring_text(body: Body) -> bool:
        return rc.is_referring(str(body.get("text") or ""))

    @app.command(COMMAND, matchers=[referring_text])
    async def command(
        ack: AsyncAck,
        command: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        parsed = rc.parse_referring(str(command.get("text") or ""))
        user = str(command["user_id"])
        if isinstance(parsed, rc.NewReferral | rc.EditReferral):
            # The trigger_id lives 3 seconds: the modal is opened before the acknowledgement.
            view = await _form_for(gateway, client, user, parsed)
            await client.views_open(trigger_id=command["trigger_id"], view=view)
            await ack()
            return
        if isinstance(parsed, rc.RecordConsent):
            view = await gateway.run(client, user, lambda s, a: _consent_form(s, a, parsed))
            await client.views_open(trigger_id=command["trigger_id"], view=view)
            await ack()
            return
        await ack()
        await respond(**await _answer(gateway, client, user, parsed))

    register_capacity(app, gateway)
    register_consent(app, gateway)

    @app.shortcut(r.NEW_SHORTCUT)
    async def shortcut(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()
        view = await _form_for(gateway, client, body["user"]["id"], rc.NewReferral())
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(r.START)
    async def start(ack: AsyncAck, body: Body, action: Body, client: AsyncWebClient) -> None:
        await ack()
        value = str(action.get("value") or "")
        wanted = rc.NewReferral(int(value) if value.isdigit() else None)
        view = await _form_for(gateway, client, body["user"]["id"], wanted)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(r.NEW_MODAL)
    async def submitted(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        values = r.form_values(view)
        coordinator = await _coordinator(gateway, client, values.get(r.COORDINATOR))
        try:
            number, preview = await gateway.run(
                client,
                body["user"]["id"],
                lambda s, a: _create(s, a, values, coordinator),
            )
        except UserError as exc:
            await _refuse(ack, view, exc)
            return
        await ack(response_action="update", view=r.preview_modal(number, preview))

    @app.view(r.PUBLISH_MODAL)
    async def publish(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        number = str(view.get("private_metadata") or "")
        confirmed = bool(r.form_values(view).get(r.CONFIRM))
        try:
            result = await gateway.run(
                client,
                body["user"]["id"],
                lambda s, a: referrals.publish_referral(
                    s, actor=a, number=number, channel=SLACK, confirm_no_capacity=confirmed
                ),
            )
        except UserError as exc:
            await _refuse(ack, view, exc)
            return
        message = f"{result.number} is published to {len(result.programs)} program(s): " + (
            ", ".join(result.programs)
        )
        await ack(response_action="update", view=notice_modal("Published", message))

    @app.view(r.EDIT_MODAL)
    async def edited(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        number = str(view.get("private_metadata") or "")
        values = r.form_values(view)
        edit = {
            "needs": values.get(r.NEEDS) or [],
            "urgency": values.get(r.URGENCY),
            "statewide": bool(values.get(r.SCOPE)),
            "counties": [] if values.get(r.SCOPE) else split(values.get(r.COUNTIES)),
            "exclude_programs": split(values.get(r.EXCLUSIONS)),
        }
        try:
            revision = await gateway.run(
                client,
                body["user"]["id"],
                lambda s, a: revise_referral(
                    s,
                    actor=a,
                    number=number,
                    edit=edit,
                    channel=SLACK,
                    confirm_no_capacity=bool(values.get(r.CONFIRM)),
                ),
            )
        except UserError as exc:
            await _refuse(ack, view, exc)
            return
        message = f"{revision.number} is saved."
        if revision.published is not None:
            done = revision.published
            message = f"{done.number} is re-published to {len(done.programs)} program(s)."
            if done.joined:
                message += f" Newly receiving: {', '.join(done.joined)}."
            if done.left:
                message += f" No longer receiving: {', '.join(done.left)}."
        await ack(response_action="update", view=notice_modal("Saved", message))


def register_capacity(app: AsyncApp, gateway: UseCaseRunner) -> None:
    """Set capacity from the button under the 30-day reminder."""

    @app.action(r.CAPACITY_BUTTON)
    async def capacity_form(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        await ack()

        def programs_of(session: Session, actor: Actor) -> list[tuple[str, str]]:
            ids = actor.programs(Role.GATEKEEPER)
            return [
                (key, name)
                for key, name in session.execute(
                    select(Program.key, Program.name)
                    .where(Program.id.in_(ids))
                    .order_by(Program.name)
                )
            ]

        mine = await gateway.run(client, body["user"]["id"], programs_of)
        if not mine:
            view = notice_modal("Capacity", "Only a program's gatekeepers set its capacity.")
        else:
            view = r.capacity_modal(mine)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(r.CAPACITY_MODAL)
    async def capacity_set(ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient) -> None:
        values = r.form_values(view)
        waitlist = str(values.get(r.WAITLIST) or "").strip()
        change = {
            "status": values.get(r.STATUS),
            "waitlist": int(waitlist) if waitlist.isdigit() else (waitlist or None),
            "until": values.get(r.UNTIL),
        }
        try:
            result = await gateway.run(
                client,
                body["user"]["id"],
                lambda s, a: programs.set_capacity(
                    s,
                    actor=a,
                    program=str(values.get(r.PROGRAM) or ""),
                    change=change,
                    channel=SLACK,
                ),
            )
        except UserError as exc:
            await _refuse(ack, view, exc)
            return
        await ack(response_action="update", view=notice_modal("Capacity", result.summary))


def register_consent(app: AsyncApp, gateway: UseCaseRunner) -> None:
    """The consent modal's submission, through the use case the web's consent form uses."""

    @app.view(cf.CONSENT_MODAL)
    async def consent_recorded(
        ack: AsyncAck, body: Body, view: Body, client: AsyncWebClient
    ) -> None:
        client_id = int(str(view.get("private_metadata") or "0"))
        data = cf.consent_data(client_id, r.form_values(view))
        try:
            consent = await gateway.run(
                client,
                body["user"]["id"],
                lambda s, a: clients.sign_consent(s, actor=a, data=data, channel=SLACK),
            )
        except UserError as exc:
            await _refuse(ack, view, exc)
            return
        covers = "any participating program" if consent.any_program else "the programs named"
        message = (
            f"Consent recorded for client {client_id}: it covers {covers} "
            f"until {consent.expires_on.isoformat()}."
        )
        await ack(response_action="update", view=notice_modal("Consent", message))


def _consent_form(session: Session, actor: Actor, wanted: rc.RecordConsent) -> dict[str, Any]:
    require_coordinator(actor)
    if session.get(Client, wanted.client_id) is None:
        raise NotFound(f"There is no client {wanted.client_id}.", field="client")
    return cf.consent_modal(wanted.client_id)


async def _refuse(ack: AsyncAck, view: Body, exc: UserError) -> None:
    """The refusal under the field it names (nothing was written); otherwise raised on to the
    app's one error handler."""
    callback = str(view.get("callback_id") or "")
    errors = r.field_errors(exc.field, str(exc))
    if errors and set(errors) <= r.MODAL_BLOCKS.get(callback, set()):
        await ack(response_action="errors", errors=errors)
        return
    if callback == r.PUBLISH_MODAL:
        await ack(response_action="update", view=notice_modal("Not published", str(exc)))
        return
    raise exc


async def _coordinator(
    gateway: UseCaseRunner, client: AsyncWebClient, user: str | None
) -> int | None:
    """The picked primary coordinator's staff id, through the Slack link to staff."""
    if not user:
        return None
    return await gateway.link(
        client,
        user,
        unknown=lambda _email: InvalidInput(
            "That person is not linked to a closeloop staff member.", field=r.COORDINATOR
        ),
    )


def _email_of(session: Session, staff_id: int) -> str:
    staff = session.get(Staff, staff_id)
    assert staff is not None
    return staff.email


_NUMBER = re.compile(r"^\s*#?(\d{1,9})\s*$")


def _create(
    session: Session, actor: Actor, values: dict[str, Any], coordinator: int | None
) -> tuple[str, Any]:
    found = _NUMBER.match(str(values.get(r.CLIENT) or ""))
    if found is None:
        raise InvalidInput("Give the client's number (from /referral client).", field="client_id")
    referral = referrals.create_referral(
        session,
        actor=actor,
        draft={
            "client_id": int(found.group(1)),
            "needs": values.get(r.NEEDS) or [],
            "urgency": values.get(r.URGENCY) or "routine",
            "statewide": bool(values.get(r.SCOPE)),
            "counties": [] if values.get(r.SCOPE) else split(values.get(r.COUNTIES)),
            "exclude_programs": split(values.get(r.EXCLUSIONS)),
            "facility_code": str(values.get(r.FACILITY) or ""),
            "primary_coordinator": _email_of(session, coordinator) if coordinator else None,
        },
        channel=SLACK,
    )
    return referral.number or "", preview_of(session, referral)


async def _form_for(
    gateway: UseCaseRunner,
    client: AsyncWebClient,
    user: str,
    wanted: rc.NewReferral | rc.EditReferral,
) -> dict[str, Any]:
    def build(session: Session, actor: Actor) -> dict[str, Any]:
        require_coordinator(actor)
        services = [
            (code, name)
            for code, name in session.execute(
                select(ServiceCode.code, ServiceCode.name).order_by(ServiceCode.code)
            )
        ]
        if isinstance(wanted, rc.NewReferral):
            return r.referral_form(services, values={"client": wanted.client_id})
        referral = visible_referral(session, actor, wanted.number)
        values = {
            "needs": list(referral.needs),
            "urgency": referral.urgency.value,
            "statewide": referral.statewide,
            "counties": ", ".join(c.name for c in referral.counties),
            "exclude_programs": ", ".join(p.key for p in referral.exclusions),
        }
        return r.referral_form(
            services,
            callback_id=r.EDIT_MODAL,
            metadata=referral.number or "",
            values=values,
        )

    form: dict[str, Any] = await gateway.run(client, user, build)
    return form


async def _answer(
    gateway: UseCaseRunner, client: AsyncWebClient, user: str, parsed: rc.ReferringCommand
) -> dict[str, Any]:
    if isinstance(parsed, rc.FindClient):
        title, blocks = await gateway.run(
            client,
            user,
            lambda s, a: r.client_results(
                clients.search_clients(s, actor=a, text=parsed.text, channel=SLACK)
            ),
        )
        return reply(title, blocks)
    if isinstance(parsed, rc.FindPrograms):
        title, blocks = await gateway.run(
            client,
            user,
            lambda s, a: r.program_results(
                programs.find_programs(s, actor=a, need=parsed.need, county=parsed.county)
            ),
        )
        return reply(title, blocks)
    if isinstance(parsed, rc.SetCapacity):
        result = await gateway.run(
            client,
            user,
            lambda s, a: programs.set_capacity(
                s,
                actor=a,
                program=parsed.program,
                change={
                    "status": parsed.status.value,
                    "waitlist": parsed.waitlist,
                    "until": parsed.until,
                },
                channel=SLACK,
            ),
        )
        return reply(result.summary)
    if isinstance(parsed, rc.DeleteReferral):
        done = await gateway.run(
            client,
            user,
            lambda s, a: referrals.delete_referral(
                s, actor=a, number=parsed.number, channel=SLACK, reason=parsed.reason
            ),
        )
        told = (
            f" The {len(done.programs)} program(s) it was sent to are told."
            if done.programs
            else ""
        )
        return reply(f"{done.number} is deleted; the reason is kept with it.{told}")
    raise InvalidInput("That is not a /referral command.", hint=HELP_HINT)
