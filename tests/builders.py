"""Every builder of test data: newsletters, issues and their links, readers,
deliveries, editors and what readers did, written to the database. What the
tests share besides their data is in tests/helpers.py.

Newsletters and issues come in several kinds, one builder each:
  make_newsletter              ML Monthly (the sending, subscriber and engagement tests)
  make_field_notes_newsletter  Field Notes, with an accent colour and a two-line address
                               (the rendering, admin, preview, archive and feed tests)
  make_issue                   a draft with one section and one link: enough to render
  make_authored_issue          `sections` sections of `links` links, with commentary
  make_sent_issue              sent just now, without content (add links with make_link)
  make_draft                   a renderable draft of a number that may exist already
"""

from contextlib import contextmanager

from django.contrib.auth.models import Permission, User
from django.utils import timezone

from newsletter.models import Click, Delivery, Feedback, Issue, Link, Newsletter, Section
from subscribers.models import Subscriber, Subscription

# -- newsletters ---------------------------------------------------------------

NEWSLETTER_DEFAULTS = {
    "name": "ML Monthly",
    "sender_name": "Ada",
    "sender_email": "ada@example.com",
    "postal_address": "1 Example Street, Springfield",
    "send_rate": 100_000,
    "time_zone": "Europe/London",
}


def make_newsletter(slug: str = "ml-monthly", **fields) -> Newsletter:
    """ML Monthly, sent at 100,000 a second from London time."""
    return Newsletter.objects.create(slug=slug, **{**NEWSLETTER_DEFAULTS, **fields})


def make_field_notes_newsletter(slug: str = "field-notes", **fields) -> Newsletter:
    """Field Notes: its own sender, an accent colour and a two-line postal address,
    for the tests that look at what an issue renders to."""
    defaults = {
        "name": "Field Notes",
        "sender_name": "Mara",
        "sender_email": "mara@example.com",
        "postal_address": "14 Marlowe Yard\nBristol BS1 4QA",
        "accent_colour": "#0b6e69",
    }
    return make_newsletter(slug, **{**defaults, **fields})


# -- issues and their links ----------------------------------------------------

COMMENTARY = (
    "A careful walkthrough of the idea with worked examples, the trade-offs the "
    "authors admit to, and a section on when *not* to use it. Worth reading before "
    "you reach for the library, and worth keeping open while you do: the diagrams "
    "alone saved me an afternoon of guessing. See [the notes](https://example.org/notes)."
)


@contextmanager
def drafting(issue: Issue):
    """Setup that adds content to an issue past draft, as if the content had been
    there before the send: the app itself refuses (models.IssueFrozen)."""
    status = Issue.objects.filter(pk=issue.pk).values_list("status", flat=True).get()
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.DRAFT)
    try:
        yield issue
    finally:
        Issue.objects.filter(pk=issue.pk).update(status=status)


def make_issue(newsletter: Newsletter, number: int = 1, **fields) -> Issue:
    """A draft with one section and one link: enough to render."""
    defaults = {"subject": f"Issue {number}: small models, big results", "intro": "Hello!"}
    issue = Issue.objects.create(newsletter=newsletter, number=number, **{**defaults, **fields})
    with drafting(issue):
        section = Section.objects.create(issue=issue, title="Research", position=1)
        Link.objects.create(
            section=section, title="A paper worth reading", url="https://example.org/paper"
        )
    return issue


def make_authored_issue(
    newsletter: Newsletter,
    number: int = 1,
    *,
    sections: int = 0,
    links: int = 0,
    **fields,
) -> Issue:
    """An issue with `sections` sections of `links` links each (titled 'Link s.n')."""
    defaults = {"subject": f"Issue number {number}", "intro": "Hello **readers**."}
    if fields.get("status") == Issue.Status.SENT:
        defaults["sent_at"] = timezone.now()
    issue = Issue.objects.create(newsletter=newsletter, number=number, **{**defaults, **fields})
    with drafting(issue):
        for s in range(1, sections + 1):
            section = Section.objects.create(issue=issue, position=s, title=f"Section {s}")
            for n in range(1, links + 1):
                Link.objects.create(
                    section=section,
                    position=n,
                    title=f"Link {s}.{n}",
                    url=f"https://example.com/articles/{s}/{n}/a-reasonably-long-slug-for-realism",
                    commentary=COMMENTARY,
                    source="Example blog",
                )
    return issue


