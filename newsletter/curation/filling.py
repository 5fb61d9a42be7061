"""A link's title, source and suggested summary filled in from its page, in a
worker (the admin never waits): for a link row added to an issue with its URL
only, and for each new link in the inbox.

Enqueued after the commit that stored the link, with the URL it had then: a
fetch that comes back after the editor changed the URL, or typed a title,
changes nothing the editor wrote. A failure leaves the fields to the editor,
with the reason shown beside them. A link of an issue that has gone out is
never touched (Issue.ACTIONS["edit"]).
"""

from functools import partial

from django.db import transaction
from django.utils import timezone

from config.queue import enqueue
from newsletter.curation.metadata import NoMetadata, PageMetadata, fetch_metadata
from newsletter.models import InboxLink, Issue, Link

FILL_LINK_TASK = "newsletter.fill_link"
FILL_INBOX_TASK = "newsletter.fill_inbox_link"


def fill_later(link: Link | InboxLink) -> None:
    """Fetch the link's page once the current transaction has committed."""
    task = FILL_INBOX_TASK if isinstance(link, InboxLink) else FILL_LINK_TASK
    transaction.on_commit(partial(enqueue, task, link.pk, link.url))


def fill_link(*, link_id: int, url: str) -> str:
    editable = Issue.ACTIONS["edit"][0]
    rows = Link.objects.filter(pk=link_id, url=url, section__issue__status__in=editable)
    if not rows.exists():
        return "gone"
    return _fill(rows, url)


def fill_inbox_link(*, inbox_link_id: int, url: str) -> str:
    rows = InboxLink.objects.filter(pk=inbox_link_id, url=url)
    if not rows.exists():
        return "gone"
    outcome = _fill(rows, url)
    rows.update(page_fetched_at=timezone.now())
    return outcome


def _fill(rows, url: str) -> str:
    """Blank title, source and summary filled in, never one the editor wrote meanwhile."""
    try:
        page: PageMetadata = fetch_metadata(url)
    except NoMetadata as exc:
        rows.update(page_error=str(exc)[:300])
        return f"failed: {exc}"
    rows.filter(title="").update(title=page.title)
    rows.filter(source="").update(source=page.source)
    rows.filter(summary="").update(summary=page.summary)
    rows.update(page_error="")
    return "filled"
