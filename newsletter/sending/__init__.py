"""Sending an issue: every confirmed reader gets it exactly once, fast, and
nothing is lost when a worker, the broker or the ESP misbehaves.

Issue     draft → scheduled → sending → sent, plus paused and cancelled, along
          Issue.ACTIONS only. Every change is one conditional UPDATE, so racing
          beats, clicks and workers start a send only once.      (lifecycle)
Delivery  planned → sending → sent | failed | ambiguous, or skipped. The
          planner creates the rows in chunks (planner); a batch task builds a
          request for planned rows, then claims them with a token (`sending`)
          just before the request leaves, and records only rows it claimed
          (handover, with esp and send_rate). When a worker dies, its `sending`
          rows may have left: the sweeper makes them ambiguous, never resent
          without an editor asking. Its planned rows never left and are sent
          again (sweeper). The issue page follows along (progress).

State lives in the database; the broker only carries work, and the sweeper
puts back what it loses. Services enqueue work by task name (config.queue);
the Celery tasks (newsletter.tasks) are thin wrappers over what is here.
"""

from newsletter.sending.esp import BATCH_APIS, TryLater, backoff, classify
from newsletter.sending.handover import Handover, send_batch
from newsletter.sending.lifecycle import (
    BATCH_TASK,
    PLAN_TASK,
    SendingError,
    finish_if_done,
    issue_cancel,
    issue_pause,
    issue_resume,
    issue_schedule,
    issue_send_now,
    issue_start,
    issue_unschedule,
    resend,
    start_due_issues,
)
from newsletter.sending.planner import plan_deliveries
from newsletter.sending.progress import Progress, issue_progress, recipient_count
from newsletter.sending.sweeper import HANDED, LOST_AFTER, STUCK_AFTER, sweep

__all__ = [
    "BATCH_APIS",
    "BATCH_TASK",
    "HANDED",
    "LOST_AFTER",
    "PLAN_TASK",
    "STUCK_AFTER",
    "Handover",
    "Progress",
    "SendingError",
    "TryLater",
    "backoff",
    "classify",
    "finish_if_done",
    "issue_cancel",
    "issue_pause",
    "issue_progress",
    "issue_resume",
    "issue_schedule",
    "issue_send_now",
    "issue_start",
    "issue_unschedule",
    "plan_deliveries",
    "recipient_count",
    "resend",
    "send_batch",
    "start_due_issues",
    "sweep",
]
