"""The CSV exports of other newsletter tools, known by their header rows, and
what each one's statuses mean here.

A format says which column holds the address, which hold the name, which
the original subscription date (kept as the consent date), and the reader's
standing: ACTIVE (still reading there: pending here, or confirmed when the
editor vouches for the consent), or one of our statuses for those who never
confirmed (pending) or left (unsubscribed, bounced, complained). Nobody who
left a tool is mailed again because of an import.

The column names come from each tool's documentation or published examples
(named in tests/test_import_formats.py, which builds a file for each).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from subscribers.models import Subscription

Status = Subscription.Status
ACTIVE = "active"
Cell = Callable[[str], str]  # a row's value in a column (lower-case name), "" when absent


@dataclass(frozen=True)
class Format:
    name: str
    needs: frozenset[str]  # the columns that tell this format
    email: tuple[str, ...]  # the first of these present holds the address
    names: tuple[str, ...] = ()  # joined with a space: first and last names
    dates: tuple[str, ...] = ()  # the first non-empty one is the subscription date
    standing: Callable[[Cell], str] = field(default=lambda cell: ACTIVE)

    def recognises(self, columns: set[str]) -> bool:
        return self.needs <= columns


def _by_value(column: str, meanings: dict[str, str], *, blank: str = ACTIVE) -> Callable:
    """A standing read from one column's value; an unknown value is a bad line."""

    def standing(cell: Cell) -> str:
        raw = cell(column).strip()
        value = raw.lower() or blank
        if value not in meanings:
            known = ", ".join(sorted(meanings))
            raise ValueError(f"unknown {column} “{raw[:30]}” (this format knows {known})")
        return meanings[value]

    return standing


def _always(status: str) -> Callable:
    return lambda cell: status


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "1", "t")


def _ghost(cell: Cell) -> str:
    if cell("deleted_at").strip() or not _true(cell("subscribed_to_emails")):
        return Status.UNSUBSCRIBED
    return ACTIVE


def _substack(cell: Cell) -> str:
    return Status.UNSUBSCRIBED if _true(cell("email_disabled")) else ACTIVE


_BEEHIIV_STATUS = _by_value(
    "status",
    {
        "active": ACTIVE,
        "inactive": Status.UNSUBSCRIBED,
        "unsubscribed": Status.UNSUBSCRIBED,
        "pending": Status.PENDING,
        "validating": Status.PENDING,
        "needs_attention": Status.PENDING,
        "invalid": Status.BOUNCED,
    },
)


def _beehiiv(cell: Cell) -> str:
    return Status.UNSUBSCRIBED if cell("unsubscribed_at").strip() else _BEEHIIV_STATUS(cell)


_MAILCHIMP_NAMES = ("first name", "last name")
_MAILCHIMP_DATES = ("confirm_time", "optin_time")

