"""manage.py send_issue ISSUE [--now] [--progress]."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from newsletter.models import Issue
from tests.builders import make_issue, make_newsletter, make_readers

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue():
    newsletter = make_newsletter(slug="ml-monthly", batch_size=10)
    make_readers(newsletter, 25)
    return make_issue(newsletter, number=7)


def run(*args) -> str:
    out = StringIO()
    call_command("send_issue", *args, stdout=out)
    return out.getvalue()


def test_it_schedules_the_issue_at_its_send_time(issue):
    send_at = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    Issue.objects.filter(pk=issue.pk).update(send_at=send_at)

    output = run(str(issue.pk))

    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    assert issue.send_at == send_at
    assert "Scheduled ML Monthly #7" in output


def test_it_wants_a_send_time_or_now(issue):
    with pytest.raises(CommandError, match="no send time: set one in the admin, or use --now"):
        run(str(issue.pk))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


@pytest.mark.django_db(transaction=True)
def test_now_sends_to_every_confirmed_reader_and_progress_shows_the_end(issue, mailgun):
    # Committed data: the tasks run inline as soon as the send starts.
    output = run("ml-monthly/7", "--now", "--progress")

    assert "Sending ML Monthly #7" in output
    assert "to 25 readers" in output
    assert "[##############################] 100.0%  25/25 sent" in output
    assert output.rstrip().endswith("· sent")
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert len(mailgun.recipients()) == 25


def test_progress_alone_watches_a_send_already_going(issue):
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.PAUSED)

    output = run(str(issue.pk), "--progress")

    assert "0/25 sent" in output
    assert output.rstrip().endswith("· paused")


def test_it_will_not_send_an_issue_twice(issue):
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)

    with pytest.raises(CommandError, match="Issue #7 is sent: it cannot be sent now"):
        run(str(issue.pk), "--now")


@pytest.mark.parametrize(
    "ref, message",
    [
        ("999", "No issue “999”"),
        ("ml-monthly/8", "No issue “ml-monthly/8”"),
        ("other/7", "No issue “other/7”"),
        ("ml-monthly", "give an issue id"),
        ("ml-monthly/seven", "give an issue id"),
    ],
)
def test_it_names_what_it_could_not_find(issue, ref, message):
    with pytest.raises(CommandError, match=message):
        run(ref, "--now")
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
