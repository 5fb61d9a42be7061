"""ESP tracking events (delivered, opened, clicked, bounced, complained,
unsubscribed) applied to their Delivery, and to the reader's Subscription
through subscribers.subscriptions, which owns every change of its status.

One receiver of anymail's `tracking` signal applies each event once: ESP event
ids are remembered in WebhookEvent, so a replayed webhook changes nothing.
"""

import hashlib
import json
from datetime import datetime

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from newsletter.models import Delivery, WebhookEvent
from subscribers import subscriptions
from subscribers.models import Subscription


class MalformedWebhook(Exception):
    """The payload could not be read as an ESP event: answered with 400."""


def event_key(event: AnymailTrackingEvent) -> str:
    """The ESP's id for the event, or a digest of the event itself when it has none
    (Postmark gives ids to bounces only): a replay has the same key either way."""
    if event.event_id:
        return _storable(str(event.event_id))[:255]
    raw = json.dumps(event.esp_event, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def event_kind(event: AnymailTrackingEvent) -> str | None:
    """What the event means to us: delivered, opened, clicked, bounce, soft_bounce,
    complaint, unsubscribe; None for events we do not act on."""
    kind = event.event_type
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if kind == EventType.DEFERRED or (
        kind == EventType.BOUNCED and raw.get("Type") == "SoftBounce"  # Postmark
    ):
        return "soft_bounce"
    if kind == EventType.REJECTED and event.reject_reason in (
        RejectReason.BOUNCED,
        RejectReason.INVALID,
    ):
        return "bounce"
    return {
        EventType.DELIVERED: "delivered",
        EventType.OPENED: "opened",
        EventType.CLICKED: "clicked",
        EventType.BOUNCED: "bounce",
        EventType.COMPLAINED: "complaint",
        EventType.UNSUBSCRIBED: "unsubscribe",
    }.get(kind)


def find_delivery(message_id: str, recipient: str) -> Delivery | None:
    bare = message_id.strip().strip("<>")
    return (
        Delivery.objects.filter(
            message_id__in=[message_id, bare, f"<{bare}>"], subscriber__email__iexact=recipient
        )
        .exclude(message_id="")  # rows never sent; and what lets the partial index serve
        .select_related("issue", "subscriber")
        .first()
    )


def record_event(event: AnymailTrackingEvent, *, esp: str) -> bool:
    """Apply one ESP event to its Delivery and Subscription; False when it changed
    nothing (already applied, or not about one of our deliveries)."""
    if not event.recipient or not isinstance(event.recipient, str):
        raise MalformedWebhook("the event names no recipient")
    kind = event_kind(event)
    if kind is None:
        return False
    if not event.message_id or not isinstance(event.message_id, str):
        raise MalformedWebhook(f"the {event.event_type} event has no message id")
    if "\x00" in event.recipient + event.message_id:
        return False  # not an address or a message id we sent
    delivery = find_delivery(event.message_id, event.recipient)
    if delivery is None:
        return False
    with transaction.atomic():
        seen, created = WebhookEvent.objects.get_or_create(
            esp=esp.lower(),
            event_id=event_key(event),
            defaults={"event_type": kind, "delivery": delivery},
        )
        if not created:
            return False
        APPLY[kind](delivery, event.timestamp or timezone.now(), event)
    return True


def _reason(event: AnymailTrackingEvent, fallback: str) -> str:
    return _storable(str(event.description or event.mta_response or fallback))


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL, which a remote mail server's answer may carry."""
    return text.replace("\x00", "")


def _stop_mail(delivery: Delivery, status: str, when: datetime, reason: str) -> None:
    subscriptions.stop_mail(
        delivery.subscriber,
        newsletter_id=delivery.issue.newsletter_id,
        status=status,
        when=when,
        reason=reason,
    )


def _delivered(delivery: Delivery, when: datetime, event) -> None:
    delivery.note_first("delivered_at", when)
    subscriptions.end_soft_bounces(
        subscriber_id=delivery.subscriber_id, newsletter_id=delivery.issue.newsletter_id
    )


def _opened(delivery: Delivery, when: datetime, event) -> None:
    delivery.note_first("opened_at", when)


def _clicked(delivery: Delivery, when: datetime, event) -> None:
    delivery.note_first("clicked_at", when)


def _bounce(delivery: Delivery, when: datetime, event) -> None:
    delivery.note_first("bounced_at", when)
    _stop_mail(delivery, Subscription.Status.BOUNCED, when, _reason(event, "hard bounce"))


def _soft_bounce(delivery: Delivery, when: datetime, event) -> None:
    # ESPs report every retry of a deferred message: one issue counts once.
    earlier = WebhookEvent.objects.filter(delivery=delivery, event_type="soft_bounce")
    if earlier.count() > 1 or delivery.delivered_at:
        return
    subscriptions.count_soft_bounce(
        delivery.subscriber,
        newsletter_id=delivery.issue.newsletter_id,
        when=when,
        detail=_reason(event, ""),
    )


def _complaint(delivery: Delivery, when: datetime, event) -> None:
    delivery.note_first("complained_at", when)
    _stop_mail(delivery, Subscription.Status.COMPLAINED, when, _reason(event, "spam complaint"))


def _unsubscribe(delivery: Delivery, when: datetime, event) -> None:
    subscriptions.unsubscribe_at_esp(
        subscriber_id=delivery.subscriber_id,
        newsletter_id=delivery.issue.newsletter_id,
        when=when,
        reason=_reason(event, "unsubscribed at the ESP"),
    )


APPLY = {
    "delivered": _delivered,
    "opened": _opened,
    "clicked": _clicked,
    "bounce": _bounce,
    "soft_bounce": _soft_bounce,
    "complaint": _complaint,
    "unsubscribe": _unsubscribe,
}


@receiver(tracking, dispatch_uid="letterpress.tracking")
def on_tracking_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    record_event(event, esp=esp_name)
