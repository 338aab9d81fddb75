"""Requests shaped and signed the way Slack sends them to an app's request URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "fake-signing-secret"
TEAM_ID = "T0FAKE001"
TEAM_DOMAIN = "closeloop-test"
API_APP_ID = "A0FAKEAPP"
# The legacy verification token Slack still puts in payloads; Bolt ignores it when signing is on.
VERIFICATION_TOKEN = "fake-verification-token"

Signed = tuple[bytes, dict[str, str]]


def sign(
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    """The headers Slack adds: an HMAC-SHA256 of `v0:{timestamp}:{body}` under the secret."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def slash_command(
    command: str = "/referral",
    text: str = "",
    *,
    user_id: str = "U0GATEKPR",
    user_name: str = "gatekeeper",
    team_id: str = TEAM_ID,
    channel_id: str = "C0REFERRAL",
    channel_name: str = "referrals",
    response_url: str = "https://hooks.example.org/commands/T0FAKE001/1/abc",
    trigger_id: str = "1000000001.1000000001.0123456789abcdef0123456789abcdef",
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> Signed:
    """A slash command: Slack posts it as a form, one field per value."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    body = urlencode(fields).encode()
    return body, sign(body, secret=secret, timestamp=timestamp, retry_num=retry_num)


def _user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def _interactive(
    payload: dict[str, Any], *, secret: str, timestamp: int | None, retry_num: int | None
) -> Signed:
    # Interactivity arrives as a form with a single `payload` field holding JSON.
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, sign(body, secret=secret, timestamp=timestamp, retry_num=retry_num)


def block_actions(
    user_id: str,
    action_id: str,
    value: str | None = None,
    *,
    message_ts: str = "1700000000.000100",
    channel_id: str = "C0REFERRAL",
    block_id: str = "referral_actions",
    selected_user: str | None = None,
    selected_option: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
    ephemeral: bool = False,
    team_id: str = TEAM_ID,
    trigger_id: str = "1000000002.1000000002.0123456789abcdef0123456789abcdef",
    response_url: str = "https://hooks.example.org/actions/T0FAKE001/2/def",
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> Signed:
    """A click on a button (or a pick in a users/static select) in a message the app posted."""
    action_ts = f"{int(time.time())}.000200"
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "action_ts": action_ts}
    if selected_user is not None:
        action.update(type="users_select", selected_user=selected_user)
    elif selected_option is not None:
        action.update(type="static_select", selected_option=selected_option)
    else:
        action.update(type="button", text={"type": "plain_text", "text": action_id, "emoji": True})
        if value is not None:
            action["value"] = value
    shown = message or {
        "type": "message",
        "user": "U0FAKEBOT",
        "bot_id": "B0FAKEBOT",
        "ts": message_ts,
        "text": "",
        "blocks": [],
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "referrals"},
        "message": shown,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    return _interactive(payload, secret=secret, timestamp=timestamp, retry_num=retry_num)


def shortcut(
    user_id: str,
    callback_id: str,
    *,
    team_id: str = TEAM_ID,
    trigger_id: str = "1000000004.1000000004.0123456789abcdef0123456789abcdef",
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> Signed:
    """A global shortcut chosen from Slack's shortcuts menu."""
    payload = {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{int(time.time())}.000300",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
    }
    return _interactive(payload, secret=secret, timestamp=timestamp, retry_num=None)


def view_submission(
    user_id: str,
    callback_id: str,
    private_metadata: str = "",
    state_values: dict[str, dict[str, Any]] | None = None,
    *,
    view_id: str = "V0FAKEVIEW",
    team_id: str = TEAM_ID,
    trigger_id: str = "1000000003.1000000003.0123456789abcdef0123456789abcdef",
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> Signed:
    """A modal submitted; `state_values` is `{block_id: {action_id: {"type": ..., ...}}}`."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state_values or {}},
            "hash": "1700000000.abcdef12",
            "title": {"type": "plain_text", "text": "Referral", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": API_APP_ID,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": "B0FAKEBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _interactive(payload, secret=secret, timestamp=timestamp, retry_num=retry_num)


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str = TEAM_ID,
    event_id: str = "Ev0FAKE0001",
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> Signed:
    """An Events API delivery: JSON, the event wrapped with who it is for."""
    now = int(time.time()) if timestamp is None else timestamp
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "U0FAKEBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-fake-{event_id}",
    }
    body = json.dumps(envelope).encode()
    headers = sign(
        body,
        secret=secret,
        timestamp=timestamp,
        content_type="application/json",
        retry_num=retry_num,
        retry_reason=retry_reason,
    )
    return body, headers
