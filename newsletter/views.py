import logging

from django.contrib.syndication.views import Feed
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.feedgenerator import Atom1Feed

from mail.languages import speaking
from mail.rendering import RenderError
from mail.text import markdown_text, plain
from newsletter.models import Issue, Newsletter
from newsletter.rendering import issue_context

log = logging.getLogger(__name__)


def archive_index(request: HttpRequest) -> HttpResponse:
    """Public newsletters, each with its sent issues, newest first."""
    newsletters = Newsletter.objects.filter(is_public=True).prefetch_related(
        Prefetch("issues", queryset=Issue.objects.archived().order_by("-number"))
    )
    return render(request, "newsletter/archive_index.html", {"newsletters": newsletters})


def archive_newsletter(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter, slug=newsletter_slug, is_public=True)
    issues = newsletter.issues.archived().order_by("-number")
    with speaking(newsletter):
        return render(
            request,
            "newsletter/archive_newsletter.html",
            {"newsletter": newsletter, "issues": issues, "accent": newsletter.accent_colour},
        )


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
    with speaking(issue.newsletter):
        return render(request, "newsletter/issue.html", context)


class FullTextAtom(Atom1Feed):
    """Atom with each issue in <content type="html">, where feed readers look
    for the full text (<summary> is meant for an excerpt)."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"]:
            handler.addQuickElement("content", item["description"], {"type": "html"})


class IssueFeed(Feed):
    """Atom feed of a public newsletter's sent issues, full text."""

    feed_type = FullTextAtom

    def get_object(self, request, newsletter_slug):
        return get_object_or_404(Newsletter, slug=newsletter_slug, is_public=True)

    def title(self, newsletter: Newsletter) -> str:
        return newsletter.name

    def get_feed(self, newsletter: Newsletter, request):
        """In its newsletter's language: the feed's xml:lang says so."""
        with speaking(newsletter):
            return super().get_feed(newsletter, request)

    def subtitle(self, newsletter: Newsletter) -> str:
        return markdown_text(newsletter.description)

    def link(self, newsletter: Newsletter) -> str:
        return newsletter.get_absolute_url()

    def author_name(self, newsletter: Newsletter) -> str:
        return newsletter.sender_name

    def items(self, newsletter: Newsletter):
        return newsletter.issues.archived().select_related("newsletter").order_by("-number")[:20]

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
        return issue.updated
