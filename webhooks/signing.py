"""Standard Webhooks signatures (https://www.standardwebhooks.com/): the
headers webhook-id, webhook-timestamp and webhook-signature, the last
"v1,<base64 HMAC-SHA256 of id.timestamp.body>" under the endpoint's secret
"whsec_<base64 key>"; after a rotation, one signature per live secret,
space-separated, so a receiver holding either verifies."""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.utils import timezone

from webhooks.models import Endpoint

PREFIX = "whsec_"
OLD_SECRET_SIGNS_FOR = timedelta(days=1)


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def live_secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    old = endpoint.previous_secret
    if old and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        return [endpoint.secret, old]
    return [endpoint.secret]


def headers(endpoint: Endpoint, message_id: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    signatures = [sign(s, message_id, timestamp, body) for s in live_secrets(endpoint, now)]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "Content-Type": "application/json",
    }


def rotate(endpoint: Endpoint) -> None:
    """A new secret; the old one keeps signing for OLD_SECRET_SIGNS_FOR."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + OLD_SECRET_SIGNS_FOR
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
