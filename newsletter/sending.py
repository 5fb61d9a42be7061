"""Sending an issue: every confirmed reader gets it exactly once, fast, and
nothing is lost when a worker, the broker or the ESP misbehaves.

Issue     draft → scheduled → sending → sent, plus paused and cancelled. Every
          change is one conditional UPDATE, so racing beats, clicks and workers
          start a send only once.
Delivery  planned → sending → sent | failed | ambiguous, or skipped. A batch
          task builds a request for planned rows, then claims them with a
          token (`sending`) just before the request leaves, and records only
          rows it claimed. When a worker dies, its `sending` rows may have left:
          the sweeper makes them ambiguous, never resent without an editor
          asking. Its planned rows never left and are sent again.

State lives in the database; the broker only carries work, and the sweeper
puts back what it loses. Celery tasks (newsletter.tasks) are thin wrappers.
"""

import logging
import random
import smtplib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import NamedTuple

import requests
import urllib3
from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from newsletter import emails, ratelimit
from newsletter.models import Delivery, Issue
from newsletter.rendering import RenderedIssue, RenderError, render_issue
from newsletter.scheduling import draft_next_issue
from newsletter.tracking import recipient_key
from subscribers.models import Subscriber, Subscription
from subscribers.tokens import ReaderLinks

log = logging.getLogger(__name__)

Status = Issue.Status
State = Delivery.State
CONFIRMED = Subscription.Status.CONFIRMED

# A row `sending` for longer than a task may live has lost its worker.
STUCK_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
# An issue with planned rows and no progress for this long has lost its tasks.
LOST_AFTER = timedelta(minutes=5)
# Exponential backoff after retryable ESP errors: 1 s, 2 s, 4 s ... at most 5 minutes.
BACKOFF_BASE = 1.0
BACKOFF_MAX = 300.0
RETRY_AFTER_MAX = 3600.0
# Readers handed over between two checks of the issue's status (per-recipient path).
EACH_CHUNK = 50
UNSETTLED = (State.PLANNED, State.SENDING)
# Longer than SQLite's busy handler sleeps between tries (100 ms), so a waiting writer gets in.
SQLITE_WRITER_GAP = 0.12
CANCELLED_NOTE = "The issue was cancelled before this reader's turn."
# Why a row the sweeper found `sending` is ambiguous.
HANDED = "Outcome unknown: the worker stopped between hand-over and record."


class SendingError(Exception):
    """An editor's request that cannot be done now; the message says why."""


class TryLater(Exception):
    """The ESP could not take the batch now; its rows are planned again."""

    def __init__(self, reason: str, *, countdown: float):
        super().__init__(reason)
        self.countdown = countdown


# -- ESPs that fill per-recipient values themselves -------------------------------


@dataclass(frozen=True)
class BatchAPI:
    syntax: str  # our [[name]] becomes syntax.format(name)
    max_recipients: int
    esp_extra: dict = field(default_factory=dict)


# Keyed by anymail's esp_name. Every other backend gets one message per reader.
BATCH_APIS = {
    "Mailgun": BatchAPI("%recipient.{}%", 1000),
    # Mailjet's Send API v3.1 substitutes variables only with its template language on.
    "Mailjet": BatchAPI("{{{{var:{}}}}}", 50, {"Globals": {"TemplateLanguage": True}}),
    "SparkPost": BatchAPI("{{{{{}}}}}", 1000),
}


def batch_api(backend) -> BatchAPI | None:
    return BATCH_APIS.get(getattr(backend, "esp_name", ""))


# -- Issue status: one conditional UPDATE each ---------------------------------------


def _move(issue: Issue, *, source: tuple[str, ...], target: str, **fields) -> bool:
    """Move the issue from one of `source` to `target`; False if someone else moved it first."""
    moved = Issue.objects.filter(pk=issue.pk, status__in=source).update(status=target, **fields)
    if moved:
        issue.status = target
        for name, value in fields.items():
            setattr(issue, name, value)
    else:
        issue.refresh_from_db(fields=["status"])
    return moved == 1


def _refuse(issue: Issue, doing: str) -> SendingError:
    return SendingError(f"Issue #{issue.number} is {issue.status}: it cannot be {doing}.")


def _check_renders(issue: Issue) -> None:
    try:
        render_issue(issue)
    except RenderError as exc:
        raise SendingError(f"Issue #{issue.number} cannot be sent yet. {exc}") from exc


