"""Every email a subscriber gets outside an issue: one small function each,
rendered from templates/emails/<name>.mjml + .txt in the issues' look, sent
from the newsletter's own sender."""

from django.db.models import F

from mail import links, tokens
from mail.messages import list_headers, newsletter_message, recipient_values
from mail.rendering import render_email
from newsletter.models import Newsletter
from subscribers.models import Subscriber, Subscription

# A reader's own links, sent when they ask: purpose → subject.
READER_LINK_SUBJECTS = {
    "preferences": "Your link to manage your subscriptions",
    "data": "Your link to download your data",
    "erase": "Confirm deleting your data",
}


def send_confirm(subscription: Subscription) -> None:
    name = subscription.newsletter.name
    _send(
        "confirm",
        subscription.newsletter,
        subscription.subscriber,
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
        subscription.newsletter,
        subscription.subscriber,
        subject=f"Welcome to {subscription.newsletter.name}",
        context=values,
        headers=list_headers(subscription.newsletter, values),
    )


def send_already_subscribed(subscription: Subscription) -> None:
    """Instead of a second confirmation: the signup page must not reveal who is
    subscribed, so the answer goes to the mailbox, which is theirs."""
    _send(
        "already_subscribed",
        subscription.newsletter,
        subscription.subscriber,
        subject=f"You are already subscribed to {subscription.newsletter.name}",
        context={"preferences_url": links.preferences_url(subscription.subscriber)},
    )


def send_reader_link(subscriber: Subscriber, purpose: str) -> None:
    """A fresh link of the reader's own (preferences, data, erase), which they
    asked for; templates/emails/<purpose>_link.*."""
    newsletter = _speaking_for(subscriber)
    if newsletter is None:  # no newsletter left at all: nothing to manage
        return
    _send(
        f"{purpose}_link",
        newsletter,
        subscriber,
        subject=READER_LINK_SUBJECTS[purpose],
        context={
            "url": links.reader_url(purpose, subscriber),
            "lifetime": tokens.lifetime_words(purpose),
        },
    )


def _speaking_for(subscriber: Subscriber) -> Newsletter | None:
    """The newsletter in whose look, and from whose sender, a reader's own link
    comes: the one they confirmed last, else the one they joined last, else
    the first public one."""
    subscription = (
        subscriber.subscriptions.select_related("newsletter")
        .order_by(F("confirmed_at").desc(nulls_last=True), "-created")
        .first()
    )
    if subscription is not None:
        return subscription.newsletter
    return Newsletter.objects.filter(is_public=True).order_by("name").first()


def _send(
    name: str,
    newsletter: Newsletter,
    subscriber: Subscriber,
    *,
    subject: str,
    context: dict,
    headers: dict[str, str] | None = None,
) -> None:
    html, text = render_email(
        name, {"newsletter": newsletter, "subscriber": subscriber, "subject": subject} | context
    )
    newsletter_message(
        newsletter,
        subject=subject,
        text=text,
        html=html,
        to=[subscriber.email],
        headers=headers,
        kind=name,
    ).send()
