"""The editor's "best of YEAR" draft, mixed into NewsletterAdmin
(newsletter/admin.py) as BestOfAdminMixin: a link on the newsletter's page
to a page listing each year's most-clicked links, with a button per year
that drafts the issue (newsletter.library.best_of) and opens it. Needs the
permission to add issues."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from newsletter.library.best_of import PICKS, draft_best_of
from newsletter.library.popular import most_clicked, sent_issues_by_year
from newsletter.models import Newsletter

ADD_ISSUE = "newsletter.add_issue"


class BestOfAdminMixin:
    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "<int:newsletter_id>/best-of/",
                site.admin_view(self.best_of_view),
                name="newsletter_newsletter_best_of",
            ),
            path(
                "<int:newsletter_id>/best-of/draft/",
                site.admin_view(self.best_of_draft_view),
                name="newsletter_newsletter_best_of_draft",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Best of the year")
    def best_of(self, obj: Newsletter) -> str:
        if obj.pk is None:
            return "Save the newsletter first."
        url = reverse("admin:newsletter_newsletter_best_of", args=[obj.pk])
        return format_html(
            '<a href="{}">Draft a “best of” issue from a year’s most-clicked links →</a>', url
        )

    def _newsletter(self, request, newsletter_id: int) -> Newsletter:
        if not request.user.has_perm(ADD_ISSUE):
            raise PermissionDenied
        return get_object_or_404(Newsletter, pk=newsletter_id)

    def best_of_view(self, request, newsletter_id: int):
        newsletter = self._newsletter(request, newsletter_id)
        by_year = sent_issues_by_year(newsletter)
        picks = [(y, most_clicked(newsletter, y, limit=PICKS, by_year=by_year)) for y in by_year]
        years = [(year, links) for year, links in picks if links]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{newsletter.name}: the best of a year",
            "newsletter": newsletter,
            "years": years,
            "picks": PICKS,
            "change_url": reverse("admin:newsletter_newsletter_change", args=[newsletter.pk]),
        }
        return TemplateResponse(request, "newsletter/library/best_of_admin.html", context)

    def best_of_draft_view(self, request, newsletter_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        newsletter = self._newsletter(request, newsletter_id)
        back = reverse("admin:newsletter_newsletter_best_of", args=[newsletter.pk])
        try:
            year = int(request.POST.get("year", ""))
            issue = draft_best_of(newsletter=newsletter, year=year)
        except ValueError:
            messages.error(request, "Pick a year from the list.")
            return redirect(back)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(back)
        messages.success(
            request,
            f"#{issue.number} “{issue.subject}” is a draft with {year}'s most-clicked links: "
            "rewrite, cut and reorder as you like.",
        )
        return redirect(reverse("admin:newsletter_issue_change", args=[issue.pk]))
