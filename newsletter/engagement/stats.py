"""Engagement figures for editors: an issue's stats (delivery, opens, clicks,
unsubscribes, feedback) and a newsletter's subscriber growth week by week.
Plain functions, so the admin, tests and commands read the same figures."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, F, Min, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from newsletter.engagement.charts import GrowthPoint
from newsletter.models import (
    Click,
    Delivery,
    Feedback,
    Issue,
    Link,
    Newsletter,
    ProseLink,
    Section,
)
from subscribers.models import Subscription


def percent(part: int | None, whole: int) -> str:
    if part is None or not whole:
        return "—"
    return f"{100 * part / whole:.1f}%"


@dataclass(frozen=True)
class IssueStats:
    sent: int
    delivered: int
    bounced: int
    complained: int
    unsubscribed: int
    opened: int
    unique_clicks: int | None  # None when readers are not tracked one by one
    clicks: int  # readers' clicks: once per reader and link when readers are tracked
    scanner_clicks: int = 0  # set apart: newsletter.engagement.clicks says how

    answers: int = 0  # feedback answers

    @property
    def reached(self) -> int:
        """What rates are taken of: delivered when the ESP reports it, else sent."""
        return self.delivered or self.sent

    @property
    def click_rate(self) -> str:
        return percent(self.unique_clicks, self.reached)

    @property
    def open_rate(self) -> str:
        return percent(self.opened, self.reached) if self.opened else "—"

    @property
    def rates_of(self) -> str:
        return "delivered" if self.delivered else "sent"

    # Shares of the emails sent, shown under each delivery figure.
    @property
    def delivered_rate(self) -> str:
        return percent(self.delivered, self.sent)

    @property
    def bounce_rate(self) -> str:
        return percent(self.bounced, self.sent)

    @property
    def complaint_rate(self) -> str:
        return percent(self.complained, self.sent)

    @property
    def unsubscribe_rate(self) -> str:
        return percent(self.unsubscribed, self.sent)


def unsubscribed_after(issue: Issue) -> int:
    """Readers of this issue who unsubscribed after receiving it, before the next one."""
    leaving = Subscription.objects.filter(
        newsletter_id=issue.newsletter_id,
        status=Subscription.Status.UNSUBSCRIBED,
        subscriber__deliveries__issue=issue,
        subscriber__deliveries__state=Delivery.State.SENT,
        subscriber__deliveries__sent_at__lte=F("unsubscribed_at"),
    )
    later = (
        Issue.objects.filter(newsletter_id=issue.newsletter_id, number__gt=issue.number)
        .annotate(first=Min("deliveries__sent_at"))
        .filter(first__isnull=False)
        .order_by("number")
        .values_list("first", flat=True)
        .first()
    )
    if later:
        leaving = leaving.filter(unsubscribed_at__lt=later)
    return leaving.distinct().count()


def issue_stats(issue: Issue) -> IssueStats:
    def having(field: str) -> Count:
        return Count("id", filter=Q(**{f"{field}__isnull": False}))

    figures = issue.deliveries.aggregate(
        sent=Count("id", filter=Q(state=Delivery.State.SENT)),
        delivered=having("delivered_at"),
        bounced=having("bounced_at"),
        complained=having("complained_at"),
        opened=having("opened_at"),
        unique_clicks=having("clicked_at"),
    )
    if not issue.newsletter.per_subscriber_tracking and not figures["unique_clicks"]:
        figures["unique_clicks"] = None
    return IssueStats(
        **figures,
        unsubscribed=unsubscribed_after(issue),
        clicks=issue_clicks(issue).filter(kind=HUMAN).count(),
        scanner_clicks=issue_clicks(issue).filter(kind=SCANNER).count(),
        answers=Feedback.objects.filter(delivery__issue=issue).count(),
    )


HUMAN, SCANNER = Click.Kind.HUMAN, Click.Kind.SCANNER


def issue_clicks(issue: Issue):
    """Every click on the issue's links, titles and prose alike."""
    return Click.objects.filter(Q(link__section__issue=issue) | Q(prose__issue=issue))


