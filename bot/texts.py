"""Every human-facing text is a Jinja2 template in templates/; this module renders them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from bot.commands import EXAMPLE_NUMBER, example
from bot.domain.vocab import RESPONSE_WORDS

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates do not change under a running process: skip a stat() per message rendered.
        auto_reload=False,
    )
    env.filters["needs"] = lambda needs: ", ".join(f"{n['code']} ({n['name']})" for n in needs)
    # "accept" -> "accepted": the words for a response exist once (bot/domain/vocab.py).
    env.filters["answered"] = lambda response: RESPONSE_WORDS[str(response)]
    env.globals["RESPONSE_WORDS"] = RESPONSE_WORDS
    env.globals["example"] = example
    env.globals["EXAMPLE_NUMBER"] = EXAMPLE_NUMBER
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context).strip()


@dataclass(frozen=True)
class EmailText:
    subject: str
    text: str
    html: str | None


def render_email(kind: str, payload: dict[str, Any], **extra: Any) -> EmailText:
    """templates/email/<kind>.subject.txt, <kind>.txt and (optionally) <kind>.html."""
    context = {**payload, **extra}
    subject = " ".join(render(f"email/{kind}.subject.txt", **context).split())
    text = render(f"email/{kind}.txt", **context)
    try:
        html: str | None = render(f"email/{kind}.html", **context)
    except TemplateNotFound:
        html = None
    return EmailText(subject=subject, text=text, html=html)


def render_slack_text(kind: str, payload: dict[str, Any], **extra: Any) -> str:
    """templates/slack/<kind>.txt, with every text from the payload shown as typed: Slack reads
    `<`, `>` and `&` as the start of links, mentions and entities, so a comment such as
    "<https://example.org|Sign in again>" or "<!channel>" (from an email reply, say) would
    otherwise become a disguised link or a ping. The templates' own text is left alone."""
    return render(f"slack/{kind}.txt", **as_typed_in_slack({**payload, **extra}))


def as_typed_in_slack(value: Any) -> Any:
    """`value` with every string escaped for Slack's mrkdwn (&, <, >), lists and dicts through."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, dict):
        return {key: as_typed_in_slack(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_typed_in_slack(item) for item in value]
    return value
