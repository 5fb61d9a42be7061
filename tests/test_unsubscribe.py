from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from mail import links, tokens
from subscribers.models import Subscription
from subscribers.subscriptions import suppress
from tests.builders import make_newsletter, make_subscription
from tests.helpers import link_in, path_of, status_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]


@pytest.fixture
def reader():
    return make_subscription(make_newsletter(), "reader@example.com", "confirmed")


def unsubscribe_path(subscription) -> str:
    return path_of(links.unsubscribe_url(subscription))


def test_it_asks_first_showing_the_newsletter_and_a_masked_address(client, reader):
    page = client.get(unsubscribe_path(reader))
    assert page.status_code == 200
    assert "Unsubscribe from ML Monthly?" in page.text
    assert "re…@example.com" in page.text
    assert "reader@example.com" not in page.text
    assert "Would you tell us why?" in page.text
    assert status_of(reader) == "confirmed"


def test_it_unsubscribes_on_post_without_a_reason(post, reader, mailoutbox):
    response = post(unsubscribe_path(reader))
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    reader.refresh_from_db()
    assert reader.status == "unsubscribed"
    assert reader.unsubscribed_at is not None
    assert reader.reason == ""
    assert mailoutbox == []


def test_it_keeps_the_reason_and_comment(post, reader):
    post(unsubscribe_path(reader), {"reason": "not-relevant", "comment": " Moved on to Rust. "})
    reader.refresh_from_db()
    assert reader.reason == "The content is not relevant to me any more: Moved on to Rust."


def test_it_unsubscribes_even_with_a_bogus_reason(post, reader):
    post(unsubscribe_path(reader), {"reason": "<script>", "comment": "x" * 5000})
    assert status_of(reader) == "unsubscribed"


def test_it_works_without_cookies_or_csrf_token(reader):
    response = Client(enforce_csrf_checks=True).post(unsubscribe_path(reader))
    assert response.status_code == 200
    assert status_of(reader) == "unsubscribed"


def test_it_offers_to_resubscribe_and_does_so_on_post(post, reader, mailoutbox):
    path = unsubscribe_path(reader)
    done = post(path)
    assert 'name="action" value="resubscribe"' in done.text
    back = post(path, {"action": "resubscribe"})
    assert back.status_code == 200
    assert "Welcome back" in back.text
    reader.refresh_from_db()
    assert reader.status == "confirmed"
    assert reader.unsubscribed_at is None
    assert mailoutbox == []  # no second welcome


def test_it_asks_a_never_confirmed_reader_to_confirm_when_resubscribing(post, mailoutbox):
    subscription = make_subscription(make_newsletter(), "new@example.com", "pending")
    path = unsubscribe_path(subscription)
    post(path)
    assert status_of(subscription) == "unsubscribed"
    back = post(path, {"action": "resubscribe"})
    assert "Check your inbox" in back.text
    assert status_of(subscription) == "pending"
    assert link_in(mailoutbox[0], "/confirm/")


def test_it_says_done_again_when_already_unsubscribed(post, reader):
    post(unsubscribe_path(reader))
    again = post(unsubscribe_path(reader))
    assert again.status_code == 200
    assert "You are unsubscribed" in again.text


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_it_leaves_a_bounced_or_complained_subscription_so(post, reader, status, mailoutbox):
    Subscription.objects.filter(pk=reader.pk).update(status=status, unsubscribed_at=timezone.now())
    post(unsubscribe_path(reader))
    assert status_of(reader) == status
    back = post(unsubscribe_path(reader), {"action": "resubscribe"})
    assert "Nothing to change" in back.text
    assert status_of(reader) == status
    assert mailoutbox == []


# -- an old link: it still unsubscribes, but no longer brings anyone back ----------------


def old_path(subscription, age=timedelta(days=400)) -> str:
    with freeze_time(timezone.now() - age):
        return unsubscribe_path(subscription)


def test_a_link_from_an_email_of_long_ago_still_unsubscribes(client, post, reader):
    path = old_path(reader)
    assert client.get(path).status_code == 200
    assert "You are unsubscribed" in post(path).text
    assert status_of(reader) == "unsubscribed"


