"""ESP tracking webhooks, posted to anymail's real endpoints in the formats
Mailgun, Postmark, SendGrid and Unisender Go document."""

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from freezegun import freeze_time

from newsletter import sending
from newsletter.models import Delivery, WebhookEvent, WebhookSignature
from subscribers.models import Subscription
from subscribers.subscriptions import Consent, subscribe
from tests import esp_events
from tests.builders import (
    make_delivery,
    make_issue,
    make_newsletter,
    make_reader,
    make_readers,
    make_sent_issue,
)
from tests.esp_events import AUTH, post_mailgun, post_postmark
from tests.helpers import send_issue

MAILGUN_ID = "20260101120000.1.ABCDEF@mg.example.com"
POSTMARK_ID = "883953f4-6105-42a2-a16a-77a8eac79483"

pytestmark = pytest.mark.usefixtures("webhook_settings")
webhook_settings = esp_events.webhook_settings


@pytest.fixture
def alice(db):
    return make_reader(make_newsletter(), "alice@example.com")


@pytest.fixture
def mailgun_delivery(alice):
    return make_delivery(make_sent_issue(alice.newsletter), alice, message_id=f"<{MAILGUN_ID}>")


@pytest.fixture
def postmark_delivery(alice):
    return make_delivery(make_sent_issue(alice.newsletter), alice, message_id=POSTMARK_ID)


def mailgun_event(event: str, recipient: str = "alice@example.com", **data) -> dict:
    return esp_events.mailgun_event(event, recipient, MAILGUN_ID, **data)


def fresh(obj):
    obj.refresh_from_db()
    return obj


# -- Mailgun ------------------------------------------------------------------


def test_it_records_a_mailgun_delivery(client, mailgun_delivery):
    response = post_mailgun(client, mailgun_event("delivered"), **AUTH)
    assert response.status_code == 200
    assert fresh(mailgun_delivery).delivered_at is not None
    assert fresh(mailgun_delivery).delivered_at.year == 2026


def test_it_suppresses_a_mailgun_hard_bounce(client, mailgun_delivery, alice):
    body = esp_events.mailgun_failure("alice@example.com", MAILGUN_ID)
    assert post_mailgun(client, body, **AUTH).status_code == 200
    assert fresh(mailgun_delivery).bounced_at is not None
    alice = fresh(alice)
    assert alice.status == Subscription.Status.BOUNCED
    assert "does not exist" in alice.reason


def test_it_suppresses_a_mailgun_complaint(client, mailgun_delivery, alice):
    assert post_mailgun(client, mailgun_event("complained"), **AUTH).status_code == 200
    assert fresh(mailgun_delivery).complained_at is not None
    assert fresh(alice).status == Subscription.Status.COMPLAINED


def test_a_signup_form_cannot_bring_back_a_complaining_address(client, mailgun_delivery, alice):
    post_mailgun(client, mailgun_event("complained"), **AUTH)
    other = make_newsletter(slug="other")
    outcome = subscribe(other, email="alice@example.com", consent=Consent(source="form"))
    assert outcome == "nothing"
    assert not Subscription.objects.filter(newsletter=other).exists()


def test_a_complaint_after_an_unsubscribe_keeps_the_date_they_left(client, mailgun_delivery, alice):
    Subscription.objects.filter(pk=alice.pk).update(
        status=Subscription.Status.UNSUBSCRIBED, unsubscribed_at=mailgun_delivery.sent_at
    )
    post_mailgun(client, mailgun_event("complained"), **AUTH)
    alice = fresh(alice)
    assert alice.status == Subscription.Status.COMPLAINED
    assert alice.unsubscribed_at == mailgun_delivery.sent_at


def test_it_records_mailgun_opens_and_clicks(client, mailgun_delivery):
    opened = mailgun_event("opened", ip="203.0.113.5", **{"client-info": {"client-name": "x"}})
    clicked = mailgun_event("clicked", url="https://example.org/paper")
    assert post_mailgun(client, opened, **AUTH).status_code == 200
    assert post_mailgun(client, clicked, **AUTH).status_code == 200
    delivery = fresh(mailgun_delivery)
    assert delivery.opened_at is not None
    assert delivery.clicked_at is not None


