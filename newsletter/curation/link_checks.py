"""Is each link of an issue alive? Asked of the link's server through
config.outbound.fetch() only (public addresses, every redirect hop checked,
5 s, 2 MB), a few at a time, by a Celery task (or by `check_issue` itself);
each answer kept an hour per URL in LinkCheck, which the pre-flight reads.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from config import outbound
from config.queue import enqueue
from newsletter.models import LinkCheck

log = logging.getLogger(__name__)

CHECK_TASK = "newsletter.check_links"
FRESH_FOR = timedelta(hours=1)
# A check asked for longer ago than this and still without an answer was lost
# (a worker stopped): it is asked for again.
LOST_AFTER = timedelta(minutes=2)
AT_A_TIME = 4
# A server that will not answer HEAD says so with a 4xx or 5xx it would not
# give a GET (405, 501, often 403 or 404): those are asked again with GET.
HEAD_REFUSED_FROM = 400

Outcome = LinkCheck.Outcome


def _ask(url: str) -> outbound.Fetched:
    """HEAD (no body to read), and GET where HEAD gets an error status."""
    fetched = outbound.fetch(url, method="HEAD", accept="*/*")
    if fetched.status < HEAD_REFUSED_FROM:
        return fetched
    return outbound.fetch(url, method="GET", accept="*/*")


def check_url(url: str) -> dict:
    """What `url` answers, as LinkCheck's fields. Never raises for the URL's sake."""
    try:
        fetched = _ask(url)
    except outbound.NotPublic as exc:
        return {"outcome": Outcome.NOT_PUBLIC, "reason": str(exc)}
    except outbound.TooLarge:
        return {"outcome": Outcome.OK, "reason": "answered with more than 2 MB (not read)"}
    except outbound.Refused as exc:
        return {"outcome": Outcome.DEAD, "reason": str(exc)}
    except Exception as exc:  # a server's oddity must not stop the others' checks
        log.warning("Link check of %s failed: %r", url, exc)
        return {"outcome": Outcome.DEAD, "reason": f"the check failed ({type(exc).__name__})"}
    result = {"status": fetched.status, "final_url": fetched.url if fetched.redirected else ""}
    if fetched.status >= 400:
        return {**result, "outcome": Outcome.DEAD, "reason": f"it answers {fetched.status}"}
    if fetched.redirected:
        return {**result, "outcome": Outcome.REDIRECT}
    return {**result, "outcome": Outcome.OK}


def fresh_results(urls, *, now=None) -> dict[str, LinkCheck]:
    """The answers of the last hour, by URL."""
    since = (now or timezone.now()) - FRESH_FOR
    rows = LinkCheck.objects.filter(
        url_sha256__in=[LinkCheck.key(url) for url in urls], checked_at__gte=since
    )
    return {row.url: row for row in rows}


def check_urls(urls: list[str]) -> dict[str, LinkCheck]:
    """Check now (a few at a time) those without an answer of the last hour; all answers."""
    urls = list(dict.fromkeys(urls))
    known = fresh_results(urls)
    todo = [url for url in urls if url not in known]
    with ThreadPoolExecutor(max_workers=AT_A_TIME) as pool:
        answers = list(pool.map(check_url, todo))
    now = timezone.now()
    for url, answer in zip(todo, answers, strict=True):
        fields = {"status": None, "final_url": "", "reason": "", **answer, "checked_at": now}
        known[url], _ = LinkCheck.objects.update_or_create(
            url_sha256=LinkCheck.key(url), defaults={"url": url, **fields}
        )
    return known


def request_checks(urls, *, now=None) -> set[str]:
    """Have a worker check the URLs without a fresh answer; those still being checked."""
    now = now or timezone.now()
    urls = list(dict.fromkeys(urls))
    known = fresh_results(urls, now=now)
    waiting = [url for url in urls if url not in known]
    if not waiting:
        return set()
    asked = dict(
        LinkCheck.objects.filter(url_sha256__in=[LinkCheck.key(u) for u in waiting]).values_list(
            "url", "requested_at"
        )
    )
    lost = [url for url in waiting if url not in asked or asked[url] < now - LOST_AFTER]
    for url in lost:
        LinkCheck.objects.update_or_create(
            url_sha256=LinkCheck.key(url), defaults={"url": url, "requested_at": now}
        )
    if lost:
        transaction.on_commit(partial(enqueue, CHECK_TASK, lost))
    return set(waiting)
