"""Handing a batch to the ESP: claim, re-check, hand over, record.

A batch's rows are re-checked and its request built while they are still
planned; then they are claimed (`sending`) in one conditional UPDATE just
before the request leaves, so a row is `sending` exactly while it may be at
the ESP unrecorded. Only the run that claimed a row records its outcome.
"""

import logging
import time
import uuid
from collections import Counter, deque
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from itertools import islice
from typing import NamedTuple

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import CharField, F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from mail.links import ReaderLinks
from mail.messages import recipient_values
from mail.tokens import recipient_key
from newsletter import emails
from newsletter.models import Delivery, Issue
from newsletter.rendering import RenderedIssue, render_issue
from newsletter.sending import send_rate
from newsletter.sending.esp import (
    BatchAPI,
    Outcome,
    TryLater,
    backoff,
    batch_api,
    build_ahead,
    classify,
    posts_built_ahead,
)
from newsletter.sending.in_flight import InFlight
from newsletter.sending.lifecycle import finish_if_done, skip_planned
from subscribers.models import Subscriber, Subscription

log = logging.getLogger(__name__)

Status = Issue.Status
State = Delivery.State
CONFIRMED = Subscription.Status.CONFIRMED
# Readers handed over between two checks of the issue's status (per-recipient path).
EACH_CHUNK = 50


def send_batch(*, issue_id: int, batch: int, attempt: int = 0) -> Counter:
    """Hand one batch of planned deliveries to the ESP; the rows settled, per state.

    Raises TryLater when the ESP asks us to come back: the rows not handed over
    stay planned, due after the backoff.
    """
    issue = Issue.objects.select_related("newsletter").get(pk=issue_id)
    planned = Delivery.objects.filter(issue_id=issue_id, batch=batch, state=State.PLANNED)
    if issue.status == Status.CANCELLED:
        skip_planned(planned)
        return Counter()
    if issue.status not in (Status.SENDING, Status.SENT):
        return Counter()  # paused: resuming enqueues the batch again
    rows = list(planned.order_by("subscriber_id").values_list("pk", "subscriber_id"))
    if not rows:
        return Counter()  # a duplicate task: another run has (or had) these rows
    rendered = render_issue(issue)  # a render error leaves the rows planned
    claim = uuid.uuid4().hex
    handover = Handover(issue=issue, rendered=rendered, batch=batch, claim=claim, attempt=attempt)
    try:
        handover.run(rows)
    finally:
        finish_if_done(issue_id=issue_id)
    return handover.settled


class Address(NamedTuple):
    pk: int
    email: str


class Reader(NamedTuple):
    """A subscription as its issue email needs it: the attributes of Subscription
    that mail.messages.recipient_values() and the hand-over read, without a model
    instance per reader."""

    pk: int
    newsletter_id: int
    status: str
    subscriber: Address


