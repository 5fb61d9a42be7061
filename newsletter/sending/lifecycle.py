"""An issue's status, moved only along Issue.ACTIONS, each move one conditional
UPDATE, so racing beats, clicks and workers start a send only once; and the
editor's "resend these".

Work for the workers is enqueued by task name (config.queue), after commit.
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from config import events
from config.queue import enqueue
from newsletter.curation import preflight
from newsletter.models import Delivery, Issue
from newsletter.scheduling import draft_next_issue
from newsletter.sending.esp import batch_size

log = logging.getLogger(__name__)

Status = Issue.Status
State = Delivery.State

# The tasks of newsletter.tasks that the services enqueue.
PLAN_TASK = "newsletter.plan_deliveries"
BATCH_TASK = "newsletter.send_batch"

UNSETTLED = (State.PLANNED, State.SENDING)
CANCELLED_NOTE = "The issue was cancelled before this reader's turn."


class SendingError(Exception):
    """An editor's request that cannot be done now; the message says why."""


def _move(issue: Issue, action: str, **fields) -> bool:
    """Take `action` (Issue.ACTIONS); False if the issue was not in a status it
    may be taken from (e.g. someone else moved it first)."""
    source, target = Issue.ACTIONS[action]
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


def _check_sendable(issue: Issue) -> None:
    """Refuse before the status moves: the pre-flight's blockers (an empty or
    placeholder issue, one that does not render or would be clipped, links
    readers could not safely use). An issue no send may leave from is left to
    the move, which says so: a status that cannot send now never can again."""
    may_leave = Issue.objects.filter(pk=issue.pk, status__in=Issue.ACTIONS["send_now"][0])
    if not may_leave.exists():
        return
    found = preflight.blockers(issue)
    if found:
        listed = "; ".join(str(finding) for finding in found)
        raise SendingError(f"Issue #{issue.number} cannot be sent: {listed}")


def issue_schedule(*, issue: Issue, send_at: datetime, now: datetime | None = None) -> None:
    """Send the issue at `send_at` (the beat starts it within a minute of that time)."""
    now = now or timezone.now()
    if send_at <= now:
        raise SendingError("Pick a time in the future, or use “Send now”.")
    _check_sendable(issue)
    if not _move(issue, "schedule", send_at=send_at):
        raise _refuse(issue, "scheduled")


def issue_unschedule(*, issue: Issue) -> None:
    if not _move(issue, "unschedule"):
        raise _refuse(issue, "unscheduled")


def issue_start(*, issue: Issue, action: str = "start") -> bool:
    """Start sending ("start": the beat; "send_now": an editor); False when the
    issue was not in a status to start from (e.g. already started)."""
    _check_sendable(issue)
    now = timezone.now()
    fields = {"started_at": now}
    if issue.send_at is None:  # sent unscheduled: its date (shown in the email) is today
        fields["send_at"] = now
    if not _move(issue, action, **fields):
        return False
    log.info("Issue %s: sending started", issue.pk)
    transaction.on_commit(partial(enqueue_planner, issue.pk))
    return True


def issue_send_now(*, issue: Issue) -> None:
    if not issue_start(issue=issue, action="send_now"):
        raise _refuse(issue, "sent now")


def issue_pause(*, issue: Issue) -> None:
    """Stop handing batches over; batches already at the ESP finish."""
    if not _move(issue, "pause"):
        raise _refuse(issue, "paused")


def issue_resume(*, issue: Issue) -> None:
    if not _move(issue, "resume"):
        raise _refuse(issue, "resumed")
    transaction.on_commit(partial(_continue, issue.pk))


def issue_cancel(*, issue: Issue) -> int:
    """Stop for good; readers not yet handed over are skipped. The number skipped."""
    if not _move(issue, "cancel"):
        raise _refuse(issue, "cancelled")
    return skip_planned(Delivery.objects.filter(issue=issue))


def skip_planned(deliveries) -> int:
    return deliveries.filter(state=State.PLANNED).update(
        state=State.SKIPPED, error=CANCELLED_NOTE, updated=timezone.now()
    )


def resend(*, issue: Issue, states: tuple[str, ...] = (State.AMBIGUOUS, State.FAILED)) -> int:
    """An editor's "resend these": plan ambiguous and failed rows again. The number planned.

    Readers who left in the meantime are still skipped at hand-over.
    """
    if not issue.can("resend"):
        raise _refuse(issue, "resent")
    ids = list(
        Delivery.objects.filter(issue=issue, state__in=states)
        .order_by("subscriber_id")
        .values_list("pk", flat=True)
    )
    size = batch_size(issue.newsletter)
    batch = last_batch(issue.pk)
    now = timezone.now()
    for start in range(0, len(ids), size):
        batch += 1
        Delivery.objects.filter(pk__in=ids[start : start + size], state__in=states).update(
            state=State.PLANNED, batch=batch, claim="", error="", next_attempt_at=now, updated=now
        )
        transaction.on_commit(partial(enqueue_batch, issue.pk, batch))
    return len(ids)


