"""Sending an issue, function by function, in this process: planning, claiming,
re-checking subscriptions, both hand-over paths, and what each ESP error means."""

import dataclasses
import email
import re
import signal
from collections import Counter
from datetime import timedelta
from email import policy

import pytest
from django.utils import timezone

from mail.messages import recipient_values
from newsletter import sending
from newsletter.emails import batch_message
from newsletter.models import Delivery, Issue
from newsletter.rendering import render_issue
from newsletter.sending.esp import batch_size
from subscribers import subscriptions
from subscribers.models import Subscriber, Subscription
from tests.builders import make_issue, make_newsletter, make_readers
from tests.fake_esp import MAILGUN_KEY
from tests.helpers import (
    assert_own_links,
    by_recipient,
    emails_of,
    states,
    unsubscribed_by,
    wait_for,
)

pytestmark = pytest.mark.django_db

State = Delivery.State


def rows_of(readers):
    return Subscription.objects.filter(pk__in=[r.pk for r in readers])


@pytest.fixture
def newsletter():
    return make_newsletter(batch_size=10)


@pytest.fixture
def issue(newsletter):
    return make_issue(newsletter)


def start(issue: Issue) -> None:
    """The issue is `sending`, without running the planner (tests call it themselves)."""
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENDING, started_at=timezone.now())
    issue.refresh_from_db()


def send_all(issue: Issue, capture) -> None:
    """Send now, running every task inline as the worker would."""
    with capture(execute=True):
        sending.issue_send_now(issue=issue)
    issue.refresh_from_db()


# -- Planning ---------------------------------------------------------------------


def test_it_plans_one_row_per_confirmed_reader_in_batches(newsletter, issue):
    readers = make_readers(newsletter, 25)
    make_readers(newsletter, 3, status="pending", prefix="pending")
    make_readers(newsletter, 2, status="unsubscribed", prefix="gone")
    start(issue)

    assert sending.plan_deliveries(issue_id=issue.pk) == 25

    rows = Delivery.objects.filter(issue=issue).order_by("subscriber_id")
    assert [r.subscriber_id for r in rows] == [r.subscriber_id for r in readers]
    assert [r.batch for r in rows] == [1] * 10 + [2] * 10 + [3] * 5
    assert states(issue) == {"planned": 25}
    issue.refresh_from_db()
    assert issue.planned_at is not None


def test_it_resumes_planning_after_the_highest_subscriber_already_planned(newsletter, issue):
    make_readers(newsletter, 25)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    # As if the planner had died after its second chunk.
    Delivery.objects.filter(issue=issue, batch=3).delete()
    Issue.objects.filter(pk=issue.pk).update(planned_at=None)

    assert sending.plan_deliveries(issue_id=issue.pk) == 5
    assert sending.plan_deliveries(issue_id=issue.pk) == 0
    assert Delivery.objects.filter(issue=issue).count() == 25
    assert set(Delivery.objects.filter(issue=issue).values_list("batch", flat=True)) == {1, 2, 3}


def test_it_stops_planning_when_the_issue_is_paused(newsletter, issue):
    make_readers(newsletter, 25)
    issue.status = Issue.Status.PAUSED
    issue.save()

    assert sending.plan_deliveries(issue_id=issue.pk) == 0
    assert not Delivery.objects.filter(issue=issue).exists()


# -- The whole send, inline ----------------------------------------------------------


def test_it_sends_each_reader_their_own_links_through_mailgun_one_call_per_thousand(
    mailgun, django_capture_on_commit_callbacks
):
    newsletter = make_newsletter(batch_size=1000)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 2100)
    make_readers(newsletter, 5, status="pending", prefix="pending")

    send_all(issue, django_capture_on_commit_callbacks)

    assert mailgun.calls == 3
    assert mailgun.recipients() == emails_of(readers)
    assert not mailgun.duplicates()
    for reader in readers[:3] + readers[-3:]:
        assert_own_links(mailgun, reader)
    message = mailgun.messages_to(readers[0].subscriber.email)[0]
    assert message.headers["List-Id"] == "ML Monthly <ml-monthly.127.0.0.1>"
    assert message.subject == issue.subject
    assert "A paper worth reading" in message.html
    assert issue.status == Issue.Status.SENT
    assert issue.sent_at is not None
    assert states(issue) == {"sent": 2100}
    assert Delivery.objects.filter(issue=issue, message_id="").count() == 0


def test_it_splits_a_batch_larger_than_the_esp_takes_in_one_call(
    mailgun, django_capture_on_commit_callbacks
):
    newsletter = make_newsletter(batch_size=2500)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 2100)

    send_all(issue, django_capture_on_commit_callbacks)

    assert mailgun.calls == 3
    assert mailgun.recipients() == emails_of(readers)
    assert states(issue) == {"sent": 2100}


