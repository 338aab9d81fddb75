"""The Slack app manifest (YAML) an admin pastes at api.slack.com/apps to create closeloop's app."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

from handlers.slack.app import EVENTS_PATH
from handlers.slack.listeners.commands import COMMAND
from handlers.slack.referring import NEW_SHORTCUT

# The events the listeners subscribe to (tests/adapter/slack/test_manifest.py checks them against
# the Bolt app's registered listeners).
EVENTS = ("app_home_opened",)

# What each scope is for: chat:write posts DMs and updates them after a click; chat:write.public
# posts a region's digest in its channel without inviting the bot; users:read and
# users:read.email link a Slack user to a staff member by verified email (docs/slack.md);
# commands is /referral.
BOT_SCOPES = ("chat:write", "chat:write.public", "commands", "users:read", "users:read.email")


def manifest(url: str, *, name: str = "closeloop") -> dict[str, Any]:
    """The manifest for an app served at `url` (the deployment's public https address)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an address like https://closeloop.example.org")
    endpoint = url.rstrip("/") + EVENTS_PATH
    return {
        "display_information": {
            "name": name,
            "description": "Closed-loop referrals between human-service agencies.",
            "background_color": "#1d4f5c",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [
                {
                    "command": COMMAND,
                    "url": endpoint,
                    "description": "Work referrals: list, show, assign, accept, decline, close",
                    "usage_hint": "help",
                    "should_escape": False,
                }
            ],
            # The global shortcut (the lightning menu) opening the new-referral form.
            "shortcuts": [
                {
                    "name": "New referral",
                    "type": "global",
                    "callback_id": NEW_SHORTCUT,
                    "description": "Start a referral: client, needs, where, then its recipients",
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": endpoint, "bot_events": list(EVENTS)},
            "interactivity": {"is_enabled": True, "request_url": endpoint},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(url: str) -> str:
    return yaml.safe_dump(manifest(url), sort_keys=False, allow_unicode=True)
