"""The link inbox: links collected for a newsletter during the month, one entry
per page however its URL was written (curation.urls.canonical_url), moved into
an issue's sections when the editor writes it."""

import hashlib
import re

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from newsletter.curation.filling import fill_later
from newsletter.curation.urls import canonical_url
from newsletter.models import InboxLink, Link, Newsletter, Section
from newsletter.validators import validate_http_url

URL_MAX = 2000
NOTE_MAX = 2000
PASTE_MAX_URLS = 50
_URL_FIELD = forms.URLField(max_length=URL_MAX, assume_scheme="https")


def checked_url(value: str) -> str:
    """A link as every way in stores it: http(s), at most 2,000 characters,
    "example.com/x" read as https; ValidationError otherwise."""
    value = (value or "").strip()
    if len(value) > URL_MAX:
        raise ValidationError(f"A link may be at most {URL_MAX} characters long.")
    if re.match(r"^[a-z][a-z0-9+.-]*:(?!\d)", value, re.IGNORECASE) and not re.match(
        r"^https?://", value, re.IGNORECASE
    ):
        validate_http_url(value)  # javascript:, data:, mailto: … get its words
    url = _URL_FIELD.clean(value)
    validate_http_url(url)
    return url


# What wraps or ends a link in running text ("(see https://…)."), but may also
# end a link itself (https://en.wikipedia.org/wiki/Python_(language)).
_OPENERS = {")": "(", "]": "[", ">": "<"}


def _unwrapped(token: str) -> str:
    """A pasted token without the quotes, brackets and punctuation around it;
    a closing bracket stays when the link opened it."""
    token = token.lstrip("<([\"'")
    while token and token[-1] in "\"'.,;:!?)]>":
        last = token[-1]
        if last in _OPENERS and token.count(_OPENERS[last]) >= token.count(last):
            break  # balanced: part of the link
        token = token[:-1]
    return token


def urls_in(text: str) -> list[str]:
    """Every link in a paste (one per line, or separated by spaces), checked, in
    order, repeats dropped; ValidationError naming each one that is not a link."""
    urls, bad = [], []
    tokens = (text or "").split()
    for token in tokens:
        # One link alone (the bookmarklet's page address) is taken as it is.
        token = _unwrapped(token) if len(tokens) > 1 else token
        if not token:
            continue
        try:
            url = checked_url(token)
        except ValidationError:
            bad.append(token[:80])
            continue
        if url not in urls:
            urls.append(url)
    if bad:
        raise ValidationError(
            "Not a web address (http or https): " + ", ".join(f"“{b}”" for b in bad[:5])
        )
    if len(urls) > PASTE_MAX_URLS:
        raise ValidationError(f"At most {PASTE_MAX_URLS} links at a time ({len(urls)} pasted).")
    return urls


def url_key(url: str) -> str:
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()


def inbox_add(
    *, newsletter: Newsletter, url: str, note: str = "", by=None
) -> tuple[InboxLink, bool]:
    """The inbox entry for `url` (checked here), and whether it is new. The same
    page added again is the same entry, its note added to the first one's."""
    url = checked_url(url)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"A note may be at most {NOTE_MAX} characters long.")
    key = url_key(url)
    defaults = {"url": url, "note": note, "added_by": by}
    try:
        with transaction.atomic():
            entry, created = InboxLink.objects.get_or_create(
                newsletter=newsletter, url_key=key, defaults=defaults
            )
    except IntegrityError:  # added at the same moment elsewhere
        entry, created = InboxLink.objects.get(newsletter=newsletter, url_key=key), False
    if created:
        fill_later(entry)
    elif note and note not in entry.note:
        entry.note = f"{entry.note}\n{note}".strip()[:NOTE_MAX]
        entry.save(update_fields=["note"])
    return entry, created


@transaction.atomic
def inbox_move(*, entries, section: Section) -> list[Link]:
    """The entries as links at the end of `section` (the note becomes the start of
    the commentary), and out of the inbox. IssueFrozen for a sent issue's section."""
    last = section.links.aggregate(models.Max("position"))["position__max"] or 0
    moved = []
    for position, entry in enumerate(entries, start=last + 1):
        link = Link(
            section=section,
            position=position,
            url=entry.url,
            title=entry.title,
            source=entry.source,
            summary=entry.summary,
            page_error=entry.page_error,
            commentary=entry.note,
        )
        link.save()
        if not (entry.title and entry.source) and entry.page_fetched_at is None:
            fill_later(link)  # its page not read yet: the link gets it instead
        entry.delete()
        moved.append(link)
    return moved


@transaction.atomic
def links_from_urls(*, section: Section, urls: list[str]) -> list[Link]:
    """Pasted links at the end of `section`, each to be titled from its page."""
    last = section.links.aggregate(models.Max("position"))["position__max"] or 0
    added = []
    for position, url in enumerate(urls, start=last + 1):
        link = Link(section=section, position=position, url=url)
        link.save()
        fill_later(link)
        added.append(link)
    return added
