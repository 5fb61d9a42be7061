"""Cursor pagination: a page of rows in key order and an opaque cursor to the
next, stable while rows are added or removed (no offsets to skip or repeat)."""

import base64
import binascii

from api.problems import Problem
from api.schemas import MAX_ID

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"k{pk}".encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        pk = int(text[1:]) if text.startswith("k") else -1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pk = -1
    if not 0 <= pk <= MAX_ID:
        raise Problem(422, "This cursor is not one the API gave.", kind="bad-cursor")
    return pk


def page(queryset, *, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """Up to `limit` rows after the cursor, and the cursor for the next page."""
    if cursor:
        queryset = queryset.filter(pk__gt=decode(cursor))
    rows = list(queryset.order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode(rows[-1].pk) if more else None