def test_it_applies_an_event_only_to_its_own_recipient(client, mailgun_delivery, alice):
    # Mailgun batches share one message id: the recipient picks the delivery.
    bob = make_reader(alice.newsletter, "bob@example.com")
    bobs = make_delivery(mailgun_delivery.issue, bob, message_id=f"<{MAILGUN_ID}>")
    post_mailgun(client, mailgun_event("complained", recipient="bob@example.com"), **AUTH)
    assert fresh(bob).status == Subscription.Status.COMPLAINED
    assert fresh(bobs).complained_at is not None
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert fresh(mailgun_delivery).complained_at is None


def test_a_replayed_event_changes_nothing(client, mailgun_delivery, alice):
    body = mailgun_event("failed", severity="permanent", reason="bounce")
    assert post_mailgun(client, body, **AUTH).status_code == 200
    assert fresh(alice).status == Subscription.Status.BOUNCED
    # The reader fixed their mailbox and came back; an old bounce replayed must not
    # throw them out again.
    Subscription.objects.filter(pk=alice.pk).update(status=Subscription.Status.CONFIRMED)

    assert post_mailgun(client, body, **AUTH).status_code == 200
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert WebhookEvent.objects.count() == 1


def test_it_answers_401_without_credentials_and_changes_nothing(client, mailgun_delivery, alice):
    response = post_mailgun(client, mailgun_event("complained"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert fresh(mailgun_delivery).complained_at is None
    assert WebhookEvent.objects.count() == 0


def test_it_answers_401_to_wrong_credentials(client, mailgun_delivery, alice):
    wrong = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"letterpress:guess").decode()}
    assert post_mailgun(client, mailgun_event("complained"), **wrong).status_code == 401
    assert fresh(alice).status == Subscription.Status.CONFIRMED


def test_it_refuses_a_forged_mailgun_signature(client, mailgun_delivery, alice):
    body = mailgun_event("complained")
    body["signature"]["signature"] = "0" * 64
    assert post_mailgun(client, body, **AUTH).status_code == 400
    assert fresh(alice).status == Subscription.Status.CONFIRMED


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        b"\xff\xfe",
        "[]",
        json.dumps({"event-data": {"event": "complained"}}),
    ],
)
def test_it_answers_400_to_a_malformed_mailgun_payload(client, mailgun_delivery, alice, body):
    assert post_mailgun(client, body, **AUTH).status_code == 400
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert WebhookEvent.objects.count() == 0


def test_it_answers_400_to_a_signed_mailgun_event_without_its_fields(client, alice):
    body = mailgun_event("complained")
    del body["event-data"]["event"]
    assert post_mailgun(client, body, **AUTH).status_code == 400

    body = mailgun_event("complained")
    del body["event-data"]["recipient"]
    assert post_mailgun(client, body, **AUTH).status_code == 400
    assert fresh(alice).status == Subscription.Status.CONFIRMED


@pytest.mark.parametrize("timestamp", [1e20, -1e20, 253402300800])
def test_it_answers_400_to_a_signed_mailgun_event_from_an_impossible_time(
    client, mailgun_delivery, alice, timestamp
):
    body = mailgun_event("complained")
    body["event-data"]["timestamp"] = timestamp
    assert post_mailgun(client, body, **AUTH).status_code == 400
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert WebhookEvent.objects.count() == 0


def test_it_ignores_events_about_mail_it_did_not_send(client, mailgun_delivery, alice):
    body = mailgun_event("complained")
    body["event-data"]["message"]["headers"]["message-id"] = "someone-else@mg.example.com"
    assert post_mailgun(client, body, **AUTH).status_code == 200
    assert fresh(alice).status == Subscription.Status.CONFIRMED


# -- Mailgun's signature: made minutes ago at most, and for one event only ---------------


@pytest.mark.parametrize(
    "signed_at",
    [
        lambda: datetime(2001, 1, 1, tzinfo=UTC),
        lambda: timezone.now() - timedelta(minutes=11),
        lambda: timezone.now() + timedelta(minutes=11),
    ],
    ids=["in 2001", "11 minutes ago", "in 11 minutes"],
)
def test_it_refuses_a_mailgun_signature_not_made_within_minutes(
    client, mailgun_delivery, alice, signed_at
):
    body = mailgun_event("complained")
    body["signature"] = esp_events.mailgun_signature(signed_at().timestamp())
    response = post_mailgun(client, body, **AUTH)
    # 406: Mailgun does not retry it, as its retries keep the timestamp.
    assert response.status_code == 406
    assert b"Mailgun signature was made at" in response.content
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert fresh(mailgun_delivery).complained_at is None


