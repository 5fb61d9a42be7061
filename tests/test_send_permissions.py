"""Only editors with the "send issues" permission may schedule, send, pause,
resume, cancel or resend; the others draft, preview and send tests."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Delivery, Issue
from tests.builders import make_issue, make_newsletter, make_readers

pytestmark = pytest.mark.django_db

ACTIONS = ("schedule", "unschedule", "send", "pause", "resume", "cancel", "resend")


def make_editor(username: str, *, can_send: bool) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    codenames = ["view_issue", "change_issue", "add_issue", "view_newsletter"]
    codenames += ["send_issue"] if can_send else []
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="newsletter", codename__in=codenames)
    )
    return user


@pytest.fixture
def issue():
    newsletter = make_newsletter()
    make_readers(newsletter, 3)
    return make_issue(newsletter)


@pytest.fixture
def editor(client):
    client.force_login(make_editor("writer", can_send=False))
    return client


@pytest.fixture
def sender(client):
    client.force_login(make_editor("publisher", can_send=True))
    return client


def url(issue: Issue, action: str) -> str:
    return reverse(f"admin:newsletter_issue_sending_{action}", args=[issue.pk])


def change_page(client, issue: Issue) -> str:
    response = client.get(reverse("admin:newsletter_issue_change", args=[issue.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_an_editor_without_the_permission_sees_no_sending_actions(editor, issue):
    page = change_page(editor, issue)

    assert 'id="sending"' in page  # the panel, for status
    for action in ACTIONS:
        assert url(issue, action) not in page
    assert "Send now" not in page
    assert "Schedule…" not in page
    assert "need the “send issues” permission" in page
    assert reverse("admin:newsletter_issue_preview", args=[issue.pk]) in page


def test_an_editor_with_the_permission_sees_them(sender, issue):
    page = change_page(sender, issue)

    assert url(issue, "send") in page
    assert url(issue, "schedule") in page
    assert "Send now…" in page


@pytest.mark.parametrize(
    "action, status",
    [
        ("schedule", "draft"),
        ("unschedule", "scheduled"),
        ("send", "draft"),
        ("send", "scheduled"),
        ("pause", "sending"),
        ("resume", "paused"),
        ("cancel", "scheduled"),
        ("cancel", "sending"),
        ("resend", "sent"),
    ],
)
def test_a_hand_made_post_without_the_permission_is_refused_and_changes_nothing(
    editor, issue, action, status
):
    Issue.objects.filter(pk=issue.pk).update(status=status, send_at=timezone.now())
    Delivery.objects.create(
        issue=issue,
        subscriber=issue.newsletter.subscriptions.first().subscriber,
        batch=1,
        state=Delivery.State.AMBIGUOUS,
    )
    before = Issue.objects.values().get(pk=issue.pk)

    response = editor.post(url(issue, action), {"send_at": "2031-01-07T09:00"})

    assert response.status_code == 403
    assert Issue.objects.values().get(pk=issue.pk) == before
    assert list(Delivery.objects.values_list("state", flat=True)) == ["ambiguous"]


@pytest.mark.parametrize("action", ["schedule", "send", "cancel"])
def test_the_confirmation_pages_are_refused_too(editor, issue, action):
    assert editor.get(url(issue, action)).status_code == 403


def test_an_editor_without_the_permission_can_still_send_a_test(editor, issue):
    preview = reverse("admin:newsletter_issue_preview", args=[issue.pk])

    response = editor.post(preview, {"to": "proof@example.com"})

    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["proof@example.com"]]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert not Delivery.objects.exists()
