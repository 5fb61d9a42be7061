"""Search in a newsletter's archive: its links, found by their own words and
by those of their section and issue, best matches first, with the matches
marked.

Every word must match (AND). PostgreSQL reads the query with the newsletter's
language's text-search configuration (stemming and stop words: "curating"
finds "curated"), ranks with ts_rank over the weighted vector and marks with
ts_headline. The embedded default (SQLite) asks its FTS5 table (Porter
stemming, English) with each word quoted, so no FTS syntax reaches it ("AND",
"NEAR(", "*" and quotes are words or nothing), drops the words PostgreSQL's
English configuration drops (for an English newsletter; other languages keep
every word), ranks with bm25 weighted like PostgreSQL, and
marks with highlight() and snippet(). On the same archive both find the same
links for everyday queries; ranking may differ.
"""

import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from newsletter.library import schema
from newsletter.library.index import MARK_END, MARK_START
from newsletter.models import ArchiveEntry, Newsletter

MAX_QUERY = 200  # characters
MAX_WORDS = 12
EXCERPT_WORDS = 35
WORD = re.compile(r"[^\W_]+")
# PostgreSQL's English stop words (its english.stop, from Snowball): words
# too common to search for, dropped from the embedded default's queries too.
ENGLISH_STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now""".split()
)
# bm25's column weights, in schema.COLUMNS' order: as ts_rank weighs A, B, C, D, D.
BM25_WEIGHTS = "1.0, 0.4, 0.2, 0.1, 0.1"


@dataclass(frozen=True)
class Query:
    """What a reader asked for: words, and filters that narrow where to look."""

    text: str = ""  # at most MAX_QUERY characters, without control characters
    year: int | None = None
    site: str | None = None

    @property
    def words(self) -> list[str]:
        """The query's words, lower-cased, at most MAX_WORDS: what both databases look for."""
        return [w.lower() for w in WORD.findall(self.text)][:MAX_WORDS]


@dataclass
class Hit:
    entry: ArchiveEntry
    title_html: SafeString
    excerpt_html: SafeString


@dataclass
class Results:
    total: int = 0
    hits: list[Hit] = field(default_factory=list)
    no_words: bool = False  # the query has no word to look for ("*", a quote)
    too_common: bool = False  # every word is one the language does not search for


def _filters(newsletter: Newsletter, query: Query) -> dict:
    """The query's filters, each on a column of the entry itself (no join:
    SQLite would then read every entry of the newsletter to match a word).
    The entries hold sent issues of public newsletters only: index.sync, run
    before every read, removes the rest."""
    found = {"newsletter": newsletter.pk}
    if query.year is not None:
        found["year"] = query.year
    if query.site is not None:
        found["site"] = query.site
    return found


def entries(newsletter: Newsletter, query: Query) -> QuerySet:
    """The newsletter's archived links within the query's filters, newest first."""
    found = ArchiveEntry.objects.filter(**_filters(newsletter, query))
    return found.order_by("-issue_number", "position")


def search(newsletter: Newsletter, query: Query, *, offset: int = 0, limit: int = 20) -> Results:
    """One page of what the query finds: every link within its filters when it has no words."""
    within = entries(newsletter, query)
    if not query.text.strip():
        page = list(within.select_related("issue__newsletter")[offset : offset + limit])
        return Results(total=within.count(), hits=[_unmarked(entry) for entry in page])
    if not query.words:
        return Results(no_words=True)
    backend = _BACKENDS[connection.vendor](newsletter, query)
    if backend.too_common():
        return Results(too_common=True)
    total, ids = backend.ranked(offset, limit)
    marked = backend.marked(ids) if ids else {}
    shown = ArchiveEntry.objects.select_related("issue__newsletter").in_bulk(ids)
    hits = [_hit(shown[pk], *marked[pk]) for pk in ids if pk in shown and pk in marked]
    return Results(total=total, hits=hits)


def _hit(entry: ArchiveEntry, title: str, excerpt: str) -> Hit:
    return Hit(entry, _marks_to_html(title), _marks_to_html(_ellipsised(excerpt, entry.commentary)))


def _unmarked(entry: ArchiveEntry) -> Hit:
    excerpt = Truncator(entry.commentary).words(EXCERPT_WORDS, truncate="…")
    return Hit(entry, escape(entry.title), escape(excerpt))


def _marks_to_html(marked: str) -> SafeString:
    html = escape(marked).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    return mark_safe(html)  # noqa: S308 - escaped above; only the marks are markup


def _ellipsised(excerpt: str, whole: str) -> str:
    """An excerpt with "…" where the text goes on before or after it."""
    bare = excerpt.replace(MARK_START, "").replace(MARK_END, "").strip(" …")
    if not bare:
        return excerpt
    start = whole.find(bare)
    before = "…" if start > 0 else ""
    after = "…" if start == -1 or start + len(bare) < len(whole) else ""
    return f"{before}{excerpt.strip(' …')}{after}"


