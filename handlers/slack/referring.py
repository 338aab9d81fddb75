"""The referring side in Slack, pure: its `/referral` verbs read into typed commands, and the
Block Kit of its answers and modals (referral form, recipient preview, edit, consent)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.domain.capacity import CapacityStatus
from bot.domain.vocab import Urgency
from bot.services.preview import Preview
from bot.services.programs import ProgramListing
from bot.texts import as_typed_in_slack
from handlers.slack.blocks import Block, context, plain, text
from handlers.slack.consent_form import CONSENT_FIELDS, CONSENT_MODAL
from handlers.slack.form_parts import input_block, option, text_input

NEW_MODAL = "referral.new"
PUBLISH_MODAL = "referral.publish"
EDIT_MODAL = "referral.edit"
NEW_SHORTCUT = "referral_new"
START = "referral.start"
# Block (and action) ids of the referral form: each is the field a refusal names.
CLIENT, NEEDS, URGENCY, SCOPE, COUNTIES = "client", "needs", "urgency", "statewide", "counties"
EXCLUSIONS, FACILITY, COORDINATOR = "exclude_programs", "facility_code", "primary_coordinator"
CONFIRM = "confirm_no_capacity"
FORM_FIELDS = (CLIENT, NEEDS, URGENCY, SCOPE, COUNTIES, EXCLUSIONS, FACILITY, COORDINATOR)
CAPACITY_BUTTON = "program.capacity"
CAPACITY_MODAL = "program.capacity"
PROGRAM, STATUS, WAITLIST, UNTIL = "program", "status", "waitlist", "until"
# The input blocks of each modal: a refusal goes under one of them, or replaces the modal.
MODAL_BLOCKS = {
    CAPACITY_MODAL: {PROGRAM, STATUS, WAITLIST, UNTIL},
    NEW_MODAL: set(FORM_FIELDS),
    EDIT_MODAL: {NEEDS, URGENCY, SCOPE, COUNTIES, EXCLUSIONS, CONFIRM},
    # Shown whenever a recipient has no capacity: the same rule that asks for confirmation.
    PUBLISH_MODAL: {CONFIRM},
    CONSENT_MODAL: set(CONSENT_FIELDS),
}
# A refusal's field -> the block it is shown under.
FIELD_BLOCKS = {"client_id": CLIENT, "needs": NEEDS, "urgency": URGENCY, "statewide": SCOPE}
FIELD_BLOCKS.update({f: f for f in (COUNTIES, EXCLUSIONS, FACILITY, COORDINATOR, CONFIRM)})
FIELD_BLOCKS.update({"target_programs": EXCLUSIONS, "person": COORDINATOR})
FIELD_BLOCKS.update({"program": "program", "status": "status", "capacity": "status"})
FIELD_BLOCKS.update({"waitlist": "waitlist", "until": "until"})
FIELD_BLOCKS.update({f: f for f in CONSENT_FIELDS})


def typed(value: str) -> str:
    escaped: str = as_typed_in_slack(value)
    return escaped


def client_results(found: Sequence[Any]) -> tuple[str, list[Block]]:
    """Search results, for the coordinator alone (ephemeral), each with a Refer button."""
    if not found:
        return "No client matches.", [text("No client matches. Check the spelling.")]
    title = f"Clients matching: {len(found)}"
    blocks: list[Block] = [text(f"*{title}*")]
    for client in found[:20]:
        facts = [f"born {client.birth_date.isoformat()}"]
        if client.county is not None:
            facts.append(client.county.name)
        if client.external_id:
            facts.append(f"id {typed(client.external_id)}")
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{client.id}* · {typed(client.first_name)} "
                    f"{typed(client.last_name)} · {' · '.join(facts)}",
                },
                "accessory": {
                    "type": "button",
                    "action_id": START,
                    "text": plain("Refer"),
                    "value": str(client.id),
                },
            }
        )
    return title, blocks


def program_results(found: Sequence[ProgramListing]) -> tuple[str, list[Block]]:
    if not found:
        return "No program matches.", [text("No program matches.")]
    title = f"Programs: {len(found)}"
    blocks: list[Block] = [text(f"*{title}*")]
    for p in found[:45]:
        where = "every county" if p.all_counties else ", ".join(p.counties)
        state = "receives referrals" if p.receives else "does not receive referrals now"
        if p.suspended:
            state = "in no-referral status"
        elif not p.mou_valid:
            state = "agency MOU not valid"
        blocks.append(
            text(
                f"*{p.name}* ({p.key}) · {p.agency}\n{', '.join(p.services)} · {where}\n"
                f"Capacity: {p.capacity or 'not stated'} · {state}"
            )
        )
    return title, blocks


def preview_blocks(preview: Preview) -> list[Block]:
    """Who receives it and who does not, and why: programs only, never a client."""
    blocks: list[Block] = []
    if preview.receiving:
        lines = [
            f"• {line.name}" + (f" ({line.capacity})" if line.capacity else "")
            for line in preview.receiving
        ]
        blocks.append(text("*Will receive it:*\n" + "\n".join(lines)))
    else:
        blocks.append(text("*No program would receive it.*"))
    if preview.refused:
        lines = [f"• {line.name}: {line.why}" for line in preview.refused]
        blocks.append(text("*Would have, but will not:*\n" + "\n".join(lines)))
    if preview.fixes:
        blocks.append(context("To reach more: " + "; or ".join(preview.fixes) + "."))
    return blocks


def referral_form(
    services: Sequence[tuple[str, str]],
    *,
    callback_id: str = NEW_MODAL,
    metadata: str = "",
    values: dict[str, Any] | None = None,
) -> Block:
    """The referral modal: new (client, needs, urgency, scope, exclusions, facility, primary
    coordinator) or, for an edit, the fields a published referral may change."""
    values = values or {}
    editing = callback_id == EDIT_MODAL
    needs: dict[str, Any] = {
        "type": "multi_static_select",
        "placeholder": plain("1 to 5 services"),
        "max_selected_items": 5,
        "options": [option(code, f"{code}: {name}") for code, name in services][:100],
    }
    chosen = [o for o in needs["options"] if o["value"] in values.get("needs", [])]
    if chosen:
        needs["initial_options"] = chosen
    urgency: dict[str, Any] = {
        "type": "static_select",
        "options": [option(u.value) for u in Urgency],
        "initial_option": option(values.get("urgency") or Urgency.ROUTINE.value),
    }
    scope: dict[str, Any] = {
        "type": "checkboxes",
        "options": [option("statewide", "Statewide (the family will move anywhere)")],
    }
    if values.get("statewide"):
        scope["initial_options"] = scope["options"]
    blocks: list[Block] = []
    if not editing:
        client = {"type": "plain_text_input", "placeholder": plain("number from /referral client")}
        if values.get("client"):
            client["initial_value"] = str(values["client"])
        blocks.append(input_block(CLIENT, "Client", client))
    blocks += [
        input_block(NEEDS, "Needs", needs),
        input_block(URGENCY, "Urgency", urgency),
        input_block(SCOPE, "Scope", scope, optional=True),
        input_block(
            COUNTIES,
            "Preferred counties (comma-separated)",
            text_input(values.get("counties")),
            optional=True,
        ),
        input_block(
            EXCLUSIONS,
            "Programs the family excludes (keys)",
            text_input(values.get("exclude_programs")),
            optional=True,
        ),
    ]
    if editing:
        blocks.append(
            input_block(
                CONFIRM,
                "Programs with no capacity",
                {
                    "type": "checkboxes",
                    "options": [option("yes", "Send to them too")],
                },
                optional=True,
            )
        )
    else:
        blocks += [
            input_block(FACILITY, "Originating facility (3 characters)", text_input(None, 3)),
            input_block(
                COORDINATOR,
                "Primary coordinator (you when empty)",
                {"type": "users_select"},
                optional=True,
            ),
        ]
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "title": plain("Edit referral" if editing else "New referral"),
        "submit": plain("Save and re-publish" if editing else "Preview recipients"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }


def preview_modal(number: str, preview: Preview) -> Block:
    """The draft's recipients; Publish sends it (with a confirmation for full programs)."""
    blocks: list[Block] = [text(f"*{number}* is saved as a draft."), *preview_blocks(preview)]
    view: Block = {
        "type": "modal",
        "callback_id": PUBLISH_MODAL,
        "private_metadata": number,
        "title": plain("Recipients"),
        "close": plain("Close"),
        "blocks": blocks,
    }
    if preview.no_capacity:
        names = ", ".join(line.name for line in preview.no_capacity)
        blocks.append(
            input_block(
                CONFIRM,
                f"No capacity: {names}",
                {"type": "checkboxes", "options": [option("yes", "Send to them too")]},
                optional=True,
            )
        )
    if preview.receiving:
        view["submit"] = plain("Publish")
    else:
        blocks.append(context(f"Change it with /referral edit {number}, then publish."))
    return view


