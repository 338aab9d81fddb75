"""A local fake of Slack's Web API, served over real HTTP on loopback, that records every call."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_TOKEN = "xoxb-fake-bot-token"
TEAM_ID = "T0FAKE001"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"

# Slack sends these fields as JSON strings inside form bodies; tests want to read them as data.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass(frozen=True)
class Call:
    """One request the fake received, with what it answered (`status` 0: connection dropped)."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float  # time.monotonic() when the request arrived
    status: int
    response: dict[str, Any] | None


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str | None
    drop: bool
    times: int


@dataclass
class _User:
    id: str
    email: str
    name: str
    deleted: bool = False

    def as_slack(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.email.split("@", 1)[0],
            "deleted": self.deleted,
            "real_name": self.name,
            "is_bot": False,
            "is_admin": False,
            "tz": "America/New_York",
            "profile": {
                "email": self.email,
                "real_name": self.name,
                "display_name": self.name,
                "team": TEAM_ID,
            },
        }


@dataclass
class _State:
    """Everything the fake remembers; guarded by one lock because handlers run in many threads."""

    tokens: set[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[Call] = field(default_factory=list)
    users: dict[str, _User] = field(default_factory=dict)
    dms: dict[str, str] = field(default_factory=dict)
    channels_without_bot: set[str] = field(default_factory=set)
    messages: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[_Failure]] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))


