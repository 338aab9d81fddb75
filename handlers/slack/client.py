"""Slack Web API clients that retry dropped connections and wait out rate limits (429)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient


def make_web_client(
    token: str,
    base_url: str | None = None,
    *,
    max_rate_limit_retries: int = 3,
    max_connection_retries: int = 1,
    timeout: int = 30,
) -> WebClient:
    """A sync client, for the outbox dispatcher.

    slack_sdk only retries connection errors by default; a 429 would otherwise surface at once
    even though Slack says, in Retry-After, exactly when the call will succeed.
    """
    return WebClient(
        token=token,
        base_url=base_url or WebClient.BASE_URL,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=max_connection_retries),
            RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries),
        ],
    )


def make_async_web_client(
    token: str | None,
    base_url: str | None = None,
    *,
    max_rate_limit_retries: int = 3,
    max_connection_retries: int = 1,
    timeout: int = 30,
) -> AsyncWebClient:
    """An async client, for the Bolt app (the sync client would block the event loop)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        timeout=timeout,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=max_connection_retries),
            AsyncRateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries),
        ],
    )
