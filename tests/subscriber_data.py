"""Small builders and readers shared by the subscriber tests."""

import re
from urllib.parse import urlsplit

from django.core import mail
from django.utils import timezone

from newsletter.models import Newsletter
from subscribers.models import Subscriber, Subscription
from tests.factories import make_newsletter  # noqa: F401 (re-exported for the subscriber tests)

URL = re.compile(r"https?://[^\s<>\"']+")


def make_subscription(
    newsletter: Newsletter, email: str = "reader@example.com", status: str = "confirmed", **fields
) -> Subscription:
    subscriber, _ = Subscriber.objects.get_or_create(email=email)
    if status in ("confirmed", "unsubscribed"):
        fields.setdefault("confirmed_at", timezone.now())
    return Subscription.objects.create(
        subscriber=subscriber, newsletter=newsletter, status=status, **fields
    )


def status_of(subscription: Subscription) -> str:
    subscription.refresh_from_db()
    return subscription.status


def path_of(url: str) -> str:
    return urlsplit(url).path


def link_in(message, containing: str) -> str:
    """The path of the first link in a message's text body whose URL contains `containing`."""
    for url in URL.findall(message.body):
        if containing in url:
            return path_of(url)
    raise AssertionError(f"no link with {containing!r} in:\n{message.body}")


def html_of(message) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


def sent_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def post_committed(client, capture, path: str, data=None, **extra):
    """POST, then run what the request left for after its commit (the emails),
    as it happens outside a test's transaction."""
    with capture(execute=True):
        return client.post(path, data or {}, **extra)
