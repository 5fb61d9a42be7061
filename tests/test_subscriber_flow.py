"""Acceptance 1: signup → confirmation email → GET changes nothing → POST
confirms → welcome email → its unsubscribe link unsubscribes; every link is
taken from the emails themselves."""

import pytest

from subscribers.models import Subscription
from tests.builders import make_newsletter
from tests.helpers import html_of, link_in, path_of, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATELIMIT_ENABLED = False


def test_it_takes_a_reader_from_signup_to_unsubscribed(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    newsletter = make_newsletter()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/subscribe/ml-monthly/", {"email": " Reader@Example.COM ", "name": "Rea"}
        )
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    subscription = Subscription.objects.get(newsletter=newsletter)
    assert subscription.subscriber.email == "reader@example.com"
    assert subscription.status == "pending"

    [confirmation] = mailoutbox
    assert confirmation.to == ["reader@example.com"]
    assert confirmation.from_email == "Ada <ada@example.com>"
    assert "Confirm your subscription to ML Monthly" == confirmation.subject
    confirm_path = link_in(confirmation, "/confirm/")
    assert confirm_path in html_of(confirmation)

    # A mail scanner following the link changes nothing.
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert "Yes, subscribe me" in page.text
    subscription.refresh_from_db()
    assert subscription.status == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(confirm_path)
    assert "You are subscribed" in confirmed.text
    subscription.refresh_from_db()
    assert subscription.status == "confirmed"
    assert subscription.confirmed_at is not None

    welcome = mailoutbox[1]
    assert welcome.subject == "Welcome to ML Monthly"
    assert welcome.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert welcome.extra_headers["List-Id"].startswith("ML Monthly <ml-monthly.")
    one_click = welcome.extra_headers["List-Unsubscribe"].strip("<>")
    assert path_of(one_click).endswith("/one-click/")

    unsubscribe_path = link_in(welcome, "/unsubscribe/")
    assert unsubscribe_path in html_of(welcome)
    page = client.get(unsubscribe_path)
    assert "Unsubscribe from ML Monthly?" in page.text
    assert "re…@example.com" in page.text
    subscription.refresh_from_db()
    assert subscription.status == "confirmed"

    done = client.post(unsubscribe_path, {"reason": "too-many"})
    assert "You are unsubscribed" in done.text
    subscription.refresh_from_db()
    assert subscription.status == "unsubscribed"
    assert subscription.reason == "Too many emails"
    assert len(mailoutbox) == 2


def test_it_sends_no_welcome_when_the_newsletter_turned_it_off(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    make_newsletter(welcome_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/subscribe/ml-monthly/", {"email": "reader@example.com"})
    confirm_path = link_in(mailoutbox[0], "/confirm/")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(confirm_path)
    assert Subscription.objects.get().status == "confirmed"
    assert len(mailoutbox) == 1


def test_it_welcomes_once_when_the_confirm_button_is_pressed_twice(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    make_newsletter()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/subscribe/ml-monthly/", {"email": "reader@example.com"})
    confirm_path = link_in(mailoutbox[0], "/confirm/")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(confirm_path)
        second = client.post(confirm_path)
    assert "You are subscribed" in second.text
    assert [m.subject for m in mailoutbox] == [
        "Confirm your subscription to ML Monthly",
        "Welcome to ML Monthly",
    ]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_sends_the_confirmation_from_a_separate_worker_through_the_esp(
    celery_worker, fake_esp, client, settings
):
    """The web process only enqueues; a real worker (Mailgun backend) sends."""
    celery_worker()
    make_newsletter()
    response = client.post("/subscribe/ml-monthly/", {"email": "worker-path@example.com"})
    assert response.status_code == 200

    [message] = wait_for(lambda: fake_esp.messages_to("worker-path@example.com"), timeout=60)
    assert message.subject == "Confirm your subscription to ML Monthly"
    assert "/confirm/" in message.text