def issue_schedule(*, issue: Issue, send_at: datetime, now: datetime | None = None) -> None:
    """Send the issue at `send_at` (the beat starts it within a minute of that time)."""
    now = now or timezone.now()
    if send_at <= now:
        raise SendingError("Pick a time in the future, or use “Send now”.")
    _check_renders(issue)
    if not _move(
        issue, source=(Status.DRAFT, Status.SCHEDULED), target=Status.SCHEDULED, send_at=send_at
    ):
        raise _refuse(issue, "scheduled")


def issue_unschedule(*, issue: Issue) -> None:
    if not _move(issue, source=(Status.SCHEDULED,), target=Status.DRAFT):
        raise _refuse(issue, "unscheduled")


def issue_start(*, issue: Issue, source: tuple[str, ...] = (Status.SCHEDULED,)) -> bool:
    """Start sending; False when the issue was not in `source` (e.g. already started)."""
    _check_renders(issue)
    now = timezone.now()
    fields = {"started_at": now}
    if issue.send_at is None:  # sent unscheduled: its date (shown in the email) is today
        fields["send_at"] = now
    if not _move(issue, source=source, target=Status.SENDING, **fields):
        return False
    log.info("Issue %s: sending started", issue.pk)
    transaction.on_commit(partial(_enqueue_planner, issue.pk))
    return True


def issue_send_now(*, issue: Issue) -> None:
    if not issue_start(issue=issue, source=(Status.DRAFT, Status.SCHEDULED)):
        raise _refuse(issue, "sent now")


def issue_pause(*, issue: Issue) -> None:
    """Stop handing batches over; batches already at the ESP finish."""
    if not _move(issue, source=(Status.SENDING,), target=Status.PAUSED):
        raise _refuse(issue, "paused")


def issue_resume(*, issue: Issue) -> None:
    if not _move(issue, source=(Status.PAUSED,), target=Status.SENDING):
        raise _refuse(issue, "resumed")
    transaction.on_commit(partial(_continue, issue.pk))


def issue_cancel(*, issue: Issue) -> int:
    """Stop for good; readers not yet handed over are skipped. The number skipped."""
    source = (Status.SCHEDULED, Status.SENDING, Status.PAUSED)
    if not _move(issue, source=source, target=Status.CANCELLED):
        raise _refuse(issue, "cancelled")
    return _skip_planned(Delivery.objects.filter(issue=issue))


def _skip_planned(deliveries) -> int:
    return deliveries.filter(state=State.PLANNED).update(
        state=State.SKIPPED, error=CANCELLED_NOTE, updated=timezone.now()
    )


def resend(*, issue: Issue, states: tuple[str, ...] = (State.AMBIGUOUS, State.FAILED)) -> int:
    """An editor's "resend these": plan ambiguous and failed rows again. The number planned.

    Readers who left in the meantime are still skipped at hand-over.
    """
    if issue.status not in (Status.SENDING, Status.PAUSED, Status.SENT):
        raise _refuse(issue, "resent")
    ids = list(
        Delivery.objects.filter(issue=issue, state__in=states)
        .order_by("subscriber_id")
        .values_list("pk", flat=True)
    )
    size = issue.newsletter.batch_size
    batch = _last_batch(issue.pk)
    now = timezone.now()
    for start in range(0, len(ids), size):
        batch += 1
        Delivery.objects.filter(pk__in=ids[start : start + size], state__in=states).update(
            state=State.PLANNED, batch=batch, claim="", error="", next_attempt_at=now, updated=now
        )
        transaction.on_commit(partial(_enqueue_batch, issue.pk, batch))
    return len(ids)


def resend_ambiguous(*, issue: Issue) -> int:
    return resend(issue=issue, states=(State.AMBIGUOUS,))


def start_due_issues(*, now: datetime | None = None) -> list[Issue]:
    """Beat, every minute: start scheduled issues whose time has come."""
    now = now or timezone.now()
    started = []
    due = Issue.objects.filter(status=Status.SCHEDULED, send_at__lte=now).select_related(
        "newsletter"
    )
    for issue in due:
        try:
            if issue_start(issue=issue):
                started.append(issue)
        except SendingError as exc:
            log.error("Issue %s is due but was not started: %s", issue.pk, exc)
    return started