def test_a_batch_api_call_is_built_while_the_previous_one_is_out_and_claimed_after_it(
    mailgun, monkeypatch
):
    # Three calls of five readers in one batch task, the ESP answering each after
    # half a second: the next call's message is ready when an answer lands, and
    # its rows are claimed only once that answer is recorded.
    monkeypatch.setitem(
        sending.esp.BATCH_APIS, "Mailgun", sending.esp.BatchAPI("%recipient.{}%", 5)
    )
    newsletter = make_newsletter(batch_size=15)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 15)
    mailgun.faults.latency = 0.5
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    events = []
    build, claim = sending.handover.Handover.batch_message, sending.handover.Handover.claim_rows
    record = sending.handover.Handover.record

    def building(self, api, chunk):
        events.append("built")
        return build(self, api, chunk)

    def claiming(self, chunk):
        events.append(f"claimed, {states(issue).get('sent', 0)} sent")
        return claim(self, chunk)

    def recording(self, answered, **kwargs):
        events.append("answer recorded")
        return record(self, answered, **kwargs)

    monkeypatch.setattr(sending.handover.Handover, "batch_message", building)
    monkeypatch.setattr(sending.handover.Handover, "claim_rows", claiming)
    monkeypatch.setattr(sending.handover.Handover, "record", recording)

    assert sending.send_batch(issue_id=issue.pk, batch=1) == {"sent": 15}

    assert events == [
        "built",
        "claimed, 0 sent",
        "built",  # while the first call is out
        "answer recorded",
        "claimed, 5 sent",
        "built",
        "answer recorded",
        "claimed, 10 sent",
        "answer recorded",
    ]
    assert mailgun.peak_in_flight == 1
    assert mailgun.recipients() == emails_of(readers)
    assert not mailgun.duplicates()


# The batch ESPs besides Mailgun that the fake ESP speaks: anymail.backends.<key>.
BATCH_ESPS = {
    "sendgrid": "SendGrid",
    "unisender_go": "Unisender Go",
    "mailjet": "Mailjet",
    "sparkpost": "SparkPost",
}


@pytest.mark.parametrize("esp", sorted(BATCH_ESPS))
def test_a_batch_esp_sends_each_reader_one_copy_of_their_own_in_calls_of_its_size(
    send_through, esp, django_capture_on_commit_callbacks
):
    fake = send_through(esp)
    per_call = sending.BATCH_APIS[BATCH_ESPS[esp]].max_recipients
    rest = per_call // 5
    newsletter = make_newsletter(batch_size=2 * per_call)
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, per_call + rest)
    make_readers(newsletter, 5, status="pending", prefix="pending")

    send_all(issue, django_capture_on_commit_callbacks)

    # One batch task, two calls: as many readers as the ESP takes at once, then the rest.
    assert fake.calls == 2
    assert sorted(Counter(m.call for m in fake.messages).values()) == [rest, per_call]
    assert fake.recipients() == emails_of(readers)
    index = by_recipient(fake)
    for reader in readers:
        assert_own_links(fake, reader, index)
    [message] = index[readers[0].subscriber.email]
    assert message.subject == issue.subject
    assert "A paper worth reading" in message.html
    # Mailjet refuses a message that names its List-Id (it sets its own headers).
    list_id = None if esp == "mailjet" else "ML Monthly <ml-monthly.127.0.0.1>"
    assert message.headers.get("List-Id") == list_id
    assert issue.status == Issue.Status.SENT
    # Each row has the message id the ESP's webhooks report for its copy, with the
    # reader's address: anymail's own (anymail_id, in the copy's metadata) for
    # SendGrid and Unisender Go, Mailjet's MessageID, SparkPost's transmission id
    # (one a call). The copy carries its delivery's id for the ESP to keep.
    rows = Delivery.objects.filter(issue=issue).values_list("pk", "subscriber__email", "message_id")
    assert {state for state in states(issue)} == {"sent"}
    for pk, address, message_id in rows:
        [copy] = index[address]
        assert copy.metadata.get("anymail_id", copy.message_id) == message_id
        assert copy.metadata["delivery"] == str(pk)
    each_call = esp == "sparkpost"
    assert len({message_id for _, _, message_id in rows}) == (2 if each_call else len(readers))


def test_it_sends_one_message_per_reader_through_postmark(
    postmark, newsletter, issue, django_capture_on_commit_callbacks
):
    readers = make_readers(newsletter, 12)

    send_all(issue, django_capture_on_commit_callbacks)

    assert postmark.calls == 12
    for reader in readers:
        assert_own_links(postmark, reader)
    message_ids = set(Delivery.objects.filter(issue=issue).values_list("message_id", flat=True))
    assert len(message_ids) == 12
    assert message_ids == {m.message_id for m in postmark.messages}
    assert issue.status == Issue.Status.SENT


def test_it_writes_one_message_per_reader_to_the_outbox(
    settings, tmp_path, newsletter, issue, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "mail.outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path
    readers = make_readers(newsletter, 4)

    send_all(issue, django_capture_on_commit_callbacks)

    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 4
    parsed = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]
    by_reader = {message["To"]: message for message in parsed}
    assert set(by_reader) == emails_of(readers)
    for reader in readers:
        message = by_reader[reader.subscriber.email]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert unsubscribed_by(text) == unsubscribed_by(html) == {reader.pk}
        assert unsubscribed_by(message["List-Unsubscribe"]) == {reader.pk}
    ids = set(Delivery.objects.filter(issue=issue).values_list("message_id", flat=True))
    assert ids == {path.stem for path in files}


