"""A reader's own data: the preferences page emails a link, short-lived and
made for that one purpose, to download it or to erase it. The preferences
link, which sits in every issue's footer, does neither."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from mail import links
from newsletter.models import Delivery, Issue
from subscribers.addresses import address_hash
from subscribers.models import Subscriber, Subscription, Suppression
from tests.builders import make_newsletter, make_subscription
from tests.helpers import link_in, path_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]


@pytest.fixture
def reader():
    return make_subscription(make_newsletter(), "reader@example.com", "confirmed").subscriber


@pytest.fixture
def preferences(reader):
    return path_of(links.preferences_url(reader))


def test_the_preferences_link_neither_downloads_nor_erases(client, post, preferences, reader):
    token = preferences.split("/")[2]
    for old in (f"/preferences/{token}/data.json", f"/preferences/{token}/delete/"):
        assert client.get(old).status_code == 404
        assert post(old).status_code == 404
    for name in ("my_data", "erase"):
        refused = client.get(reverse(name, args=[token]))
        assert refused.status_code == 400
        assert "This link does not work" in refused.text
    assert post(reverse("erase", args=[token]), {"action": "erase"}).status_code == 400
    assert Subscriber.objects.filter(pk=reader.pk).exists()


def test_it_emails_a_link_that_downloads_my_data(client, post, preferences, reader, mailoutbox):
    Subscriber.objects.filter(pk=reader.pk).update(name="Rea")
    newsletter = reader.subscriptions.get().newsletter
    issue = Issue.objects.create(newsletter=newsletter, number=1, subject="First", slug="1-first")
    Delivery.objects.create(issue=issue, subscriber=reader, batch=1, state="sent")

    sent = post(preferences, {"action": "email_data"})
    assert sent.status_code == 200
    assert "Check your inbox" in sent.text
    assert "re…@example.com" in sent.text and "reader@example.com" not in sent.text
    [email] = mailoutbox
    assert email.to == ["reader@example.com"]
    assert email.subject == "Your link to download your data"
    assert "works for 1 hour" in email.body

    response = client.get(link_in(email, "/my-data/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["email"] == "reader@example.com"
    assert data["name"] == "Rea"
    assert data["subscriptions"][0]["newsletter"] == "ML Monthly"
    assert data["subscriptions"][0]["status"] == "confirmed"
    assert data["deliveries"][0]["state"] == "sent"
    assert set(data["consent"]) == {"at", "ip", "user_agent", "source", "note"}


@pytest.mark.parametrize("purpose, what", [("data", "/my-data/"), ("erase", "/erase/")])
def test_a_link_older_than_an_hour_does_nothing_and_offers_a_fresh_one(
    client, post, reader, purpose, what, mailoutbox
):
    with freeze_time(timezone.now() - timedelta(minutes=61)):
        old = path_of(links.reader_url(purpose, reader))
    for response in (client.get(old), post(old, {"action": "erase"})):
        assert response.status_code == 410
        assert "This link has expired" in response.text
        assert "reader@example.com" not in response.text
    assert Subscriber.objects.filter(pk=reader.pk).exists()

    assert post(old, {"action": "resend"}).status_code == 200
    [fresh] = mailoutbox
    assert client.get(link_in(fresh, what)).status_code == 200


def test_it_emails_a_link_that_asks_before_erasing(client, post, preferences, reader, mailoutbox):
    sent = post(preferences, {"action": "email_erase"})
    assert "Check your inbox" in sent.text
    assert Subscriber.objects.filter(pk=reader.pk).exists()
    [email] = mailoutbox
    assert email.subject == "Confirm deleting your data"
    erase = link_in(email, "/erase/")

    page = client.get(erase)
    assert page.status_code == 200
    assert "Delete everything" in page.text
    assert "re…@example.com" in page.text and "reader@example.com" not in page.text
    assert Subscriber.objects.filter(pk=reader.pk).exists()

    response = post(erase, {"action": "erase"})
    assert response.status_code == 200
    assert "Your data is deleted" in response.text
    assert not Subscriber.objects.exists()
    assert not Subscription.objects.exists()
    suppression = Suppression.objects.get()
    assert suppression.reason == "erased"
    assert suppression.email_hash == address_hash("reader@example.com")

    # Both links now lead nowhere, kindly.
    for gone in (client.get(preferences), client.get(erase)):
        assert gone.status_code == 404
        assert "This link does not work" in gone.text
