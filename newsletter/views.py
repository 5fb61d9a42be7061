import logging
from dataclasses import dataclass

from django.contrib.syndication.views import Feed
from django.core.paginator import Page
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from mail.languages import speaking
from mail.rendering import RenderError
from mail.text import markdown_text, plain
from newsletter import archive
from newsletter.models import Issue, Newsletter
from newsletter.rendering import issue_context

log = logging.getLogger(__name__)


def archive_index(request: HttpRequest) -> HttpResponse:
    """Public newsletters, each with its newest sent issues, a page of newsletters at a time."""
    try:
        page = archive.page_of(
            archive.public_newsletters(), request.GET.get("page"), archive.NEWSLETTERS_PER_PAGE
        )
    except archive.NoSuchPage as missing:
        return _no_such_page(request, missing, reverse("archive"))
    context = {"newsletters": page.object_list, "page": page, "meta": archive.index_meta(page)}
    context["pages"] = archive.PageLinks.around(page, request.path)
    return render(request, "newsletter/archive_index.html", context)


def archive_newsletter(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    """A public newsletter's sent issues, newest first, ISSUES_PER_PAGE at a time."""
    newsletter = get_object_or_404(Newsletter, slug=newsletter_slug, is_public=True)
    path = newsletter.get_absolute_url()
    try:
        page = archive.page_of(
            archive.archived_issues(newsletter), request.GET.get("page"), archive.ISSUES_PER_PAGE
        )
    except archive.NoSuchPage as missing:
        return _no_such_page(request, missing, path, newsletter)
    context = {"newsletter": newsletter, "accent": newsletter.accent_colour}
    context |= {"issues": page.object_list, "page": page}
    context["pages"] = archive.PageLinks.around(page, path)
    with speaking(newsletter):  # the description and title in <head> too
        context["meta"] = archive.newsletter_meta(newsletter, page)
        return render(request, "newsletter/archive_newsletter.html", context)


def _no_such_page(request, missing: archive.NoSuchPage, first: str, newsletter=None):
    """A page number past the end or not a number: a 404 that says where the pages are."""
    context = {"asked": missing.asked, "last": missing.last, "first": first}
    context["last_url"] = archive.page_url(first, missing.last)
    if newsletter is not None:
        context |= {"newsletter": newsletter, "accent": newsletter.accent_colour}
    with speaking(newsletter):  # the site's language for the index's pages
        return render(request, "newsletter/no_such_page.html", context, status=404)


def issue_web(request: HttpRequest, newsletter_slug: str, issue_slug: str) -> HttpResponse:
    """The issue's web version: what "view in your browser" opens, once the send has begun."""
    issue = get_object_or_404(
        Issue.objects.readable().select_related("newsletter"),
        newsletter__slug=newsletter_slug,
        slug=issue_slug,
    )
    try:
        context = issue_context(issue)
    except RenderError as exc:
        log.error("issue %s cannot be shown: %s", issue.pk, exc)
        raise Http404("This issue cannot be shown.") from exc
    context["accent"] = issue.newsletter.accent_colour
    with speaking(issue.newsletter):  # the description in <head> too
        context["meta"] = archive.issue_meta(issue)
        return render(request, "newsletter/issue.html", context)


class FullTextAtom(Atom1Feed):
    """Atom with each issue in <content type="html">, where feed readers look
    for the full text (<summary> is meant for an excerpt), and the links to
    the feed's other pages (RFC 5005's first, previous, next, last)."""

    def add_root_elements(self, handler):
        super().add_root_elements(handler)
        for rel, href in self.feed["pages"].items():
            handler.addQuickElement("link", "", {"rel": rel, "href": href})

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"]:
            handler.addQuickElement("content", item["description"], {"type": "html"})


@dataclass(frozen=True)
class FeedPage:
    newsletter: Newsletter
    page: Page
    url: str  # this page's own address
    pages: dict[str, str]  # the other pages' addresses, by link relation


class IssueFeed(Feed):
    """Atom feed of a public newsletter's sent issues, full text, newest first:
    ISSUES_PER_FEED of them; the older ones on the feed's later pages
    (?page=2, …), a paged feed in RFC 5005's sense, linked rel="next"."""

    feed_type = FullTextAtom

    def get_object(self, request, newsletter_slug) -> FeedPage:
        newsletter = get_object_or_404(Newsletter, slug=newsletter_slug, is_public=True)
        issues = archive.archived_issues(newsletter).with_last_change()
        try:
            page = archive.page_of(issues, request.GET.get("page"), archive.ISSUES_PER_FEED)
        except archive.NoSuchPage as missing:
            raise Http404("This feed has no such page.") from missing
        path = reverse("feed", args=[newsletter.slug])
        pages = archive.PageLinks.around(page, path)
        at = {
            "first": path,
            "previous": pages.previous,
            "next": pages.next,
            "last": archive.page_url(path, page.paginator.num_pages),
        }
        absolute = {rel: request.build_absolute_uri(href) for rel, href in at.items() if href}
        return FeedPage(newsletter, page, archive.page_url(path, page.number), absolute)

    def feed_url(self, obj: FeedPage) -> str:
        return obj.url

    def feed_extra_kwargs(self, obj: FeedPage) -> dict:
        return {"pages": obj.pages}

    def get_feed(self, obj: FeedPage, request):
        """In its newsletter's language: the feed's xml:lang says so."""
        with speaking(obj.newsletter):
            return super().get_feed(obj, request)

    def title(self, obj: FeedPage) -> str:
        return obj.newsletter.name

    def subtitle(self, obj: FeedPage) -> str:
        return markdown_text(obj.newsletter.description)

    def link(self, obj: FeedPage) -> str:
        return obj.newsletter.get_absolute_url()

    def author_name(self, obj: FeedPage) -> str:
        return obj.newsletter.sender_name

    def items(self, obj: FeedPage):
        return obj.page.object_list

    def item_title(self, issue: Issue) -> str:
        return f"#{issue.number}: {plain(issue.subject)}"

    def item_author_name(self, issue: Issue) -> str:
        return issue.newsletter.sender_name

    def item_description(self, issue: Issue) -> str:
        try:
            return render_to_string("newsletter/issue_body.html", issue_context(issue))
        except RenderError:
            return plain(issue.preheader)

    def item_pubdate(self, issue: Issue):
        return issue.date or issue.updated  # the date its email and page show

    def item_updateddate(self, issue: Issue):
        return issue.last_change
