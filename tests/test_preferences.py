import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from mail import links, tokens
from subscribers.models import Subscriber
from subscribers.subscriptions import is_suppressed, suppress
from tests.builders import make_newsletter, make_subscription
from tests.helpers import link_in, path_of, status_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]


@pytest.fixture
def ml():
    return make_newsletter("ml-monthly", name="ML Monthly")


@pytest.fixture
def rust():
    return make_newsletter("rust-notes", name="Rust Notes")


@pytest.fixture
def reader(ml):
    subscription = make_subscription(ml, "reader@example.com", "confirmed")
    Subscriber.objects.filter(pk=subscription.subscriber_id).update(name="Rea")
    subscription.subscriber.refresh_from_db()
    return subscription.subscriber


@pytest.fixture
def path(reader):
    return path_of(links.preferences_url(reader))


def statuses(subscriber) -> dict[str, str]:
    return dict(subscriber.subscriptions.values_list("newsletter__slug", "status"))


def test_it_shows_every_public_newsletter_with_the_readers_status(client, path, ml, rust):
    make_newsletter("hidden", name="Hidden", is_public=False)
    page = client.get(path)
    assert page.status_code == 200
    assert "re…@example.com" in page.text
    assert "reader@example.com" not in page.text  # whoever the issue was forwarded to
    assert "ML Monthly" in page.text and "Rust Notes" in page.text
    assert "Hidden" not in page.text
    assert f'value="{ml.pk}" id="newsletter-{ml.pk}" checked' in page.text
    assert f'value="{rust.pk}" id="newsletter-{rust.pk}">' in page.text
    assert 'value="Rea"' in page.text


def test_it_subscribes_to_a_new_newsletter_directly_and_welcomes(
    post, client, path, reader, ml, rust, mailoutbox
):
    response = post(path, {"action": "save", "name": "Rea", "newsletters": [ml.pk, rust.pk]})
    assert response.status_code == 302
    assert statuses(reader) == {"ml-monthly": "confirmed", "rust-notes": "confirmed"}
    assert [m.subject for m in mailoutbox] == ["Welcome to Rust Notes"]
    reader.refresh_from_db()
    assert reader.consent_source == "preferences"
    assert "Your preferences are saved" in client.get(path).text


def test_it_unsubscribes_from_what_is_unticked_and_renames(post, path, reader, ml, rust):
    post(path, {"action": "save", "name": "Rea Der", "newsletters": []})
    assert statuses(reader) == {"ml-monthly": "unsubscribed"}
    reader.refresh_from_db()
    assert reader.name == "Rea Der"


def test_it_leaves_a_pending_subscription_alone_when_unticked(post, path, reader, rust):
    make_subscription(rust, "reader@example.com", "pending")
    post(path, {"action": "save", "name": "Rea", "newsletters": []})
    assert statuses(reader) == {"ml-monthly": "unsubscribed", "rust-notes": "pending"}


def test_it_keeps_showing_an_unlisted_newsletter_the_reader_is_on(client, reader):
    hidden = make_newsletter("hidden", name="Hidden", is_public=False)
    make_subscription(hidden, "reader@example.com", "confirmed")
    page = client.get(path_of(links.preferences_url(reader)))
    assert "Hidden" in page.text


def test_it_refuses_a_newsletter_it_did_not_offer(post, path, reader, ml):
    hidden = make_newsletter("hidden", name="Hidden", is_public=False)
    response = post(path, {"action": "save", "name": "Rea", "newsletters": [ml.pk, hidden.pk]})
    assert response.status_code == 400
    assert statuses(reader) == {"ml-monthly": "confirmed"}


def test_it_refuses_a_name_with_a_line_break(post, path, reader):
    response = post(path, {"action": "save", "name": "Rea\nBcc: x@example.com"})
    assert response.status_code == 400
    reader.refresh_from_db()
    assert reader.name == "Rea"


def test_it_unsubscribes_from_all(post, path, reader, rust):
    make_subscription(rust, "reader@example.com", "confirmed")
    post(path, {"action": "unsubscribe_all"})
    assert statuses(reader) == {"ml-monthly": "unsubscribed", "rust-notes": "unsubscribed"}


def test_it_needs_the_csrf_token_for_changes(reader, path):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(path, {"action": "unsubscribe_all"})
    assert response.status_code == 403
    assert statuses(reader) == {"ml-monthly": "confirmed"}


