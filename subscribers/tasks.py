"""Subscriber emails leave from the worker, so signing up stays fast.

Each task re-reads the subscription and sends only if its status still calls
for that email (a confirmation for a pending one, a welcome for a confirmed
one): a reader who confirmed or left meanwhile gets nothing stale. A reader's
own link goes out while the reader exists (an erased one gets nothing).
"""

import smtplib

from anymail.exceptions import AnymailAPIError
from celery import shared_task

from mail.links import READER_PAGES
from subscribers import emails, subscriptions
from subscribers.models import Subscriber, Subscription

# Worth another try: the ESP or the network hiccuped. A template error is not.
TRANSIENT = (AnymailAPIError, smtplib.SMTPException, OSError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_jitter": True, "max_retries": 6}


def _subscription(subscription_id: int, status: str) -> Subscription | None:
    return (
        Subscription.objects.select_related("subscriber", "newsletter")
        .filter(pk=subscription_id, status=status)
        .first()
    )


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
def send_reader_link(subscriber_id: int, purpose: str) -> None:
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is not None and purpose in READER_PAGES:
        emails.send_reader_link(subscriber, purpose)
