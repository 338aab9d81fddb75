"""The REST-hook transport: POSTs an id-only notification Bundle to a subscriber's endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import DeliveryError, Notification, Receipt
from bot.interop.fhir import validated
from storage.db import transaction
from storage.models import FhirSubscription

TIMEOUT_SECONDS = 10


def notification_bundle(note: Notification, base: str) -> dict[str, Any]:
    """R4B's subscription notification: which Task changed, never its content (the subscriber
    reads it with its token, and that read is audited)."""
    payload = note.payload
    return validated(
        {
            "resourceType": "Bundle",
            "type": "history",
            "entry": [
                {
                    "fullUrl": f"{base}/Subscription/{payload['subscription']}/$status",
                    "resource": {
                        "resourceType": "SubscriptionStatus",
                        "status": "active",
                        "type": "event-notification",
                        "eventsSinceSubscriptionStart": str(payload["event"]),
                        "subscription": {"reference": f"Subscription/{payload['subscription']}"},
                        "notificationEvent": [
                            {
                                "eventNumber": str(payload["event"]),
                                "focus": {"reference": f"{base}/Task/{payload['task']}"},
                            }
                        ],
                    },
                    "request": {
                        "method": "GET",
                        "url": f"Subscription/{payload['subscription']}/$status",
                    },
                    "response": {"status": "200"},
                }
            ],
        }
    )


class RestHookTransport:
    def __init__(self, sessions: sessionmaker[Session], public_url: str) -> None:
        self.sessions = sessions
        self.base = public_url.rstrip("/") + "/fhir"

    def deliver(self, notification: Notification) -> Receipt:
        with transaction(self.sessions) as session:
            sub = session.get(FhirSubscription, notification.payload.get("subscription"))
            if sub is None or not sub.active:
                # Ended since: nothing to tell, and nothing to retry.
                return Receipt("subscription ended")
            header = sub.header
        body = json.dumps(notification_bundle(notification, self.base)).encode()
        request = urllib.request.Request(
            notification.address,
            data=body,
            method="POST",
            headers={"Content-Type": "application/fhir+json"},
        )
        if header:
            request.add_header("Authorization", header)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return Receipt(f"http {response.status}")
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise DeliveryError(
                f"endpoint answered {exc.code}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
                permanent=permanent,
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"endpoint unreachable: {type(exc).__name__}") from None
