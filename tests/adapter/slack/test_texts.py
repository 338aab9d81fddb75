"""Every notification told by email is told in Slack too, unless it only ever goes by email."""

from __future__ import annotations

from bot.services.bounces import mark_email_bouncing
from bot.texts import TEMPLATES
from storage.db import transaction
from tests.adapter.slack.conftest import SlackWorld
from tests.network import DANA

# Sent by email (or the console) whatever channels are configured: answers to an email, and
# the web's sign-in link.
EMAIL_ONLY = {"email_confirmation", "email_error", "sign_in_link"}


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
