"""Celery tasks for sending: thin wrappers over newsletter.sending and
newsletter.scheduling (acks_late, prefetch 1 and the time limits are global
settings). Every task is safe to run twice: the database decides what is left.
Services enqueue these by name (config.queue); nothing imports this module
but the app's ready() and the worker.
"""

import logging

from celery import shared_task

from newsletter import scheduling, sending
from newsletter.curation import filling, link_checks

log = logging.getLogger(__name__)


@shared_task(name=sending.PLAN_TASK)
def plan_deliveries(issue_id: int) -> int:
    return sending.plan_deliveries(issue_id=issue_id)


@shared_task(name=sending.BATCH_TASK, bind=True, max_retries=None)
def send_batch(self, issue_id: int, batch: int) -> dict[str, int]:
    try:
        settled = sending.send_batch(issue_id=issue_id, batch=batch, attempt=self.request.retries)
        return dict(settled)
    except sending.TryLater as exc:
        if self.request.is_eager:
            # Inline (tests, no worker): the rows stay planned for the sweeper.
            log.warning("Issue %s batch %s: %s; left for the sweeper", issue_id, batch, exc)
            return {}
        log.info("Issue %s batch %s: %s; again in %.0fs", issue_id, batch, exc, exc.countdown)
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@shared_task(name="newsletter.start_due_issues")
def start_due_issues() -> list[int]:
    return [issue.pk for issue in sending.start_due_issues()]


@shared_task(name="newsletter.sweep")
def sweep() -> dict[str, int]:
    return sending.sweep()


@shared_task(name="newsletter.send_reminders")
def send_reminders() -> list[int]:
    return [issue.pk for issue in scheduling.send_reminders()]


@shared_task(name=filling.FILL_LINK_TASK)
def fill_link(link_id: int, url: str) -> str:
    return filling.fill_link(link_id=link_id, url=url)


@shared_task(name=filling.FILL_INBOX_TASK)
def fill_inbox_link(inbox_link_id: int, url: str) -> str:
    return filling.fill_inbox_link(inbox_link_id=inbox_link_id, url=url)


@shared_task(name=link_checks.CHECK_TASK)
def check_links(urls: list[str]) -> int:
    return len(link_checks.check_urls(urls))
