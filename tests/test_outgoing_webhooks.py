"""Outgoing webhooks: events from the one place each change happens, signed
per Standard Webhooks (checked with its reference library), delivered at
least once with retries, to public addresses only; an endpoint failing for a
day is disabled and the admins are told."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook

from config import events
from newsletter.models import Issue
from newsletter.sending.lifecycle import finish_if_done
from subscribers import reader_data, subscriptions
from subscribers.models import Subscriber, Subscription
from tests.builders import make_issue, make_newsletter
from webhooks import delivery, signing
from webhooks.admin import EndpointForm
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


class Receiver(BaseHTTPRequestHandler):
    """Answers each POST with the next status of its script (the last repeats)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        script = self.server.script
        status = script.pop(0) if len(script) > 1 else script[0]
        self.server.got.append((dict(self.headers), body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.script, server.got = [200], []
    settings.FETCH_ALLOW_LOOPBACK = [server.server_address[1]]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()


def endpoint(url: str, wants=events.ALL) -> Endpoint:
    return Endpoint.objects.create(url=url, events=list(wants), secret=signing.new_secret())


def later(capture):
    """Time passes: every waiting delivery is due, and the beat hands them over."""
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with capture(execute=True):
        delivery.deliver_due()


def confirmed_reader(capture, email="ann@example.org") -> Subscription:
    newsletter = make_newsletter()
    with capture(execute=True):
        subscriptions.subscribe(
            newsletter, email=email, consent=subscriptions.Consent(source="test")
        )
        subscription = Subscription.objects.get()
        subscriptions.confirm(subscription)
    return subscription


def test_signatures_verify_with_the_reference_library(receiver, django_capture_on_commit_callbacks):
    hook = endpoint(receiver.url)
    confirmed_reader(django_capture_on_commit_callbacks)
    assert [json.loads(body)["type"] for _, body, _ in receiver.got] == [
        "subscriber.created",
        "subscriber.confirmed",
    ]
    for headers, body, _ in receiver.got:
        payload = Webhook(hook.secret).verify(body, headers)
        assert payload["data"]["subscriber"]["email"] == "ann@example.org"
        assert payload["data"]["newsletter"] == "ml-monthly"


def test_after_a_rotation_both_secrets_verify_for_a_while(
    receiver, django_capture_on_commit_callbacks
):
    hook = endpoint(receiver.url)
    old = hook.secret
    signing.rotate(hook)
    confirmed_reader(django_capture_on_commit_callbacks)
    headers, body, _ = receiver.got[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) and Webhook(hook.secret).verify(body, headers)
    hook.previous_secret_until = timezone.now() - timedelta(seconds=1)
    hook.save()
    signed = signing.headers(hook, "msg_x", body, timezone.now())
    assert len(signed["webhook-signature"].split(" ")) == 1


def test_500_three_times_then_200_gets_each_event_once(
    receiver, django_capture_on_commit_callbacks
):
    receiver.script = [500, 500, 500, 200]
    endpoint(receiver.url, wants=[events.SUBSCRIBER_ERASED])
    subscription = confirmed_reader(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        reader_data.erase(subscription.subscriber)
    for _ in range(5):
        later(django_capture_on_commit_callbacks)
    assert [status for _, _, status in receiver.got] == [500, 500, 500, 200]
    ids = {headers["webhook-id"] for headers, _, _ in receiver.got}
    assert len(ids) == 1  # one event, the same id on every attempt: receivers drop repeats
    [taken] = [(h, b) for h, b, status in receiver.got if status == 200]
    assert json.loads(taken[1])["data"] == {"subscriber": {"id": subscription.subscriber_id}}
    assert b"ann@example.org" not in taken[1]  # an erasure carries no address
    assert Delivery.objects.get().state == "delivered"


def test_a_recorded_event_recorded_again_is_delivered_once(receiver):
    endpoint(receiver.url)
    for _ in range(2):
        delivery.record_event(
            message_id="msg_1",
            event=events.ISSUE_SENT,
            timestamp=timezone.now().isoformat(),
            data={},
        )
    assert Delivery.objects.count() == 1


def test_a_target_on_a_private_address_is_refused(settings, receiver):
    settings.FETCH_ALLOW_LOOPBACK = False
    form = EndpointForm({"url": "http://10.0.0.5/hook", "events": [events.ISSUE_SENT]})
    assert not form.is_valid() and "not a public address" in str(form.errors["url"])
    form = EndpointForm({"url": receiver.url, "events": [events.ISSUE_SENT]})
    assert not form.is_valid() and "loopback" in str(form.errors["url"])
    # One that became private after it was saved is refused when delivering.
    hook = endpoint("http://10.0.0.5/hook")
    delivery.record_event(
        message_id="msg_1", event=events.ISSUE_SENT, timestamp=timezone.now().isoformat(), data={}
    )
    assert delivery.deliver(Delivery.objects.get().pk) == "failed"
    assert "not a public address" in Delivery.objects.get().last_error
    assert hook.deliveries.get().state == "pending"


def test_a_day_of_failures_disables_the_endpoint_and_tells_the_admins(
    receiver, django_capture_on_commit_callbacks
):
    User.objects.create_superuser("boss", email="boss@example.org", password="x")
    receiver.script = [503]
    hook = endpoint(receiver.url, wants=[events.SUBSCRIBER_CONFIRMED])
    confirmed_reader(django_capture_on_commit_callbacks)
    hook.refresh_from_db()
    assert hook.enabled and hook.failing_since
    Endpoint.objects.update(failing_since=timezone.now() - timedelta(days=1, seconds=1))
    later(django_capture_on_commit_callbacks)
    hook.refresh_from_db()
    assert not hook.enabled and "503" in hook.disabled_reason
    [message] = [m for m in mail.outbox if "boss@example.org" in m.to]
    assert hook.url in message.subject
    tries = len(receiver.got)
    later(django_capture_on_commit_callbacks)
    assert len(receiver.got) == tries  # nothing goes to a disabled endpoint


def test_each_change_is_announced_from_where_it_happens(django_capture_on_commit_callbacks):
    hook = endpoint("http://10.0.0.5/")
    newsletter = make_newsletter()
    reader = Subscriber.objects.create(email="bo@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        subscriptions.subscribe_proven(
            reader, newsletter, consent=subscriptions.Consent(source="test")
        )
        subscriptions.unsubscribe_all(reader)
        subscription = Subscription.objects.get()
        subscriptions.subscribe_proven(
            reader, newsletter, consent=subscriptions.Consent(source="t")
        )
        subscriptions.stop_mail(
            reader, newsletter_id=newsletter.pk, status="complained", when=timezone.now(), reason=""
        )
    seen = list(hook.deliveries.order_by("pk").values_list("message__event", flat=True))
    assert seen == [
        "subscriber.created",
        "subscriber.confirmed",
        "subscriber.unsubscribed",
        "subscriber.confirmed",
        "subscriber.complained",
    ]
    assert subscription.status == "unsubscribed"


def test_a_sent_issue_is_announced_once(django_capture_on_commit_callbacks):
    hook = endpoint("http://10.0.0.5/", wants=[events.ISSUE_SENT])
    issue = make_issue(make_newsletter())
    Issue.objects.filter(pk=issue.pk).update(status="sending", planned_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert finish_if_done(issue_id=issue.pk)
        assert not finish_if_done(issue_id=issue.pk)
    [message] = [d.message for d in hook.deliveries.select_related("message")]
    assert message.event == "issue.sent"
    assert message.data["issue"]["subject"] == issue.subject
