"""How far a send has come, for the issue page's live panel and the send command."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max
from django.utils import timezone

from newsletter.models import Delivery, Issue
from subscribers.models import Subscription

Status = Issue.Status
State = Delivery.State
CONFIRMED = Subscription.Status.CONFIRMED


@dataclass
class Progress:
    status: str
    counts: dict[str, int]
    total: int
    rate: float  # messages per second over the last RATE_WINDOW
    eta: float | None  # seconds

    @property
    def done(self) -> int:
        return self.total - self.counts[State.PLANNED] - self.counts[State.SENDING] - self.waiting

    @property
    def waiting(self) -> int:
        """Readers not planned yet (the planner is still going)."""
        return max(0, self.total - sum(self.counts.values()))

    @property
    def remaining(self) -> int:
        return self.total - self.done

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "counts": self.counts,
            "total": self.total,
            "done": self.done,
            "remaining": self.remaining,
            "percent": round(self.percent, 1),
            "rate": round(self.rate, 1),
            "eta": round(self.eta) if self.eta is not None else None,
        }


RATE_WINDOW = timedelta(seconds=30)


def recipient_count(newsletter) -> int:
    return Subscription.objects.filter(newsletter=newsletter, status=CONFIRMED).count()


def _rate(issue: Issue, now: datetime) -> float:
    """Emails per second over the last RATE_WINDOW of the send: up to now while
    it goes on, up to its end once it is sent, so that the figure the live
    panel showed last is the one a reload shows, however much later."""
    end = issue.sent_at if issue.status == Status.SENT and issue.sent_at else now
    window = RATE_WINDOW
    if issue.started_at:  # a send that took 5 s has a 5 s window
        window = max(min(window, end - issue.started_at), timedelta(seconds=1))
    recent = Delivery.objects.filter(
        issue=issue, state=State.SENT, sent_at__gte=end - window, sent_at__lte=end
    )
    return recent.count() / window.total_seconds()


def issue_progress(*, issue: Issue, now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    issue.refresh_from_db(fields=["status", "planned_at", "started_at", "sent_at"])
    counts = dict.fromkeys(State.values, 0)
    rows = Delivery.objects.filter(issue=issue).values_list("state").order_by()
    for state, count in rows.annotate(n=Count("pk")):
        counts[state] = count
    total = sum(counts.values())
    if issue.planned_at is None and issue.status in (Status.SENDING, Status.PAUSED):
        last = Delivery.objects.filter(issue=issue).aggregate(s=Max("subscriber_id"))["s"] or 0
        total += (
            Subscription.objects.filter(newsletter_id=issue.newsletter_id, status=CONFIRMED)
            .filter(subscriber_id__gt=last)
            .count()
        )
    elif not counts[State.PLANNED] and issue.status in (Status.DRAFT, Status.SCHEDULED):
        total = recipient_count(issue.newsletter)
    rate = _rate(issue, now)
    progress = Progress(status=issue.status, counts=counts, total=total, rate=rate, eta=None)
    if issue.status == Status.SENDING and rate > 0:
        progress.eta = progress.remaining / rate
    return progress