# -- Planning: Delivery rows in chunks, one batch task per chunk as it goes -----------


def _last_batch(issue_id: int) -> int:
    return Delivery.objects.filter(issue_id=issue_id).aggregate(b=Max("batch"))["b"] or 0


def plan_deliveries(*, issue_id: int) -> int:
    """Create the issue's Delivery rows, batch by batch, enqueuing each batch once committed.

    Streams confirmed subscriptions in subscriber order, so memory stays flat and a
    re-run continues after the highest subscriber already planned. The rows planned.
    """
    issue = Issue.objects.select_related("newsletter").get(pk=issue_id)
    after = Delivery.objects.filter(issue_id=issue_id).aggregate(s=Max("subscriber_id"))["s"]
    after, batch, planned = after or 0, _last_batch(issue_id), 0
    readers = Subscription.objects.filter(newsletter_id=issue.newsletter_id, status=CONFIRMED)
    while Issue.objects.filter(pk=issue_id, status=Status.SENDING).exists():
        ids = list(
            readers.filter(subscriber_id__gt=after)
            .order_by("subscriber_id")
            .values_list("subscriber_id", flat=True)[: issue.newsletter.batch_size]
        )
        if not ids:
            Issue.objects.filter(pk=issue_id, planned_at=None).update(planned_at=timezone.now())
            finish_if_done(issue_id=issue_id)
            break
        if planned and transaction.get_connection().vendor == "sqlite":
            # One writer at a time: a planner inserting back to back would keep
            # the batch tasks from claiming their rows until it is done.
            time.sleep(SQLITE_WRITER_GAP)
        batch += 1
        rows = readers.filter(subscriber_id__gt=after, subscriber_id__lte=ids[-1])
        _plan_batch(issue_id, batch, rows)
        after, planned = ids[-1], planned + len(ids)
    return planned


def _plan_batch(issue_id: int, batch: int, readers: QuerySet) -> None:
    """One planned Delivery row per subscription in `readers`, all in one INSERT …
    SELECT: no model instance per reader (bulk_create's took a fifth of a send's CPU)."""
    source = readers.values_list("subscriber_id")
    now = timezone.now()
    known = {"issue_id": issue_id, "batch": batch, "state": State.PLANNED}
    known |= {"created": now, "updated": now, "next_attempt_at": now}
    connection = transaction.get_connection()
    name = connection.ops.quote_name
    columns, params = [], []
    for column in Delivery._meta.concrete_fields:
        value = known.get(column.attname, column.get_default())
        if column.primary_key or column.attname == "subscriber_id" or value is None:
            continue
        columns.append(name(column.column))
        params.append(column.get_db_prep_save(value, connection))
    select, select_params = source.query.sql_with_params()
    # Names from the model, values as parameters. WHERE: SQLite would read the
    # ON of ON CONFLICT after a bare FROM as a join's.
    sql = (
        f"INSERT INTO {name(Delivery._meta.db_table)} ({', '.join(columns)}, subscriber_id) "  # noqa: S608
        f"SELECT {', '.join(['%s'] * len(params))}, r.* FROM ({select}) r "
        "WHERE 1 = 1 ON CONFLICT DO NOTHING"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [*params, *select_params])
        transaction.on_commit(partial(_enqueue_batch, issue_id, batch))


def _enqueue_planner(issue_id: int) -> None:
    from newsletter import tasks

    tasks.plan_deliveries.delay(issue_id)


def _enqueue_batch(issue_id: int, batch: int) -> None:
    from newsletter import tasks

    tasks.send_batch.delay(issue_id, batch)


def _continue(issue_id: int) -> None:
    """After a resume: finish planning, and hand over every planned batch."""
    issue = Issue.objects.get(pk=issue_id)
    if issue.planned_at is None:
        _enqueue_planner(issue_id)
    for batch in _planned_batches(Delivery.objects.filter(issue_id=issue_id)):
        _enqueue_batch(issue_id, batch)
    finish_if_done(issue_id=issue_id)


def _planned_batches(deliveries) -> list[int]:
    planned = deliveries.filter(state=State.PLANNED)
    return sorted(set(planned.values_list("batch", flat=True)))


# -- Finishing --------------------------------------------------------------------------