def test_each_reader_gets_their_own_recipient_key_for_feedback_and_clicks(
    mailgun, newsletter, issue, django_capture_on_commit_callbacks
):
    from newsletter.engagement.feedback import delivery_for

    readers = make_readers(newsletter, 3)

    send_all(issue, django_capture_on_commit_callbacks)

    for reader in readers:
        [message] = mailgun.messages_to(reader.subscriber.email)
        keys = set(re.findall(r"/f/([^/\s\"'<>]+)/", message.html + message.text))
        assert len(keys) == 1
        delivery = delivery_for(keys.pop())
        assert (delivery.issue_id, delivery.subscriber_id) == (issue.pk, reader.subscriber_id)


# -- Claiming and re-checking ----------------------------------------------------------


def test_a_duplicate_batch_task_claims_nothing(mailgun, newsletter, issue):
    make_readers(newsletter, 10)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    first = sending.send_batch(issue_id=issue.pk, batch=1)
    second = sending.send_batch(issue_id=issue.pk, batch=1)

    assert first == {"sent": 10}
    assert not second
    assert mailgun.calls == 1
    assert not mailgun.duplicates()


def test_two_runs_of_a_batch_that_both_built_the_request_send_it_once(
    mailgun, newsletter, issue, monkeypatch
):
    readers = make_readers(newsletter, 10)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    take = sending.Handover.claim_rows
    runs = []

    def take_after_the_other_run(self, readers):
        runs.append(self.claim)
        if len(runs) == 1:  # the other run reads, builds, claims and sends first
            assert sending.send_batch(issue_id=issue.pk, batch=1) == {"sent": 10}
        return take(self, readers)

    monkeypatch.setattr(sending.Handover, "claim_rows", take_after_the_other_run)
    late = sending.send_batch(issue_id=issue.pk, batch=1)

    assert len(runs) == 2
    assert not late
    assert mailgun.calls == 1
    assert mailgun.recipients() == emails_of(readers)
    assert not mailgun.duplicates()
    assert states(issue) == {"sent": 10}


def test_a_run_claims_only_its_own_readers_when_another_run_put_rows_back(
    postmark, newsletter, issue, monkeypatch
):
    readers = make_readers(newsletter, 10)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    rows = {r.subscriber_id: r for r in Delivery.objects.filter(issue=issue)}
    first, left = rows[readers[0].subscriber_id], rows[readers[6].subscriber_id]
    check = sending.Handover.still_subscribed

    def while_another_run_holds_the_batch(self, chunk):
        # Another run has claimed the batch when this one re-checks its readers,
        # and a reader leaves: this run leaves them out (their row is not its to skip).
        Delivery.objects.filter(issue=issue).update(state=State.SENDING, claim="other")
        subscriptions.unsubscribe(readers[6], reason="too many emails")
        found = check(self, chunk)
        # The other run then sent its first reader and put the rest back (a 429).
        Delivery.objects.filter(pk=first.pk).update(state=State.SENT)
        Delivery.objects.exclude(pk=first.pk).update(state=State.PLANNED, claim="")
        return found

    monkeypatch.setattr(sending.Handover, "still_subscribed", while_another_run_holds_the_batch)
    sending.send_batch(issue_id=issue.pk, batch=1)

    # As many rows were planned in its range as it had readers, but not the same ones.
    assert postmark.recipients() == emails_of(readers) - emails_of([readers[0], readers[6]])
    assert not postmark.duplicates()
    assert Delivery.objects.get(pk=left.pk).state == State.PLANNED  # its next run skips it
    monkeypatch.undo()
    sending.send_batch(issue_id=issue.pk, batch=1)
    assert Delivery.objects.get(pk=left.pk).state == State.SKIPPED
    assert not postmark.recipients() & emails_of([readers[0], readers[6]])


def test_it_skips_a_reader_who_left_before_their_batch_was_handed_over(mailgun, newsletter, issue):
    readers = make_readers(newsletter, 10)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    subscriptions.unsubscribe(readers[4], reason="too many emails")

    sending.send_batch(issue_id=issue.pk, batch=1)

    assert mailgun.recipients() == emails_of(readers) - {readers[4].subscriber.email}
    skipped = Delivery.objects.get(issue=issue, subscriber=readers[4].subscriber)
    assert skipped.state == State.SKIPPED
    assert "unsubscribed" in skipped.error
    assert states(issue) == {"sent": 9, "skipped": 1}


def test_a_paused_issue_leaves_its_rows_planned_until_resumed(
    mailgun, newsletter, issue, django_capture_on_commit_callbacks
):
    make_readers(newsletter, 20)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    sending.issue_pause(issue=issue)

    assert not sending.send_batch(issue_id=issue.pk, batch=1)
    assert mailgun.calls == 0
    assert states(issue) == {"planned": 20}

    with django_capture_on_commit_callbacks(execute=True):
        sending.issue_resume(issue=issue)
    issue.refresh_from_db()
    assert states(issue) == {"sent": 20}
    assert issue.status == Issue.Status.SENT


