from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from mail import links, tokens
from subscribers.models import Subscription
from tests.builders import make_newsletter, make_subscription
from tests.helpers import link_in, path_of, status_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATELIMIT_ENABLED = False


@pytest.fixture
def pending():
    return make_subscription(make_newsletter(), "ann@example.com", "pending")


def confirm_path(subscription) -> str:
    return path_of(links.confirm_url(subscription))


def test_it_shows_a_one_button_page_and_changes_nothing_on_get(client, pending, mailoutbox):
    page = client.get(confirm_path(pending))
    assert page.status_code == 200
    assert "Confirm your subscription" in page.text
    assert "a…@example.com" in page.text
    assert page.text.count("<button") == 1
    assert status_of(pending) == "pending"
    assert mailoutbox == []


def test_it_confirms_on_post_and_sends_the_welcome(post, pending, mailoutbox):
    response = post(confirm_path(pending))
    assert response.status_code == 200
    assert "You are subscribed" in response.text
    assert status_of(pending) == "confirmed"
    [welcome] = mailoutbox
    assert welcome.subject == "Welcome to ML Monthly"
    assert link_in(welcome, "/unsubscribe/")
    assert link_in(welcome, "/preferences/")


def test_it_works_without_cookies_or_csrf_token(pending):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(confirm_path(pending))
    assert response.status_code == 200
    assert status_of(pending) == "confirmed"


def test_it_offers_a_fresh_link_when_the_link_expired(client, post, pending, mailoutbox):
    with freeze_time(timezone.now() - timedelta(days=8)):
        old = confirm_path(pending)
    page = client.get(old)
    assert page.status_code == 410
    assert "This link has expired" in page.text
    assert "Send me a new link" in page.text
    assert post(old).status_code == 410
    assert status_of(pending) == "pending"
    assert mailoutbox == []

    resend = reverse("confirm_resend", args=[old.split("/")[2]])
    assert f'action="{resend}"' in page.text
    response = post(resend)
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    [fresh] = mailoutbox
    assert fresh.to == ["ann@example.com"]
    assert post(link_in(fresh, "/confirm/")).status_code == 200
    assert status_of(pending) == "confirmed"


def test_a_fresh_link_counts_towards_the_mailboxs_daily_share(post, pending, settings, mailoutbox):
    with freeze_time(timezone.now() - timedelta(days=8)):
        old = confirm_path(pending)
    resend = reverse("confirm_resend", args=[old.split("/")[2]])
    settings.SIGNUP_EMAILS_PER_MAILBOX_PER_DAY = 1
    assert post(resend).status_code == 200
    with freeze_time(timezone.now() + timedelta(hours=1)):
        response = post(resend)
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert len(mailoutbox) == 1


def test_it_still_accepts_a_link_just_under_seven_days_old(post, pending):
    with freeze_time(timezone.now() - timedelta(days=6, hours=23)):
        path = confirm_path(pending)
    assert post(path).status_code == 200
    assert status_of(pending) == "confirmed"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: token[:10],
        lambda token: "x" * 600,
        lambda token: "not-a-token",
    ],
    ids=["altered", "truncated", "huge", "garbage"],
)
def test_it_refuses_a_tampered_link_with_a_friendly_page(client, post, pending, mangle, mailoutbox):
    token = confirm_path(pending).split("/")[2]
    path = reverse("confirm", args=[mangle(token)])
    for response in (client.get(path), post(path)):
        assert response.status_code == 400
        assert "This link does not work" in response.text
        assert "Nothing has been changed" in response.text
    assert status_of(pending) == "pending"
    assert mailoutbox == []


def test_it_refuses_an_unsubscribe_token_used_to_confirm(post, pending):
    token = tokens.unsubscribe_token(pending)
    response = post(reverse("confirm", args=[token]))
    assert response.status_code == 400
    assert status_of(pending) == "pending"


def test_it_refuses_a_token_naming_another_newsletter(post, pending):
    other = make_newsletter("rust-notes", name="Rust Notes")
    token = tokens.make_token("confirm", {"s": pending.pk, "n": other.pk})
    response = post(reverse("confirm", args=[token]))
    assert response.status_code == 404
    assert "This link does not work" in response.text
    assert status_of(pending) == "pending"


def test_it_answers_404_for_a_subscription_that_no_longer_exists(post, pending):
    path = confirm_path(pending)
    pending.subscriber.delete()
    response = post(path)
    assert response.status_code == 404
    assert "This link does not work" in response.text


def test_it_does_not_resubscribe_someone_who_left_after_the_link_was_sent(post, pending):
    path = confirm_path(pending)
    Subscription.objects.filter(pk=pending.pk).update(status="unsubscribed")
    response = post(path)
    assert response.status_code == 410
    assert "no longer valid" in response.text
    assert status_of(pending) == "unsubscribed"


def test_it_sends_no_fresh_link_to_a_subscription_that_is_no_longer_pending(
    post, pending, mailoutbox
):
    with freeze_time(timezone.now() - timedelta(days=8)):
        old = confirm_path(pending)
    Subscription.objects.filter(pk=pending.pk).update(status="unsubscribed")
    post(reverse("confirm_resend", args=[old.split("/")[2]]))
    assert mailoutbox == []


def test_it_refuses_a_get_on_the_resend_endpoint(client, pending, mailoutbox):
    response = client.get(reverse("confirm_resend", args=[confirm_path(pending).split("/")[2]]))
    assert response.status_code == 405
    assert mailoutbox == []