def _sql(sql: str, params: tuple, **kwargs) -> RawSQL:
    """SQL written in this module, never taken from a request: every value a
    reader gives goes as a parameter."""
    return RawSQL(sql, params, **kwargs)  # noqa: S611


class Postgres:
    """Full-text search over the stored vector, in the newsletter's language."""

    TSQUERY = "plainto_tsquery(%s::regconfig, %s)"

    def __init__(self, newsletter: Newsletter, query: Query):
        self.within = entries(newsletter, query)
        self.config = schema.config_of(newsletter.language)
        # As typed: PostgreSQL's parser reads it as it read the entries ("web.dev" is one word).
        self.params = (self.config, query.text)

    def too_common(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT numnode({self.TSQUERY})", self.params)
            return cursor.fetchone()[0] == 0

    def ranked(self, offset: int, limit: int) -> tuple[int, list[int]]:
        match = _sql(f"vector @@ {self.TSQUERY}", self.params, output_field=BooleanField())
        matching = self.within.filter(match)
        rank = _sql(f"ts_rank(vector, {self.TSQUERY})", self.params)
        # Two queries: a count(*) OVER () would sort every match, not keep the top few.
        total = matching.count()
        if offset >= total:
            return total, []
        ordered = matching.annotate(rank=rank).order_by("-rank", "-issue_number", "position")
        return total, list(ordered.values_list("pk", flat=True)[offset : offset + limit])

    def marked(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        marks = f"StartSel={MARK_START}, StopSel={MARK_END}"
        options = {
            "title": f"{marks}, HighlightAll=true",
            "commentary": f"{marks}, MaxWords={EXCERPT_WORDS}, MinWords=15",
        }
        headlines = {
            column: _sql(
                f"ts_headline(%s::regconfig, {column}, {self.TSQUERY}, %s)",
                (self.config, *self.params, option),
            )
            for column, option in options.items()
        }
        rows = ArchiveEntry.objects.filter(pk__in=ids).annotate(
            marked_title=headlines["title"], marked_commentary=headlines["commentary"]
        )
        return {
            pk: (title, excerpt)
            for pk, title, excerpt in rows.values_list("pk", "marked_title", "marked_commentary")
        }


class SQLite:
    """FTS5 over the entries' text; each word quoted, PostgreSQL's English stop words dropped."""

    def __init__(self, newsletter: Newsletter, query: Query):
        stop = ENGLISH_STOP_WORDS if newsletter.language == "en" else frozenset()
        words = [w for w in query.words if w not in stop]
        self.match = " ".join(f'"{w}"' for w in words)  # words hold no quote (WORD)
        self.filters = {
            ArchiveEntry._meta.get_field(name).column: value
            for name, value in _filters(newsletter, query).items()
        }

    def too_common(self) -> bool:
        return not self.match

    def ranked(self, offset: int, limit: int) -> tuple[int, list[int]]:
        fts = schema.FTS_TABLE
        # CROSS JOIN keeps the FTS table outermost: driven from the entries,
        # SQLite would run the match once per entry.
        within = "".join(f" AND e.{column} = %s" for column in self.filters)
        found = (
            f"FROM {fts} CROSS JOIN {schema.TABLE} e ON e.id = {fts}.rowid "  # noqa: S608
            f"WHERE {fts} MATCH %s{within}"
        )
        params = (self.match, *self.filters.values())
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) {found}", params)
            total = cursor.fetchone()[0]
            if offset >= total:
                return total, []
            cursor.execute(
                f"SELECT e.id {found} ORDER BY bm25({fts}, {BM25_WEIGHTS}), "
                "e.issue_number DESC, e.position LIMIT %s OFFSET %s",
                (*params, limit, offset),
            )
            return total, [row[0] for row in cursor.fetchall()]

    def marked(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        fts = schema.FTS_TABLE
        title, commentary = schema.COLUMNS.index("title"), schema.COLUMNS.index("commentary")
        marks = f"char({ord(MARK_START)}), char({ord(MARK_END)})"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT rowid, highlight({fts}, {title}, {marks}), "  # noqa: S608
                f"snippet({fts}, {commentary}, {marks}, '', {EXCERPT_WORDS}) "
                f"FROM {fts} WHERE {fts} MATCH %s AND rowid IN ({', '.join(['%s'] * len(ids))})",
                (self.match, *ids),
            )
            return {pk: (t or "", e or "") for pk, t, e in cursor.fetchall()}


_BACKENDS = {"postgresql": Postgres, "sqlite": SQLite}