def test_a_cancelled_issue_skips_everyone_not_yet_handed_over(mailgun, newsletter, issue):
    make_readers(newsletter, 20)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    sending.send_batch(issue_id=issue.pk, batch=1)

    assert sending.issue_cancel(issue=issue) == 10
    assert not sending.send_batch(issue_id=issue.pk, batch=2)

    assert mailgun.calls == 1
    assert states(issue) == {"sent": 10, "skipped": 10}
    issue.refresh_from_db()
    assert issue.status == Issue.Status.CANCELLED


# -- ESP errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "esp, after, error",
    [
        ("mailgun", {"failed": 10}, "400: 'to' parameter is not a valid address: {}"),
        ("sendgrid", {"failed": 10}, "400: Does not contain a valid address: {}"),
        ("postmark", {"sent": 9, "failed": 1}, "422: Invalid 'To' address: '{}'."),
        ("unisender_go", {"sent": 9, "failed": 1}, "The ESP answered “invalid”."),
        ("mailjet", {"sent": 9, "failed": 1}, "The ESP answered “failed”."),
    ],
)
def test_a_refused_address_fails_its_call_or_only_its_reader_as_the_esp_answers(
    send_through, newsletter, issue, esp, after, error
):
    # Mailgun and SendGrid refuse a whole call for one bad address; Postmark's
    # call is that reader's alone, and Unisender Go and Mailjet take the rest of the call.
    esp_api = send_through(esp)
    readers = make_readers(newsletter, 10)
    refused = readers[3].subscriber.email
    esp_api.faults.reject = frozenset({refused})
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    sending.send_batch(issue_id=issue.pk, batch=1)

    assert states(issue) == after
    row = Delivery.objects.get(issue=issue, subscriber=readers[3].subscriber)
    assert (row.state, row.error) == (State.FAILED, error.format(refused))
    taken = emails_of(readers) - {refused} if "sent" in after else set()
    assert esp_api.recipients() == taken
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT  # settled: the editor decides what next


def test_sparkpost_does_not_say_which_reader_it_refused_so_their_row_says_sent(
    send_through, newsletter, issue
):
    # SparkPost takes the rest of the call and only counts the readers it refused
    # (total_rejected_recipients): anymail then reports every reader "unknown",
    # and the refused reader's row says sent, with the call's id, though nothing
    # went to them. (Refusing the whole call, it answers 400: those rows fail.)
    sparkpost = send_through("sparkpost")
    readers = make_readers(newsletter, 10)
    refused = readers[3].subscriber.email
    sparkpost.faults.reject = frozenset({refused})
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    sending.send_batch(issue_id=issue.pk, batch=1)

    assert sparkpost.recipients() == emails_of(readers) - {refused}
    assert states(issue) == {"sent": 10}
    row = Delivery.objects.get(issue=issue, subscriber=readers[3].subscriber)
    assert row.message_id == sparkpost.messages[0].message_id

    second = make_issue(newsletter, number=newsletter.next_issue_number())
    sparkpost.faults.reject = frozenset(emails_of(readers))
    start(second)
    sending.plan_deliveries(issue_id=second.pk)
    sending.send_batch(issue_id=second.pk, batch=1)

    assert states(second) == {"failed": 10}
    row = Delivery.objects.filter(issue=second).first()
    assert row.error == "400: At least one valid recipient is required"


def test_one_by_one_it_keeps_several_requests_at_the_esp_and_no_more_than_allowed(
    postmark, settings, issue, newsletter
):
    settings.ESP_CONCURRENCY = 4
    newsletter.batch_size = 100
    newsletter.save()
    readers = make_readers(newsletter, 20)
    postmark.faults.latency = 0.2  # as a real API answers: one at a time would take 4 s
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    assert sending.send_batch(issue_id=issue.pk, batch=1) == {"sent": 20}

    assert 2 <= postmark.peak_in_flight <= 4
    assert postmark.calls == 20
    assert postmark.recipients() == emails_of(readers)
    assert not postmark.duplicates()
    recorded = dict(
        Delivery.objects.filter(issue=issue).values_list("subscriber__email", "message_id")
    )
    assert recorded == {m.to: m.message_id for m in postmark.messages}  # each their own answer


def test_through_smtp_it_keeps_several_messages_at_the_server_each_reader_once(
    smtp, settings, issue, newsletter
):
    settings.ESP_CONCURRENCY = 4
    newsletter.batch_size = 100
    newsletter.save()
    readers = make_readers(newsletter, 20)
    smtp.faults.latency = 0.2  # a server that answers DATA after 200 ms
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    assert sending.send_batch(issue_id=issue.pk, batch=1) == {"sent": 20}

    assert 2 <= smtp.peak_in_flight <= 4
    assert smtp.recipients() == emails_of(readers)
    assert not smtp.duplicates()
    for reader in readers:
        assert_own_links(smtp, reader)
    # Each row keeps the Message-ID its reader got: what a bounce will quote.
    recorded = dict(
        Delivery.objects.filter(issue=issue).values_list("subscriber__email", "message_id")
    )
    assert recorded == {m.to: m.headers["Message-ID"] for m in smtp.messages}
    assert len(set(recorded.values())) == 20


