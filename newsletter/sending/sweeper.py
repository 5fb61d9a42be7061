"""The sweeper (beat, every minute): the broker only carries work, so what it
loses is put back from the database. It settles rows whose worker died after
their request may have left (ambiguous: never resent without an editor
asking), re-enqueues planners and batches that made no progress, and finishes
issues that are done. It also forgets the Mailgun webhook signatures too old
to be accepted anyway (WebhookSignature).
"""

import logging
from collections import Counter
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from newsletter.models import Delivery, Issue, WebhookSignature
from newsletter.sending.lifecycle import (
    enqueue_batch,
    enqueue_planner,
    finish_if_done,
    planned_batches,
    skip_planned,
)

log = logging.getLogger(__name__)

Status = Issue.Status
State = Delivery.State

# A row `sending` for longer than a task may live has lost its worker.
STUCK_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
# An issue with planned rows and no progress for this long has lost its tasks.
LOST_AFTER = timedelta(minutes=5)
# Why a row the sweeper found `sending` is ambiguous.
HANDED = "Outcome unknown: the worker stopped between hand-over and record."


def sweep(
    *,
    now: datetime | None = None,
    lost_after: timedelta = LOST_AFTER,
    stuck_after: timedelta = STUCK_AFTER,
) -> dict[str, int]:
    """Beat, every minute: settle what crashed, re-enqueue what was lost, finish what
    is done, and forget webhook signatures that have expired.

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
            found["skipped"] += skip_planned(issue.deliveries.all())
        else:
            found["finished"] += finish_if_done(issue_id=issue.pk)
    found["forgotten"] += WebhookSignature.forget_expired(now)
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
        transaction.on_commit(partial(enqueue_planner, issue.pk))
        found["planner"] += 1
    if deliveries.filter(updated__gte=since).exists():
        return found
    lost = issue.deliveries.filter(state=State.PLANNED, next_attempt_at__lt=since)
    for batch in planned_batches(lost):
        # Bumped, so the same batch is enqueued at most once per LOST_AFTER.
        lost.filter(batch=batch).update(next_attempt_at=now)
        transaction.on_commit(partial(enqueue_batch, issue.pk, batch))
        found["batches"] += 1
    if found:
        log.warning("Issue %s: re-enqueued %s", issue.pk, dict(found))
    return found
