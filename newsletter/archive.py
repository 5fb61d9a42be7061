"""What the public archive lists, a page at a time: the public newsletters
(each with its latest issues) and each newsletter's sent issues, newest first;
and how each archive page describes itself to search engines and link
previews (PageMeta: description, canonical URL, Open Graph, Twitter card)."""

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from mail.text import excerpt, markdown_excerpt, plain
from newsletter.models import Issue, Newsletter
from newsletter.rendering import absolute_url

ISSUES_PER_PAGE = 20  # a newsletter's archive: more than a year and a half of a monthly
NEWSLETTERS_PER_PAGE = 10  # the archive index
LATEST_ON_INDEX = 5  # each newsletter's newest issues on the index; the rest on its own page
ISSUES_PER_FEED = 20  # a page of the Atom feed; older issues on its next pages (RFC 5005)


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


# -- How each page describes itself -----------------------------------------------

DESCRIPTION_LENGTH = 160  # about what a search result shows under the title


@dataclass(frozen=True)
class PageMeta:
    """What a public page tells search engines and link previews about itself
    (templates/newsletter/_page_meta.html writes it into the <head>)."""

    title: str
    description: str
    url: str  # the canonical address, absolute (SITE_URL)
    site_name: str
    kind: str = "website"  # og:type
    published: datetime | None = None
    indexed: bool = True


def _newsletter_summary(newsletter: Newsletter) -> str:
    return excerpt(plain(newsletter.tagline), DESCRIPTION_LENGTH) or markdown_excerpt(
        newsletter.description, DESCRIPTION_LENGTH
    )


def issue_meta(issue: Issue) -> PageMeta:
    """An issue: described by its preheader, else its intro, else its newsletter.
    A newsletter kept off the archive keeps its issues out of search results too."""
    newsletter = issue.newsletter
    description = (
        excerpt(plain(issue.preheader), DESCRIPTION_LENGTH)
        or markdown_excerpt(issue.intro, DESCRIPTION_LENGTH)
        or _newsletter_summary(newsletter)
        or _("Issue #%(number)s of %(name)s.") % {"number": issue.number, "name": newsletter.name}
    )
    return PageMeta(
        title=plain(issue.subject),
        description=description,
        url=absolute_url(issue.get_absolute_url()),
        site_name=newsletter.name,
        kind="article",
        published=issue.date,
        indexed=newsletter.is_public,
    )


def _numbered(title: str, page: Page) -> str:
    if page.number == 1:
        return title
    return _("%(title)s (page %(number)s)") % {"title": title, "number": page.number}


def newsletter_meta(newsletter: Newsletter, page: Page) -> PageMeta:
    path = page_url(newsletter.get_absolute_url(), page.number)
    title = _("%(name)s: past issues") % {"name": newsletter.name}
    return PageMeta(
        title=_numbered(title, page),
        description=_newsletter_summary(newsletter)
        or _("Every issue of %(name)s so far, newest first.") % {"name": newsletter.name},
        url=absolute_url(path),
        site_name=newsletter.name,
    )


def index_meta(page: Page) -> PageMeta:
    return PageMeta(
        title=_numbered(_("Archive"), page),
        description=_("Every issue of the newsletters published here, newest first."),
        url=absolute_url(page_url(reverse("archive"), page.number)),
        site_name="Letterpress",
    )
