"""Tracking webhook bodies in the formats Mailgun and Postmark document, and the
posts that deliver them to anymail's endpoints with the webhook credentials."""

import base64
import hashlib
import hmac
import json
import uuid

import pytest

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


def mailgun_event(event: str, recipient: str, message_id: str, **data) -> dict:
    """A Mailgun webhook body (JSON, with its HMAC signature block)."""
    token = uuid.uuid4().hex
    timestamp = "1767268800"
    signature = hmac.new(
        SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
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


def _post(client, url: str, body, extra: dict):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **extra)


def post_mailgun(client, body, **extra):
    return _post(client, "/anymail/mailgun/tracking/", body, extra)


def post_postmark(client, body, **extra):
    return _post(client, "/anymail/postmark/tracking/", body, extra)
