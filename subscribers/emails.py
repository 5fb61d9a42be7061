"""Every email a subscriber gets outside an issue: one small function each,
rendered from templates/emails/<name>.mjml + .txt in the issues' look, sent
from the newsletter's own sender."""

from mail import links, tokens
from mail.messages import list_headers, newsletter_message, recipient_values
from mail.rendering import render_email
from subscribers.models import Subscription


def send_confirm(subscription: Subscription) -> None:
    name = subscription.newsletter.name
    _send(
        "confirm",
        subscription,
        subject=f"Confirm your subscription to {name}",
        context={
            "confirm_url": links.confirm_url(subscription),
            "days": tokens.CONFIRM_MAX_AGE.days,
        },
    )


def send_welcome(subscription: Subscription) -> None:
    """Sent on confirming; like an issue it carries the reader's own unsubscribe
    link and one-click List-Unsubscribe headers."""
    values = recipient_values(subscription)
    _send(
        "welcome",
        subscription,
        subject=f"Welcome to {subscription.newsletter.name}",
        context=values,
        headers=list_headers(subscription.newsletter, values),
    )


def send_already_subscribed(subscription: Subscription) -> None:
    """Instead of a second confirmation: the signup page must not reveal who is
    subscribed, so the answer goes to the mailbox, which is theirs."""
    _send(
        "already_subscribed",
        subscription,
        subject=f"You are already subscribed to {subscription.newsletter.name}",
        context={"preferences_url": links.preferences_url(subscription.subscriber)},
    )


def _send(
    name: str,
    subscription: Subscription,
    *,
    subject: str,
    context: dict,
    headers: dict[str, str] | None = None,
) -> None:
    newsletter = subscription.newsletter
    html, text = render_email(
        name,
        {"newsletter": newsletter, "subscriber": subscription.subscriber, "subject": subject}
        | context,
    )
    newsletter_message(
        newsletter,
        subject=subject,
        text=text,
        html=html,
        to=[subscription.subscriber.email],
        headers=headers,
        tags=[name],
    ).send()
