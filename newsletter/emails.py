"""Every issue email is built here: one message per reader, or one template
for an ESP batch with per-recipient values. Tests sends use the same path."""

import zoneinfo
from urllib.parse import urlsplit

from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import timezone

from newsletter.rendering import PLACEHOLDERS, placeholder, render_email, render_issue
from subscribers import tokens
from subscribers.models import Subscriber, Subscription

ONE_CLICK = "List-Unsubscribe=One-Click"


def list_id(newsletter) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"{newsletter.name} <{newsletter.slug}.{host}>"


def recipient_values(subscription, links: tokens.ReaderLinks | None = None) -> dict[str, str]:
    """The per-recipient parts of an issue email for one subscription (pass `links`
    when making them for many readers)."""
    unsubscribe_url, one_click_url, preferences_url = (links or tokens.ReaderLinks())(subscription)
    return {
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "one_click_url": one_click_url,
        "recipient_key": "",
    }


def personalize(text: str, values: dict[str, str]) -> str:
    for name in PLACEHOLDERS:
        text = text.replace(placeholder(name), values.get(name, ""))
    return text


def common_headers(newsletter) -> dict[str, str]:
    return {"List-Id": list_id(newsletter), "List-Unsubscribe-Post": ONE_CLICK}


def personal_headers(values: dict[str, str]) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{values['one_click_url']}>"}


def issue_message(issue, rendered, *, to: str, values: dict[str, str]) -> AnymailMessage:
    """The email one reader receives (rendered = newsletter.rendering.render_issue(issue))."""
    newsletter = issue.newsletter
    message = AnymailMessage(
        subject=rendered.subject,
        body=personalize(rendered.text, values),
        from_email=newsletter.from_email,
        to=[to],
        reply_to=[newsletter.reply_to] if newsletter.reply_to else None,
        headers={**common_headers(newsletter), **personal_headers(values)},
    )
    message.attach_alternative(personalize(rendered.html, values), "text/html")
    return message


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


def send_test_issue(issue, *, to: str) -> None:
    """Exactly the email a reader gets, headers included, through the configured ESP."""
    values = values_for_address(issue.newsletter, to=to)
    issue_message(issue, render_issue(issue), to=to, values=values).send()


# -- Batches: one API call, the ESP fills each reader's values ---------------------


def esp_placeholders(text: str, syntax: str) -> str:
    """Our [[name]] placeholders in an ESP's merge syntax, e.g. "%recipient.{}%"."""
    for name in PLACEHOLDERS:
        text = text.replace(placeholder(name), syntax.format(name))
    return text


def batch_message(
    issue, rendered, *, readers: dict[str, dict[str, str]], syntax: str
) -> AnymailMessage:
    """One message for many readers (email → recipient values): the ESP sends each
    their own copy, with their own links (merge_data) and List-Unsubscribe (merge_headers)."""
    newsletter = issue.newsletter
    message = AnymailMessage(
        subject=rendered.subject,
        body=esp_placeholders(rendered.text, syntax),
        from_email=newsletter.from_email,
        to=list(readers),
        reply_to=[newsletter.reply_to] if newsletter.reply_to else None,
        headers=common_headers(newsletter),
    )
    message.attach_alternative(esp_placeholders(rendered.html, syntax), "text/html")
    message.merge_data = {
        to: {name: values.get(name, "") for name in PLACEHOLDERS} for to, values in readers.items()
    }
    message.merge_headers = {to: personal_headers(values) for to, values in readers.items()}
    return message


# -- Editors ---------------------------------------------------------------------------


def send_reminder(issue, *, to: list[str]) -> None:
    """Tell editors that an issue due soon has no links yet."""
    newsletter = issue.newsletter
    context = {
        "newsletter": newsletter,
        "issue": issue,
        "send_at": issue.send_at,
        "edit_url": settings.SITE_URL + reverse("admin:newsletter_issue_change", args=[issue.pk]),
    }
    with timezone.override(zoneinfo.ZoneInfo(newsletter.time_zone)):  # dates as editors plan them
        html, text = render_email("reminder", context)
    message = EmailMultiAlternatives(
        subject=f"{newsletter.name} #{issue.number} is due soon and has no links yet",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(html, "text/html")
    message.send()
