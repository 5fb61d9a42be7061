"""Bring an existing list from another tool: the CSV export of a tool we know
by its header row (subscribers.import_formats), our own `email,name,status`,
or any file with a mapping of its columns.

Fast on purpose: rows are read in batches, and each batch costs a handful of
queries (suppression hashes, existing subscribers and subscriptions looked up
with IN, then bulk inserts and grouped UPDATEs), never one query per row.
"""

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TextIO

from django.core.exceptions import ValidationError
from django.db import transaction

from newsletter.models import Newsletter
from subscribers import addresses, import_formats, subscriptions
from subscribers.exporting import unguard_formula
from subscribers.forms import clean_name
from subscribers.models import Subscriber, Subscription, Suppression

Status = Subscription.Status
BATCH = 2000


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    rolled_back: bool = False
    format: str = ""
    dates_from: tuple[str, ...] = ()
    consent_dates: int = 0

    def recognised(self) -> str:
        return f"Recognised format: {self.format}." if self.format else ""

    def summary(self) -> str:
        if self.rolled_back:
            return (
                f"Nothing imported: {len(self.errors)} of {self.rows} lines are bad "
                "(--atomic imports all or nothing)."
            )
        summary = (
            f"{self.rows} rows: {self.created} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.suppressed} skipped as suppressed or erased, "
            f"{self.duplicates} duplicates skipped, {len(self.errors)} bad lines."
        )
        if self.consent_dates:
            columns = " or ".join(self.dates_from)
            summary += (
                f" The original subscription date ({columns}) is kept as the consent date "
                f"of {self.consent_dates} new readers."
            )
        return summary


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    status: str
    since: datetime | None = None


def import_csv(
    stream: TextIO,
    newsletter: Newsletter,
    *,
    confirmed: bool = False,
    atomic: bool = False,
    mapping: dict[str, str] | None = None,
) -> ImportReport:
    """Import subscriptions to `newsletter`; with `atomic`, nothing at all when a line is bad.

    Readers still active in the tool they come from become pending (no email
    is sent for them), or confirmed with `confirmed` (the editor vouches for
    the consent); those who left it, or never confirmed there, never become
    confirmed. `mapping` (import_formats.parse_mapping) reads any other file.
    """
    report = ImportReport()
    default = Status.CONFIRMED if confirmed else Status.PENDING
    rows = _rows(stream, report, default=default, mapping=mapping)
    with transaction.atomic() if atomic else nullcontext():
        for batch in _batches(rows):
            if atomic and report.errors:
                continue  # keep reading, to report every bad line, but write no more
            with transaction.atomic():
                _apply(batch, newsletter, report)
        if atomic and report.errors:
            transaction.set_rollback(True)
            report.rolled_back = True
            report.created = report.updated = report.unchanged = report.suppressed = 0
    return report


# -- reading -----------------------------------------------------------------


def _rows(
    stream: TextIO, report: ImportReport, *, default: str, mapping: dict[str, str] | None
) -> Iterator[Row]:
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        report.errors.append((1, f"the header line cannot be read: {exc}"))
        return
    columns = [cell.strip().lstrip("\ufeff").lower() for cell in header or []]
    try:
        layout = _layout(columns, mapping)
    except ValueError as exc:
        report.errors.append((1, str(exc)))
        return
    report.format, report.dates_from = layout.format.name, layout.format.dates
    seen: set[str] = set()
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.rows += 1
            report.errors.append((line, f"cannot be read as CSV: {exc}"))
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1  # a quoted field may span lines
        if not any(cell.strip() for cell in record):
            continue
        report.rows += 1
        row = _parse(record, layout, start, default, report)
        if row is None:
            continue
        if row.email in seen:
            report.duplicates += 1
            continue
        seen.add(row.email)
        yield row


@dataclass(frozen=True)
class Layout:
    """A format placed on one file's columns."""

    format: import_formats.Format
    positions: dict[str, int]

    def email(self, record: list[str]) -> str:
        return next((v for c in self.format.email if (v := self.cell(record, c))), "")

    def cell(self, record: list[str], column: str) -> str:
        position = self.positions.get(column)
        return record[position] if position is not None and position < len(record) else ""