def make_sent_issue(newsletter: Newsletter, number: int = 1, **fields) -> Issue:
    """An issue sent just now, without sections or links (add them with make_link)."""
    defaults = {
        "subject": f"Issue {number}",
        "status": Issue.Status.SENT,
        "sent_at": timezone.now(),
    }
    issue = Issue.objects.create(newsletter=newsletter, number=number, **{**defaults, **fields})
    return issue


def make_link(issue: Issue, url: str, *, section: str = "Research", title: str = "") -> Link:
    with drafting(issue):
        sec, _ = Section.objects.get_or_create(issue=issue, title=section)
        return Link.objects.create(section=sec, title=title or url, url=url)


def make_draft(newsletter: Newsletter, number: int) -> Issue:
    """A renderable draft (the previous send may already have drafted this number)."""
    issue, _ = Issue.objects.update_or_create(
        newsletter=newsletter,
        number=number,
        defaults={"subject": f"Issue {number}", "status": Issue.Status.DRAFT},
    )
    if not Link.objects.filter(section__issue=issue).exists():
        make_link(issue, f"https://example.org/{number}/paper", title="A paper worth reading")
    return issue


# -- readers -------------------------------------------------------------------


def make_reader(newsletter: Newsletter, email: str, **fields) -> Subscription:
    """A confirmed subscription of `email` (its subscriber made if new)."""
    subscriber, _ = Subscriber.objects.get_or_create(email=email)
    defaults = {"status": Subscription.Status.CONFIRMED, "confirmed_at": timezone.now()}
    return Subscription.objects.create(
        subscriber=subscriber, newsletter=newsletter, **{**defaults, **fields}
    )


def make_subscription(
    newsletter: Newsletter, email: str = "reader@example.com", status: str = "confirmed", **fields
) -> Subscription:
    subscriber, _ = Subscriber.objects.get_or_create(email=email)
    if status in ("confirmed", "unsubscribed"):
        fields.setdefault("confirmed_at", timezone.now())
    return Subscription.objects.create(
        subscriber=subscriber, newsletter=newsletter, status=status, **fields
    )


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


# -- deliveries and what readers did with them ----------------------------------


def make_delivery(issue: Issue, subscription: Subscription, message_id: str = "") -> Delivery:
    return Delivery.objects.create(
        issue=issue,
        subscriber=subscription.subscriber,
        state=Delivery.State.SENT,
        batch=1,
        message_id=message_id,
        sent_at=timezone.now(),
    )


def add_engagement(issue: Issue) -> None:
    """What readers did with a sent issue: deliveries confirmed, a few clicks and answers."""
    now = timezone.now()
    deliveries = list(issue.deliveries.order_by("pk"))
    links = [link for section in issue.sections.all() for link in section.links.all()]
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(delivered_at=now)
    for n, delivery in enumerate(deliveries):
        for link in links[n % 3 : n % 3 + 1 + n % 2]:
            Click.objects.create(link=link, delivery=delivery, created=now)
        Delivery.objects.filter(pk=delivery.pk).update(clicked_at=now)
        answer = Feedback.Answer.values[n % 2]
        Feedback.objects.create(delivery=delivery, answer=answer)


# -- editors -------------------------------------------------------------------

EDITOR_PERMS = tuple(
    f"{action}_{model}"
    for model in ("issue", "section", "link", "inboxlink")
    for action in ("view", "add", "change", "delete")
)


def make_editor(username: str = "editor", *, perms: tuple[str, ...] | None = None) -> User:
    """A staff user who may edit issues (but not send them, unless given send_issue)."""
    user = User.objects.create_user(
        username, f"{username}@example.com", "correct horse battery", is_staff=True
    )
    codenames = perms if perms is not None else EDITOR_PERMS
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user
