"""Every email a subscriber gets outside an issue: one small function each,
rendered from templates/emails/<name>.mjml + .txt in the issues' look, sent
from the newsletter's own sender and in its language (mail.languages)."""

from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mail import links, tokens
from mail.languages import speaking
from mail.messages import list_headers, newsletter_message, recipient_values
from mail.rendering import render_email
from newsletter.models import Newsletter
from subscribers.models import Subscriber, Subscription
from subscribers.subscriptions import speaking_for

# Each email's subject, by template name; %(name)s is the newsletter's name.
SUBJECTS = {
    "confirm": _("Confirm your subscription to %(name)s"),
    "welcome": _("Welcome to %(name)s"),
    "already_subscribed": _("You are already subscribed to %(name)s"),
    "preferences_link": _("Your link to manage your subscriptions"),
    "data_link": _("Your link to download your data"),
    "erase_link": _("Confirm deleting your data"),
}
# A reader's own links, sent when they ask: purpose → subject.
READER_LINK_SUBJECTS = {
    purpose: SUBJECTS[f"{purpose}_link"] for purpose in ("preferences", "data", "erase")
}

# The week of the month in "on the first Tuesday" (Newsletter.WeekOfMonth).
CADENCE_WEEKS = {
    1: pgettext_lazy("the first <weekday> of the month", "first"),
    2: pgettext_lazy("the second <weekday> of the month", "second"),
    3: pgettext_lazy("the third <weekday> of the month", "third"),
    4: pgettext_lazy("the fourth <weekday> of the month", "fourth"),
    -1: pgettext_lazy("the last <weekday> of the month", "last"),
}


def send_confirm(subscription: Subscription) -> None:
    with speaking(subscription.newsletter):
        _send(
            "confirm",
            subscription.newsletter,
            subscription.subscriber,
            context={
                "confirm_url": links.confirm_url(subscription),
                "lifetime": tokens.lifetime_words("confirm"),
            },
        )


def send_welcome(subscription: Subscription) -> None:
    """Sent on confirming; like an issue it carries the reader's own unsubscribe
    link and one-click List-Unsubscribe headers."""
    newsletter = subscription.newsletter
    values = recipient_values(subscription)
    with speaking(newsletter):
        cadence = {
            "cadence_week": CADENCE_WEEKS[newsletter.cadence_week],
            "cadence_weekday": WEEKDAYS[newsletter.cadence_weekday],
        }
        _send(
            "welcome",
            newsletter,
            subscription.subscriber,
            context=values | cadence,
            headers=list_headers(newsletter, values),
        )


def send_already_subscribed(subscription: Subscription) -> None:
    """Instead of a second confirmation: the signup page must not reveal who is
    subscribed, so the answer goes to the mailbox, which is theirs."""
    newsletter = subscription.newsletter
    with speaking(newsletter):
        _send(
            "already_subscribed",
            newsletter,
            subscription.subscriber,
            context={"preferences_url": links.preferences_url(subscription.subscriber, newsletter)},
        )


def send_reader_link(
    subscriber: Subscriber, purpose: str, *, newsletter: Newsletter | None = None
) -> None:
    """A fresh link of the reader's own (preferences, data, erase), which they
    asked for; templates/emails/<purpose>_link.*. It comes from `newsletter`
    (the one whose page they asked on), else subscriptions.speaking_for's, and
    its pages speak that newsletter's language too."""
    newsletter = newsletter or speaking_for(subscriber)
    if newsletter is None:  # no newsletter left at all: nothing to manage
        return
    with speaking(newsletter):
        _send(
            f"{purpose}_link",
            newsletter,
            subscriber,
            context={
                "url": links.reader_url(purpose, subscriber, newsletter),
                "lifetime": tokens.lifetime_words(purpose),
            },
        )


def _send(
    name: str,
    newsletter: Newsletter,
    subscriber: Subscriber,
    *,
    context: dict,
    headers: dict[str, str] | None = None,
) -> None:
    """Render and send templates/emails/<name>.*, in the language being spoken."""
    subject = SUBJECTS[name] % {"name": newsletter.name}
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