def finish_if_done(*, issue_id: int) -> bool:
    """Mark the issue sent once it is fully planned and no row is planned or sending."""
    unsettled = Delivery.objects.filter(issue_id=OuterRef("pk"), state__in=UNSETTLED)
    now = timezone.now()
    done = (
        Issue.objects.filter(pk=issue_id, status=Status.SENDING, planned_at__isnull=False)
        .filter(~Exists(unsettled))
        .update(status=Status.SENT, sent_at=now)
    )
    if done:
        log.info("Issue %s: sent", issue_id)
        draft_next_issue(issue=Issue.objects.select_related("newsletter").get(pk=issue_id))
    return bool(done)


# -- Batches: claim, re-check, hand over, record -----------------------------------------


def send_batch(*, issue_id: int, batch: int, attempt: int = 0) -> Counter:
    """Hand one batch of planned deliveries to the ESP; the rows settled, per state.

    Raises TryLater when the ESP asks us to come back: the rows not handed over
    stay planned, due after the backoff.
    """
    issue = Issue.objects.select_related("newsletter").get(pk=issue_id)
    planned = Delivery.objects.filter(issue_id=issue_id, batch=batch, state=State.PLANNED)
    if issue.status == Status.CANCELLED:
        _skip_planned(planned)
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
    that emails.recipient_values() and the hand-over read, without a model
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

    def planned(self):
        return Delivery.objects.filter(
            issue_id=self.issue.pk, batch=self.batch, state=State.PLANNED
        )

    def mine(self):
        return Delivery.objects.filter(
            issue_id=self.issue.pk, batch=self.batch, state=State.SENDING, claim=self.claim
        )

    def settle(self, ids: list[int] | None, state: str, **fields) -> None:
        """Record the ESP's answer for rows this run claimed (None: all it holds)."""
        rows = self.mine() if ids is None else self.mine().filter(pk__in=ids)
        self.settled[state] += rows.update(state=state, updated=timezone.now(), **fields)

    def skip(self, ids: list[int], reason: str) -> None:
        count = (
            self.planned()
            .filter(pk__in=ids)
            .update(state=State.SKIPPED, error=reason, updated=timezone.now())
        )
        self.settled[State.SKIPPED] += count

    def take(self, readers: dict[int, Reader]) -> list[int]:
        """Claim the chunk's rows, just before their request leaves. The ids this
        run holds, the only ones it may send: fewer when another run of the batch
        took some first. By id, not by the chunk's subscriber range: rows another
        run put back in that range must not stand in for rows it still holds."""
        ids = list(readers)
        taken = (
            self.planned()
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
        held = set(self.mine().filter(pk__in=ids).values_list("pk", flat=True))
        return [pk for pk in ids if pk in held]

    def release(self, *, countdown: float = 0) -> None:
        """Rows not handed over are due again in `countdown` seconds: the unclaimed
        ones, and claimed ones whose request certainly did not leave."""
        now = timezone.now()
        due = now + timedelta(seconds=countdown)
        self.mine().exclude(pk__in=self.handed).update(
            state=State.PLANNED, claim="", next_attempt_at=due, updated=now
        )
        self.planned().update(next_attempt_at=due)

    def run(self, rows: list[tuple[int, int]]) -> None:
        """rows: the batch's planned (delivery id, subscriber id), in subscriber order."""
        connection = get_connection()
        api = batch_api(connection)
        size = api.max_recipients if api else EACH_CHUNK
        try:
            self.open(connection)
            for start in range(0, len(rows), size):
                if not self.go_ahead(len(rows[start : start + size])):
                    return
                readers = self.readers(rows[start : start + size])
                if api:
                    self.send_together(connection, api, readers)
                else:
                    self.send_each(connection, readers)
        except TryLater as exc:
            self.release(countdown=exc.countdown)
            raise
        except BaseException:
            # Claimed and handed over but unrecorded: left `sending`, for the
            # sweeper to make ambiguous, as nobody can tell whether they left.
            self.release()
            raise
        finally:
            connection.close()

    def open(self, connection) -> None:
        """Connect (SMTP connects here); a failure means nothing left, so try later."""
        try:
            connection.open()
        except Exception as exc:
            _, reason, retry_after = classify(exc)
            raise TryLater(reason, countdown=backoff(self.attempt, retry_after)) from exc

    def go_ahead(self, count: int) -> bool:
        """Wait for the send rate, then check the issue may still go out."""
        ratelimit.throttle(self.issue.newsletter, count)
        status = Issue.objects.filter(pk=self.issue.pk).values_list("status", flat=True).first()
        if status == Status.CANCELLED:
            self.settled[State.SKIPPED] += _skip_planned(self.planned())
            return False
        # Paused: the rest stays planned, and resuming enqueues the batch again.
        return status != Status.PAUSED

    def readers(self, rows: list[tuple[int, int]]) -> dict[int, Reader]:
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

    def values(self, pk: int, subscription: Subscription) -> dict[str, str]:
        values = emails.recipient_values(subscription, self.links)
        values["recipient_key"] = recipient_key(pk)
        return values

    def send_together(self, connection, api: BatchAPI, readers: dict[int, Reader]) -> None:
        """One API call; the ESP fills each reader's values."""
        if not readers:
            return
        message, by_email = self.batch_message(api, readers)
        held = self.take(readers)
        if len(held) < len(readers):  # another run took some: send only ours
            readers = {pk: readers[pk] for pk in held}
            if not readers:
                return
            message, by_email = self.batch_message(api, readers)
        self.handed.update(readers)
        try:
            connection.send_messages([message])
        except Exception as exc:
            self.fail(list(readers), exc)
            return
        self.record(message, by_email, whole_claim=True)

    def batch_message(self, api: BatchAPI, readers: dict[int, Reader]):
        """The one message for these readers, and delivery id by address."""
        by_email = {s.subscriber.email: pk for pk, s in readers.items()}
        message = emails.batch_message(
            self.issue,
            self.rendered,
            readers={s.subscriber.email: self.values(pk, s) for pk, s in readers.items()},
            syntax=api.syntax,
        )
        message.metadata = {"issue": str(self.issue.pk)}
        message.merge_metadata = {email: {"delivery": str(pk)} for email, pk in by_email.items()}
        if api.esp_extra:
            message.esp_extra = api.esp_extra
        return message, by_email

    def send_each(self, connection, readers: dict[int, Reader]) -> None:
        """One message per reader over the open connection, each outcome recorded at once."""
        if not readers:
            return
        for pk in self.take(readers):
            subscription = readers[pk]
            email = subscription.subscriber.email
            message = emails.issue_message(
                self.issue, self.rendered, to=email, values=self.values(pk, subscription)
            )
            message.metadata = {"issue": str(self.issue.pk), "delivery": str(pk)}
            self.handed.add(pk)
            try:
                connection.send_messages([message])
            except Exception as exc:
                self.fail([pk], exc)
                continue
            self.record(message, {email: pk})

    def record(self, message, by_email: dict[str, int], *, whole_claim: bool = False) -> None:
        """Mark rows sent with the ESP's message id, or failed if it refused the
        address. whole_claim: these are all the rows this run holds, so when they
        share one outcome no list of ids is needed."""
        now = timezone.now()
        status = getattr(message, "anymail_status", None)
        outcomes: dict[tuple[str, str], list[int]] = {}
        if status is None or not status.recipients:  # not an anymail backend: the outbox
            outcomes[State.SENT, getattr(message, "outbox_id", "")] = list(by_email.values())
        else:
            for email, pk in by_email.items():
                own = status.recipients.get(email) or status.recipients.get(email.lower())
                if own is not None and own.status in ("invalid", "rejected", "failed", "bounced"):
                    outcome = (State.FAILED, f"The ESP answered “{own.status}”.")
                else:
                    outcome = (State.SENT, str((own.message_id if own else None) or "")[:255])
                outcomes.setdefault(outcome, []).append(pk)
        for (state, detail), ids in outcomes.items():
            if state == State.SENT:
                fields = {"message_id": detail, "sent_at": now}
            else:
                fields = {"error": detail}
            self.settle(None if whole_claim and len(outcomes) == 1 else ids, state, **fields)

    def fail(self, ids: list[int], exc: Exception) -> None:
        outcome, reason, retry_after = classify(exc)
        if outcome == "retry":
            self.handed.difference_update(ids)
            raise TryLater(reason, countdown=backoff(self.attempt, retry_after)) from exc
        log.warning("Issue %s batch %s: %s (%s)", self.issue.pk, self.batch, outcome, reason)
        self.settle(ids, State.FAILED if outcome == "failed" else State.AMBIGUOUS, error=reason)


# -- What an error means ------------------------------------------------------------------


def classify(exc: Exception) -> tuple[str, str, float | None]:
    """("retry" | "failed" | "ambiguous", reason, Retry-After seconds) for a failed hand-over.

    Retry only when the ESP certainly did not take the message: it answered 5xx or
    429, or we never reached it. A request that left but got no answer is ambiguous.
    """
    response = getattr(exc, "response", None)
    status = response.status_code if response is not None else getattr(exc, "status_code", None)
    reason = f"{status}: {esp_message(exc)}" if status is not None else None
    if isinstance(exc, AnymailRecipientsRefused):  # the ESP refused every address
        return "failed", reason or str(exc).splitlines()[0], None
    if status is not None:
        if status == 429 or status >= 500:
            return "retry", reason, retry_after(exc)
        return "failed", reason, None
    if isinstance(exc, requests.RequestException) and never_sent(exc):
        return "retry", f"The ESP could not be reached: {exc.__cause__ or exc}", None
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "failed", f"Refused: {exc.recipients}", None
    if isinstance(exc, smtplib.SMTPResponseException):
        outcome = "retry" if 400 <= exc.smtp_code < 500 else "failed"
        return outcome, f"{exc.smtp_code}: {exc.smtp_error!r}", None
    if isinstance(exc, ConnectionRefusedError):
        return "retry", f"The ESP could not be reached: {exc}", None
    if isinstance(exc, AnymailError) and not isinstance(exc, requests.RequestException):
        return "failed", str(exc).splitlines()[0], None  # refused before or by the ESP's rules
    return "ambiguous", f"Outcome unknown: {type(exc).__name__}: {exc.__cause__ or exc}", None


def never_sent(exc: Exception) -> bool:
    """Connection refused, name not resolved or connect timeout: nothing left this machine."""
    cause = exc.__cause__ or exc
    if isinstance(cause, requests.ConnectTimeout):
        return True
    if isinstance(cause, requests.ConnectionError) and cause.args:
        reason = getattr(cause.args[0], "reason", cause.args[0])
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def esp_message(exc: Exception) -> str:
    """The ESP's own words from an error response."""
    response = getattr(exc, "response", None)
    if response is None:
        return str(exc)
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason
    if isinstance(data, dict):
        return str(data.get("message") or data.get("Message") or data)[:500]
    return str(data)[:500]


def retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - timezone.now()).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Exponential with jitter, and never sooner than the ESP's Retry-After."""
    wait = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt) * random.uniform(1.0, 1.5)
    return max(wait, retry_after or 0.0)