def _layout(columns: list[str], mapping: dict[str, str] | None) -> Layout:
    if mapping:
        found = import_formats.mapped(columns, mapping)
    else:
        found = import_formats.recognise(columns)
    if found is None:
        raise ValueError(
            "the first line must be a header naming the columns: email,name — or the header "
            "of a known export; this one is neither "
            f"({', '.join(columns)[:200] or 'empty'}): map its columns, e.g. email=<its column>"
        )
    return Layout(found, {name: index for index, name in reversed(list(enumerate(columns)))})


def _parse(
    record: list[str], layout: Layout, line: int, default: str, report: ImportReport
) -> Row | None:
    shape = layout.format

    def cell(name: str) -> str:
        return layout.cell(record, name)

    raw_email = layout.email(record)
    raw_name = " ".join(part for c in shape.names if (part := cell(c).strip()))
    try:
        if "\ufffd" in raw_email + raw_name:
            raise ValueError("is not valid UTF-8 text")
        email = _email(raw_email)
        name = _name(raw_name)
        standing = shape.standing(cell)
        since = import_formats.parse_date(next((v for c in shape.dates if (v := cell(c))), ""))
    except ValueError as exc:
        report.errors.append((line, str(exc)))
        return None
    status = default if standing == import_formats.ACTIVE else standing
    return Row(line=line, email=email, name=name, status=status, since=since)


def _email(raw: str) -> str:
    try:
        return addresses.normalise(unguard_formula(raw))
    except addresses.InvalidAddress as exc:
        shown = raw.strip()[:80]
        message = f"“{shown}” is not a valid email address: {exc}" if shown else str(exc)
        raise ValueError(message) from exc


def _name(raw: str) -> str:
    try:
        return clean_name(unguard_formula(raw))
    except ValidationError as exc:
        raise ValueError(exc.messages[0]) from exc


def _batches(rows: Iterable[Row]) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        yield batch


# -- writing -----------------------------------------------------------------


def _apply(batch: list[Row], newsletter: Newsletter, report: ImportReport) -> None:
    batch = _without_suppressed(batch, report)
    ids = _subscriber_ids(batch, report)
    current = dict(
        Subscription.objects.filter(
            newsletter=newsletter, subscriber_id__in=ids.values()
        ).values_list("subscriber_id", "status")
    )
    new = {ids[row.email]: row.status for row in batch if ids[row.email] not in current}
    report.created += subscriptions.import_new(newsletter, new, batch_size=BATCH)

    moves: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in batch:
        subscriber_id = ids[row.email]
        if subscriber_id not in current:
            continue
        target = subscriptions.import_target(current[subscriber_id], row.status)
        if target is None:
            report.unchanged += 1
        else:
            moves[(current[subscriber_id], target)].append(subscriber_id)
    report.updated += subscriptions.import_moves(newsletter, moves)


def _without_suppressed(batch: list[Row], report: ImportReport) -> list[Row]:
    hashes = {row.email: addresses.address_hashes(row.email) for row in batch}
    wanted = [h for row_hashes in hashes.values() for h in row_hashes]
    suppressed = set(
        Suppression.objects.filter(email_hash__in=wanted).values_list("email_hash", flat=True)
    )
    if not suppressed:
        return batch
    kept = [row for row in batch if not suppressed.intersection(hashes[row.email])]
    report.suppressed += len(batch) - len(kept)
    return kept


def _subscriber_ids(batch: list[Row], report: ImportReport) -> dict[str, int]:
    """Subscriber ids by email, creating the missing subscribers; blank names are filled."""
    emails = [row.email for row in batch]
    known = {
        email: (pk, name)
        for email, pk, name in Subscriber.objects.filter(email__in=emails).values_list(
            "email", "pk", "name"
        )
    }
    missing = [
        Subscriber(email=row.email, name=row.name, consent_source="import", consent_at=row.since)
        for row in batch
        if row.email not in known
    ]
    report.consent_dates += sum(1 for reader in missing if reader.consent_at)
    # ignore_conflicts: a reader signing up during the import is not an error.
    Subscriber.objects.bulk_create(missing, batch_size=BATCH, ignore_conflicts=True)
    named = [
        Subscriber(pk=known[row.email][0], name=row.name)
        for row in batch
        if row.email in known and row.name and not known[row.email][1]
    ]
    Subscriber.objects.bulk_update(named, ["name"], batch_size=BATCH)
    ids = {email: pk for email, (pk, _) in known.items()}
    if missing:
        created = Subscriber.objects.filter(email__in=[s.email for s in missing])
        ids.update(created.values_list("email", "pk"))
    return ids