def _per_link(queryset):
    """Readers' clicks, unique clicking readers and scanners' clicks, per link."""
    return queryset.annotate(
        clicks_count=Count("clicks", filter=Q(clicks__kind=HUMAN)),
        readers=Count("clicks__delivery", filter=Q(clicks__kind=HUMAN), distinct=True),
        scanner_count=Count("clicks", filter=Q(clicks__kind=SCANNER)),
    )


def top_links(issue: Issue) -> list[Link]:
    """Every link of the issue, most clicked by readers first."""
    return list(
        _per_link(Link.objects.filter(section__issue=issue).select_related("section")).order_by(
            "-clicks_count", "section__position", "section_id", "position", "id"
        )
    )


def prose_links(issue: Issue) -> list[ProseLink]:
    """The links in the issue's intros and commentary that were clicked, most first."""
    return [
        prose
        for prose in _per_link(issue.prose_links.select_related("section")).order_by(
            "-clicks_count", "-scanner_count", "id"
        )
        if prose.clicks_count or prose.scanner_count
    ]


def section_clicks(issue: Issue) -> list[Section]:
    """Readers' clicks per section, its links' titles and the links in its prose."""
    sections = list(
        issue.sections.annotate(
            clicks_count=Count("links__clicks", filter=Q(links__clicks__kind=HUMAN)),
            link_count=Count("links", distinct=True),
        )
    )
    in_prose = dict(
        issue.prose_links.filter(section__isnull=False, clicks__kind=HUMAN)
        .values("section")
        .annotate(n=Count("clicks"))
        .values_list("section", "n")
    )
    for section in sections:
        section.clicks_count += in_prose.get(section.pk, 0)
    return sorted(sections, key=lambda s: (-s.clicks_count, s.position, s.pk))


def scanner_reasons(issue: Issue) -> list[dict]:
    """How the scanners' clicks were judged: each reason, its clicks and reader keys."""
    return list(
        issue_clicks(issue)
        .filter(kind=SCANNER)
        .values("reason")
        .annotate(clicks=Count("id"), readers=Count("delivery", distinct=True))
        .order_by("-clicks", "reason")
    )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekly(queryset, field: str, since) -> dict[date, int]:
    rows = (
        queryset.filter(**{f"{field}__gte": since})
        .annotate(week=TruncWeek(field))
        .values("week")
        .annotate(n=Count("id"))
        .values_list("week", "n")
    )
    return {(w.date() if hasattr(w, "date") else w): n for w, n in rows}


def growth_points(newsletter: Newsletter, *, weeks: int = 52, today: date | None = None):
    """Week by week: confirmations, departures and the confirmed total at week's end.

    Starts at the first confirmation when that is more recent than `weeks` ago.
    """
    today = today or timezone.localdate()
    confirmed = Subscription.objects.filter(newsletter=newsletter, confirmed_at__isnull=False)
    first = confirmed.order_by("confirmed_at").values_list("confirmed_at", flat=True).first()
    if first is None:
        return []
    start = max(_monday(today) - timedelta(weeks=weeks - 1), _monday(timezone.localdate(first)))
    since = timezone.make_aware(timezone.datetime.combine(start, timezone.datetime.min.time()))
    gone = confirmed.filter(status__in=Subscription.LEFT, unsubscribed_at__isnull=False)
    total = (
        confirmed.filter(confirmed_at__lt=since).count()
        - gone.filter(unsubscribed_at__lt=since).count()
    )
    joined = _weekly(confirmed, "confirmed_at", since)
    left = _weekly(gone, "unsubscribed_at", since)
    points = []
    week = start
    while week <= today:
        total += joined.get(week, 0) - left.get(week, 0)
        points.append(GrowthPoint(week, joined.get(week, 0), left.get(week, 0), total))
        week += timedelta(weeks=1)
    return points
