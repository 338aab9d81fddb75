"""The Slack app manifest: valid YAML that subscribes to every listener the Bolt app registers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.runtime import Runtime
from bot.settings import Settings
from handlers.slack.app import EVENTS_PATH, build_slack_app
from handlers.slack.manifest import manifest_yaml


def _closure(func: Any) -> dict[str, Any]:
    cells = (c.cell_contents for c in func.__closure__ or ())
    return dict(zip(func.__code__.co_freevars, cells, strict=True))


def _what_each_listener_matches(app: Any) -> list[tuple[str, object]]:
    """(kind, value) per registered listener, read from Bolt's matcher closures: a command's
    name, an event's type, or 'interactive' for actions, views, options and shortcuts."""
    found: list[tuple[str, object]] = []
    for listener in app._async_listeners:
        for matcher in listener.matchers:
            cells = _closure(matcher.func)
            # Bolt wraps each built-in matcher in an async function around the real one.
            while set(cells) == {"func"}:
                cells = _closure(cells["func"])
            if "command" in cells:
                found.append(("command", cells["command"]))
            elif "event_type" in cells:
                found.append(("event", cells["event_type"]))
            else:
                found.append(("interactive", None))
    return found


def test_the_manifest_is_yaml_with_every_listener_the_app_registers(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'm.db'}",
        slack_bot_token="xoxb-test",
        slack_signing_secret="s" * 32,
        slack_api_url="http://127.0.0.1:9/api/",
    )
    runtime = Runtime(settings)
    try:
        app = build_slack_app(runtime)
    finally:
        runtime.close()
    data = yaml.safe_load(manifest_yaml("https://closeloop.example.org"))
    endpoint = "https://closeloop.example.org" + EVENTS_PATH
    listened = _what_each_listener_matches(app)
    commands = {c["command"] for c in data["features"]["slash_commands"]}
    events = set(data["settings"]["event_subscriptions"]["bot_events"])

    assert {value for kind, value in listened if kind == "command"} == commands == {"/referral"}
    assert {value for kind, value in listened if kind == "event"} == events
    assert ("interactive", None) in listened
    assert data["settings"]["interactivity"] == {"is_enabled": True, "request_url": endpoint}
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert all(c["url"] == endpoint for c in data["features"]["slash_commands"])
    # The "New referral" global shortcut, under the callback id the app listens for.
    assert [(s["type"], s["callback_id"]) for s in data["features"]["shortcuts"]] == [
        ("global", "referral_new")
    ]
    assert all(len(s["name"]) <= 24 for s in data["features"]["shortcuts"])
    # App Home needs no scope; posting, DMs, the slash command and the email link need these.
    assert set(data["oauth_config"]["scopes"]["bot"]) == {
        "chat:write",
        "chat:write.public",
        "commands",
        "users:read",
        "users:read.email",
    }
