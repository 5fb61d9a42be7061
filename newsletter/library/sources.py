"""Where a newsletter's links come from: the sites its archive links to most,
and the other links from one site. A link's site is its source, or else the
host of its URL (newsletter.library.index.site_of)."""

from dataclasses import dataclass

from django.db.models import Count, Max

from newsletter.library.search import Query, entries
from newsletter.models import ArchiveEntry, Newsletter


@dataclass(frozen=True)
class Site:
    name: str
    links: int
    latest_issue: int  # the number of the newest issue that links to it


def sites(newsletter: Newsletter, *, limit: int | None = None) -> list[Site]:
    """The sites of the newsletter's archived links, most linked first."""
    rows = (
        entries(newsletter, Query())
        .order_by()
        .values("site")
        .annotate(links=Count("id"), latest=Max("issue_number"))
        .order_by("-links", "site")
    )
    if limit is not None:
        rows = rows[:limit]
    return [Site(r["site"], r["links"], r["latest"]) for r in rows]


def site_names(newsletter: Newsletter) -> list[str]:
    """Every site of the archive, in alphabetical order: the search form's choices."""
    names = entries(newsletter, Query()).order_by("site").values_list("site", flat=True)
    return list(names.distinct())


def years(newsletter: Newsletter) -> list[int]:
    """The years the archive has issues in, newest first."""
    found = entries(newsletter, Query()).order_by("-year").values_list("year", flat=True)
    return list(found.distinct())


def more_from(newsletter: Newsletter, entry: ArchiveEntry, *, limit: int = 8) -> list:
    """Other links of the newsletter from the entry's site, newest first."""
    others = entries(newsletter, Query(site=entry.site)).exclude(pk=entry.pk)
    return list(others.select_related("issue__newsletter")[:limit])
