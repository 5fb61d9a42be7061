"""Builders shared by the authoring tests (rendering, sanitising, admin, preview, archive, feed)."""

from django.contrib.auth.models import Permission, User
from django.utils import timezone

from newsletter.models import Issue, Link, Newsletter, Section
from subscribers.models import Subscriber, Subscription
from tests import factories

COMMENTARY = (
    "A careful walkthrough of the idea with worked examples, the trade-offs the "
    "authors admit to, and a section on when *not* to use it. Worth reading before "
    "you reach for the library, and worth keeping open while you do: the diagrams "
    "alone saved me an afternoon of guessing. See [the notes](https://example.org/notes)."
)


def make_newsletter(slug: str = "field-notes", **fields) -> Newsletter:
    defaults = {
        "name": "Field Notes",
        "sender_name": "Mara",
        "sender_email": "mara@example.com",
        "postal_address": "14 Marlowe Yard\nBristol BS1 4QA",
        "accent_colour": "#0b6e69",
    }
    return factories.make_newsletter(slug, **{**defaults, **fields})


def make_issue(
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


def make_reader(newsletter: Newsletter, email: str) -> Subscription:
    subscriber, _ = Subscriber.objects.get_or_create(email=email)
    return Subscription.objects.create(
        subscriber=subscriber,
        newsletter=newsletter,
        status=Subscription.Status.CONFIRMED,
        confirmed_at=timezone.now(),
    )


EDITOR_PERMS = tuple(
    f"{action}_{model}"
    for model in ("issue", "section", "link")
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