FORMATS = [
    # Mailchimp's audience export is a zip of three files, told apart by the
    # columns after the merge fields.
    Format(
        "Mailchimp (cleaned)",
        frozenset({"email address", "clean_time"}),
        ("email address",),
        _MAILCHIMP_NAMES,
        _MAILCHIMP_DATES,
        _always(Status.BOUNCED),
    ),
    Format(
        "Mailchimp (unsubscribed)",
        frozenset({"email address", "unsub_time"}),
        ("email address",),
        _MAILCHIMP_NAMES,
        _MAILCHIMP_DATES,
        _always(Status.UNSUBSCRIBED),
    ),
    Format(
        "Mailchimp (subscribed)",
        frozenset({"email address", "optin_time"}),
        ("email address",),
        _MAILCHIMP_NAMES,
        _MAILCHIMP_DATES,
    ),
    Format(
        "Curated",
        frozenset({"email address", "subscribed at"}),
        ("email address",),
        (),
        ("subscribed at",),
    ),
    Format(
        "Ghost members",
        frozenset({"email", "subscribed_to_emails"}),
        ("email",),
        ("name",),
        ("created_at",),
        _ghost,
    ),
    Format(
        "listmonk",
        frozenset({"uuid", "email", "attributes", "status"}),
        ("email",),
        ("name",),
        ("created_at",),
        _by_value(
            "status",
            {
                "enabled": ACTIVE,
                "disabled": Status.UNSUBSCRIBED,
                "blocklisted": Status.UNSUBSCRIBED,
            },
        ),
    ),
    Format(
        "Substack",
        frozenset({"email", "email_disabled"}),
        ("email",),
        (),
        ("created_at",),
        _substack,
    ),
    Format(
        "Beehiiv",
        frozenset({"email", "status", "tier"}),
        ("email",),
        ("first name", "last name"),
        ("created_at",),
        _beehiiv,
    ),
    Format(
        "Buttondown",
        frozenset({"subscriber_type"}),
        ("email", "email_address"),
        (),
        ("creation_date",),
        _by_value(
            "subscriber_type",
            {
                **dict.fromkeys(
                    ("regular", "premium", "gifted", "trialed", "churning", "past_due"), ACTIVE
                ),
                **dict.fromkeys(("unactivated", "paused"), Status.PENDING),
                **dict.fromkeys(("unsubscribed", "removed", "blocked"), Status.UNSUBSCRIBED),
                **dict.fromkeys(("spammy", "undeliverable"), Status.BOUNCED),
                "complained": Status.COMPLAINED,
            },
        ),
    ),
    Format(
        "Kit (ConvertKit)",
        frozenset({"email_address", "first_name"}),
        ("email_address",),
        ("first_name", "last_name"),
        ("created_at",),
        _by_value(
            "state",
            {
                "active": ACTIVE,
                "inactive": Status.PENDING,  # never confirmed there
                "cancelled": Status.UNSUBSCRIBED,
                "bounced": Status.BOUNCED,
                "complained": Status.COMPLAINED,
            },
        ),
    ),
]

# Ours (subscribers.exporting), and the simplest file anyone writes by hand.
OURS = Format(
    "Letterpress (email,name,status)",
    frozenset({"email"}),
    ("email",),
    ("name",),
    ("subscribed_at",),
    _by_value("status", {ACTIVE: ACTIVE} | {s: s for s in Status.values}),
)


def recognise(columns: list[str]) -> Format | None:
    present = set(columns)
    for candidate in [*FORMATS, OURS]:
        if candidate.recognises(present):
            return candidate
    return None


MAPPABLE = ("email", "name", "status", "date")


def parse_mapping(text: str) -> dict[str, str]:
    """ "email=E-mail,name=Full name" → {"email": "e-mail", "name": "full name"}."""
    mapping = {}
    for part in text.split(","):
        if not part.strip():
            continue
        ours, sep, theirs = part.partition("=")
        ours = ours.strip().lower()
        if not sep or ours not in MAPPABLE or not theirs.strip():
            raise ValueError(
                f"“{part.strip()[:40]}”: map as ours=theirs, ours one of {', '.join(MAPPABLE)}"
            )
        mapping[ours] = theirs.strip().lower()
    if "email" not in mapping:
        raise ValueError("the mapping must name the email column: email=<its header>")
    return mapping


def mapped(columns: list[str], mapping: dict[str, str]) -> Format:
    """The editor's own mapping of a file no format recognises; statuses as ours."""
    missing = [theirs for theirs in mapping.values() if theirs not in columns]
    if missing:
        raise ValueError(f"no column “{missing[0]}” in the header ({', '.join(columns)[:200]})")
    status = mapping.get("status")
    return Format(
        "your mapping",
        frozenset(),
        (mapping["email"],),
        (mapping["name"],) if "name" in mapping else (),
        (mapping["date"],) if "date" in mapping else (),
        _by_value(status, OURS_STATUSES) if status else _always(ACTIVE),
    )


OURS_STATUSES = {ACTIVE: ACTIVE, "subscribed": ACTIVE} | {s: s for s in Status.values}


def parse_date(raw: str) -> datetime | None:
    """A subscription date as the tools write them ("2023-03-24 10:23:10 UTC",
    "2021-02-04 07:55:20 +0000", ISO 8601); without a zone, UTC."""
    raw = raw.strip()
    if not raw:
        return None
    text = raw[:-4] + "+00:00" if raw.endswith(" UTC") else raw
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"the date “{raw[:40]}” cannot be read") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
