"""The Sending panel of the issue page: schedule, send now, pause, resume,
cancel and resend, with live progress (an editor with the send permission)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from newsletter import sending
from newsletter.models import Delivery, Issue
from tests.builders import make_issue, make_newsletter, make_readers
from tests.helpers import states
from tests.test_send_permissions import change_page, make_editor, url

pytestmark = pytest.mark.django_db

State = Delivery.State


@pytest.fixture
def newsletter():
    return make_newsletter(batch_size=10)


@pytest.fixture
def issue(newsletter):
    make_readers(newsletter, 42)
    make_readers(newsletter, 5, status="pending", prefix="pending")
    return make_issue(newsletter)


@pytest.fixture
def sender(client):
    client.force_login(make_editor("publisher", can_send=True))
    return client


def set_status(issue: Issue, status: str) -> None:
    Issue.objects.filter(pk=issue.pk).update(status=status)


def test_send_now_asks_first_and_shows_the_recipient_count(sender, issue):
    response = sender.get(url(issue, "send"))

    assert response.status_code == 200
    assert "42 confirmed readers" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_send_now_sends_to_every_confirmed_reader(
    sender, issue, mailgun, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = sender.post(url(issue, "send"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:newsletter_issue_change", args=[issue.pk])
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert len(mailgun.recipients()) == 42
    page = change_page(sender, issue)
    assert "Sent " in page
    assert 'data-field="sent">42<' in page


def test_sending_an_issue_already_sending_says_so(sender, issue):
    set_status(issue, "sending")

    response = sender.post(url(issue, "send"), follow=True)

    assert response.status_code == 200
    assert "Issue #1 is sending: it cannot be sent now." in response.content.decode()


def test_schedule_proposes_the_cadence_date_in_the_newsletters_zone(sender, issue):
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    with freeze_time(now):
        page = sender.get(url(issue, "schedule")).content.decode()

    # First Tuesday of April 2025, 09:00 in London (BST).
    assert 'value="2025-04-01T09:00"' in page
    assert "Europe/London" in page


def test_schedule_takes_the_time_in_the_newsletters_zone(sender, issue):
    response = sender.post(url(issue, "schedule"), {"send_at": "2031-07-01T09:00"})

    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    assert issue.send_at == datetime(2031, 7, 1, 8, 0, tzinfo=UTC)  # 09:00 BST


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "This field is required"),
        ("soon", "Enter a valid date/time"),
        ("2001-01-01T09:00", "Pick a time in the future"),
        ("2031-03-30T01:30", "interpreted in time zone Europe/London"),  # the clocks skip it
    ],
)
def test_schedule_refuses_bad_times_and_changes_nothing(sender, issue, value, message):
    response = sender.post(url(issue, "schedule"), {"send_at": value}, follow=True)

    assert response.status_code == 200
    assert message in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert issue.send_at is None


def test_unschedule_makes_it_a_draft_again(sender, issue):
    Issue.objects.filter(pk=issue.pk).update(
        status="scheduled", send_at=timezone.now() + timedelta(days=2)
    )

    sender.post(url(issue, "unschedule"))

    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_pause_then_resume(sender, issue, mailgun, django_capture_on_commit_callbacks):
    set_status(issue, "sending")
    sending.plan_deliveries(issue_id=issue.pk)

    sender.post(url(issue, "pause"))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.PAUSED
    assert "Paused." in change_page(sender, issue)

    with django_capture_on_commit_callbacks(execute=True):
        sender.post(url(issue, "resume"))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert states(issue) == {"sent": 42}


def test_cancel_asks_first_then_skips_readers_not_yet_reached(sender, issue):
    set_status(issue, "sending")
    sending.plan_deliveries(issue_id=issue.pk)
    Delivery.objects.filter(issue=issue, batch=1).update(state=State.SENT)

    page = sender.get(url(issue, "cancel")).content.decode()
    assert "the 32 who have not will not get it" in page

    sender.post(url(issue, "cancel"))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.CANCELLED
    assert states(issue) == {"sent": 10, "skipped": 32}


def problems(issue: Issue) -> tuple[Delivery, Delivery]:
    """One ambiguous and one failed delivery of an issue otherwise sent."""
    set_status(issue, "sending")
    sending.plan_deliveries(issue_id=issue.pk)
    Delivery.objects.filter(issue=issue).update(state=State.SENT)
    first, second = Delivery.objects.filter(issue=issue).order_by("pk")[:2]
    Delivery.objects.filter(pk=first.pk).update(state=State.AMBIGUOUS, error="Outcome unknown")
    Delivery.objects.filter(pk=second.pk).update(state=State.FAILED, error="400: bad address")
    sending.finish_if_done(issue_id=issue.pk)
    return first, second


def test_the_page_lists_ambiguous_and_failed_deliveries_and_resends_them(
    sender, issue, mailgun, django_capture_on_commit_callbacks
):
    user = sender.session["_auth_user_id"]
    User.objects.get(pk=user).user_permissions.add(
        Permission.objects.get(content_type__app_label="subscribers", codename="view_subscriber")
    )
    first, second = problems(issue)

    page = change_page(sender, issue)
    assert "2 deliveries need a decision" in page
    assert first.subscriber.email in page and "Outcome unknown" in page
    assert second.subscriber.email in page and "400: bad address" in page
    assert "Resend these 2" in page

    with django_capture_on_commit_callbacks(execute=True):
        sender.post(url(issue, "resend"))
    assert states(issue) == {"sent": 42}
    assert mailgun.recipients() == {first.subscriber.email, second.subscriber.email}


def test_who_may_not_view_readers_sees_their_addresses_masked(client, issue):
    first, second = problems(issue)
    viewer = User.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_issue", "view_newsletter"])
    )
    # The ESP's own words often name the address too.
    error = f"400: 'to' parameter is not a valid address: {second.subscriber.email}"
    Delivery.objects.filter(pk=second.pk).update(error=error)
    client.force_login(viewer)
    page = change_page(client, issue)
    assert "2 deliveries need a decision" in page and "Outcome unknown" in page
    assert "400: &#x27;to&#x27; parameter is not a valid address: " in page
    for delivery in (first, second):
        assert delivery.subscriber.email not in page
        assert delivery.subscriber.masked_email in page


def test_progress_is_served_as_json_for_the_live_panel(sender, issue):
    set_status(issue, "sending")
    sending.plan_deliveries(issue_id=issue.pk)
    Delivery.objects.filter(issue=issue, batch__lte=2).update(
        state=State.SENT, sent_at=timezone.now()
    )

    data = sender.get(url(issue, "progress")).json()

    assert data["status"] == "sending"
    assert data["total"] == 42
    assert data["counts"]["sent"] == 20
    assert data["counts"]["planned"] == 22
    assert data["percent"] == pytest.approx(47.6, abs=0.1)
    assert data["rate"] > 0
    assert data["eta"] is not None
    assert "data-live" in change_page(sender, issue)


def test_a_get_never_changes_state(sender, issue):
    set_status(issue, "sending")

    for action in ("pause", "resume", "unschedule", "resend"):
        assert sender.get(url(issue, action)).status_code == 405
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING


def test_an_unknown_issue_is_a_404(sender):
    assert (
        sender.post(reverse("admin:newsletter_issue_sending_pause", args=[999])).status_code == 404
    )
