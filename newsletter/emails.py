"""Every issue email is built here: one message per reader, or one template
for an ESP batch with per-recipient values. Tests sends use the same path."""

from urllib.parse import urlsplit

from anymail.message import AnymailMessage
from django.conf import settings

from newsletter.rendering import PLACEHOLDERS, placeholder, render_issue
from subscribers import tokens
from subscribers.models import Subscriber, Subscription

ONE_CLICK = "List-Unsubscribe=One-Click"


def list_id(newsletter) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"{newsletter.name} <{newsletter.slug}.{host}>"


def recipient_values(subscription) -> dict[str, str]:
    """The per-recipient parts of an issue email for one subscription."""
    return {
        "unsubscribe_url": tokens.unsubscribe_url(subscription),
        "preferences_url": tokens.preferences_url(subscription.subscriber),
        "one_click_url": tokens.one_click_url(subscription),
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
