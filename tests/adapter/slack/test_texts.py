"""Every notification told by email is told in Slack too, unless it only ever goes by email."""

from __future__ import annotations

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.services import work
from bot.services.bounces import mark_email_bouncing
from bot.texts import TEMPLATES
from storage.db import transaction
from tests.adapter.slack.conftest import SlackWorld
from tests.network import DANA, GK_HOME
from tests.service.helpers import published

# Sent by email (or the console) whatever channels are configured: answers to an email, and
# the web's sign-in link.
EMAIL_ONLY = {"email_confirmation", "email_error", "email_question", "sign_in_link"}


def test_every_kind_with_an_email_text_has_a_slack_text() -> None:
    email = {
        p.name.removesuffix(".subject.txt") for p in (TEMPLATES / "email").glob("*.subject.txt")
    }
    slack = {p.stem for p in (TEMPLATES / "slack").glob("[!_]*.txt")} - {"help"}

    assert email - EMAIL_ONLY == slack


def test_the_admins_hear_in_slack_that_a_persons_email_bounces(world: SlackWorld) -> None:
    with transaction(world.sessions) as session:
        assert mark_email_bouncing(session, addresses=[DANA]) == [DANA]

    assert world.drain() == 1

    [told] = world.dm("U0ADMIN")
    assert told["text"] == (
        f"Email to Dana Ruiz ({DANA}) comes back undeliverable, so closeloop has stopped "
        "emailing them. Check the address in the directory, then clear the bouncing mark."
    )


def test_a_comment_shows_in_slack_as_typed_never_as_a_link_or_a_ping(world: SlackWorld) -> None:
    """Slack reads <, > and & as links, mentions and entities: a comment (from an email reply,
    say) must not turn into a disguised link or an @channel in the coordinator's DM."""
    number = published(world.sessions, needs=["RES"])  # Heartland Residential: Grace
    world.drain()
    comment = "<https://phish.example.org|Sign in again> & <!channel> if < 5 beds"
    with transaction(world.sessions) as session:
        work.respond_to_referral(
            session,
            actor=actor_by_email(session, GK_HOME),
            number=number,
            kind="tentative",
            reason="pending funding approval",
            comment=comment,
            channel=Channel.EMAIL,
        )
    assert world.drain() == 1

    [told] = world.dm("U0CASEY")[-1:]
    assert told["text"] == (
        f"Heartland Residential answered referral {number}: tentatively accepted (pending "
        "funding approval). Grace Holt wrote: “&lt;https://phish.example.org|Sign in again&gt; "
        "&amp; &lt;!channel&gt; if &lt; 5 beds”"
    )
