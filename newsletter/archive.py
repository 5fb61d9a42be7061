"""What the public archive lists, a page at a time: the public newsletters
(each with its latest issues) and each newsletter's sent issues, newest first.
The views, the feed and the sitemap read them from here."""

from dataclasses import dataclass

from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Count, Prefetch, Q, QuerySet

from newsletter.models import Issue, Newsletter

ISSUES_PER_PAGE = 20  # a newsletter's archive: more than a year and a half of a monthly
NEWSLETTERS_PER_PAGE = 10  # the archive index
LATEST_ON_INDEX = 5  # each newsletter's newest issues on the index; the rest on its own page


class NoSuchPage(Exception):
    """A page number that names no page: past the end, zero, not a number."""

    def __init__(self, asked: str, last: int):
        super().__init__(asked)
        self.asked = asked
        self.last = last


def page_of(items: QuerySet, number: str | None, per_page: int) -> Page:
    """Page `number` ("1" when absent) of `items`; NoSuchPage for anything else,
    so that every page has one address and a wrong one is not a copy of another."""
    paginator = Paginator(items, per_page)
    try:
        return paginator.page(number or 1)
    except InvalidPage as exc:
        raise NoSuchPage(str(number)[:20], paginator.num_pages) from exc


def page_url(path: str, number: int) -> str:
    """The address of page `number` of the listing at `path`: the first is the path itself."""
    return path if number == 1 else f"{path}?page={number}"


@dataclass(frozen=True)
class PageLinks:
    """Where a listing's neighbouring pages are, for its navigation and <head>."""

    previous: str | None
    next: str | None

    @classmethod
    def around(cls, page: Page, path: str) -> "PageLinks":
        previous = page_url(path, page.previous_page_number()) if page.has_previous() else None
        following = page_url(path, page.next_page_number()) if page.has_next() else None
        return cls(previous, following)


def archived_issues(newsletter: Newsletter) -> QuerySet:
    """A public newsletter's sent issues, newest first."""
    return newsletter.issues.archived().select_related("newsletter").order_by("-number")


def public_newsletters() -> QuerySet:
    """Public newsletters by name, each with its count of sent issues and its
    newest LATEST_ON_INDEX of them (`latest_issues`), in two queries a page."""
    sent = Q(issues__status=Issue.Status.SENT)
    latest = Issue.objects.archived().order_by("-number")[:LATEST_ON_INDEX]
    return (
        Newsletter.objects.filter(is_public=True)
        .annotate(issue_count=Count("issues", filter=sent))
        .prefetch_related(Prefetch("issues", queryset=latest, to_attr="latest_issues"))
        .order_by("name", "pk")
    )