def test_through_smtp_a_temporary_refusal_retries_only_that_reader(
    smtp, settings, issue, newsletter
):
    settings.ESP_CONCURRENCY = 4
    readers = make_readers(newsletter, 6)
    smtp.faults.unavailable = frozenset(emails_of([readers[2]]))  # "451 try again later"
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    with pytest.raises(sending.TryLater):
        sending.send_batch(issue_id=issue.pk, batch=1)

    # Answers in flight with it were recorded; no new message left after it.
    planned = Delivery.objects.filter(issue=issue, state=State.PLANNED)
    assert readers[2].subscriber_id in set(planned.values_list("subscriber_id", flat=True))
    assert states(issue)["sent"] == len(smtp.recipients()) >= 2
    assert readers[2].subscriber.email not in smtp.recipients()
    assert not smtp.duplicates()


def test_answers_are_recorded_while_the_send_rate_makes_the_next_chunk_wait(
    postmark, settings, issue, newsletter, monkeypatch
):
    # A worker killed while it waits for the send rate must leave only unanswered
    # rows `sending`: answers that came back meanwhile are already recorded.
    settings.ESP_CONCURRENCY = 16
    newsletter.batch_size = 100
    newsletter.save()
    make_readers(newsletter, 60)  # two chunks of the per-reader path
    postmark.faults.latency = 0.1
    waits = iter([0.0, 1.0])  # the second chunk waits a second for its turn
    monkeypatch.setattr(sending.send_rate, "reserve", lambda *a, **kw: next(waits, 0.0))
    unrecorded_at_the_next_chunk = []
    still_subscribed = sending.handover.Handover.still_subscribed

    def counting(self, rows):
        unrecorded_at_the_next_chunk.append(
            Delivery.objects.filter(issue=issue, state=State.SENDING).count()
        )
        return still_subscribed(self, rows)

    monkeypatch.setattr(sending.handover.Handover, "still_subscribed", counting)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    assert sending.send_batch(issue_id=issue.pk, batch=1) == {"sent": 60}
    assert unrecorded_at_the_next_chunk == [0, 0]  # the first chunk's answers all landed
    assert not postmark.duplicates()


@pytest.mark.parametrize("status", [503, 429])
def test_one_by_one_a_transient_error_retries_only_the_readers_it_was_for(
    postmark, settings, issue, newsletter, status
):
    settings.ESP_CONCURRENCY = 4
    readers = make_readers(newsletter, 10)
    turned_away = emails_of([readers[1], readers[3]])
    postmark.faults.unavailable = frozenset(turned_away)
    postmark.faults.unavailable_status = status
    postmark.faults.retry_after = 7
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    with pytest.raises(sending.TryLater) as raised:
        sending.send_batch(issue_id=issue.pk, batch=1)

    # The answers in flight with theirs were recorded; new requests stopped.
    planned = Delivery.objects.filter(issue=issue, state=State.PLANNED)
    assert turned_away <= set(planned.values_list("subscriber__email", flat=True))
    assert states(issue)["sent"] == len(postmark.recipients()) >= 2
    assert not postmark.recipients() & turned_away
    if status == 429:
        assert raised.value.countdown >= 7  # Retry-After honoured
    assert planned.first().next_attempt_at > timezone.now()

    postmark.faults.unavailable = frozenset()
    sending.send_batch(issue_id=issue.pk, batch=1, attempt=1)
    assert states(issue) == {"sent": 10}
    assert postmark.recipients() == emails_of(readers)
    assert not postmark.duplicates()


@pytest.mark.parametrize("esp", ["mailgun", *sorted(BATCH_ESPS)])
@pytest.mark.parametrize("fault", ["error_5xx", "error_429"])
def test_a_transient_error_plans_the_batch_again_for_a_retry(
    send_through, newsletter, issue, fault, esp
):
    esp_api = send_through(esp)
    readers = make_readers(newsletter, 10)
    setattr(esp_api.faults, fault, 1.0)
    esp_api.faults.retry_after = 7
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    with pytest.raises(sending.TryLater) as raised:
        sending.send_batch(issue_id=issue.pk, batch=1)

    assert states(issue) == {"planned": 10}
    if fault == "error_429":
        assert raised.value.countdown >= 7  # Retry-After honoured
    row = Delivery.objects.filter(issue=issue).first()
    assert row.next_attempt_at > timezone.now()
    assert esp_api.recipients() == set()

    setattr(esp_api.faults, fault, 0.0)
    sending.send_batch(issue_id=issue.pk, batch=1, attempt=1)
    assert esp_api.recipients() == emails_of(readers)
    assert not esp_api.duplicates()
    assert states(issue) == {"sent": 10}


