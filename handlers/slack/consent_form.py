"""The consent (release of information) modal of `/referral consent CLIENT`, and its values
read back into the fields of the web's and API's consent command."""

from __future__ import annotations

from typing import Any

from bot.domain.vocab import ConsentMethod
from handlers.slack.blocks import Block, plain, text
from handlers.slack.form_parts import input_block, option, split, text_input

CONSENT_MODAL = "client.consent"
# Block ids of the consent form, each the field of NewConsent a refusal names.
C_PROGRAMS, C_ANY, C_INFO, C_SIGNED_BY = "programs", "any_program", "info_types", "signed_by"
C_GUARDIAN, C_METHOD, C_REFERENCE, C_SIGNED_ON = (
    "signer_is_guardian",
    "method",
    "reference",
    "signed_on",
)
CONSENT_FIELDS: tuple[str, ...] = (C_PROGRAMS, C_ANY, C_INFO, C_SIGNED_BY, C_GUARDIAN)
CONSENT_FIELDS += (C_METHOD, C_REFERENCE, C_SIGNED_ON)
METHOD_LABELS = {
    ConsentMethod.ELECTRONIC: "E-signature",
    ConsentMethod.TEXT_CODE: "Code by text message",
    ConsentMethod.UPLOADED_SCAN: "Paper, scanned (give its reference)",
}


def consent_modal(client_id: int) -> Block:
    """A signed release of information for one client: which programs (or any participating
    one), which information, who signed and how, and the day (which may be in the past)."""
    yes: dict[str, Any] = {"type": "checkboxes"}
    return {
        "type": "modal",
        "callback_id": CONSENT_MODAL,
        "private_metadata": str(client_id),
        "title": plain("Consent"),
        "submit": plain("Record"),
        "close": plain("Cancel"),
        "blocks": [
            text(f"Release of information for client *{client_id}*."),
            input_block(
                C_PROGRAMS,
                "Programs it covers (keys, comma-separated)",
                text_input(None),
                optional=True,
            ),
            input_block(
                C_ANY,
                "Or",
                {**yes, "options": [option("yes", "Any participating program")]},
                optional=True,
            ),
            input_block(
                C_INFO,
                "Information released (comma-separated)",
                {
                    "type": "plain_text_input",
                    "placeholder": plain("e.g. demographics, contact information"),
                },
            ),
            input_block(C_SIGNED_BY, "Signed by", text_input(None)),
            input_block(
                C_GUARDIAN,
                "Signer",
                {**yes, "options": [option("yes", "The signer is the client's guardian")]},
                optional=True,
            ),
            input_block(
                C_METHOD,
                "How it was signed",
                {
                    "type": "static_select",
                    "options": [option(m.value, label) for m, label in METHOD_LABELS.items()],
                },
            ),
            input_block(
                C_REFERENCE,
                "Where the paper scan is kept (for a paper scan)",
                text_input(None),
                optional=True,
            ),
            input_block(
                C_SIGNED_ON, "Date signed (today when empty)", {"type": "datepicker"}, optional=True
            ),
        ],
    }


def consent_data(client_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The consent modal's values as the sign_consent use case reads them (as the web's form)."""
    return {
        "client_id": client_id,
        "programs": split(values.get(C_PROGRAMS)),
        "any_program": bool(values.get(C_ANY)),
        "info_types": split(values.get(C_INFO)),
        "signed_by": str(values.get(C_SIGNED_BY) or "").strip(),
        "signer_is_guardian": bool(values.get(C_GUARDIAN)),
        "method": values.get(C_METHOD),
        "reference": str(values.get(C_REFERENCE) or "").strip() or None,
        "signed_on": values.get(C_SIGNED_ON) or None,
    }
