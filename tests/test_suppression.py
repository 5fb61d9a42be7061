"""A bounced or complaining address receives nothing in the next issue; soft
bounces suppress after three issues in a row."""

import pytest

from subscribers.models import Subscription
from tests import esp_events
from tests.builders import make_draft, make_newsletter, make_reader
from tests.esp_events import AUTH, post_mailgun, post_postmark
from tests.helpers import send_issue

pytestmark = pytest.mark.usefixtures("webhook_settings")
webhook_settings = esp_events.webhook_settings

READERS = ["alice@example.com", "bob@example.com", "carol@example.com"]


@pytest.fixture
def newsletter(db):
    newsletter = make_newsletter()
    for email in READERS:
        make_reader(newsletter, email)
    return newsletter


def message_id(issue, email: str) -> str:
    return issue.deliveries.get(subscriber__email=email).message_id


def status(newsletter, email: str) -> str:
    return Subscription.objects.get(newsletter=newsletter, subscriber__email=email).status


def test_bounced_and_complaining_readers_get_nothing_next_time_mailgun(client, mailgun, newsletter):
    first = make_draft(newsletter, 1)
    send_issue(first)
    assert mailgun.recipients() == set(READERS)

    bounce = esp_events.mailgun_failure("bob@example.com", message_id(first, "bob@example.com"))
    complaint = esp_events.mailgun_event(
        "complained", "carol@example.com", message_id(first, "carol@example.com")
    )
    assert post_mailgun(client, bounce, **AUTH).status_code == 200
    assert post_mailgun(client, complaint, **AUTH).status_code == 200
    assert status(newsletter, "bob@example.com") == "bounced"
    assert status(newsletter, "carol@example.com") == "complained"

    mailgun.reset()
    send_issue(make_draft(newsletter, 2))
    assert mailgun.recipients() == {"alice@example.com"}


def test_bounced_and_complaining_readers_get_nothing_next_time_postmark(
    client, postmark, newsletter
):
    first = make_draft(newsletter, 1)
    send_issue(first)
    bob, carol = "bob@example.com", "carol@example.com"
    post_postmark(client, esp_events.postmark_bounce(bob, message_id(first, bob)), **AUTH)
    spam = esp_events.postmark_bounce(carol, message_id(first, carol), kind="SpamComplaint")
    post_postmark(client, spam, **AUTH)

    postmark.reset()
    send_issue(make_draft(newsletter, 2))
    assert postmark.recipients() == {"alice@example.com"}


def send_and_defer(client, newsletter, number: int, email: str, times: int = 1):
    """Send issue `number`; the ESP reports `times` deferrals (retries) for `email`."""
    issue = make_draft(newsletter, number)
    send_issue(issue)
    for _ in range(times):
        body = esp_events.mailgun_failure(email, message_id(issue, email), permanent=False)
        assert post_mailgun(client, body, **AUTH).status_code == 200
    return issue


def test_three_soft_bounces_in_a_row_suppress(client, mailgun, newsletter):
    bob = "bob@example.com"
    for number in (1, 2):
        send_and_defer(client, newsletter, number, bob, times=3)  # one issue counts once
        assert status(newsletter, bob) == "confirmed"

    send_and_defer(client, newsletter, 3, bob)
    subscription = Subscription.objects.get(subscriber__email=bob)
    assert subscription.status == "bounced"
    assert subscription.soft_bounces == 3
    assert "3 soft bounces in a row" in subscription.reason

    mailgun.reset()
    send_issue(make_draft(newsletter, 4))
    assert bob not in mailgun.recipients()
    assert len(mailgun.recipients()) == 2


def test_a_delivery_ends_the_soft_bounce_streak(client, mailgun, newsletter):
    bob = "bob@example.com"
    send_and_defer(client, newsletter, 1, bob)
    second = send_and_defer(client, newsletter, 2, bob)
    delivered = esp_events.mailgun_event("delivered", bob, message_id(second, bob))
    post_mailgun(client, delivered, **AUTH)  # issue 2 got through after all
    send_and_defer(client, newsletter, 3, bob)

    subscription = Subscription.objects.get(subscriber__email=bob)
    assert subscription.status == "confirmed"
    assert subscription.soft_bounces == 1

    mailgun.reset()
    send_issue(make_draft(newsletter, 4))
    assert bob in mailgun.recipients()
