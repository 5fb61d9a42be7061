"""The editors' stats pages, mixed into IssueAdmin (newsletter/admin.py) as
StatsAdminMixin: a stats page per issue and a subscriber-growth chart per
newsletter. The figures are newsletter.engagement.stats."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from newsletter.engagement import clicks
from newsletter.engagement.charts import growth_chart
from newsletter.engagement.feedback import feedback_totals
from newsletter.engagement.stats import (
    growth_points,
    issue_stats,
    prose_links,
    scanner_reasons,
    section_clicks,
    top_links,
)
from newsletter.models import Issue, Newsletter


class StatsAdminMixin:
    """Adds /admin/newsletter/issue/<id>/stats/ and .../growth/<newsletter id>/."""

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "<int:issue_id>/stats/",
                site.admin_view(self.stats_view),
                name="newsletter_issue_stats",
            ),
            path(
                "growth/<int:newsletter_id>/",
                site.admin_view(self.growth_view),
                name="newsletter_growth",
            ),
            *super().get_urls(),
        ]

    def get_list_display(self, request):
        return (*super().get_list_display(request), "stats_link")

    @admin.display(description="Stats")
    def stats_link(self, obj: Issue) -> str:
        if obj.status not in Issue.PUBLIC_STATUSES:
            return "—"
        url = reverse("admin:newsletter_issue_stats", args=[obj.pk])
        return format_html('<a href="{}">Stats</a>', url)

    def _context(self, request, title: str) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title}

    def stats_view(self, request, issue_id: int):
        issue = self.get_object(request, str(issue_id))
        if issue is None:
            raise Http404
        if not self.has_view_permission(request, issue):
            raise PermissionDenied
        newsletter = issue.newsletter
        context = {
            **self._context(request, f"Stats for #{issue.number}: {issue.subject}"),
            "issue": issue,
            "newsletter": newsletter,
            "stats": issue_stats(issue),
            "links": top_links(issue),
            "prose_links": prose_links(issue),
            "scanners": scanner_reasons(issue),
            "burst_links": clicks.BURST_LINKS,
            "burst_seconds": clicks.BURST_WINDOW.seconds,
            "early_seconds": clicks.EARLY.seconds,
            "sections": section_clicks(issue),
            "feedback": feedback_totals(issue),
            "chart": growth_chart(
                growth_points(newsletter, weeks=26),
                title=f"{newsletter.name}: subscribers over the last 26 weeks",
            ),
            "growth_url": reverse("admin:newsletter_growth", args=[newsletter.pk]),
            "change_url": reverse("admin:newsletter_issue_change", args=[issue.pk]),
        }
        return TemplateResponse(request, "admin/newsletter/stats.html", context)

    def growth_view(self, request, newsletter_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        newsletter = get_object_or_404(Newsletter, pk=newsletter_id)
        points = growth_points(newsletter)
        context = {
            **self._context(request, f"{newsletter.name}: subscriber growth"),
            "newsletter": newsletter,
            "points": points,
            "chart": growth_chart(points, title=f"{newsletter.name}: subscribers by week"),
        }
        return TemplateResponse(request, "admin/newsletter/stats_growth.html", context)
