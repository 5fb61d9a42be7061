"""The issue emails: one message per reader, or one for an ESP batch with
per-recipient values, and the editors' reminder. Test sends use the same path
as readers' copies, "[Test]" in the subject; every message is made by mail.messages."""

import zoneinfo
from dataclasses import replace

from anymail.message import AnymailMessage
from django.conf import settings
from django.db.models import Count, Max
from django.urls import reverse
from django.utils import timezone

from mail.languages import speaking
from mail.messages import (
    ISSUE,
    build_message,
    common_headers,
    esp_placeholders,
    list_headers,
    newsletter_message,
    personal_headers,
    personalize,
    recipient_values,
)
from mail.rendering import PLACEHOLDERS, render_email
from mail.tokens import recipient_key
from newsletter.models import Delivery, Issue
from newsletter.rendering import render_issue
from subscribers.addresses import InvalidAddress, normalise
from subscribers.models import Subscriber, Subscription
from subscribers.subscriptions import is_suppressed


def issue_message(issue, rendered, *, to: str, values: dict[str, str]) -> AnymailMessage:
    """The email one reader receives (rendered = newsletter.rendering.render_issue(issue))."""
    return newsletter_message(
        issue.newsletter,
        subject=rendered.subject,
        text=personalize(rendered.text, values),
        html=personalize(rendered.html, values),
        to=[to],
        headers=list_headers(issue.newsletter, values),
        **issue_fields(issue),
    )


def issue_fields(issue) -> dict:
    """What every copy of an issue says about itself to the ESP and mailbox providers."""
    return {
        "kind": ISSUE,
        "campaign": f"issue-{issue.number}",
        "metadata": {"issue": str(issue.pk)},
    }


def values_for_address(newsletter, *, to: str) -> dict[str, str]:
    """Per-recipient values for a test or preview sent to `to`.

    A reader of this newsletter gets their own links; anyone else gets links
    signed for no subscription (pk 0), which lead to a friendly "not valid" page.
    """
    subscription = (
        Subscription.objects.filter(newsletter=newsletter, subscriber__email__iexact=to.strip())
        .select_related("subscriber")
        .first()
    )
    if subscription is None:
        subscription = Subscription(pk=0, newsletter=newsletter, subscriber=Subscriber(pk=0))
    return recipient_values(subscription)


def longest_reader_values(newsletter) -> dict[str, str]:
    """Per-recipient values as long as any reader's in the next send: the
    highest subscription, subscriber and delivery ids make the longest tokens."""
    confirmed = Subscription.objects.filter(
        newsletter=newsletter, status=Subscription.Status.CONFIRMED
    )
    top = confirmed.aggregate(s=Max("pk"), p=Max("subscriber_id"), n=Count("pk"))
    subscription = Subscription(
        pk=top["s"] or 1, newsletter=newsletter, subscriber=Subscriber(pk=top["p"] or 1)
    )
    last_delivery = Delivery.objects.aggregate(d=Max("pk"))["d"] or 0
    values = recipient_values(subscription)
    values["recipient_key"] = recipient_key(last_delivery + max(top["n"], 1))
    return values


def sent_html_bytes(issue, rendered) -> int:
    """The size of the HTML the longest reader's copy will have (Gmail's clip counts it)."""
    return len(personalize(rendered.html, longest_reader_values(issue.newsletter)).encode())


# Test sends say so in the subject, so nobody takes one for the real issue.
TEST_SUBJECT_PREFIX = "[Test] "


class TestRefused(Exception):
    """A test email to an address that must not get mail from us."""


def send_test_issue(issue, *, to: str) -> None:
    """Exactly the email a reader gets, headers included, through the configured
    ESP; TestRefused for an address that left this newsletter or that bounced,
    complained or was erased: a test is no way around "never mailed after leaving"."""
    try:
        address = normalise(to)  # the stored form, as readers' and suppressed ones are
    except InvalidAddress as exc:
        raise TestRefused(f"{to}: {exc}") from exc
    left = Subscription.objects.filter(
        newsletter=issue.newsletter, subscriber__email=address, status__in=Subscription.LEFT
    )
    if left.exists() or is_suppressed(address):
        raise TestRefused(f"{to} left this newsletter or cannot be mailed: no test goes there.")
    values = values_for_address(issue.newsletter, to=to)
    digest = issue.content_digest()  # before rendering: a later edit makes it stale, not current
    rendered = render_issue(issue)
    rendered = replace(rendered, subject=TEST_SUBJECT_PREFIX + rendered.subject)
    issue_message(issue, rendered, to=to, values=values).send()
    # Without touching `updated` (a test is no edit): the pre-flight compares digests.
    issue.test_sent_at, issue.test_digest = timezone.now(), digest
    Issue.objects.filter(pk=issue.pk).update(test_sent_at=issue.test_sent_at, test_digest=digest)


def batch_message(
    issue, rendered, *, readers: dict[str, dict[str, str]], syntax: str
) -> AnymailMessage:
    """One message for many readers (email → recipient values): the ESP sends each
    their own copy, with their own links (merge_data) and List-Unsubscribe (merge_headers)."""
    message = newsletter_message(
        issue.newsletter,
        subject=rendered.subject,
        text=esp_placeholders(rendered.text, syntax),
        html=esp_placeholders(rendered.html, syntax),
        to=list(readers),
        headers=common_headers(issue.newsletter),
        **issue_fields(issue),
    )
    # The ESP gives each copy its own Message-ID: one shared id would make
    # inboxes drop the copies after the first as duplicates.
    message.extra_headers.pop("Message-ID", None)
    message.merge_data = {
        to: {name: values.get(name, "") for name in PLACEHOLDERS} for to, values in readers.items()
    }
    message.merge_headers = {to: personal_headers(values) for to, values in readers.items()}
    return message


def send_reminder(issue, *, to: list[str]) -> None:
    """Tell editors that an issue due soon has no links yet."""
    newsletter = issue.newsletter
    context = {
        "newsletter": newsletter,
        "issue": issue,
        "send_at": issue.send_at,
        "edit_url": settings.SITE_URL + reverse("admin:newsletter_issue_change", args=[issue.pk]),
    }
    # Dates as editors plan them; in the site's language, like the rest of the editors' side.
    with timezone.override(zoneinfo.ZoneInfo(newsletter.time_zone)), speaking(None):
        html, text = render_email("reminder", context)
    build_message(
        kind="reminder",
        newsletter_slug=newsletter.slug,
        subject=f"{newsletter.name} #{issue.number} is due soon and has no links yet",
        text=text,
        html=html,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    ).send()
