import json

import pytest
from django.urls import reverse

from mail import links, tokens
from newsletter.models import Delivery, Issue
from subscribers.addresses import address_hash
from subscribers.models import Subscriber, Subscription, Suppression
from tests.builders import make_newsletter, make_subscription
from tests.helpers import path_of

pytestmark = pytest.mark.django_db


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
    assert "reader@example.com" in page.text
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


def test_it_downloads_my_data_as_json(client, reader, ml):
    issue = Issue.objects.create(newsletter=ml, number=1, subject="First", slug="1-first")
    Delivery.objects.create(issue=issue, subscriber=reader, batch=1, state="sent")
    response = client.get(
        reverse("preferences_data", args=[path_of(links.preferences_url(reader)).split("/")[2]])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["email"] == "reader@example.com"
    assert data["name"] == "Rea"
    assert data["subscriptions"][0]["newsletter"] == "ML Monthly"
    assert data["subscriptions"][0]["status"] == "confirmed"
    assert data["deliveries"][0]["state"] == "sent"
    assert set(data["consent"]) == {"at", "ip", "user_agent", "source"}


def test_it_asks_before_deleting_and_erases_on_post(client, post, path, reader):
    token = path.split("/")[2]
    delete_path = reverse("preferences_delete", args=[token])
    page = client.get(delete_path)
    assert page.status_code == 200
    assert "Delete everything" in page.text
    assert Subscriber.objects.filter(pk=reader.pk).exists()

    response = post(delete_path)
    assert response.status_code == 200
    assert "Your data is deleted" in response.text
    assert not Subscriber.objects.exists()
    assert not Subscription.objects.exists()
    suppression = Suppression.objects.get()
    assert suppression.reason == "erased"
    assert suppression.email_hash == address_hash("reader@example.com")
    assert "reader" not in suppression.email_hash

    # The link now leads nowhere, kindly.
    gone = client.get(path)
    assert gone.status_code == 404
    assert "This link does not work" in gone.text


@pytest.mark.parametrize("purpose", ["confirm", "unsubscribe"])
def test_it_refuses_a_token_made_for_another_purpose(client, reader, purpose):
    token = tokens.make_token(purpose, {"p": reader.pk})
    for name in ("preferences", "preferences_data", "preferences_delete"):
        response = client.get(reverse(name, args=[token]))
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