@dataclass
class Handover:
    """One batch on its way to the ESP, a chunk (one request's worth) at a time.

    A chunk's readers are re-checked and its message built while its rows are
    still planned. Then its rows are claimed, `sending`, in one conditional
    UPDATE that only one run can win, and the request leaves at once: a row is
    `sending` exactly while it may be at the ESP unrecorded. A worker that dies
    before the claim leaves planned rows, sent again; one that dies after leaves
    `sending` rows, which the sweeper marks ambiguous.

    One message per reader (ESPs without a batch API): up to ESP_CONCURRENCY
    requests in flight (in_flight), each reader's row claimed as a slot frees
    up and recorded as their answer lands, so only the rows whose request is
    out are `sending`. An answer that says "try later" stops new requests; the
    others in flight are recorded, then the run ends with TryLater.
    """

    issue: Issue
    rendered: RenderedIssue
    batch: int
    claim: str
    attempt: int = 0
    settled: Counter = field(default_factory=Counter)
    # Rows whose request may have reached the ESP: never planned again by this run.
    handed: set[int] = field(default_factory=set)
    links: ReaderLinks = field(default_factory=ReaderLinks)
    # Set by the first answer that asks us to come back: no new request leaves.
    later: TryLater | None = None
    # A batch API: one call's readers per request (else one reader each).
    together: bool = False
    builder: object = None

    def still_planned(self):
        return Delivery.objects.filter(
            issue_id=self.issue.pk, batch=self.batch, state=State.PLANNED
        )

    def claimed(self):
        return Delivery.objects.filter(
            issue_id=self.issue.pk, batch=self.batch, state=State.SENDING, claim=self.claim
        )

    def settle(self, ids: list[int] | None, state: str, **fields) -> None:
        """Record the ESP's answer for rows this run claimed (None: all it holds)."""
        rows = self.claimed() if ids is None else self.claimed().filter(pk__in=ids)
        self.settled[state] += rows.update(state=state, updated=timezone.now(), **fields)

    def skip(self, ids: list[int], reason: str) -> None:
        count = (
            self.still_planned()
            .filter(pk__in=ids)
            .update(state=State.SKIPPED, error=reason, updated=timezone.now())
        )
        self.settled[State.SKIPPED] += count

    def claim_rows(self, readers: dict[int, Reader]) -> list[int]:
        """Claim the chunk's rows, just before their request leaves. The ids this
        run holds, the only ones it may send: fewer when another run of the batch
        took some first. By id, not by the chunk's subscriber range: rows another
        run put back in that range must not stand in for rows it still holds."""
        ids = list(readers)
        taken = (
            self.still_planned()
            .filter(pk__in=ids)
            .update(
                state=State.SENDING,
                claim=self.claim,
                updated=timezone.now(),
                attempts=F("attempts") + 1,
            )
        )
        if taken == len(ids):
            return ids
        held = set(self.claimed().filter(pk__in=ids).values_list("pk", flat=True))
        return [pk for pk in ids if pk in held]

    def put_back(self, *, countdown: float = 0) -> None:
        """Rows not handed over are due again in `countdown` seconds: the unclaimed
        ones, and claimed ones whose request certainly did not leave."""
        now = timezone.now()
        due = now + timedelta(seconds=countdown)
        self.claimed().exclude(pk__in=self.handed).update(
            state=State.PLANNED, claim="", next_attempt_at=due, updated=now
        )
        self.still_planned().update(next_attempt_at=due)

    def run(self, rows: list[tuple[int, int]]) -> None:
        """rows: the batch's planned (delivery id, subscriber id), in subscriber order."""
        self.builder = get_connection()  # builds a batch API's requests ahead
        api = batch_api(self.builder)
        self.together = api is not None
        size = api.max_recipients if api else EACH_CHUNK
        # A batch API: one call at a time, the next one built while it is out.
        flights = InFlight(1 if api else settings.ESP_CONCURRENCY, self.connection)
        try:
            for start in range(0, len(rows), size):
                # Answers already in: recorded before anything else waits.
                self.land(flights, until=flights.size)
                if self.later or not self.wait_turn(len(rows[start : start + size]), flights):
                    break
                readers = self.still_subscribed(rows[start : start + size])
                if api:
                    self.send_together(flights, api, readers)
                else:
                    self.send_each(flights, readers)
            self.land(flights, until=0)
            if self.later:
                raise self.later
        except TryLater as exc:
            self.put_back(countdown=exc.countdown)
            raise
        except BaseException:
            # Claimed and handed over but unrecorded: left `sending`, for the
            # sweeper to make ambiguous, as nobody can tell whether they left.
            self.put_back()
            flights.close(abandon=True)
            flights = None
            raise
        finally:
            if flights:
                flights.close()

    def connection(self):
        """A new connection to the ESP, open: one per thread of requests in flight."""
        connection = get_connection()
        self.connect(connection)
        return posts_built_ahead(connection) if self.together else connection

    def connect(self, connection) -> None:
        """Connect (SMTP connects here); a failure means nothing left, so try later."""
        try:
            connection.open()
        except Exception as exc:
            _, reason, retry_after = classify(exc)
            raise TryLater(reason, countdown=backoff(self.attempt, retry_after)) from exc

    def wait_turn(self, count: int, flights: InFlight) -> bool:
        """Wait for the send rate, then check the issue may still go out. Answers
        to requests in flight are recorded as they land meanwhile: a worker
        killed in the wait leaves only the unanswered ones `sending`."""
        send_rate.throttle(self.issue.newsletter, count, sleep=partial(self.land_for, flights))
        status = Issue.objects.filter(pk=self.issue.pk).values_list("status", flat=True).first()
        if status == Status.CANCELLED:
            self.settled[State.SKIPPED] += skip_planned(self.still_planned())
            return False
        # Paused: the rest stays planned, and resuming enqueues the batch again.
        return status != Status.PAUSED

    def still_subscribed(self, rows: list[tuple[int, int]]) -> dict[int, Reader]:
        """Delivery id → its reader, if still confirmed now, just before hand-over."""
        ids = [subscriber_id for _, subscriber_id in rows]
        # The range of the chunk's subscribers, not 1,000 ids, and tuples, not models:
        # a tenth of the CPU. Subscriptions in the range but not in the chunk are
        # fetched and never looked up. Two queries, not a join: joined, PostgreSQL
        # read every subscriber for every chunk (no range on that side).
        span = (min(ids, default=0), max(ids, default=0))
        address = dict(Subscriber.objects.filter(pk__range=span).values_list("pk", "email"))
        found = Subscription.objects.filter(
            newsletter_id=self.issue.newsletter_id, subscriber__pk__range=span
        ).values_list("pk", "subscriber_id", "status")
        newsletter_id = self.issue.newsletter_id
        by_subscriber = {
            subscriber: Reader(pk, newsletter_id, status, Address(subscriber, address[subscriber]))
            for pk, subscriber, status in found
            if subscriber in address  # else deleted since the first query
        }
        readers, gone = {}, {}
        for pk, subscriber_id in rows:
            subscription = by_subscriber.get(subscriber_id)
            if subscription is not None and subscription.status == CONFIRMED:
                readers[pk] = subscription
            else:
                gone.setdefault(subscription.status if subscription else "deleted", []).append(pk)
        for status, ids in gone.items():
            self.skip(ids, f"No longer subscribed ({status}).")
        return readers

    def reader_values(self, pk: int, subscription: Subscription) -> dict[str, str]:
        values = recipient_values(subscription, self.links)
        values["recipient_key"] = recipient_key(pk)
        return values

    def send_together(self, flights: InFlight, api: BatchAPI, readers: dict[int, Reader]) -> None:
        """One API call; the ESP fills each reader's values. Its message is built
        while the previous call is out; its rows are claimed once that call's
        answer is recorded, so a run holds one call's rows at a time."""
        if not readers:
            return
        message, by_email = self.batch_message(api, readers)
        build_ahead(self.builder, message)
        self.land(flights, until=0)
        if self.later:
            return  # these rows stay planned, due when the ESP said
        held = self.claim_rows(readers)
        if len(held) < len(readers):  # another run took some: send only ours
            readers = {pk: readers[pk] for pk in held}
            if not readers:
                return
            message, by_email = self.batch_message(api, readers)
            build_ahead(self.builder, message)
        self.handed.update(readers)
        flights.submit(by_email, message)

    def batch_message(self, api: BatchAPI, readers: dict[int, Reader]):
        """The one message for these readers, and delivery id by address."""
        by_email = {s.subscriber.email: pk for pk, s in readers.items()}
        message = emails.batch_message(
            self.issue,
            self.rendered,
            readers={s.subscriber.email: self.reader_values(pk, s) for pk, s in readers.items()},
            syntax=api.syntax,
        )
        message.merge_metadata = {email: {"delivery": str(pk)} for email, pk in by_email.items()}
        if api.esp_extra:
            message.esp_extra = api.esp_extra
        return message, by_email

    def send_each(self, flights: InFlight, readers: dict[int, Reader]) -> None:
        """One message per reader, as many in flight as there are slots. Each turn
        records the answers that landed and claims the rows for the slots they
        freed, and their requests leave at once; messages are built ahead while
        every slot is busy, so a freed slot waits for no template."""
        waiting = deque(readers.items())
        ready: dict[int, object] = {}  # built, not yet claimed
        while waiting or ready:
            landed = flights.answers(block=False)
            free = flights.free()
            # Built ahead: one per free slot (claimed together), or a round of
            # slots' worth while every slot is busy.
            if not landed and waiting and len(ready) < (free or flights.size):
                pk, reader = waiting.popleft()
                ready[pk] = self.reader_message(pk, reader)
                continue
            if not landed and not (ready and free):
                landed = flights.answers(block=True)
            self.record_answers(landed)
            if self.later:
                return  # the rest stay planned, due when the ESP said
            take = dict(islice(ready.items(), flights.free()))
            for pk in take:
                del ready[pk]
            for pk in self.claim_rows(take) if take else ():
                self.handed.add(pk)
                flights.submit({readers[pk].subscriber.email: pk}, take[pk])

    def reader_message(self, pk: int, reader: Reader):
        email = reader.subscriber.email
        values = self.reader_values(pk, reader)
        message = emails.issue_message(self.issue, self.rendered, to=email, values=values)
        message.metadata["delivery"] = str(pk)
        return message

    def land_for(self, flights: InFlight, seconds: float) -> None:
        """Spend `seconds` recording answers as they land."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if not flights.busy:
                time.sleep(remaining)
                return
            self.record_answers(flights.answers(block=True, timeout=remaining))

    def land(self, flights: InFlight, *, until: int) -> None:
        """Record the answers that have landed, waiting for more while over `until`
        requests are in flight; each set of answers in one transaction."""
        while answers := flights.answers(block=flights.busy > until):
            self.record_answers(answers)

    def record_answers(self, answers) -> None:
        """One set of landed answers, each keyed by {address: delivery id}: one
        UPDATE when they agree (autocommit: a transaction would cost two more
        round trips), one transaction when not."""
        errors = [(list(by_email.values()), error) for by_email, _, error in answers if error]
        taken = [(message, by_email) for by_email, message, error in answers if error is None]
        with transaction.atomic() if errors else nullcontext():
            for ids, error in errors:
                self.handle_error(ids, error)
            if taken:
                # A batch API's call holds every row this run has claimed.
                self.record(taken, whole_claim=self.together)

    def record(self, answered: list[tuple[object, dict[str, int]]], *, whole_claim=False) -> None:
        """Mark rows sent with the ESP's message id, or failed if it refused the
        address: the answers to one or more requests (message, delivery id by
        address), one UPDATE per outcome. whole_claim: these are all the rows this
        run holds, so when they share one outcome no list of ids is needed."""
        sent: dict[int, str] = {}
        failed: dict[str, list[int]] = {}
        for message, by_email in answered:
            status = getattr(message, "anymail_status", None)
            for email, pk in by_email.items():
                if status is None or not status.recipients:  # SMTP or the outbox: our own id
                    sent[pk] = getattr(message, "outbox_id", "") or own_message_id(message)
                    continue
                own = status.recipients.get(email) or status.recipients.get(email.lower())
                if own is not None and own.status in ("invalid", "rejected", "failed", "bounced"):
                    failed.setdefault(f"The ESP answered “{own.status}”.", []).append(pk)
                else:
                    sent[pk] = str((own.message_id if own else None) or "")[:255]
        whole = whole_claim and len(failed) + bool(sent) == 1
        if sent:
            message_id = each_its_own(sent)
            self.settle(
                None if whole else list(sent),
                State.SENT,
                message_id=message_id,
                sent_at=timezone.now(),
            )
        for reason, ids in failed.items():
            self.settle(None if whole else ids, State.FAILED, error=reason)

    def handle_error(self, ids: list[int], exc: BaseException) -> None:
        """What a failed request means for its rows: failed, ambiguous, or not
        taken (then no new request leaves, and they are planned again)."""
        if isinstance(exc, TryLater):  # its connection could not be opened
            return self.come_back(ids, exc)
        outcome, reason, retry_after = classify(exc)
        if outcome == Outcome.RETRY:
            later = TryLater(reason, countdown=backoff(self.attempt, retry_after))
            later.__cause__ = exc
            return self.come_back(ids, later)
        log.warning("Issue %s batch %s: %s (%s)", self.issue.pk, self.batch, outcome, reason)
        self.settle(
            ids, State.FAILED if outcome == Outcome.FAILED else State.AMBIGUOUS, error=reason
        )

    def come_back(self, ids: list[int], later: TryLater) -> None:
        """These rows certainly did not reach the ESP: planned again, due after the
        longest wait an answer asked for, when the run ends."""
        self.handed.difference_update(ids)
        if self.later is None or later.countdown > self.later.countdown:
            self.later = later


def own_message_id(message) -> str:
    """The Message-ID we gave the message (SMTP: what a bounce will quote)."""
    return str(message.extra_headers.get("Message-ID", ""))[:255]


def each_its_own(values: dict[int, str]):
    """A Delivery column's new value for rows by id: one for all, or each row's
    own in one UPDATE. The CASE is written out rather than built of Case(When())s:
    Django compiles each When in about 0.3 ms, a third of a second for a batch of
    1,000 readers with a message id each (SendGrid, Unisender Go)."""
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    pk = connection.ops.quote_name(Delivery._meta.pk.column)
    branches = " ".join(["WHEN %s THEN %s"] * len(values))
    params = [item for row in values.items() for item in row]
    # Only placeholders and a quoted column name in the SQL; the values are parameters.
    return RawSQL(f"CASE {pk} {branches} END", params, output_field=CharField())  # noqa: S611
