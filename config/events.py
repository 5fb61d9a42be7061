"""What happened, announced to whoever listens (the outgoing webhooks, in the
webhooks app): each state change calls emit() from the one place it
happens, and the event is handed to the worker by task name once the change
has committed, so a rolled-back change announces nothing and no service
imports the webhooks app.

Each event gets its id here, once: a task delivered twice records it once,
and every endpoint receives the same id on every attempt (webhook-id), so
receivers can drop repeats."""

import logging
import uuid
from functools import partial

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.queue import enqueue

log = logging.getLogger(__name__)

RECORD_TASK = "webhooks.record_event"

SUBSCRIBER_CREATED = "subscriber.created"
SUBSCRIBER_CONFIRMED = "subscriber.confirmed"
SUBSCRIBER_UNSUBSCRIBED = "subscriber.unsubscribed"
SUBSCRIBER_BOUNCED = "subscriber.bounced"
SUBSCRIBER_COMPLAINED = "subscriber.complained"
SUBSCRIBER_ERASED = "subscriber.erased"
ISSUE_SENT = "issue.sent"
ALL = (
    SUBSCRIBER_CREATED,
    SUBSCRIBER_CONFIRMED,
    SUBSCRIBER_UNSUBSCRIBED,
    SUBSCRIBER_BOUNCED,
    SUBSCRIBER_COMPLAINED,
    SUBSCRIBER_ERASED,
    ISSUE_SENT,
)


def emit(event: str, data: dict) -> None:
    """Announce `event` with `data` (JSON-ready) after the current commit."""
    assert event in ALL, event
    message_id = f"msg_{uuid.uuid4().hex}"
    when = timezone.now().isoformat()
    transaction.on_commit(partial(_hand_over, message_id, event, when, data))


def _hand_over(message_id: str, event: str, when: str, data: dict) -> None:
    try:
        enqueue(RECORD_TASK, message_id, event, when, data)
    except OperationalError:  # the change stands; its announcement is lost with the broker
        log.exception("Could not enqueue the %s event %s", event, message_id)
