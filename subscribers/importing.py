"""Bring an existing list from another tool: a CSV with a header line naming
at least `email`, and optionally `name` and `status` (other columns, such as
those our own export adds, are ignored).

Fast on purpose: rows are read in batches, and each batch costs a handful of
queries (suppression hashes, existing subscribers and subscriptions looked up
with IN, then bulk inserts and grouped UPDATEs), never one query per row.
"""

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import TextIO

from django.core.exceptions import ValidationError
from django.db import transaction

from newsletter.models import Newsletter
from subscribers import addresses, subscriptions
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

    def summary(self) -> str:
        if self.rolled_back:
            return (
                f"Nothing imported: {len(self.errors)} of {self.rows} lines are bad "
                "(--atomic imports all or nothing)."
            )
        return (
            f"{self.rows} rows: {self.created} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.suppressed} skipped as suppressed or erased, "
            f"{self.duplicates} duplicates skipped, {len(self.errors)} bad lines."
        )


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    status: str


def import_csv(
    stream: TextIO, newsletter: Newsletter, *, confirmed: bool = False, atomic: bool = False
) -> ImportReport:
    """Import subscriptions to `newsletter`; with `atomic`, nothing at all when a line is bad.

    Rows without a status become pending (no email is sent for them), or
    confirmed with `confirmed` (the editor vouches for the consent).
    """
    report = ImportReport()
    default = Status.CONFIRMED if confirmed else Status.PENDING
    rows = _rows(stream, report, default=default)
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


def _rows(stream: TextIO, report: ImportReport, *, default: str) -> Iterator[Row]:
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        report.errors.append((1, f"the header line cannot be read: {exc}"))
        return
    columns = [cell.strip().lstrip("\ufeff").lower() for cell in header or []]
    if "email" not in columns:
        report.errors.append((1, "the first line must be a header naming the columns: email,name"))
        return
    index = {name: columns.index(name) for name in ("email", "name", "status") if name in columns}
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
        row = _parse(record, index, start, default, report)
        if row is None:
            continue
        if row.email in seen:
            report.duplicates += 1
            continue
        seen.add(row.email)
        yield row


def _parse(
    record: list[str], index: dict[str, int], line: int, default: str, report: ImportReport
) -> Row | None:
    def cell(name: str) -> str:
        position = index.get(name)
        return record[position] if position is not None and position < len(record) else ""

    raw_email, raw_name, raw_status = cell("email"), cell("name"), cell("status")
    try:
        if "\ufffd" in raw_email + raw_name + raw_status:
            raise ValueError("is not valid UTF-8 text")
        email = _email(raw_email)
        name = _name(raw_name)
        status = _status(raw_status, default)
    except ValueError as exc:
        report.errors.append((line, str(exc)))
        return None
    return Row(line=line, email=email, name=name, status=status)


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


def _status(raw: str, default: str) -> str:
    status = raw.strip().lower() or default
    if status not in Status.values:
        raise ValueError(f"unknown status “{raw.strip()[:30]}” (use {', '.join(Status.values)})")
    return status


def _batches(rows: Iterable[Row]) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        yield batch


# -- writing -----------------------------------------------------------------


def _apply(batch: list[Row], newsletter: Newsletter, report: ImportReport) -> None:
    batch = _without_suppressed(batch, report)
    ids = _subscriber_ids(batch)
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


def _subscriber_ids(batch: list[Row]) -> dict[str, int]:
    """Subscriber ids by email, creating the missing subscribers; blank names are filled."""
    emails = [row.email for row in batch]
    known = {
        email: (pk, name)
        for email, pk, name in Subscriber.objects.filter(email__in=emails).values_list(
            "email", "pk", "name"
        )
    }
    missing = [
        Subscriber(email=row.email, name=row.name, consent_source="import")
        for row in batch
        if row.email not in known
    ]
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
