"""Editors hear about a due issue whose draft has no links yet: once, in time."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core import mail
from freezegun import freeze_time

from newsletter.models import Issue, Link, Section
from newsletter.scheduling import send_reminders
from tests.builders import make_newsletter

pytestmark = pytest.mark.django_db

SEND_AT = datetime(2025, 4, 1, 8, tzinfo=UTC)


@pytest.fixture
def issue():
    newsletter = make_newsletter(reminder_days=3)
    return Issue.objects.create(newsletter=newsletter, number=5, subject="Five", send_at=SEND_AT)


@pytest.fixture
def editors():
    change_issue = Permission.objects.get(codename="change_issue")
    User.objects.create_superuser("boss", "boss@example.com", "pw")
    writer = User.objects.create_user("writer", "writer@example.com", "pw", is_staff=True)
    writer.user_permissions.add(change_issue)
    group = Group.objects.create(name="Editors")
    group.permissions.add(change_issue)
    member = User.objects.create_user("member", "member@example.com", "pw", is_staff=True)
    member.groups.add(group)
    # Neither of these edits issues.
    User.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    gone = User.objects.create_user(
        "gone", "gone@example.com", "pw", is_staff=True, is_active=False
    )
    gone.user_permissions.add(change_issue)


def test_it_reminds_every_editor_once_when_the_draft_is_empty(issue, editors):
    with freeze_time(SEND_AT - timedelta(days=3)):
        assert send_reminders() == [issue]
        assert send_reminders() == []

    [message] = mail.outbox
    assert sorted(message.to) == ["boss@example.com", "member@example.com", "writer@example.com"]
    assert message.subject == "ML Monthly #5 is due soon and has no links yet"
    assert "Tuesday 1 April 2025 at 09:00 (Europe/London)" in message.body
    assert f"/admin/newsletter/issue/{issue.pk}/change/" in message.body
    html = message.alternatives[0][0]
    assert "Open the draft" in html


def test_it_waits_until_reminder_days_before_the_send(issue, editors):
    with freeze_time(SEND_AT - timedelta(days=3, minutes=1)):
        assert send_reminders() == []
    assert mail.outbox == []


def test_a_draft_with_links_needs_no_reminder(issue, editors):
    section = Section.objects.create(issue=issue, title="Research")
    Link.objects.create(section=section, title="A paper", url="https://example.org/")

    with freeze_time(SEND_AT - timedelta(days=1)):
        assert send_reminders() == []
    assert mail.outbox == []


def test_a_past_or_sent_issue_needs_no_reminder(issue, editors):
    with freeze_time(SEND_AT + timedelta(minutes=1)):
        assert send_reminders() == []
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)
    with freeze_time(SEND_AT - timedelta(days=1)):
        assert send_reminders() == []
    assert mail.outbox == []


def test_a_reminder_that_could_not_be_sent_is_tried_again(issue, editors, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_PORT = 9  # nothing listens there
    with freeze_time(SEND_AT - timedelta(days=2)):
        assert send_reminders() == []
        issue.refresh_from_db()
        assert issue.reminder_sent_at is None

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert send_reminders() == [issue]
    assert len(mail.outbox) == 1
