"""Builders shared by the sending tests: a renderable issue and many readers, fast."""

import re

from django.utils import timezone

from newsletter.models import Delivery, Issue, Link, Newsletter, Section
from subscribers.models import Subscriber, Subscription
from tests.factories import make_newsletter  # noqa: F401 (re-exported for the sending tests)

URL = re.compile(r"https?://[^\s<>\"']+")


def make_issue(newsletter: Newsletter, number: int = 1, **fields) -> Issue:
    """A draft with one section and one link: enough to render."""
    defaults = {"subject": f"Issue {number}: small models, big results", "intro": "Hello!"}
    issue = Issue.objects.create(newsletter=newsletter, number=number, **{**defaults, **fields})
    section = Section.objects.create(issue=issue, title="Research", position=1)
    Link.objects.create(
        section=section, title="A paper worth reading", url="https://example.org/paper"
    )
    return issue


def make_readers(
    newsletter: Newsletter, count: int, *, status: str = "confirmed", prefix: str = "reader"
) -> list[Subscription]:
    """`count` subscribers of `newsletter` with the given status, inserted in bulk."""
    now = timezone.now()
    subscribers = Subscriber.objects.bulk_create(
        [Subscriber(email=f"{prefix}{n}@example.com", created=now) for n in range(count)],
        batch_size=2000,
    )
    if subscribers and subscribers[0].pk is None:  # backends that do not return ids
        subscribers = list(Subscriber.objects.filter(email__startswith=prefix).order_by("pk"))
    confirmed_at = now if status in ("confirmed", "unsubscribed", "bounced") else None
    return Subscription.objects.bulk_create(
        [
            Subscription(
                subscriber=s, newsletter=newsletter, status=status, confirmed_at=confirmed_at
            )
            for s in subscribers
        ],
        batch_size=2000,
    )


def states(issue: Issue) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in Delivery.objects.filter(issue=issue).values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def emails_of(subscriptions) -> set[str]:
    return {s.subscriber.email for s in subscriptions}


UNSUBSCRIBE = re.compile(r"/unsubscribe/([^/\s<>\"']+)/")


def unsubscribed_by(text: str) -> set[int]:
    """The subscription ids that the unsubscribe links in `text` were signed for."""
    from mail.tokens import read_token

    return {read_token("unsubscribe", token)["s"] for token in UNSUBSCRIBE.findall(text)}


def by_recipient(esp) -> dict[str, list]:
    """The fake ESP's messages per recipient address (an index, for large sends)."""
    index: dict[str, list] = {}
    for message in esp.messages:
        index.setdefault(message.to, []).append(message)
    return index


def assert_own_links(esp, subscription, index: dict[str, list] | None = None) -> None:
    """The reader got exactly one message, whose footer link and List-Unsubscribe are theirs."""
    address = subscription.subscriber.email
    [message] = index.get(address.lower(), []) if index is not None else esp.messages_to(address)
    assert unsubscribed_by(message.html) == {subscription.pk}
    assert unsubscribed_by(message.text) == {subscription.pk}
    assert unsubscribed_by(message.headers["List-Unsubscribe"]) == {subscription.pk}
    assert message.headers["List-Unsubscribe"].endswith("/one-click/>")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "[[" not in message.html + message.text
    assert "%recipient" not in message.html + message.text
