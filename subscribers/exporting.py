"""A newsletter's subscribers as CSV, streamed: rows are read from the
database in chunks and written out as they come, so memory stays flat
however long the list. The first three columns are what the importer reads."""

import csv
from collections.abc import Iterator

from newsletter.models import Newsletter
from subscribers.models import Subscription

COLUMNS = ["email", "name", "status", "subscribed_at", "confirmed_at", "unsubscribed_at"]
CHUNK = 2000


class _Line:
    """A file-like object whose write() hands the line back (csv.writer needs one)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(newsletter: Newsletter, *, status: str | None = None) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    subscriptions = Subscription.objects.filter(newsletter=newsletter)
    if status:
        subscriptions = subscriptions.filter(status=status)
    rows = subscriptions.order_by("pk").values_list(
        "subscriber__email",
        "subscriber__name",
        "status",
        "created",
        "confirmed_at",
        "unsubscribed_at",
    )
    for email, name, state, created, confirmed_at, unsubscribed_at in rows.iterator(CHUNK):
        yield writer.writerow(
            [email, _safe(name), state, _when(created), _when(confirmed_at), _when(unsubscribed_at)]
        )


def _safe(value: str) -> str:
    """Names come from a public form: one starting with = + - @ would run as a
    formula in a spreadsheet, so it gets a leading apostrophe (the importer
    takes it off again)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


def _when(moment) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""
