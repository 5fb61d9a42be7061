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
            [
                guard_formula(email),
                guard_formula(name),
                state,
                _when(created),
                _when(confirmed_at),
                _when(unsubscribed_at),
            ]
        )


# What makes a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_formula(value: str) -> str:
    """Addresses and names come from a public form, and `=1+1@example.org` is a
    valid address: a cell that would run as a formula in a spreadsheet gets a
    leading apostrophe (the importer takes it off again)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def unguard_formula(value: str) -> str:
    """Undo guard_formula, so that an export imports back exactly."""
    if value[:1] == "'" and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def _when(moment) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""