def test_a_call_that_cannot_be_built_fails_alone_and_the_one_still_out_is_recorded(
    mailgun, newsletter, issue, monkeypatch
):
    # A batch API's next call is built while the one before is out: an error in
    # building it must not abandon that call, its rows left `sending` (ambiguous).
    mailgun_api = dataclasses.replace(sending.BATCH_APIS["Mailgun"], max_recipients=5)
    monkeypatch.setitem(sending.BATCH_APIS, "Mailgun", mailgun_api)
    readers = make_readers(newsletter, 10)
    broken = readers[7].subscriber
    Subscriber.objects.filter(pk=broken.pk).update(email="no-at-sign")
    mailgun.faults.latency = 0.3  # the first call is still out while the second is built
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    sending.send_batch(issue_id=issue.pk, batch=1)

    assert states(issue) == {"sent": 5, "failed": 5}
    assert mailgun.recipients() == emails_of(readers[:5])
    assert "no-at-sign" in Delivery.objects.get(issue=issue, subscriber=broken).error


@pytest.mark.parametrize(
    ("esp", "send_rate", "readers"),
    [("mailgun", 500, 5000), ("mailgun", 5, 300), ("mailjet", 500, 500), ("postmark", 500, 250)],
)
def test_a_batch_task_is_sized_to_end_within_the_task_time_limit(
    send_through, esp, send_rate, readers
):
    # A task's calls go one after another at the send rate: a low rate, or an ESP
    # that takes few readers a call (Mailjet: 50), makes smaller tasks.
    send_through(esp)
    newsletter = make_newsletter(batch_size=5000, send_rate=send_rate)
    assert batch_size(newsletter) == readers


def test_sparkpost_over_its_sending_limit_is_tried_again_later(send_through, newsletter, issue):
    sparkpost = send_through("sparkpost")
    readers = make_readers(newsletter, 5)
    sparkpost.faults.unavailable = frozenset(emails_of(readers))
    sparkpost.faults.unavailable_status = 420  # "Exceed Sending Limit": nothing taken
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    with pytest.raises(sending.TryLater):
        sending.send_batch(issue_id=issue.pk, batch=1)
    assert states(issue) == {"planned": 5}
    assert sparkpost.recipients() == set()

    sparkpost.faults.unavailable = frozenset()
    sending.send_batch(issue_id=issue.pk, batch=1, attempt=1)
    assert sparkpost.recipients() == emails_of(readers)
    assert states(issue) == {"sent": 5}


def test_backoff_grows_and_never_undercuts_retry_after():
    assert 1 <= sending.backoff(0) <= 1.5
    assert 8 <= sending.backoff(3) <= 12
    assert sending.backoff(30) <= 450
    assert sending.backoff(0, retry_after=20) == 20


def test_an_esp_that_cannot_be_reached_is_retried(settings, newsletter, issue):
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "MAILGUN_API_KEY": MAILGUN_KEY,
        "MAILGUN_API_URL": "http://127.0.0.1:9/v3",  # nothing listens on the discard port
    }
    make_readers(newsletter, 3)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    with pytest.raises(sending.TryLater, match="could not be reached"):
        sending.send_batch(issue_id=issue.pk, batch=1)
    assert states(issue) == {"planned": 3}


def test_an_smtp_server_that_refuses_the_connection_is_retried(settings, newsletter, issue):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    make_readers(newsletter, 3)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    with pytest.raises(sending.TryLater):
        sending.send_batch(issue_id=issue.pk, batch=1)
    assert states(issue) == {"planned": 3}


def test_a_timeout_after_the_request_left_marks_the_batch_ambiguous(
    settings, mailgun, newsletter, issue
):
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": 0.3}
    readers = make_readers(newsletter, 10)
    mailgun.faults.timeout = 1.0
    mailgun.faults.stall_seconds = 1.0
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    sending.send_batch(issue_id=issue.pk, batch=1)

    # The ESP did take them: resending now would mail everyone twice.
    assert mailgun.recipients() == emails_of(readers)
    assert states(issue) == {"ambiguous": 10}
    assert "Outcome unknown" in Delivery.objects.filter(issue=issue).first().error
    assert sending.sweep(now=timezone.now() + timedelta(hours=2)) == {}
    assert states(issue) == {"ambiguous": 10}


def test_resend_sends_the_failed_readers_once_more(
    mailgun, newsletter, issue, django_capture_on_commit_callbacks
):
    readers = make_readers(newsletter, 10)
    mailgun.faults.reject = frozenset({readers[0].subscriber.email})
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    sending.send_batch(issue_id=issue.pk, batch=1)
    mailgun.faults.reject = frozenset()

    with django_capture_on_commit_callbacks(execute=True):
        assert sending.resend(issue=issue) == 10

    assert states(issue) == {"sent": 10}
    assert mailgun.recipients() == emails_of(readers)
    assert not mailgun.duplicates()


# -- The sweeper -------------------------------------------------------------------------


