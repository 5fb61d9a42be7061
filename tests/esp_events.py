"""Tracking webhook bodies in the formats Mailgun, Postmark, SendGrid and
Unisender Go document, and the posts that deliver them to anymail's endpoints
with the webhook credentials."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.test import override_settings

from tests.fake_esp import UNISENDER_GO_KEY

SECRET = "letterpress:hook-secret"
SIGNING_KEY = "mailgun-signing-key"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}


@pytest.fixture
def webhook_settings(settings):
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    }


def mailgun_signature(timestamp: float | None = None) -> dict:
    """A signature block as Mailgun makes one: a new token and the time of signing
    (now unless given), signed together with the signing key."""
    timestamp = str(int(time.time() if timestamp is None else timestamp))
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]  # 50 characters, like Mailgun's
    signature = hmac.new(
        SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": signature}


def mailgun_event(event: str, recipient: str, message_id: str, **data) -> dict:
    """A Mailgun webhook body (JSON, with a signature block signed just now)."""
    return {
        "signature": mailgun_signature(),
        "event-data": {
            "event": event,
            "timestamp": 1767268800.5,
            "id": uuid.uuid4().hex[:22],
            "recipient": recipient,
            "tags": [],
            "user-variables": {},
            "message": {
                "headers": {
                    "to": recipient,
                    "message-id": message_id.strip("<>"),
                    "from": "Ada <ada@example.com>",
                    "subject": "Issue 1",
                },
                "attachments": [],
                "size": 2048,
            },
            **data,
        },
    }


def mailgun_failure(recipient: str, message_id: str, *, permanent: bool = True) -> dict:
    """A hard bounce, or (permanent=False) a deferral Mailgun will retry."""
    code, text = (
        (550, "5.1.1 The email account does not exist.")
        if permanent
        else (452, "4.2.2 Mailbox full")
    )
    return mailgun_event(
        "failed",
        recipient,
        message_id,
        severity="permanent" if permanent else "temporary",
        reason="bounce" if permanent else "generic",
        **{"delivery-status": {"code": code, "message": text, "description": ""}},
    )


def postmark_delivery(recipient: str, message_id: str) -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": recipient,
        "Tag": "",
        "DeliveredAt": "2026-01-01T12:00:54.9070259Z",
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": {},
    }


def postmark_bounce(recipient: str, message_id: str, kind: str = "HardBounce") -> dict:
    return {
        "RecordType": "SpamComplaint" if kind == "SpamComplaint" else "Bounce",
        "ID": uuid.uuid4().int % 10**15,
        "Type": kind,
        "TypeCode": 1,
        "Name": kind,
        "Tag": "",
        "MessageID": message_id,
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account does not exist",
        "Email": recipient,
        "From": "ada@example.com",
        "BouncedAt": "2026-01-01T12:01:00.0000000Z",
        "DumpAvailable": False,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Issue 1",
        "MessageStream": "outbound",
    }


def postmark_engagement(record_type: str, recipient: str, message_id: str, **extra) -> dict:
    return {
        "RecordType": record_type,
        "MessageStream": "outbound",
        "FirstOpen": True,
        "Client": {"Name": "Chrome", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "Linux", "Company": "", "Family": "Linux"},
        "Platform": "Desktop",
        "UserAgent": "Mozilla/5.0",
        "Geo": {},
        "MessageID": message_id,
        "Metadata": {},
        "ReceivedAt": "2026-01-01T13:00:00.0000000Z",
        "Tag": "",
        "Recipient": recipient,
        **extra,
    }


def sendgrid_bounce(recipient: str, custom_args: dict) -> list:
    """A SendGrid hard bounce: its events carry the message's custom_args (anymail_id)."""
    return [
        {
            **custom_args,
            "email": recipient,
            "timestamp": 1767268860,
            "event": "bounce",
            "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": f"{uuid.uuid4().hex[:22]}.filterdrecv-1-1",
            "reason": "550 5.1.1 The email account does not exist.",
            "status": "5.1.1",
            "type": "bounce",
        }
    ]


def unisender_go_bounce(recipient: str, metadata: dict) -> bytes:
    """A Unisender Go hard bounce as it posts one (events_by_user), signed as it
    signs: the MD5 of the body with the API key where the signature goes."""
    event = {
        "event_name": "transactional_email_status",
        "event_data": {
            "job_id": "1ZymBc-00041N-9X",
            "metadata": metadata,
            "email": recipient,
            "status": "hard_bounced",
            "event_time": "2026-01-01 12:01:00",
            "delivery_info": {
                "delivery_status": "err_user_unknown",
                "destination_response": "550 5.1.1 The email account does not exist.",
            },
        },
    }
    body = {"auth": UNISENDER_GO_KEY, "events_by_user": [{"user_id": 1, "events": [event]}]}
    unsigned = json.dumps(body).encode()
    signature = hashlib.md5(unsigned).hexdigest().encode()
    return unsigned.replace(UNISENDER_GO_KEY.encode(), signature)


def sending_through(path: str):
    """Settings of an installation that sends through the ESP owning this webhook
    path (/anymail/<esp>/...): only that ESP's tracking endpoint answers."""
    return override_settings(ESP=path.split("/")[2])


def _post(client, esp: str, body, extra: dict):
    """Post as the ESP does, to an installation that sends through it."""
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    url = f"/anymail/{esp}/tracking/"
    with sending_through(url):
        return client.post(url, data, content_type="application/json", **extra)


def post_mailgun(client, body, **extra):
    return _post(client, "mailgun", body, extra)


def post_postmark(client, body, **extra):
    return _post(client, "postmark", body, extra)


def post_sendgrid(client, body, **extra):
    return _post(client, "sendgrid", body, extra)


def post_unisender_go(client, body, **extra):
    return _post(client, "unisender_go", body, extra)