def test_a_week_after_leaving_the_link_no_longer_resubscribes(post, reader, mailoutbox):
    with freeze_time(timezone.now() - timedelta(days=7)):
        post(unsubscribe_path(reader))
    path = old_path(reader)

    again = post(path)
    assert "You are unsubscribed" in again.text
    assert 'value="resubscribe"' not in again.text
    assert reverse("signup", args=["ml-monthly"]) in again.text  # double opt-in instead

    back = post(path, {"action": "resubscribe"})
    assert "Nothing to change" in back.text
    assert status_of(reader) == "unsubscribed"
    assert mailoutbox == []


def test_the_resubscribe_button_works_for_half_an_hour(post, reader):
    path = unsubscribe_path(reader)
    post(path)
    with freeze_time(timezone.now() + timedelta(minutes=31)):
        back = post(path, {"action": "resubscribe"})
    assert "Nothing to change" in back.text
    assert status_of(reader) == "unsubscribed"


def test_resubscribing_an_address_that_complained_since_needs_a_confirmation(
    post, reader, mailoutbox
):
    path = unsubscribe_path(reader)
    post(path)
    suppress("reader@example.com", reason="complained")  # about another newsletter
    back = post(path, {"action": "resubscribe"})
    assert "Check your inbox" in back.text
    assert status_of(reader) == "pending"
    [confirmation] = mailoutbox
    assert link_in(confirmation, "/confirm/")


def test_it_refuses_a_confirm_token_used_to_unsubscribe(client, post, reader):
    token = links.confirm_url(reader).rstrip("/").rsplit("/", 1)[1]
    path = reverse("unsubscribe", args=[token])
    for response in (client.get(path), post(path)):
        assert response.status_code == 400
        assert "This link does not work" in response.text
    assert status_of(reader) == "confirmed"


def test_it_refuses_one_newsletters_token_for_anothers_subscription(post, reader):
    other = make_newsletter("rust-notes", name="Rust Notes")
    make_subscription(other, "reader@example.com", "confirmed")
    token = tokens.make_token("unsubscribe", {"s": reader.pk, "n": other.pk})
    response = post(reverse("unsubscribe", args=[token]))
    assert response.status_code == 404
    assert set(Subscription.objects.values_list("status", flat=True)) == {"confirmed"}


def test_it_refuses_a_tampered_token(post, reader):
    path = unsubscribe_path(reader)
    response = post(path[:-3] + "zz/")
    assert response.status_code == 400
    assert status_of(reader) == "confirmed"


def test_it_refuses_a_token_with_a_malformed_payload(post, reader):
    token = tokens.make_token("unsubscribe", {"s": str(reader.pk), "n": None})
    assert post(reverse("unsubscribe", args=[token])).status_code == 400
    assert status_of(reader) == "confirmed"


@pytest.mark.parametrize(
    "purpose, payload",
    [
        ("unsubscribe", {"s": 1, "n": 1}),
        ("unsubscribe", {"s": 10**12, "n": 7}),
        ("preferences", {"p": 42}),
    ],
)
def test_email_links_carry_tokens_django_signing_makes_and_reads(purpose, payload):
    # The send path makes tokens its own faster way: they must be signing.dumps()'s,
    # and links made before, with compression, must keep working.
    with freeze_time("2026-03-01 09:00:00"):
        made = tokens.make_token(purpose, payload)
        assert made == signing.dumps(payload, salt=tokens.SALTS[purpose])
        older = signing.dumps(payload, salt=tokens.SALTS[purpose], compress=True)
        assert tokens.read_token(purpose, made) == payload
        assert tokens.read_token(purpose, older) == payload


def test_an_issue_carries_the_same_links_as_each_page_would_make(reader):
    # The send path makes a reader's three links together, its faster way.
    with freeze_time("2026-03-01 09:00:00"):
        together = links.ReaderLinks()(reader)
        assert together == (
            links.unsubscribe_url(reader),
            links.one_click_url(reader),
            links.preferences_url(reader.subscriber, reader.newsletter),
        )