def test_the_sweeper_marks_rows_stuck_in_sending_ambiguous(newsletter, issue):
    make_readers(newsletter, 10)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)
    # A worker claimed batch 1, handed it over, then died before recording anything.
    Delivery.objects.filter(issue=issue).update(state=State.SENDING, claim="dead")

    assert sending.sweep() == {}  # not yet: the task might still be running
    found = sending.sweep(now=timezone.now() + sending.STUCK_AFTER + timedelta(seconds=1))

    assert found == {"ambiguous": 10, "finished": 1}
    assert states(issue) == {"ambiguous": 10}
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_rows_whose_worker_died_before_claiming_them_stay_planned_and_are_sent(
    mailgun, newsletter, issue, monkeypatch, django_capture_on_commit_callbacks
):
    readers = make_readers(newsletter, 10)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    def killed(self, readers):
        raise KeyboardInterrupt  # the request is built; the process dies before the claim

    with monkeypatch.context() as patched:
        patched.setattr(sending.Handover, "claim_rows", killed)
        patched.setattr(sending.Handover, "put_back", lambda self, **kw: None)  # no clean-up
        with pytest.raises(KeyboardInterrupt):
            sending.send_batch(issue_id=issue.pk, batch=1)

    assert states(issue) == {"planned": 10}
    assert not mailgun.recipients()
    with django_capture_on_commit_callbacks(execute=True):
        found = sending.sweep(now=timezone.now() + sending.LOST_AFTER + timedelta(seconds=1))

    assert found == {"batches": 1}
    assert states(issue) == {"sent": 10}
    assert mailgun.recipients() == emails_of(readers)
    assert not mailgun.duplicates()


