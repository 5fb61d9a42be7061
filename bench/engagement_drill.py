"""Drill: a simulated send of the demo issue, then what an ESP and readers do with it.

Sends issue #1 of the demo newsletter (seed_demo) to its readers through
anymail's real Mailgun backend into the loopback fake ESP, posts Mailgun
tracking webhooks (delivered, bounced, deferred, complained, opened) to the real
/anymail/ endpoint, follows the tracked links and feedback answers found in the
emails, unsubscribes a few readers, and prints the issue's stats. Readers with a
six-month confirmation history are added first, so the growth chart has a shape.

    DEBUG=1 VAR_DIR=var/drill .venv/bin/python manage.py migrate
    DEBUG=1 VAR_DIR=var/drill .venv/bin/python manage.py seed_demo
    VAR_DIR=var/drill .venv/bin/python bench/engagement_drill.py

Run it on a throwaway VAR_DIR: it changes the demo data.
"""

import os
import random
import re
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_esp import MAILGUN_KEY, FakeESP  # noqa: E402

ESP = FakeESP().start()
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",  # a development run on var/drill
        "ESP": "mailgun",
        "ESP_API_URL": ESP.mailgun_url,
        "ANYMAIL_MAILGUN_API_KEY": MAILGUN_KEY,
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY": "mailgun-signing-key",
        "WEBHOOK_SECRET": "letterpress:hook-secret",
        "CELERY_TASK_ALWAYS_EAGER": "True",
        "RATELIMIT_ENABLED": "False",
        "LOG_LEVEL": "WARNING",
    }
)

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from newsletter import sending  # noqa: E402
from newsletter.engagement.feedback import feedback_totals  # noqa: E402
from newsletter.engagement.stats import issue_stats, top_links  # noqa: E402
from newsletter.models import Issue, Newsletter  # noqa: E402
from subscribers.models import Subscriber, Subscription  # noqa: E402
from subscribers.subscriptions import unsubscribe  # noqa: E402
from tests import esp_events  # noqa: E402

random.seed(6)
client = Client()


def add_history(newsletter: Newsletter, count: int = 180) -> None:
    """Readers who confirmed over the last 26 weeks, a few of whom left again."""
    now = timezone.now()
    for n in range(count):
        # More sign-ups lately: the newsletter is growing.
        days = int(182 * (1 - random.random() ** 0.7))
        confirmed = now - timedelta(days=days, hours=random.randint(0, 23))
        subscriber, _ = Subscriber.objects.get_or_create(email=f"reader{n:03}@example.net")
        subscription, created = Subscription.objects.get_or_create(
            subscriber=subscriber,
            newsletter=newsletter,
            defaults={"status": "confirmed", "confirmed_at": confirmed, "created": confirmed},
        )
        if created and random.random() < 0.08:
            left = confirmed + timedelta(days=random.randint(3, max(4, days)))
            if left < now:
                subscription.status = "unsubscribed"
                subscription.unsubscribed_at = left
                subscription.save()


def send(issue: Issue) -> None:
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.DRAFT)
    issue.refresh_from_db()
    sending.issue_send_now(issue=issue)
    issue.refresh_from_db()


def post(kind: str, email: str, message_id: str, **data) -> None:
    body = esp_events.mailgun_event(kind, email, message_id, **data)
    response = esp_events.post_mailgun(client, body, **esp_events.AUTH)
    assert response.status_code == 200, response.content


def simulate_events(issue: Issue) -> None:
    deliveries = list(issue.deliveries.filter(state="sent").select_related("subscriber"))
    random.shuffle(deliveries)
    bounced, complained, deferred = deliveries[:3], deliveries[3:4], deliveries[4:6]
    for d in bounced + deferred:
        body = esp_events.mailgun_failure(d.subscriber.email, d.message_id, permanent=d in bounced)
        assert esp_events.post_mailgun(client, body, **esp_events.AUTH).status_code == 200
    reached = deliveries[3:]
    for d in reached:
        post("delivered", d.subscriber.email, d.message_id)
    for d in complained:
        post("complained", d.subscriber.email, d.message_id)
    readers = [d for d in reached[2:] if random.random() < 0.55]
    for d in readers:
        post("opened", d.subscriber.email, d.message_id)
    for d in readers:
        [message] = ESP.messages_to(d.subscriber.email)
        links = re.findall(r'href="https?://[^/"]+(/l/[^"]+)"', message.html)
        # Readers favour the first links of an issue, and some click twice.
        for _ in range(random.choice([0, 1, 1, 1, 2, 3])):
            index = min(int(random.expovariate(0.35)), len(links) - 1)
            assert client.get(links[index]).status_code == 302
        if random.random() < 0.3:
            answer = random.choices(["loved", "ok", "no"], weights=[6, 3, 1])[0]
            path = re.search(rf'href="https?://[^/"]+(/f/[^/"]+/{answer}/)"', message.html)
            assert client.post(path.group(1)).status_code == 200
    for d in reached[-3:]:
        unsubscribe(Subscription.objects.get(subscriber=d.subscriber, newsletter=issue.newsletter))


def main() -> None:
    newsletter = Newsletter.objects.get(slug="field-notes")
    issue = newsletter.issues.get(number=1)
    if issue.deliveries.exists():
        sys.exit("Issue #1 was already sent by this drill: use a fresh VAR_DIR.")
    add_history(newsletter)
    send(issue)
    print(f"sent to {len(ESP.recipients())} readers through the fake Mailgun")
    simulate_events(issue)
    stats = issue_stats(issue)
    print(
        f"sent {stats.sent}, delivered {stats.delivered}, bounced {stats.bounced}, "
        f"complained {stats.complained}, unsubscribed {stats.unsubscribed}, "
        f"unique opens {stats.opened}, unique clicks {stats.unique_clicks}, "
        f"clicks {stats.clicks}, click rate {stats.click_rate}"
    )
    for link in top_links(issue)[:5]:
        print(f"  {link.clicks_count:3} clicks  {link.title}")
    print("feedback:", ", ".join(f"{f['label']} {f['count']}" for f in feedback_totals(issue)))
    print(f"stats page: /admin/newsletter/issue/{issue.pk}/stats/")
    ESP.stop()


if __name__ == "__main__":
    main()
