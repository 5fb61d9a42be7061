"""The monthly rhythm with time frozen: a scheduled issue starts at its send
time and not before, and the next issue is drafted on the cadence's date."""

from datetime import UTC, datetime, time, timedelta

import pytest
from freezegun import freeze_time

from newsletter import sending
from newsletter.models import Issue, Newsletter
from newsletter.scheduling import cadence_day, next_send_at
from tests.builders import make_issue, make_newsletter, make_readers
from tests.helpers import emails_of


def cadence(week: int, weekday: int, at: str, zone: str) -> Newsletter:
    return Newsletter(
        cadence_week=week,
        cadence_weekday=weekday,
        cadence_time=time.fromisoformat(at),
        time_zone=zone,
    )


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "week, weekday, month, expected",
    [
        (1, 1, (2025, 4), 1),  # first Tuesday of April 2025
        (2, 1, (2025, 4), 8),
        (4, 4, (2025, 2), 28),  # fourth Friday of February
        (-1, 0, (2025, 3), 31),  # last Monday of March
        (-1, 6, (2025, 2), 23),  # last Sunday of February
        (1, 5, (2025, 3), 1),  # the 1st itself is a Saturday
    ],
)
def test_cadence_day(week, weekday, month, expected):
    assert cadence_day(*month, week=week, weekday=weekday).day == expected


def test_the_next_send_is_the_first_cadence_time_after_the_given_moment():
    first_tuesday = cadence(1, 1, "09:00", "Europe/London")

    assert next_send_at(first_tuesday, after=utc(2025, 1, 10)) == utc(2025, 2, 4, 9)
    assert next_send_at(first_tuesday, after=utc(2025, 2, 4, 8, 59)) == utc(2025, 2, 4, 9)
    assert next_send_at(first_tuesday, after=utc(2025, 2, 4, 9)) == utc(2025, 3, 4, 9)
    assert next_send_at(first_tuesday, after=utc(2025, 12, 5)) == utc(2026, 1, 6, 9)


def test_it_keeps_local_time_across_daylight_saving_changes():
    london = cadence(1, 1, "09:00", "Europe/London")
    # March is GMT (UTC+0), April is BST (UTC+1): 09:00 local either way.
    assert next_send_at(london, after=utc(2025, 3, 4, 10)) == utc(2025, 4, 1, 8)
    assert next_send_at(london, after=utc(2025, 10, 8)) == utc(2025, 11, 4, 9)
    new_york = cadence(-1, 4, "17:30", "America/New_York")
    assert next_send_at(new_york, after=utc(2025, 2, 1)) == utc(2025, 2, 28, 22, 30)  # EST
    assert next_send_at(new_york, after=utc(2025, 3, 1)) == utc(2025, 3, 28, 21, 30)  # EDT


def test_a_time_in_the_spring_forward_gap_moves_just_past_it():
    # Last Sunday of March 2025 is the night the UK clocks jump from 01:00 to 02:00.
    night_owl = cadence(-1, 6, "01:30", "Europe/London")
    assert next_send_at(night_owl, after=utc(2025, 3, 1)) == utc(2025, 3, 30, 1, 30)  # 02:30 BST


@pytest.mark.django_db
def test_a_scheduled_issue_starts_at_its_send_time_and_not_before(
    mailgun, django_capture_on_commit_callbacks
):
    newsletter = make_newsletter(cadence_week=1, cadence_weekday=1, cadence_time=time(9, 0))
    readers = make_readers(newsletter, 30)
    issue = make_issue(newsletter, number=7)
    send_at = utc(2025, 4, 1, 8)  # first Tuesday of April, 09:00 BST
    with freeze_time(utc(2025, 3, 31, 12)):
        sending.issue_schedule(issue=issue, send_at=send_at)

    with freeze_time(send_at - timedelta(seconds=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert sending.start_due_issues() == []
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    assert mailgun.calls == 0

    with freeze_time(send_at):
        with django_capture_on_commit_callbacks(execute=True):
            assert sending.start_due_issues() == [issue]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.sent_at == send_at
    assert mailgun.recipients() == emails_of(readers)
    # Rendered (for the checks) before it had a date; the email shows its month.
    assert "ISSUE #7 · 1 APRIL 2025" in mailgun.messages[0].html

    following = Issue.objects.get(newsletter=newsletter, number=8)
    assert following.status == Issue.Status.DRAFT
    assert following.send_at == utc(2025, 5, 6, 8)  # first Tuesday of May, 09:00 BST
    assert following.subject == "ML Monthly #8"
    assert following.slug == "8-ml-monthly-8"


@pytest.mark.django_db
def test_an_issue_sent_early_keeps_the_next_one_on_the_next_cadence_date(
    django_capture_on_commit_callbacks,
):
    newsletter = make_newsletter()
    issue = make_issue(newsletter, number=3, send_at=utc(2025, 4, 1, 8))

    with freeze_time(utc(2025, 3, 25)), django_capture_on_commit_callbacks(execute=True):
        sending.issue_send_now(issue=issue)

    following = Issue.objects.get(newsletter=newsletter, number=4)
    assert following.send_at == utc(2025, 5, 6, 8)


@pytest.mark.django_db
def test_it_does_not_draft_over_an_issue_that_already_exists(django_capture_on_commit_callbacks):
    newsletter = make_newsletter()
    issue = make_issue(newsletter, number=1)
    make_issue(newsletter, number=2, subject="Already started")

    with django_capture_on_commit_callbacks(execute=True):
        sending.issue_send_now(issue=issue)

    assert Issue.objects.get(newsletter=newsletter, number=2).subject == "Already started"
    assert Issue.objects.filter(newsletter=newsletter).count() == 2


@pytest.mark.django_db
def test_an_unscheduled_issue_sent_now_is_dated_today(mailgun, django_capture_on_commit_callbacks):
    newsletter = make_newsletter()
    make_readers(newsletter, 2)
    issue = make_issue(newsletter, number=9)

    with freeze_time(utc(2025, 3, 25, 10)), django_capture_on_commit_callbacks(execute=True):
        sending.issue_send_now(issue=issue)

    issue.refresh_from_db()
    assert issue.send_at == issue.sent_at == utc(2025, 3, 25, 10)
    assert "ISSUE #9 · 25 MARCH 2025" in mailgun.messages[0].html
    assert Issue.objects.get(newsletter=newsletter, number=10).send_at == utc(2025, 4, 1, 8)
