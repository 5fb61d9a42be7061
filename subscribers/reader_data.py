"""A reader's own data: everything we hold about them, and erasing it.

Both are reached only through a short-lived link emailed on request
(mail.tokens.DATA_MAX_AGE), never through a link that sits in every issue.
"""

from typing import Any

from django.db import transaction

from config import events
from subscribers import subscriptions
from subscribers.models import Subscriber, Suppression


def export(subscriber: Subscriber) -> dict[str, Any]:
    """Everything we hold about one reader, for "download my data"."""
    subscriptions_ = subscriber.subscriptions.select_related("newsletter").order_by("created")
    deliveries = subscriber.deliveries.select_related("issue__newsletter").order_by("created")
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "created": subscriber.created,
        "consent": {
            "at": subscriber.consent_at,
            "ip": subscriber.consent_ip,
            "user_agent": subscriber.consent_user_agent,
            "source": subscriber.consent_source,
            "note": subscriber.consent_note,
        },
        "subscriptions": [
            {
                "newsletter": s.newsletter.name,
                "status": s.status,
                "created": s.created,
                "confirmation_sent_at": s.confirmation_sent_at,
                "confirmed_at": s.confirmed_at,
                "unsubscribed_at": s.unsubscribed_at,
                "reason": s.reason,
            }
            for s in subscriptions_
        ],
        "deliveries": [
            {
                "issue": str(d.issue),
                "state": d.state,
                "sent_at": d.sent_at,
                "opened_at": d.opened_at,
                "clicked_at": d.clicked_at,
            }
            for d in deliveries
        ],
    }


def erase(subscriber: Subscriber) -> None:
    """Delete everything about a reader; keep only a keyed hash of the address
    so that an import cannot quietly add them back."""
    with transaction.atomic():
        subscriptions.suppress(subscriber.email, reason=Suppression.ERASED)
        # The event names the reader by id only: their address is what was erased.
        events.emit(events.SUBSCRIBER_ERASED, {"subscriber": {"id": subscriber.pk}})
        subscriber.delete()