class SlackRefusal(Exception):
    """An ok=false answer, raised inside a method implementation."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeSlack:
    """A running fake: `base_url` goes to a slack_sdk client; the helpers script and inspect it."""

    def __init__(self, *, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self._state = _State(tokens={token})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self._state))
        self._server.daemon_threads = True
        # A short poll keeps stop() (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-slack", daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}/api/"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- inspection ---------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def messages_to(self, channel_or_user: str) -> list[Call]:
        """Messages successfully posted to a channel, a DM channel, or a user (by id).

        Ephemeral messages count for the channel they were shown in and for the user shown to.
        """
        found = []
        for call in self.calls():
            if call.method not in ("chat.postMessage", "chat.postEphemeral"):
                continue
            if call.response is None or not call.response.get("ok"):
                continue
            targets = {call.params.get("channel"), call.response.get("channel")}
            if call.method == "chat.postEphemeral":
                targets.add(call.params.get("user"))
            if channel_or_user in targets:
                found.append(call)
        return found

    def conversation(self, channel: str) -> list[dict[str, Any]]:
        """The messages now in a channel (after updates and deletes), oldest first."""
        with self._state.lock:
            channel = self._state.dms.get(channel, channel)
            stored = self._state.messages.get(channel, {})
            return [dict(stored[ts]) for ts in sorted(stored)]

    def dm_channel(self, user_id: str) -> str | None:
        """The DM channel id the fake gave a user, once one was opened."""
        with self._state.lock:
            return self._state.dms.get(user_id)

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._state.lock:
            found = self._state.views.get(view_id)
            return dict(found) if found is not None else None

    def hook_url(self, name: str = "commands/1") -> str:
        """A response_url that this fake answers (Slack's hooks host is unreachable in tests)."""
        return self.base_url.removesuffix("api/") + f"hooks/{name}"

    def responses(self) -> list[Call]:
        """What the app posted to response_url hooks (method "response_url"), oldest first."""
        return self.calls("response_url")

    def clear(self) -> None:
        """Forget recorded calls, messages, views and scripted failures; users stay."""
        with self._state.lock:
            self._state.calls.clear()
            self._state.messages.clear()
            self._state.views.clear()
            self._state.failures.clear()

    # -- scripting ----------------------------------------------------------------------------

    def add_user(self, id: str, email: str, name: str, *, deleted: bool = False) -> None:
        with self._state.lock:
            self._state.users[id] = _User(id=id, email=email, name=name, deleted=deleted)

    def remove_bot_from(self, channel: str) -> None:
        """Posting to this channel will answer not_in_channel."""
        with self._state.lock:
            self._state.channels_without_bot.add(channel)

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 2,
        error: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with a failure instead of doing the work.

        With `error`, Slack's ok=false answer (HTTP 200); otherwise HTTP `status`, and for 429 a
        `Retry-After` header, as Slack does when a method's rate limit is exceeded.
        """
        failure = _Failure(status, retry_after, error, drop=False, times=times)
        with self._state.lock:
            self._state.failures.setdefault(method, []).append(failure)

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """Close the connection without answering the next `times` calls of `method`."""
        failure = _Failure(0, None, None, drop=True, times=times)
        with self._state.lock:
            self._state.failures.setdefault(method, []).append(failure)


def start_fake_slack(*, token: str = DEFAULT_TOKEN) -> FakeSlack:
    """Start a fake on a free loopback port; call `.stop()` (or use it as a context manager)."""
    return FakeSlack(token=token)


# -- the HTTP side ----------------------------------------------------------------------------


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeSlack/1.0"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            # Keep pytest's output clean; every call is recorded in the fake instead.
            pass

        def _hook(self, path: str, raw: bytes, arrived: float) -> None:
            # A response_url: JSON in, a bare "ok" out, no token (the URL itself is the secret).
            try:
                params = json.loads(raw or b"{}")
            except ValueError:
                params = {"invalid_json": raw.decode(errors="replace")}
            params["hook"] = path.removeprefix("/hooks/")
            with state.lock:
                state.calls.append(Call("response_url", params, None, arrived, 200, {"ok": True}))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def _serve(self) -> None:
            arrived = time.monotonic()
            url = urlsplit(self.path)
            method = url.path.rsplit("/", 1)[-1]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if url.path.startswith("/hooks/"):
                self._hook(url.path, raw, arrived)
                return
            params: dict[str, Any] = dict(parse_qsl(url.query))
            token = _token_of(self.headers.get("Authorization"), params)
            status: int
            headers: dict[str, str]
            answer: dict[str, Any] | None
            try:
                params.update(_parse_body(raw, self.headers.get("Content-Type", "")))
                token = _token_of(self.headers.get("Authorization"), params)
                for name in _JSON_FIELDS:
                    if isinstance(params.get(name), str):
                        params[name] = json.loads(params[name])
            except ValueError:
                status, headers, answer = 200, {}, {"ok": False, "error": "invalid_json"}
            else:
                try:
                    status, headers, answer = _answer(state, method, params, token)
                except Exception as err:
                    # A bug in the fake must fail the test that met it, not hang up silently.
                    status, headers = 500, {}
                    answer = {"ok": False, "error": f"fake_slack_bug: {err!r}"}
            params.pop("token", None)
            with state.lock:
                state.calls.append(Call(method, params, token, arrived, status, answer))
            if status == 0:
                self.close_connection = True
                return
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode()
        return fields
    return dict(parse_qsl(raw.decode(), keep_blank_values=True))


def _token_of(authorization: str | None, params: dict[str, Any]) -> str | None:
    if authorization and authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ")
    token = params.get("token")
    return token if isinstance(token, str) else None


def _answer(
    state: _State, method: str, params: dict[str, Any], token: str | None
) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    with state.lock:
        scripted = state.failures.get(method)
        failure = scripted[0] if scripted else None
        if failure is not None and scripted is not None:
            failure.times -= 1
            if failure.times <= 0:
                scripted.pop(0)
    if failure is not None:
        if failure.drop:
            return 0, {}, None
        if failure.error is not None:
            return 200, {}, {"ok": False, "error": failure.error}
        headers = {}
        if failure.status == 429 and failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        error = "ratelimited" if failure.status == 429 else "fatal_error"
        return failure.status, headers, {"ok": False, "error": error}

    if token is None:
        return 200, {}, {"ok": False, "error": "not_authed"}
    if token not in state.tokens:
        return 200, {}, {"ok": False, "error": "invalid_auth"}
    implementation = _METHODS.get(method)
    if implementation is None:
        return 404, {}, {"ok": False, "error": "unknown_method", "req_method": method}
    try:
        with state.lock:
            result = implementation(state, params)
    except SlackRefusal as err:
        return 200, {}, {"ok": False, "error": err.error}
    return 200, {}, {"ok": True, **result}


# -- the methods (called with the state lock held) ---------------------------------------------


def _require(params: dict[str, Any], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise SlackRefusal("invalid_arguments")


def _next_ts(state: _State) -> str:
    # Real ts values are epoch seconds with a per-message suffix; the counter keeps them unique.
    return f"{int(time.time())}.{next(state.counter):06d}"


def _resolve_channel(state: _State, channel: str) -> str:
    """Slack accepts a user id as a channel and posts to (opening if needed) their DM."""
    if channel.startswith(("U", "W")):
        user = state.users.get(channel)
        if user is None:
            raise SlackRefusal("channel_not_found")
        if user.deleted:
            raise SlackRefusal("user_disabled")
        return _open_dm(state, channel)
    if channel.startswith("D"):
        if channel not in state.dms.values():
            raise SlackRefusal("channel_not_found")
        return channel
    if channel.startswith(("C", "G")):
        if channel in state.channels_without_bot:
            raise SlackRefusal("not_in_channel")
        return channel
    raise SlackRefusal("channel_not_found")


def _open_dm(state: _State, user_id: str) -> str:
    if user_id not in state.dms:
        state.dms[user_id] = f"D{next(state.counter):08d}"
    return state.dms[user_id]


def _message_text(params: dict[str, Any]) -> None:
    if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
        raise SlackRefusal("no_text")


def _auth_test(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": "https://closeloop-test.example.org/",
        "team": "closeloop test",
        "user": "closeloop",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _chat_post_message(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    _require(params, "channel")
    _message_text(params)
    channel = _resolve_channel(state, str(params["channel"]))
    ts = _next_ts(state)
    message = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": ts,
        "text": params.get("text", ""),
        "blocks": params.get("blocks") or [],
    }
    if params.get("thread_ts"):
        message["thread_ts"] = params["thread_ts"]
    state.messages.setdefault(channel, {})[ts] = message
    return {"channel": channel, "ts": ts, "message": message}


def _stored_message(state: _State, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    _require(params, "channel", "ts")
    channel = _resolve_channel(state, str(params["channel"]))
    message = state.messages.get(channel, {}).get(str(params["ts"]))
    if message is None:
        raise SlackRefusal("message_not_found")
    return channel, message


def _chat_update(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    channel, message = _stored_message(state, params)
    _message_text(params)
    message["text"] = params.get("text", "")
    if "blocks" in params:
        message["blocks"] = params["blocks"] or []
    message["edited"] = {"user": BOT_USER_ID, "ts": _next_ts(state)}
    return {
        "channel": channel,
        "ts": message["ts"],
        "text": message["text"],
        "message": dict(message),
    }


def _chat_delete(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    channel, message = _stored_message(state, params)
    del state.messages[channel][message["ts"]]
    return {"channel": channel, "ts": message["ts"]}


def _chat_post_ephemeral(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    _require(params, "channel", "user")
    _message_text(params)
    _resolve_channel(state, str(params["channel"]))
    user = state.users.get(str(params["user"]))
    if user is None:
        raise SlackRefusal("user_not_found")
    if user.deleted:
        raise SlackRefusal("user_not_in_channel")
    return {"message_ts": _next_ts(state)}


def _conversations_open(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("channel"):
        channel = _resolve_channel(state, str(params["channel"]))
        return {"channel": {"id": channel}}
    users = params.get("users")
    ids = users if isinstance(users, list) else str(users or "").split(",")
    ids = [i.strip() for i in ids if i.strip()]
    if not ids:
        raise SlackRefusal("users_list_not_supplied")
    if len(ids) > 1:
        # Group DMs are outside what closeloop sends; refuse loudly rather than pretend.
        raise SlackRefusal("not_supported_by_fake")
    if ids[0] not in state.users:
        raise SlackRefusal("user_not_found")
    existed = ids[0] in state.dms
    channel = _open_dm(state, ids[0])
    answer: dict[str, Any] = {"channel": {"id": channel}}
    if existed:
        answer["already_open"] = True
    return answer


def _store_view(state: _State, view: Any, **extra: Any) -> dict[str, Any]:
    if not isinstance(view, dict) or "type" not in view:
        raise SlackRefusal("invalid_arguments")
    view_id = extra.pop("id", None) or f"V{next(state.counter):08d}"
    stored = {
        **view,
        "id": view_id,
        "team_id": TEAM_ID,
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{next(state.counter):08d}",
        "bot_id": BOT_ID,
        **extra,
    }
    state.views[view_id] = stored
    return stored


def _views_open(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    _require(params, "trigger_id", "view")
    return {"view": _store_view(state, params["view"])}


def _views_update(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    _require(params, "view")
    view_id = params.get("view_id")
    if not view_id and params.get("external_id"):
        view_id = next(
            (v for v, s in state.views.items() if s.get("external_id") == params["external_id"]),
            None,
        )
    if not view_id or view_id not in state.views:
        raise SlackRefusal("not_found")
    if params.get("hash") and params["hash"] != state.views[view_id]["hash"]:
        raise SlackRefusal("hash_conflict")
    return {"view": _store_view(state, params["view"], id=view_id)}


def _views_publish(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    _require(params, "user_id", "view")
    if params["user_id"] not in state.users:
        raise SlackRefusal("user_not_found")
    home_id = next(
        (v for v, s in state.views.items() if s.get("user_id") == params["user_id"]),
        None,
    )
    return {"view": _store_view(state, params["view"], id=home_id, user_id=params["user_id"])}


def _users_info(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    _require(params, "user")
    user = state.users.get(str(params["user"]))
    if user is None:
        raise SlackRefusal("user_not_found")
    return {"user": user.as_slack()}


def _users_lookup_by_email(state: _State, params: dict[str, Any]) -> dict[str, Any]:
    _require(params, "email")
    wanted = str(params["email"]).lower()
    for user in state.users.values():
        if user.email.lower() == wanted:
            return {"user": user.as_slack()}
    raise SlackRefusal("users_not_found")


_METHODS = {
    "auth.test": _auth_test,
    "chat.postMessage": _chat_post_message,
    "chat.update": _chat_update,
    "chat.delete": _chat_delete,
    "chat.postEphemeral": _chat_post_ephemeral,
    "conversations.open": _conversations_open,
    "views.open": _views_open,
    "views.update": _views_update,
    "views.publish": _views_publish,
    "users.info": _users_info,
    "users.lookupByEmail": _users_lookup_by_email,
}
