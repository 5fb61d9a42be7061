"""Events to endpoints: recorded once per event id, then POSTed to each
endpoint that wants them until one answer is a 2xx (at least once; receivers
drop repeats by webhook-id).

A failed attempt (an answer other than 2xx, no answer, a refused address) is
tried again after BACKOFF; the beat's deliver_due also picks up attempts
whose task was lost. An endpoint whose attempts have all failed for
DISABLE_AFTER is disabled, and the admins are told by email; its deliveries
wait, and go when an editor enables it again.
"""

import json
import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config import outbound
from config.queue import enqueue
from webhooks import signing
from webhooks.models import Delivery, Endpoint, Message

log = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
BACKOFF = [
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
]
DISABLE_AFTER = timedelta(days=1)
# While one attempt runs, no other takes its delivery (longer than outbound's timeout).
ATTEMPT_LEASE = timedelta(seconds=60)


def record_event(*, message_id: str, event: str, timestamp: str, data: dict) -> int:
    """Store the event once and a delivery for each endpoint that wants it;
    the number of deliveries made now (0 for an event already recorded)."""
    with transaction.atomic():
        message, created = Message.objects.get_or_create(
            id=message_id,
            defaults={"event": event, "timestamp": parse_datetime(timestamp), "data": data},
        )
        if not created:
            return 0
        endpoints = [e for e in Endpoint.objects.filter(enabled=True) if e.wants(event)]
        made = Delivery.objects.bulk_create(
            [Delivery(endpoint=endpoint, message=message) for endpoint in endpoints]
        )
        for delivery in made:
            transaction.on_commit(lambda pk=delivery.pk: enqueue(DELIVER_TASK, pk))
    return len(made)


def body_of(message: Message) -> bytes:
    return json.dumps(
        {"type": message.event, "timestamp": message.timestamp.isoformat(), "data": message.data},
        separators=(",", ":"),
    ).encode()


def deliver(delivery_id: int, *, now: datetime | None = None) -> str:
    """One attempt, if the delivery is due and its endpoint enabled: "delivered",
    "failed" (tried again later), or "not due"."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id,
        state=Delivery.State.PENDING,
        next_attempt_at__lte=now,
        endpoint__enabled=True,
    ).update(next_attempt_at=now + ATTEMPT_LEASE)
    if not claimed:
        return "not due"
    delivery = Delivery.objects.select_related("endpoint", "message").get(pk=delivery_id)
    endpoint, body = delivery.endpoint, body_of(delivery.message)
    headers = signing.headers(endpoint, delivery.message.id, body, now)
    try:
        status, error = outbound.post(endpoint.url, body=body, headers=headers).status, ""
    except outbound.Refused as exc:
        status, error = None, str(exc)
    if status is not None and 200 <= status < 300:
        _succeeded(delivery, status)
        return "delivered"
    _failed(delivery, status, error or f"answered {status}", now)
    return "failed"


def _succeeded(delivery: Delivery, status: int) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.DELIVERED,
        delivered_at=timezone.now(),
        attempts=F("attempts") + 1,
        last_status=status,
        last_error="",
    )
    Endpoint.objects.filter(pk=delivery.endpoint_id).update(failing_since=None)


def _failed(delivery: Delivery, status: int | None, error: str, now: datetime) -> None:
    wait = BACKOFF[min(delivery.attempts, len(BACKOFF) - 1)]
    Delivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1,
        last_status=status,
        last_error=error[:300],
        next_attempt_at=now + wait,
    )
    Endpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    )
    endpoint = Endpoint.objects.get(pk=delivery.endpoint_id)
    if endpoint.failing_since <= now - DISABLE_AFTER:
        disable(endpoint, reason=f"every attempt failed for a day; the last: {error}")


def disable(endpoint: Endpoint, *, reason: str) -> bool:
    """Stop delivering to `endpoint`, once, and tell the admins by email."""
    if not Endpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason[:300]
    ):
        return False
    admins = get_user_model().objects.filter(is_superuser=True, is_active=True)
    addresses = [user.email for user in admins if user.email]
    if addresses:
        send_mail(
            f"Webhook endpoint disabled: {endpoint.url[:100]}",
            f"Letterpress stopped sending events to {endpoint.url}: {reason}\n\n"
            "Its events are kept. Fix the receiver, then tick Enabled on the "
            "endpoint in the admin, and they go out.",
            None,
            addresses,
        )
    log.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)
    return True


def deliver_due(*, now: datetime | None = None) -> int:
    """Hand every due delivery of an enabled endpoint to the workers (the beat)."""
    now = now or timezone.now()
    due = Delivery.objects.filter(
        state=Delivery.State.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
    ).values_list("pk", flat=True)
    count = 0
    for pk in due.iterator():
        enqueue(DELIVER_TASK, pk)
        count += 1
    return count
