"""Subscriber emails leave from the worker, so signing up stays fast; the
signup form's request is decided here too, so the page does the same work for
every address.

Each task re-reads the subscription and sends only if its status still calls
for that email (a confirmation for a pending one, a welcome for a confirmed
one): a reader who confirmed or left meanwhile gets nothing stale. A reader's
own link goes out while the reader exists (an erased one gets nothing).
"""

import smtplib

from anymail.exceptions import AnymailAPIError
from celery import shared_task
from django.db import OperationalError as DatabaseDown

from mail.links import READER_PAGES
from newsletter.models import Newsletter
from subscribers import emails, mailbox_quota, subscriptions
from subscribers.models import Subscriber, Subscription
from subscribers.subscriptions import Consent

# Worth another try: the ESP or the network hiccuped. A template error is not.
TRANSIENT = (AnymailAPIError, smtplib.SMTPException, OSError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_jitter": True, "max_retries": 6}


def _subscription(subscription_id: int, status: str) -> Subscription | None:
    return (
        Subscription.objects.select_related("subscriber", "newsletter")
        .filter(pk=subscription_id, status=status)
        .first()
    )


# Safe to run twice: a confirmation sent moments ago is not sent again.
@shared_task(
    name=subscriptions.SUBSCRIBE, autoretry_for=(DatabaseDown,), retry_backoff=5, max_retries=6
)
def subscribe(newsletter_id: int, email: str, name: str, consent: dict) -> None:
    if newsletter := Newsletter.objects.filter(pk=newsletter_id).first():
        subscriptions.subscribe(newsletter, email=email, name=name, consent=Consent(**consent))


@shared_task(name=subscriptions.SEND_CONFIRM, **RETRY)
def send_confirm(subscription_id: int) -> None:
    if subscription := _subscription(subscription_id, Subscription.Status.PENDING):
        emails.send_confirm(subscription)


@shared_task(name=subscriptions.SEND_WELCOME, **RETRY)
def send_welcome(subscription_id: int) -> None:
    if subscription := _subscription(subscription_id, Subscription.Status.CONFIRMED):
        emails.send_welcome(subscription)


@shared_task(name=subscriptions.SEND_ALREADY_SUBSCRIBED, **RETRY)
def send_already_subscribed(subscription_id: int) -> None:
    if subscription := _subscription(subscription_id, Subscription.Status.CONFIRMED):
        emails.send_already_subscribed(subscription)


@shared_task(name=subscriptions.SEND_READER_LINK, **RETRY)
def send_reader_link(subscriber_id: int, purpose: str, newsletter_id: int | None = None) -> None:
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    newsletter = Newsletter.objects.filter(pk=newsletter_id).first() if newsletter_id else None
    if subscriber is not None and purpose in READER_PAGES:
        emails.send_reader_link(subscriber, purpose, newsletter=newsletter)


@shared_task(name="subscribers.prune_mailbox_quotas")
def prune_mailbox_quotas() -> int:
    return mailbox_quota.prune()