# -- The sweeper ---------------------------------------------------------------------------


def sweep(
    *,
    now: datetime | None = None,
    lost_after: timedelta = LOST_AFTER,
    stuck_after: timedelta = STUCK_AFTER,
) -> dict[str, int]:
    """Beat, every minute: settle what crashed, re-enqueue what was lost, finish what is done.

    The thresholds are arguments so that a drill (bench/drill_crash.py) can
    shorten them; stuck_after must stay above the task time limit.
    """
    now = now or timezone.now()
    found = Counter()
    planned = Delivery.objects.filter(issue=OuterRef("pk"), state=State.PLANNED)
    # Exists, not a join: joined, every delivery of every issue was read each minute.
    active = list(
        Issue.objects.filter(
            Q(status=Status.SENDING)
            | Q(Exists(planned), status__in=(Status.CANCELLED, Status.SENT))
        )
    )
    # Recovery first: the rows settled below are the sweeper's doing, not progress.
    for issue in active:
        if issue.status != Status.CANCELLED:
            found.update(_recover(issue, now, lost_after))
    found.update(_settle_stuck(now, stuck_after))
    for issue in active:
        if issue.status == Status.CANCELLED:
            found["skipped"] += _skip_planned(issue.deliveries.all())
        else:
            found["finished"] += finish_if_done(issue_id=issue.pk)
    return {name: count for name, count in found.items() if count}


