"""Small builders shared by the engagement tests (webhooks, clicks, feedback, stats)."""

from django.utils import timezone

from newsletter.models import Delivery, Issue, Link, Newsletter, Section
from subscribers.models import Subscriber, Subscription
from tests.sending_data import make_newsletter

__all__ = ["make_newsletter"]  # shared with the sending tests, re-exported for ours


def make_issue(newsletter: Newsletter, number: int = 1, **fields) -> Issue:
    defaults = {
        "subject": f"Issue {number}",
        "status": Issue.Status.SENT,
        "sent_at": timezone.now(),
    }
    issue = Issue.objects.create(newsletter=newsletter, number=number, **{**defaults, **fields})
    return issue


def make_link(issue: Issue, url: str, *, section: str = "Research", title: str = "") -> Link:
    sec, _ = Section.objects.get_or_create(issue=issue, title=section)
    return Link.objects.create(section=sec, title=title or url, url=url)


def make_reader(newsletter: Newsletter, email: str, **fields) -> Subscription:
    subscriber, _ = Subscriber.objects.get_or_create(email=email)
    defaults = {"status": Subscription.Status.CONFIRMED, "confirmed_at": timezone.now()}
    return Subscription.objects.create(
        subscriber=subscriber, newsletter=newsletter, **{**defaults, **fields}
    )


def make_delivery(issue: Issue, subscription: Subscription, message_id: str = "") -> Delivery:
    return Delivery.objects.create(
        issue=issue,
        subscriber=subscription.subscriber,
        state=Delivery.State.SENT,
        batch=1,
        message_id=message_id,
        sent_at=timezone.now(),
    )


def send_issue(issue: Issue) -> None:
    """Send an issue with the sending module's plain functions, as the tasks would."""
    from newsletter import sending

    sending.issue_start(issue=issue, action="send_now")
    sending.plan_deliveries(issue_id=issue.pk)
    for batch in sorted(set(issue.deliveries.values_list("batch", flat=True))):
        sending.send_batch(issue_id=issue.pk, batch=batch)
    issue.refresh_from_db()


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