def test_it_takes_a_mailgun_signature_made_a_few_minutes_ago(client, mailgun_delivery, alice):
    body = mailgun_event("complained")
    nine_minutes_ago = timezone.now() - timedelta(minutes=9)
    body["signature"] = esp_events.mailgun_signature(nine_minutes_ago.timestamp())
    assert post_mailgun(client, body, **AUTH).status_code == 200
    assert fresh(alice).status == Subscription.Status.COMPLAINED


def test_a_signature_used_for_an_ignored_event_cannot_carry_a_forged_bounce(
    client, mailgun_delivery, alice
):
    # Mailgun signs its timestamp and token, not the event: whoever saw one
    # request could put its signature on another.
    ignored = mailgun_event("accepted")
    assert post_mailgun(client, ignored, **AUTH).status_code == 200
    forged = esp_events.mailgun_failure("alice@example.com", MAILGUN_ID)
    forged["signature"] = ignored["signature"]

    response = post_mailgun(client, forged, **AUTH)
    assert response.status_code == 406
    assert b"already used for another event" in response.content
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert fresh(mailgun_delivery).bounced_at is None
    assert WebhookEvent.objects.count() == 0


def test_signatures_are_forgotten_once_too_old_to_be_taken_anyway(client, mailgun_delivery):
    body = mailgun_event("delivered")
    assert post_mailgun(client, body, **AUTH).status_code == 200
    assert WebhookSignature.objects.count() == 1

    assert "forgotten" not in sending.sweep(now=timezone.now() + timedelta(minutes=9))
    assert WebhookSignature.objects.count() == 1
    later = timezone.now() + timedelta(minutes=11)
    assert sending.sweep(now=later)["forgotten"] == 1
    assert WebhookSignature.objects.count() == 0
    with freeze_time(later):
        assert post_mailgun(client, body, **AUTH).status_code == 406


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_taking_one_signature_at_once_agree_on_one_body():
    """The second waits for the first's transaction, then finds its signature taken."""
    signed_at = timezone.now()
    taken = {}
    first_holds = threading.Event()

    def take(name: str, body: bytes) -> None:
        try:
            with transaction.atomic():
                taken[name] = WebhookSignature.accept(
                    signature="5" * 64, signed_at=signed_at, body=body
                )
                if name == "first":
                    first_holds.set()
                    time.sleep(0.3)  # while the second one tries
        finally:
            connection.close()

    first = threading.Thread(target=take, args=("first", b"a delivery"))
    first.start()
    assert first_holds.wait(5)
    second = threading.Thread(target=take, args=("second", b"a forged bounce"))
    second.start()
    first.join()
    second.join()
    assert taken == {"first": True, "second": False}


# -- Postmark ------------------------------------------------------------------


def postmark_delivery_event(recipient: str = "alice@example.com") -> dict:
    return esp_events.postmark_delivery(recipient, POSTMARK_ID)


def postmark_bounce(kind: str = "HardBounce") -> dict:
    return esp_events.postmark_bounce("alice@example.com", POSTMARK_ID, kind)


def postmark_engagement(record_type: str, **extra) -> dict:
    return esp_events.postmark_engagement(record_type, "alice@example.com", POSTMARK_ID, **extra)


def test_it_records_a_postmark_delivery(client, postmark_delivery):
    assert post_postmark(client, postmark_delivery_event(), **AUTH).status_code == 200
    assert fresh(postmark_delivery).delivered_at is not None


def test_it_suppresses_a_postmark_hard_bounce(client, postmark_delivery, alice):
    assert post_postmark(client, postmark_bounce(), **AUTH).status_code == 200
    assert fresh(postmark_delivery).bounced_at is not None
    assert fresh(alice).status == Subscription.Status.BOUNCED


def test_it_suppresses_a_postmark_spam_complaint(client, postmark_delivery, alice):
    body = postmark_bounce("SpamComplaint")
    assert post_postmark(client, body, **AUTH).status_code == 200
    assert fresh(postmark_delivery).complained_at is not None
    assert fresh(alice).status == Subscription.Status.COMPLAINED