def _settle_stuck(now: datetime, stuck_after: timedelta) -> Counter:
    """Rows `sending` for longer than a task may live have lost their worker after
    their request left, or as it did: ambiguous, as nobody can tell."""
    found = Counter()
    sending = Delivery.objects.filter(state=State.SENDING)
    # Issue by issue, through the index that leads with the issue: one that
    # leads with the state would be written on every claim.
    holding = Issue.objects.filter(Exists(sending.filter(issue=OuterRef("pk"))))
    for issue_id in holding.values_list("pk", flat=True):
        stuck = sending.filter(issue_id=issue_id, updated__lt=now - stuck_after)
        found["ambiguous"] += stuck.update(state=State.AMBIGUOUS, error=HANDED, updated=now)
    return found


def _recover(issue: Issue, now: datetime, lost_after: timedelta = LOST_AFTER) -> Counter:
    """Re-enqueue the planner of an issue whose planning made no progress lately,
    and the planned batches of an issue whose sending made none."""
    found = Counter()
    since = now - lost_after
    if issue.started_at and issue.started_at > since:
        return found
    deliveries = Delivery.objects.filter(issue=issue)
    # Judged by the rows it creates: batches sending meanwhile do not hide a dead planner.
    if (
        issue.status == Status.SENDING
        and issue.planned_at is None
        and not deliveries.filter(created__gte=since).exists()
    ):
        log.warning("Issue %s: planning stalled, starting it again", issue.pk)
        transaction.on_commit(partial(_enqueue_planner, issue.pk))
        found["planner"] += 1
    if deliveries.filter(updated__gte=since).exists():
        return found
    lost = issue.deliveries.filter(state=State.PLANNED, next_attempt_at__lt=since)
    for batch in _planned_batches(lost):
        # Bumped, so the same batch is enqueued at most once per LOST_AFTER.
        lost.filter(batch=batch).update(next_attempt_at=now)
        transaction.on_commit(partial(_enqueue_batch, issue.pk, batch))
        found["batches"] += 1
    if found:
        log.warning("Issue %s: re-enqueued %s", issue.pk, dict(found))
    return found