@pytest.mark.parametrize("purpose", ["confirm", "unsubscribe", "data", "erase"])
def test_it_refuses_a_token_made_for_another_purpose(client, reader, purpose):
    token = tokens.make_token(purpose, {"p": reader.pk})
    response = client.get(reverse("preferences", args=[token]))
    assert response.status_code == 400
    assert "This link does not work" in response.text


def test_it_refuses_a_tampered_token(client, post, path, reader):
    bad = path[:-3] + "zz/"
    assert client.get(bad).status_code == 400
    assert post(bad, {"action": "unsubscribe_all"}).status_code == 400
    assert statuses(reader) == {"ml-monthly": "confirmed"}


def test_it_labels_every_status_the_same_way(client, reader, path, rust):
    make_subscription(rust, "reader@example.com", "unsubscribed")
    page = client.get(path).content.decode()
    assert '<span class="status confirmed">subscribed</span>' in page
    assert '<span class="status">unsubscribed</span>' in page
    assert "Unsubscribed" not in page


# -- the link's lifetime -------------------------------------------------------


def made_ago(age: timedelta, subscriber) -> str:
    with freeze_time(timezone.now() - age):
        return path_of(links.preferences_url(subscriber))


def test_it_still_accepts_the_link_of_an_issue_sent_almost_three_months_ago(client, reader):
    page = client.get(made_ago(timedelta(days=89), reader))
    assert page.status_code == 200
    assert "Your preferences" in page.text


def test_an_expired_link_changes_nothing_and_offers_a_fresh_one_by_email(
    client, post, reader, ml, rust, mailoutbox
):
    old = made_ago(timedelta(days=91), reader)
    page = client.get(old)
    assert page.status_code == 410
    assert "This link has expired" in page.text
    assert "re…@example.com" in page.text and "reader@example.com" not in page.text
    assert "Email me a fresh link" in page.text

    for data in (
        {"action": "save", "name": "X", "newsletters": [rust.pk]},
        {"action": "unsubscribe_all"},
    ):
        assert post(old, data).status_code == 410
    assert statuses(reader) == {"ml-monthly": "confirmed"}
    assert mailoutbox == []

    sent = post(old, {"action": "resend"})
    assert sent.status_code == 200
    assert "Check your inbox" in sent.text
    [fresh] = mailoutbox
    assert fresh.to == ["reader@example.com"]
    assert fresh.subject == "Your link to manage your subscriptions"
    assert "90 days" in fresh.body
    page = client.get(link_in(fresh, "/preferences/"))
    assert page.status_code == 200
    assert "Your preferences" in page.text


@pytest.mark.parametrize("form_limits_on", [True, False])
def test_fresh_links_are_capped_per_mailbox(client, post, settings, ml, mailoutbox, form_limits_on):
    # The cap protects the reader's inbox: RATELIMIT_ENABLED=0 (a load test) keeps it.
    settings.RATELIMIT_ENABLED = form_limits_on
    address = f"capped-{uuid.uuid4().hex[:8]}@example.com"  # the cache outlives a test
    subscriber = make_subscription(ml, address, "confirmed").subscriber
    old = made_ago(timedelta(days=100), subscriber)
    answers = [post(old, {"action": "resend"}).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert len(mailoutbox) == 3


# -- coming back after a bounce or a complaint --------------------------------------


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_a_bounced_or_complained_reader_ticking_a_newsletter_must_confirm_by_email(
    client, post, ml, status, mailoutbox
):
    subscription = make_subscription(ml, "gone@example.com", status)
    suppress("gone@example.com", reason=status)
    path = path_of(links.preferences_url(subscription.subscriber))

    post(path, {"action": "save", "name": "", "newsletters": [ml.pk]})
    assert status_of(subscription) == "pending"
    assert is_suppressed("gone@example.com")
    assert "we emailed you a link to confirm first" in client.get(path).text
    [confirmation] = mailoutbox
    assert confirmation.subject == "Confirm your subscription to ML Monthly"

    post(link_in(confirmation, "/confirm/"))
    assert status_of(subscription) == "confirmed"
    assert not is_suppressed("gone@example.com")


def test_an_address_that_bounced_elsewhere_must_confirm_a_new_newsletter_too(
    post, reader, rust, mailoutbox
):
    suppress("reader@example.com", reason="bounced")
    post(path_of(links.preferences_url(reader)), {"name": "", "newsletters": [rust.pk]})
    assert statuses(reader) == {"ml-monthly": "unsubscribed", "rust-notes": "pending"}
    assert [m.subject for m in mailoutbox] == ["Confirm your subscription to Rust Notes"]