def form_values(view: dict[str, Any]) -> dict[str, Any]:
    """What the modal's inputs hold, by block id: text, a list of picks, a user, a choice."""
    state = (view.get("state") or {}).get("values") or {}
    out: dict[str, Any] = {}
    for block_id, actions in state.items():
        element = (actions or {}).get(block_id) or {}
        if "selected_options" in element:
            out[block_id] = [o.get("value") for o in element["selected_options"] or []]
        elif "selected_option" in element:
            out[block_id] = (element.get("selected_option") or {}).get("value")
        elif "selected_user" in element:
            out[block_id] = element.get("selected_user")
        elif "selected_date" in element:
            out[block_id] = element.get("selected_date")
        else:
            out[block_id] = element.get("value")
    return out


def field_errors(field: str | None, message: str) -> dict[str, str] | None:
    """{block: message} when the refusal names a field of the form, else None."""
    block = FIELD_BLOCKS.get((field or "").split(".")[0])
    return {block: message[:1900]} if block else None


def metadata(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def capacity_button() -> Block:
    """Under the 30-day reminder: a gatekeeper states their program's capacity from there."""
    return {
        "type": "actions",
        "block_id": "capacity_actions",
        "elements": [
            {"type": "button", "action_id": CAPACITY_BUTTON, "text": plain("Set capacity")}
        ],
    }


def capacity_modal(programs: Sequence[tuple[str, str]]) -> Block:
    """Which program, its capacity, a waitlist's length, and until when (optional)."""
    program: dict[str, Any] = {
        "type": "static_select",
        "options": [option(key, name) for key, name in programs][:100],
    }
    if len(programs) == 1:
        program["initial_option"] = program["options"][0]
    return {
        "type": "modal",
        "callback_id": CAPACITY_MODAL,
        "title": plain("Capacity"),
        "submit": plain("Set"),
        "close": plain("Cancel"),
        "blocks": [
            input_block(PROGRAM, "Program", program),
            input_block(
                STATUS,
                "Capacity",
                {"type": "static_select", "options": [option(c.value) for c in CapacityStatus]},
            ),
            input_block(
                WAITLIST,
                "Waitlist length",
                {"type": "number_input", "is_decimal_allowed": False},
                optional=True,
            ),
            input_block(UNTIL, "Until", {"type": "datepicker"}, optional=True),
        ],
    }