# -- Progress ------------------------------------------------------------------------------


@dataclass
class Progress:
    status: str
    counts: dict[str, int]
    total: int
    rate: float  # messages per second over the last RATE_WINDOW
    eta: float | None  # seconds

    @property
    def done(self) -> int:
        return self.total - self.counts[State.PLANNED] - self.counts[State.SENDING] - self.waiting

    @property
    def waiting(self) -> int:
        """Readers not planned yet (the planner is still going)."""
        return max(0, self.total - sum(self.counts.values()))

    @property
    def remaining(self) -> int:
        return self.total - self.done

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 100.0

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "counts": self.counts,
            "total": self.total,
            "done": self.done,
            "remaining": self.remaining,
            "percent": round(self.percent, 1),
            "rate": round(self.rate, 1),
            "eta": round(self.eta) if self.eta is not None else None,
        }


RATE_WINDOW = timedelta(seconds=30)


def recipient_count(newsletter) -> int:
    return Subscription.objects.filter(newsletter=newsletter, status=CONFIRMED).count()


def issue_progress(*, issue: Issue, now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    issue.refresh_from_db(fields=["status", "planned_at", "started_at", "sent_at"])
    counts = dict.fromkeys(State.values, 0)
    rows = Delivery.objects.filter(issue=issue).values_list("state").order_by()
    for state, count in rows.annotate(n=Count("pk")):
        counts[state] = count
    total = sum(counts.values())
    if issue.planned_at is None and issue.status in (Status.SENDING, Status.PAUSED):
        last = Delivery.objects.filter(issue=issue).aggregate(s=Max("subscriber_id"))["s"] or 0
        total += (
            Subscription.objects.filter(newsletter_id=issue.newsletter_id, status=CONFIRMED)
            .filter(subscriber_id__gt=last)
            .count()
        )
    elif not counts[State.PLANNED] and issue.status in (Status.DRAFT, Status.SCHEDULED):
        total = recipient_count(issue.newsletter)
    window = RATE_WINDOW
    if issue.started_at:  # a send that began 5 s ago has a 5 s window
        window = max(min(window, now - issue.started_at), timedelta(seconds=1))
    recent = Delivery.objects.filter(issue=issue, state=State.SENT, sent_at__gte=now - window)
    rate = recent.count() / window.total_seconds()
    progress = Progress(status=issue.status, counts=counts, total=total, rate=rate, eta=None)
    if issue.status == Status.SENDING and rate > 0:
        progress.eta = progress.remaining / rate
    return progress
