"""Every human-facing text is a Jinja2 template in templates/; this module renders them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from bot.commands import EXAMPLE_NUMBER, example
from bot.domain.vocab import RESPONSE_WORDS

DEFAULT_TIMEZONE = "America/Chicago"
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
    env.filters["localtime"] = _localtime
    env.filters["localdate"] = _localdate
    return env


# The network's time zone for texts rendered without one in their context (emails, Slack
# messages, digests): set once per process from TIMEZONE when its Runtime is built.
_zone: list[ZoneInfo] = [ZoneInfo(DEFAULT_TIMEZONE)]


def use_timezone(name: str) -> None:
    _zone[0] = ZoneInfo(name)


def current_zone() -> ZoneInfo:
    return _zone[0]


def local_moment(value: datetime | str, zone: str | None = None) -> datetime:
    """A stored moment (UTC, aware; or its ISO text from a payload) in the network's zone."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # stored naive means UTC (storage/types.py)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone) if zone else _zone[0])


@pass_context
def _localtime(context: Context, value: datetime | str | None) -> str:
    """'2026-03-09 09:00 CST': what people read, in the network's local time."""
    if value is None or value == "":
        return ""
    try:
        return f"{local_moment(value, context.get('timezone')):%Y-%m-%d %H:%M %Z}"
    except ValueError:  # not a moment after all: shown as given, cut like a date and time
        return str(value)[:16]


@pass_context
def _localdate(context: Context, value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    try:
        return local_moment(value, context.get("timezone")).date().isoformat()
    except ValueError:
        return str(value)[:10]


# Context variables read other than by name in a template: by the filters above (which take the
# context) and by `render_email`. bot/email_texts.py leaves any other unnamed variable out.
CONTEXT_READ_OUTSIDE_TEMPLATES = frozenset({"timezone", "number"})


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context).strip()


@dataclass(frozen=True)
class EmailText:
    subject: str
    text: str
    html: str | None


# Emails about one referral share one subject, so that mail clients group a referral's
# conversation (the References header does the same for clients that read it); what happened
# is the first line of the body instead.
REFERRAL_KINDS = frozenset(
    {
        "email_confirmation",
        "email_error",
        "program_joined",
        "referral_assigned",
        "referral_closed",
        "referral_deleted",
        "referral_published",
        "referral_reassigned",
        "referral_republished",
        "response_edited",
        "response_given",
        "service_status_changed",
    }
)


def referral_subject(number: str) -> str:
    return f"[closeloop] Referral {number}"


def render_email(kind: str, payload: dict[str, Any], **extra: Any) -> EmailText:
    """templates/email/<kind>.subject.txt, <kind>.txt and (optionally) <kind>.html."""
    context = {**payload, **extra}
    subject = " ".join(render(f"email/{kind}.subject.txt", **context).split())
    event = None
    number = context.get("number")
    if kind in REFERRAL_KINDS and number:
        event = subject.removeprefix("[closeloop] ")
        subject = referral_subject(str(number))
    text = render(f"email/{kind}.txt", **context)
    if event:
        text = f"{event}\n\n{text}"
    try:
        html: str | None = render(f"email/{kind}.html", **context, event=event)
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
