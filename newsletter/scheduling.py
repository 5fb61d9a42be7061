"""The monthly rhythm: when a newsletter's next issue is due, the next draft
once an issue is sent, and reminders to editors whose due draft is still empty.

A cadence is "the Nth (or last) <weekday> of the month at <time> in <zone>";
dates are worked out in that zone, so 09:00 stays 09:00 across DST changes.
"""

import calendar
import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from newsletter import emails
from newsletter.models import Issue, Link, Newsletter

log = logging.getLogger(__name__)


def cadence_day(year: int, month: int, *, week: int, weekday: int) -> date:
    """The `week`-th (1..4, or -1 for the last) `weekday` (0 = Monday) of a month."""
    if week == -1:
        last = date(year, month, calendar.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (week - 1))


def _cadence_time(newsletter: Newsletter) -> time:
    value = newsletter.cadence_time
    return time.fromisoformat(value) if isinstance(value, str) else value


def next_send_at(newsletter: Newsletter, *, after: datetime) -> datetime:
    """The first cadence time strictly after `after`, as an aware UTC datetime."""
    zone = ZoneInfo(newsletter.time_zone)
    local = after.astimezone(zone)
    year, month = local.year, local.month
    while True:
        day = cadence_day(
            year, month, week=newsletter.cadence_week, weekday=newsletter.cadence_weekday
        )
        # A time inside a spring-forward gap lands just after it (fold=0).
        candidate = datetime.combine(day, _cadence_time(newsletter), tzinfo=zone).astimezone(UTC)
        if candidate > after:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def default_send_at(issue: Issue, *, now: datetime | None = None) -> datetime:
    """What the schedule form proposes: the issue's own time if still ahead, else the cadence's."""
    now = now or timezone.now()
    if issue.send_at and issue.send_at > now:
        return issue.send_at
    return next_send_at(issue.newsletter, after=now)


def draft_next_issue(*, issue: Issue) -> Issue | None:
    """After a send: the next number as a draft, due on the next cadence date."""
    newsletter = issue.newsletter
    number = issue.number + 1
    if Issue.objects.filter(newsletter=newsletter, number=number).exists():
        return None
    # An issue sent early ("send now") still stands for its planned date.
    after = max(d for d in (issue.send_at, issue.sent_at, timezone.now()) if d is not None)
    try:
        with transaction.atomic():
            draft = Issue(
                newsletter=newsletter,
                number=number,
                send_at=next_send_at(newsletter, after=after),
                auto_drafted=True,  # its subject is a placeholder the pre-flight refuses
            )
            draft.subject = draft.placeholder_subject()
            draft.save()
            return draft
    except IntegrityError:
        return None  # drafted meanwhile by someone else


def editor_emails() -> list[str]:
    """Active staff who may edit issues."""
    permission = Permission.objects.get(
        content_type__app_label="newsletter", codename="change_issue"
    )
    users = get_user_model().objects.filter(is_active=True, is_staff=True)
    users = users.filter(
        Q(is_superuser=True) | Q(user_permissions=permission) | Q(groups__permissions=permission)
    )
    return sorted({email for email in users.values_list("email", flat=True) if email})


def send_reminders(*, now: datetime | None = None) -> list[Issue]:
    """Beat, hourly: remind editors of issues due within reminder_days that have no links yet.

    Once per issue; a reminder that could not be sent is tried again next time.
    """
    now = now or timezone.now()
    reminded = []
    due = Issue.objects.filter(
        status__in=(Issue.Status.DRAFT, Issue.Status.SCHEDULED),
        send_at__gt=now,
        reminder_sent_at=None,
    ).select_related("newsletter")
    for issue in due:
        if issue.send_at > now + timedelta(days=issue.newsletter.reminder_days):
            continue
        if Link.objects.filter(section__issue=issue).exists():
            continue
        to = editor_emails()
        if to and _remind(issue, to, now):
            reminded.append(issue)
    return reminded


def _remind(issue: Issue, to: list[str], now: datetime) -> bool:
    if Issue.objects.filter(pk=issue.pk, reminder_sent_at=None).update(reminder_sent_at=now) != 1:
        return False
    try:
        emails.send_reminder(issue, to=to)
    except Exception:
        log.exception("Reminder for issue %s not sent; trying again later", issue.pk)
        Issue.objects.filter(pk=issue.pk).update(reminder_sent_at=None)
        return False
    return True
