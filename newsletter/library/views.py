"""The archive's library pages for readers: search, a page per link, the sites
a newsletter links to, and the links readers clicked most in a year. Public
newsletters only; only sent issues' links (the entries, brought in step
first by index.sync). Each page speaks the newsletter's language
(mail.languages.speaking, as every reader page does).

Bad input (a year that is not one, a source never linked, a query too long,
a page past the end) gets the page with what is wrong said beside it, and a
4xx status; never an error."""

from math import ceil

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from mail.languages import speaking
from mail.text import markdown_html
from newsletter.library import index, popular, sources
from newsletter.library.forms import SearchForm
from newsletter.library.search import Query, entries, search
from newsletter.models import Newsletter

PER_PAGE = 20
SOURCES_SHOWN = 100
LARGEST_ID = 2**63 - 1  # what a database's id column holds; a larger number is no link


def _newsletter(slug: str) -> Newsletter:
    newsletter = get_object_or_404(Newsletter, slug=slug, is_public=True)
    index.sync(newsletter)
    return newsletter


def _render(
    request: HttpRequest, newsletter: Newsletter, name: str, context: dict, status: int = 200
) -> HttpResponse:
    context = {"newsletter": newsletter, "accent": newsletter.accent_colour, **context}
    with speaking(newsletter):
        return render(request, f"newsletter/library/{name}.html", context, status=status)


def _page_url(request: HttpRequest, page: int) -> str:
    params = request.GET.copy()
    params["page"] = str(page)
    return f"?{params.urlencode()}"


def archive_search(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    newsletter = _newsletter(newsletter_slug)
    years, sites = sources.years(newsletter), sources.site_names(newsletter)
    form = SearchForm(request.GET, years=years, sites=sites)
    context = {"form": form, "years": years, "sites": sites}
    if not form.is_valid():
        return _render(request, newsletter, "search", context, status=400)
    query, page = form.query(), form.page_number
    context["query"] = query
    if query == Query():  # nothing asked yet: the form alone
        context["links"] = entries(newsletter, query).count()
        return _render(request, newsletter, "search", context)
    results = search(newsletter, query, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    pages = max(1, ceil(results.total / PER_PAGE))
    context |= {"results": results, "page": page, "pages": pages}
    if page > pages and results.total:
        context["last_page_url"] = _page_url(request, pages)
        return _render(request, newsletter, "search", context, status=404)
    if page > 1:
        context["previous_url"] = _page_url(request, page - 1)
    if page < pages:
        context["next_url"] = _page_url(request, page + 1)
    return _render(request, newsletter, "search", context)


def archive_link(request: HttpRequest, newsletter_slug: str, link_id: int) -> HttpResponse:
    """A link's own page: what it is, what the editor said of it, where it appeared."""
    if link_id > LARGEST_ID:
        raise Http404
    newsletter = _newsletter(newsletter_slug)
    entry = get_object_or_404(
        entries(newsletter, Query()).select_related("issue__newsletter", "link"),
        link_id=link_id,
    )
    context = {
        "entry": entry,
        "link": entry.link,
        "issue": entry.issue,
        "commentary_html": markdown_html(entry.link.commentary),
        "more": sources.more_from(newsletter, entry),
        "site_links": entries(newsletter, Query(site=entry.site)).count(),
    }
    return _render(request, newsletter, "link", context)


def archive_sources(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    """The sites the newsletter links to, most linked first."""
    newsletter = _newsletter(newsletter_slug)
    every = sources.sites(newsletter)
    context = {"sites": every[:SOURCES_SHOWN], "site_count": len(every)}
    return _render(request, newsletter, "sources", context)


def archive_most_clicked(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    """A year's links that readers clicked most (?year=; the latest year with clicks)."""
    newsletter = _newsletter(newsletter_slug)
    by_year = popular.sent_issues_by_year(newsletter)
    asked = request.GET.get("year", "")
    if asked:
        year = next((y for y in by_year if str(y) == asked), None)
    else:
        year = popular.latest_clicked_year(newsletter, by_year) or next(iter(by_year), None)
    context = {"years": list(by_year), "year": year, "asked": asked}
    if asked and year is None:
        return _render(request, newsletter, "most_clicked", context, status=404)
    if year is not None:
        context["links"] = popular.most_clicked(newsletter, year, by_year=by_year)
    return _render(request, newsletter, "most_clicked", context)