def test_it_records_postmark_opens_and_clicks(client, postmark_delivery):
    opened = postmark_engagement("Open", ReadSeconds=5)
    clicked = postmark_engagement(
        "Click", ClickLocation="HTML", OriginalLink="https://example.org/paper"
    )
    assert post_postmark(client, opened, **AUTH).status_code == 200
    assert post_postmark(client, clicked, **AUTH).status_code == 200
    delivery = fresh(postmark_delivery)
    assert delivery.opened_at is not None
    assert delivery.clicked_at is not None


def test_a_replayed_postmark_event_without_an_id_is_applied_once(client, postmark_delivery):
    body = postmark_engagement("Open")
    post_postmark(client, body, **AUTH)
    post_postmark(client, body, **AUTH)
    assert WebhookEvent.objects.count() == 1
    # A later open is a new event, but the first open stays.
    first = fresh(postmark_delivery).opened_at
    post_postmark(client, {**body, "ReceivedAt": "2026-01-02T09:00:00Z"}, **AUTH)
    assert WebhookEvent.objects.count() == 2
    assert fresh(postmark_delivery).opened_at == first


def test_the_earliest_time_wins_whatever_order_events_arrive_in(client, postmark_delivery):
    post_postmark(client, postmark_engagement("Open", ReceivedAt="2026-01-02T09:00:00Z"), **AUTH)
    post_postmark(client, postmark_engagement("Open", ReceivedAt="2026-01-01T08:00:00Z"), **AUTH)
    assert fresh(postmark_delivery).opened_at.day == 1


def test_postmark_without_credentials_gets_401(client, postmark_delivery, alice):
    assert post_postmark(client, postmark_bounce()).status_code == 401
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert fresh(postmark_delivery).bounced_at is None


@pytest.mark.parametrize(
    "body",
    [
        "<xml/>",
        "[1, 2]",
        json.dumps({"RecordType": "Bounce", "Type": "HardBounce", "MessageID": POSTMARK_ID}),
        json.dumps({"RecordType": "Delivery", "Recipient": "alice@example.com"}),
        json.dumps({**postmark_bounce(), "BouncedAt": "2026-13-45T99:00:00Z"}),
    ],
)
def test_it_answers_400_to_a_malformed_postmark_payload(client, postmark_delivery, alice, body):
    assert post_postmark(client, body, **AUTH).status_code == 400
    assert fresh(alice).status == Subscription.Status.CONFIRMED
    assert fresh(postmark_delivery).bounced_at is None
    assert WebhookEvent.objects.count() == 0


def test_nothing_is_recorded_when_no_secret_is_configured(client, settings, postmark_delivery):
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if k != "WEBHOOK_SECRET"}
    assert post_postmark(client, postmark_delivery_event(), **AUTH).status_code == 401
    assert Delivery.objects.get().delivered_at is None


# -- Batch sends: each reader's event finds their own row ----------------------------------

BATCH_BOUNCES = {
    "sendgrid": (esp_events.sendgrid_bounce, esp_events.post_sendgrid),
    "unisender_go": (esp_events.unisender_go_bounce, esp_events.post_unisender_go),
}


@pytest.mark.parametrize("esp", sorted(BATCH_BOUNCES))
def test_a_bounce_of_one_copy_of_a_batch_finds_that_readers_delivery(db, client, send_through, esp):
    # One API call sent all three; the ESP reports on each copy by the id anymail
    # gave it (anymail_id, kept with the copy), which is what each row recorded.
    fake = send_through(esp)
    newsletter = make_newsletter()
    readers = make_readers(newsletter, 3)
    issue = make_issue(newsletter)
    send_issue(issue)
    assert fake.calls == 1
    bounced = readers[1]
    [copy] = fake.messages_to(bounced.subscriber.email)
    bounce, post = BATCH_BOUNCES[esp]

    assert post(client, bounce(bounced.subscriber.email, copy.metadata), **AUTH).status_code == 200

    rows = Delivery.objects.filter(issue=issue)
    assert [row.subscriber_id for row in rows if row.bounced_at] == [bounced.subscriber_id]
    assert fresh(bounced).status == Subscription.Status.BOUNCED
    assert {fresh(reader).status for reader in (readers[0], readers[2])} == {"confirmed"}
