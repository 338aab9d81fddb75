"""The pieces every referring-side modal is built from: an input block named by the field it
holds (so a refusal can be shown under it), an option, a text input, a comma list read back."""

from __future__ import annotations

from typing import Any

from handlers.slack.blocks import Block, plain


def input_block(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "optional": optional,
        "element": {**element, "action_id": block_id},
    }


def option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": plain(label or value), "value": value}


def text_input(initial: str | None, length: int | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input"}
    if initial:
        element["initial_value"] = initial
    if length:
        element["min_length"] = length
        element["max_length"] = length
    return element


def split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]