def test_a_worker_stopped_during_the_request_leaves_its_rows_to_become_ambiguous(
    mailgun, newsletter, issue
):
    readers = make_readers(newsletter, 10)
    mailgun.faults.latency = 3.0
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)

    def interrupt(signum, frame):
        raise KeyboardInterrupt  # the process stops here, mid-request

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)  # the request is at the ESP by then
    try:
        with pytest.raises(KeyboardInterrupt):
            sending.send_batch(issue_id=issue.pk, batch=1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    # Nobody knows whether they left: still claimed, not planned again.
    assert states(issue) == {"sending": 10}
    found = sending.sweep(now=timezone.now() + sending.STUCK_AFTER + timedelta(seconds=1))
    assert found == {"ambiguous": 10, "finished": 1}
    assert set(Delivery.objects.filter(issue=issue).values_list("state", "error")) == {
        (State.AMBIGUOUS, sending.HANDED)
    }
    wait_for(lambda: mailgun.recipients() == emails_of(readers), timeout=10)


def test_the_sweeper_enqueues_batches_whose_task_was_lost(
    mailgun, newsletter, issue, django_capture_on_commit_callbacks
):
    readers = make_readers(newsletter, 25)
    start(issue)
    sending.plan_deliveries(issue_id=issue.pk)  # tasks "lost": never enqueued here

    assert sending.sweep() == {}  # too early to call them lost
    with django_capture_on_commit_callbacks(execute=True):
        found = sending.sweep(now=timezone.now() + sending.LOST_AFTER + timedelta(seconds=1))

    assert found["batches"] == 3
    assert mailgun.recipients() == emails_of(readers)
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_the_sweeper_restarts_a_planner_that_died(
    mailgun, newsletter, issue, django_capture_on_commit_callbacks
):
    readers = make_readers(newsletter, 15)
    start(issue)
    Issue.objects.filter(pk=issue.pk).update(started_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        found = sending.sweep()

    assert found["planner"] == 1
    assert mailgun.recipients() == emails_of(readers)


def test_one_sweep_after_a_crash_mid_planning_settles_and_restarts_everything(
    mailgun, newsletter, issue, django_capture_on_commit_callbacks
):
    readers = make_readers(newsletter, 25)
    start(issue)
    # The worker died while planning (two batches planned, the planner gone) and
    # while batch 1 was at the ESP.
    sending.planner.plan_batch(issue.pk, 1, rows_of(readers[:10]))
    sending.planner.plan_batch(issue.pk, 2, rows_of(readers[10:20]))
    Delivery.objects.filter(issue=issue, batch=1).update(state=State.SENDING, claim="dead")

    with django_capture_on_commit_callbacks(execute=True):
        found = sending.sweep(now=timezone.now() + timedelta(hours=1))

    assert found == {"ambiguous": 10, "planner": 1, "batches": 1}
    assert states(issue) == {"ambiguous": 10, "sent": 15}
    assert mailgun.recipients() == emails_of(readers[10:])
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_the_sweeper_restarts_a_dead_planner_while_its_batches_still_send(
    mailgun, newsletter, issue, django_capture_on_commit_callbacks
):
    readers = make_readers(newsletter, 25)
    start(issue)
    # The planner planned two batches long ago and died; batch 1 is sending right now.
    sending.planner.plan_batch(issue.pk, 1, rows_of(readers[:10]))
    sending.planner.plan_batch(issue.pk, 2, rows_of(readers[10:20]))
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Issue.objects.filter(pk=issue.pk).update(started_at=an_hour_ago)
    Delivery.objects.filter(issue=issue).update(created=an_hour_ago, updated=an_hour_ago)
    Delivery.objects.filter(issue=issue, batch=1).update(
        state=State.SENDING, claim="alive", updated=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        found = sending.sweep(now=an_hour_ago + timedelta(hours=1, seconds=1))

    assert found == {"planner": 1}  # not the batches: the send is making progress
    assert mailgun.recipients() == emails_of(readers[20:])
    assert states(issue) == {"sending": 10, "planned": 10, "sent": 5}


# -- Editor actions ---------------------------------------------------------------------


def test_it_refuses_to_send_an_issue_that_cannot_be_rendered(newsletter):
    issue = make_issue(newsletter)
    newsletter.postal_address = " "
    newsletter.save()

    with pytest.raises(sending.SendingError, match="postal address"):
        sending.issue_send_now(issue=issue)
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_with_https_on_it_refuses_to_mail_plain_http_links_through_an_esp(
    mailgun, settings, newsletter, issue
):
    settings.HTTPS = True  # production's default
    settings.SITE_URL = "http://127.0.0.1:8000"
    for act in (
        lambda: sending.issue_send_now(issue=issue),
        lambda: sending.issue_schedule(issue=issue, send_at=timezone.now() + timedelta(days=1)),
    ):
        with pytest.raises(sending.SendingError, match="SITE_URL is http://127.0.0.1:8000"):
            act()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert mailgun.messages == []

    settings.SITE_URL = "https://news.example.com"
    sending.issue_send_now(issue=issue)
    issue.refresh_from_db()
    assert issue.status != Issue.Status.DRAFT


def test_an_issue_starts_only_once(newsletter, issue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert sending.issue_start(issue=issue, action="send_now")
        assert not sending.issue_start(issue=Issue.objects.get(pk=issue.pk), action="send_now")
        with pytest.raises(sending.SendingError, match="is sending"):
            sending.issue_send_now(issue=Issue.objects.get(pk=issue.pk))
    assert len(callbacks) == 1  # one planner


def test_schedule_wants_a_time_in_the_future(newsletter, issue):
    with pytest.raises(sending.SendingError, match="future"):
        sending.issue_schedule(issue=issue, send_at=timezone.now() - timedelta(minutes=1))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_progress_counts_rows_and_readers_not_yet_planned(newsletter, issue):
    readers = make_readers(newsletter, 25)
    start(issue)
    # The planner is under way: 10 rows so far, all sent.
    sending.planner.plan_batch(issue.pk, 1, rows_of(readers[:10]))
    Delivery.objects.filter(issue=issue).update(state=State.SENT, sent_at=issue.started_at)

    progress = sending.issue_progress(issue=issue, now=issue.started_at + timedelta(seconds=5))

    assert progress.total == 25
    assert progress.waiting == 15
    assert progress.done == 10
    assert progress.percent == 40.0
    assert progress.rate == 2.0  # 10 in the 5 s since the start
    assert progress.eta == 7.5


def test_unsubscribe_links_are_signed_for_the_reader(newsletter):
    [reader] = make_readers(newsletter, 1)

    assert unsubscribed_by(recipient_values(reader)["unsubscribe_url"]) == {reader.pk}


@pytest.mark.parametrize(
    "esp, merge_field",
    [
        ("Mailgun", "%recipient.unsubscribe_url%"),
        ("Mailjet", "{{var:unsubscribe_url}}"),
        ("SparkPost", "{{unsubscribe_url}}"),
        ("SendGrid", "{{unsubscribe_url}}"),
        ("Unisender Go", "{{unsubscribe_url}}"),
    ],
)
def test_a_batch_message_speaks_the_esps_merge_syntax(newsletter, issue, esp, merge_field):
    readers = make_readers(newsletter, 2)
    values = {r.subscriber.email: recipient_values(r) for r in readers}

    message = batch_message(
        issue, render_issue(issue), readers=values, syntax=sending.BATCH_APIS[esp].syntax
    )

    html = message.alternatives[0][0]
    assert merge_field in message.body and merge_field in html
    assert "[[" not in message.body + html
    assert message.to == [r.subscriber.email for r in readers]
    for reader in readers:
        own = values[reader.subscriber.email]
        assert (
            message.merge_data[reader.subscriber.email]["unsubscribe_url"]
            == (own["unsubscribe_url"])
        )
        assert message.merge_headers[reader.subscriber.email] == {
            "List-Unsubscribe": f"<{own['one_click_url']}>"
        }
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_sender_name_with_a_comma_still_sends(mailgun, django_capture_on_commit_callbacks):
    newsletter = make_newsletter(sender_name="Ada, Editor")
    issue = make_issue(newsletter)
    readers = make_readers(newsletter, 3)

    send_all(issue, django_capture_on_commit_callbacks)

    assert mailgun.recipients() == emails_of(readers)
    assert states(issue) == {"sent": 3}
    assert newsletter.from_email == '"Ada, Editor" <ada@example.com>'
