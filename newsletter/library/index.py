"""The archive's entries (ArchiveEntry) kept in step with what is public: one
entry per link of every sent issue of a public newsletter, nothing else.

sync() runs before every read of them. It is cheap when nothing changed (a
few small queries) and indexes what did: an issue sent since, its words in
the newsletter's language. Entries of an issue no longer in the archive go,
and so do those of an issue with a link corrected (forget_issue_of, called by
newsletter.corrections: the link's site may change), to be indexed again. A
reader's request indexes at most SYNC_ISSUES issues, newest first, so that
the first one after deploying onto a long archive stays short; `manage.py
index_archive` indexes everything at once. A sent issue's content never
changes otherwise (models.IssueFrozen), so the entries need no other upkeep:
the send lifecycle, the admin and the bulk loaders write their issues as they
always did.
"""

import re
import zoneinfo
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from mail.text import markdown_html, plain
from newsletter.models import ArchiveEntry, Issue, Link, Newsletter, Section

# Search marks its matches in the entries' text with these two characters
# (newsletter.library.search), so the text itself never holds them.
MARK_START, MARK_END = "\x02", "\x03"
SYNC_ISSUES = 12  # about 600 links, half a second
_UNSHOWABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean(value: str, limit: int | None = None) -> str:
    """Plain text on one line, without control characters, at most `limit` long."""
    value = re.sub(r"\s+", " ", _UNSHOWABLE.sub("", plain(value))).strip()
    return value[:limit] if limit else value


def prose_text(markdown: str) -> str:
    """What a reader reads of a Markdown field: its words, without markup or URLs."""
    return clean(markdown_html(markdown))


def site_of(link: Link) -> str:
    """Where a link is from, as readers are shown it: its source, or else its host."""
    source = clean(link.source)
    if source:
        return source
    host = urlsplit(link.url).hostname or ""
    return host.removeprefix("www.")[:255]


def year_of(issue: Issue, newsletter: Newsletter) -> int:
    when = issue.date or issue.created
    return when.astimezone(zoneinfo.ZoneInfo(newsletter.time_zone)).year


def sync(newsletter: Newsletter, *, limit: int | None = SYNC_ISSUES) -> int:
    """Bring the newsletter's entries in step with its archive, `limit` issues
    at a time (None: all); how many issues are left to index."""
    entries = ArchiveEntry.objects.filter(newsletter=newsletter)
    archived = set(
        Issue.objects.archived().filter(newsletter=newsletter).values_list("pk", flat=True)
    )
    indexed = dict(entries.values_list("issue_id", "language").distinct())
    if set(indexed.values()) - {newsletter.language}:
        entries.update(language=newsletter.language)  # PostgreSQL's vector follows
    gone = indexed.keys() - archived
    if gone:
        entries.filter(issue_id__in=gone).delete()
    stale = sorted(archived - indexed.keys(), reverse=True)
    if stale:
        index_issues(newsletter, stale[:limit])
    return len(stale[limit:]) if limit is not None else 0


def forget_issue_of(link: Link) -> None:
    """Drop the entries of the link's issue: the next sync indexes it anew."""
    issue_id = ArchiveEntry.objects.filter(link=link).values_list("issue_id", flat=True).first()
    if issue_id is not None:
        ArchiveEntry.objects.filter(issue_id=issue_id).delete()


def index_issues(newsletter: Newsletter, issue_ids) -> int:
    """(Re)write the entries of these issues of the newsletter; how many there are."""
    sections = Section.objects.prefetch_related("links")
    issues = Issue.objects.filter(newsletter=newsletter, pk__in=issue_ids).prefetch_related(
        Prefetch("sections", queryset=sections)
    )
    rows = [row for issue in issues for row in _entries_of(issue, newsletter)]
    with transaction.atomic():
        ArchiveEntry.objects.filter(issue_id__in=issue_ids).delete()
        # Another request may be indexing the same issue: the first one's rows stand.
        ArchiveEntry.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


def _entries_of(issue: Issue, newsletter: Newsletter) -> list[ArchiveEntry]:
    now = timezone.now()
    common = {
        "newsletter": newsletter,
        "issue": issue,
        "issue_number": issue.number,
        "year": year_of(issue, newsletter),
        "language": newsletter.language,
        "issue_text": clean(f"{clean(issue.subject)} {prose_text(issue.intro)}"),
        "indexed_at": now,
    }
    links = [(section, link) for section in issue.sections.all() for link in section.links.all()]
    return [
        ArchiveEntry(
            link=link,
            position=position,
            site=site_of(link),
            title=clean(link.shown_title, 300),
            source=clean(link.source, 100),
            commentary=prose_text(link.commentary),
            section_title=clean(section.title, 200),
            **common,
        )
        for position, (section, link) in enumerate(links)
    ]