# The beat asks for an issue's link checks this long before its time, and waits
# this long past it for those that have not answered.
LINK_CHECK_AHEAD = timedelta(minutes=5)
LINK_CHECK_WAIT = timedelta(minutes=3)


def start_due_issues(*, now: datetime | None = None) -> list[Issue]:
    """Beat, every minute: start scheduled issues whose time has come, once
    their link checks have answered (or LINK_CHECK_WAIT has passed); what the
    pre-flight warns of goes to the log."""
    now = now or timezone.now()
    started = []
    soon = Issue.objects.filter(
        status=Status.SCHEDULED, send_at__gt=now, send_at__lte=now + LINK_CHECK_AHEAD
    )
    for issue in soon:
        preflight.request_link_checks(issue)
    due = Issue.objects.filter(status=Status.SCHEDULED, send_at__lte=now).select_related(
        "newsletter"
    )
    for issue in due:
        try:
            report = preflight.preflight(issue)
        except Exception:  # one issue's surprise must not hold up the others due now
            log.exception("Issue %s is due; its pre-flight failed", issue.pk)
            report = None
        if report and report.checking and now - issue.send_at < LINK_CHECK_WAIT:
            log.info("Issue %s is due; waiting for %s link checks", issue.pk, report.checking)
            continue
        for finding in report.warnings if report else ():
            log.warning("Issue %s goes out with a warning: %s", issue.pk, finding)
        try:
            if issue_start(issue=issue):
                started.append(issue)
        except SendingError as exc:  # it names its blockers
            log.error("Issue %s is due but was not started: %s", issue.pk, exc)
        except Exception:
            log.exception("Issue %s is due but failed to start", issue.pk)
    return started


def finish_if_done(*, issue_id: int) -> bool:
    """Mark the issue sent once it is fully planned and no row is planned or sending."""
    if unsettled_left(issue_id):
        return False  # the usual answer, every batch task but the last
    source, target = Issue.ACTIONS["finish"]
    unsettled = Delivery.objects.filter(issue_id=OuterRef("pk"), state__in=UNSETTLED)
    now = timezone.now()
    done = (
        Issue.objects.filter(pk=issue_id, status__in=source, planned_at__isnull=False)
        .filter(~Exists(unsettled))
        .update(status=target, sent_at=now)
    )
    if done:
        log.info("Issue %s: sent", issue_id)
        issue = Issue.objects.select_related("newsletter").get(pk=issue_id)
        events.emit(events.ISSUE_SENT, _announced(issue))
        draft_next_issue(issue=issue)
    return bool(done)


def unsettled_left(issue_id: int) -> bool:
    """Whether a row of the issue is still planned or sending. Looked for from the
    highest batch down, a state at a time: the rows a send has settled leave their
    old index entries behind at the low batches until vacuum, and a look that
    starts there walks past all of them. It did in every batch task, a tenth of a
    second each by the end of a million readers; from the top, the rows still to
    send (or in flight) come first."""
    rows = Delivery.objects.filter(issue_id=issue_id).order_by("-batch")
    return any(
        rows.filter(state=state).values_list("batch", flat=True).first() is not None
        for state in UNSETTLED
    )


def _announced(issue: Issue) -> dict:
    return {
        "issue": {
            "id": issue.pk,
            "newsletter": issue.newsletter.slug,
            "number": issue.number,
            "subject": issue.subject,
            "sent_at": issue.sent_at.isoformat(),
            "web_url": settings.SITE_URL + issue.get_absolute_url(),
        }
    }


# -- Work for the workers -----------------------------------------------------------


def last_batch(issue_id: int) -> int:
    return Delivery.objects.filter(issue_id=issue_id).aggregate(b=Max("batch"))["b"] or 0


def planned_batches(deliveries) -> list[int]:
    planned = deliveries.filter(state=State.PLANNED)
    return sorted(set(planned.values_list("batch", flat=True)))


def enqueue_planner(issue_id: int) -> None:
    enqueue(PLAN_TASK, issue_id)


def enqueue_batch(issue_id: int, batch: int) -> None:
    enqueue(BATCH_TASK, issue_id, batch)


def _continue(issue_id: int) -> None:
    """After a resume: finish planning, and hand over every planned batch."""
    issue = Issue.objects.get(pk=issue_id)
    if issue.planned_at is None:
        enqueue_planner(issue_id)
    for batch in planned_batches(Delivery.objects.filter(issue_id=issue_id)):
        enqueue_batch(issue_id, batch)
    finish_if_done(issue_id=issue_id)
