"""The send through a real Celery worker process and the fake ESP over HTTP:
the acceptance of the delivery pipeline (exactly once, whatever goes wrong)."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from mail import links
from newsletter import sending
from newsletter.models import Delivery, Issue
from subscribers.models import Subscription
from tests.builders import make_issue, make_newsletter, make_readers
from tests.helpers import assert_own_links, by_recipient, emails_of, states, wait_for

pytestmark = pytest.mark.worker

State = Delivery.State
FINAL = (Issue.Status.SENT, Issue.Status.PAUSED, Issue.Status.CANCELLED)


def wait_until_sent(issue: Issue, timeout: float = 90) -> Issue:
    def finished():
        issue.refresh_from_db()
        return issue.status in FINAL

    wait_for(finished, timeout=timeout, interval=0.2)
    assert issue.status == Issue.Status.SENT, states(issue)
    return issue


def test_every_confirmed_reader_gets_exactly_one_message_with_their_own_links(
    celery_worker, fake_esp
):
    newsletter = make_newsletter(batch_size=1000)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 10_000)
    others = (
        make_readers(newsletter, 10, status="pending", prefix="pending")
        + make_readers(newsletter, 10, status="unsubscribed", prefix="left")
        + make_readers(newsletter, 10, status="bounced", prefix="bounced")
    )
    celery_worker()

    sending.issue_send_now(issue=issue)
    wait_until_sent(issue)

    assert fake_esp.recipients() == emails_of(readers)
    assert not fake_esp.duplicates()
    assert fake_esp.recipients().isdisjoint(emails_of(others))
    assert fake_esp.calls == 10  # one API call per batch of 1,000
    index = by_recipient(fake_esp)
    for reader in readers:
        assert_own_links(fake_esp, reader, index)
    assert states(issue) == {"sent": 10_000}
    assert issue.sent_at is not None


def test_two_concurrent_triggers_send_the_issue_once(celery_worker, fake_esp):
    newsletter = make_newsletter(batch_size=100)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 500)
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.SCHEDULED, send_at=timezone.now() - timedelta(seconds=1)
    )
    celery_worker()
    started, refused = [], []
    gate = threading.Barrier(4)

    def beat():
        gate.wait()
        try:
            started.extend(sending.start_due_issues())
        finally:
            connection.close()

    def click():
        gate.wait()
        try:
            sending.issue_send_now(issue=Issue.objects.get(pk=issue.pk))
            started.append(issue)
        except sending.SendingError as exc:
            refused.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=t) for t in (beat, beat, click, click)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(started) == 1
    assert refused  # at least the losing click was told so
    wait_until_sent(issue)
    assert fake_esp.recipients() == emails_of(readers)
    assert not fake_esp.duplicates()
    assert fake_esp.calls == 5
    assert Delivery.objects.filter(issue=issue).count() == 500


@pytest.mark.parametrize("esp", ["mailgun", "sendgrid", "unisender_go", "mailjet", "sparkpost"])
def test_it_completes_through_5xx_and_429_answers_without_duplicates(celery_worker, fake_esp, esp):
    newsletter = make_newsletter(batch_size=50)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 1000)
    fake_esp.faults.error_5xx = 0.10
    fake_esp.faults.error_429 = 0.05
    fake_esp.faults.retry_after = 1
    celery_worker(esp_name=esp)  # configured as production is: ESP, ANYMAIL_*, ESP_API_URL

    sending.issue_send_now(issue=issue)
    wait_until_sent(issue)

    assert fake_esp.responses[503] + fake_esp.responses[429] > 0  # the faults did happen
    assert fake_esp.recipients() == emails_of(readers)
    assert not fake_esp.duplicates()
    assert states(issue) == {"sent": 1000}
    index = by_recipient(fake_esp)
    for reader in readers[::97]:
        assert_own_links(fake_esp, reader, index)


def test_a_reader_who_unsubscribes_mid_send_before_their_batch_gets_nothing(
    celery_worker, fake_esp, client
):
    newsletter = make_newsletter(batch_size=20)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 400)
    leaver = readers[-1]  # in the last batch
    fake_esp.faults.latency = 0.3
    celery_worker()

    sending.issue_send_now(issue=issue)
    leavers_row = Delivery.objects.filter(issue=issue, subscriber=leaver.subscriber)
    # The send is under way and the leaver's row is planned, waiting for its batch.
    wait_for(lambda: fake_esp.calls >= 1 and leavers_row.exists(), timeout=30)
    assert leavers_row.get().state == State.PLANNED
    path = urlsplit(links.one_click_url(leaver)).path
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    wait_until_sent(issue)

    assert Subscription.objects.get(pk=leaver.pk).status == Subscription.Status.UNSUBSCRIBED
    assert fake_esp.messages_to(leaver.subscriber.email) == []
    assert fake_esp.recipients() == emails_of(readers[:-1])
    assert not fake_esp.duplicates()
    assert states(issue) == {"sent": 399, "skipped": 1}


def test_a_killed_worker_leaves_nobody_mailed_twice_and_unknown_outcomes_ambiguous(
    celery_worker, fake_esp
):
    newsletter = make_newsletter(batch_size=100)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 2000)
    fake_esp.faults.latency = 0.4
    worker = celery_worker()

    sending.issue_send_now(issue=issue)
    wait_for(lambda: fake_esp.calls >= 4, timeout=30)
    worker.kill()
    # An hour later the sweeper runs: whatever the dead worker held is ambiguous,
    # and the batches it took from the broker are enqueued again.
    found = sending.sweep(now=timezone.now() + timedelta(hours=1))
    assert found["ambiguous"] > 0
    fake_esp.faults.latency = 0
    celery_worker()
    wait_until_sent(issue)

    assert not fake_esp.duplicates()
    by_state = {state: set() for state in State.values}
    for email, state in Delivery.objects.filter(issue=issue).values_list(
        "subscriber__email", "state"
    ):
        by_state[state].add(email)
    assert by_state["sent"] | by_state["ambiguous"] == emails_of(readers)
    assert by_state["sent"] <= fake_esp.recipients()  # sent means received
    assert fake_esp.recipients() <= by_state["sent"] | by_state["ambiguous"]
    assert by_state["ambiguous"]  # the batches in flight when it died
    assert not by_state["planned"] | by_state["sending"] | by_state["failed"]


def test_a_worker_killed_with_requests_in_flight_leaves_just_those_to_become_ambiguous(
    celery_worker, fake_esp
):
    newsletter = make_newsletter(batch_size=1000)  # sent one by one: batches of 250
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 400)
    fake_esp.faults.latency = 1.0
    worker = celery_worker(esp_name="postmark", ESP_CONCURRENCY="4")

    sending.issue_send_now(issue=issue)
    # Both processes at work, each with several requests out, some answers recorded;
    # killed between answers (each 1 s after its request), when every request a
    # slot holds has reached the ESP: none is cut off on its way.
    wait_for(
        lambda: fake_esp.in_flight >= 6 and fake_esp.calls >= 12 and fake_esp.quiet_for() > 0.3,
        timeout=60,
        interval=0.02,
    )
    worker.kill()
    wait_for(lambda: fake_esp.in_flight == 0, timeout=10)  # the ESP took what was sent

    rows = Delivery.objects.filter(issue=issue)
    sent = set(rows.filter(state=State.SENT).values_list("subscriber__email", flat=True))
    held = set(rows.filter(state=State.SENDING).values_list("subscriber__email", flat=True))
    # `sending`: exactly the readers whose request was out, at most 2 processes × 4.
    assert held == fake_esp.recipients() - sent
    assert 1 <= len(held) <= 8
    assert rows.filter(state=State.PLANNED).count() == 400 - len(sent) - len(held)

    found = sending.sweep(now=timezone.now() + timedelta(hours=1))
    assert found["ambiguous"] == len(held)
    fake_esp.faults.latency = 0
    celery_worker(esp_name="postmark", ESP_CONCURRENCY="4")
    wait_until_sent(issue)

    assert not fake_esp.duplicates()
    assert fake_esp.recipients() == emails_of(readers)
    assert states(issue) == {"sent": 400 - len(held), "ambiguous": len(held)}
    ambiguous = rows.filter(state=State.AMBIGUOUS).values_list("subscriber__email", flat=True)
    assert set(ambiguous) == held
