"""Correcting a link of a sent issue in the admin, mixed into IssueAdmin
(newsletter/admin.py) as CorrectionsAdminMixin: a "Correct this link…" button
on each frozen link for editors with the `correct_link` permission, a form that
asks for the new URL and the reason, and the record on the issue's page.
The work and the rules are newsletter.corrections."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from newsletter.corrections import CORRECT_PERMISSION, correct_link
from newsletter.models import Link, LinkCorrection


class CorrectLinkForm(forms.Form):
    url = forms.CharField(label="New URL", max_length=2000)
    reason = forms.CharField(
        label="Why",
        max_length=300,
        help_text="Kept on the record with your name, e.g. “the page moved”.",
    )


class CorrectableLinks:
    """Mixed into the link inline: the button, on frozen links, for those who may."""

    readonly_fields = ("correct",)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.frozen(obj) and request.user.has_perm(CORRECT_PERMISSION):
            return (*fields, "correct")
        return fields

    @admin.display(description="")
    def correct(self, link: Link) -> str:
        if link.pk is None:
            return ""
        url = reverse("admin:newsletter_issue_correct_link", args=[link.section.issue_id, link.pk])
        return format_html('<a class="button" href="{}">Correct this link…</a>', url)


class CorrectionsAdminMixin:
    """Adds /admin/newsletter/issue/<id>/correct-link/<link id>/ and the record."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.correct_link_view)
        return [
            path(
                "<int:issue_id>/correct-link/<int:link_id>/",
                view,
                name="newsletter_issue_correct_link",
            ),
            *super().get_urls(),
        ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and LinkCorrection.objects.filter(link__section__issue=obj).exists():
            return (*fieldsets, ("Corrections after sending", {"fields": ("link_corrections",)}))
        return fieldsets

    @admin.display(description="On the record")
    def link_corrections(self, issue) -> str:
        corrections = LinkCorrection.objects.filter(link__section__issue=issue).select_related(
            "link", "corrected_by"
        )
        rows = format_html_join(
            "",
            "<li>{} · {} changed “{}” from <code>{}</code> to <code>{}</code>: {}</li>",
            (
                (
                    c.corrected_at.strftime("%Y-%m-%d %H:%M UTC"),
                    c.corrected_by or "a deleted user",
                    c.link.title,
                    c.old_url,
                    c.new_url,
                    c.reason,
                )
                for c in corrections
            ),
        )
        return format_html('<ul class="link-corrections">{}</ul>', rows)

    def correct_link_view(self, request, issue_id: int, link_id: int):
        issue = self.get_object(request, str(issue_id))
        if issue is None:
            raise Http404
        if not (
            self.has_view_or_change_permission(request, issue)
            and request.user.has_perm(CORRECT_PERMISSION)
        ):
            raise PermissionDenied
        link = get_object_or_404(Link, pk=link_id, section__issue=issue)
        change_url = reverse("admin:newsletter_issue_change", args=[issue.pk])
        if issue.can("edit"):
            messages.info(request, "This issue has not gone out yet: edit its links directly.")
            return redirect(change_url)

        form = CorrectLinkForm(request.POST or None, initial={"url": link.url})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                correct_link(link, url=data["url"], reason=data["reason"], by=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"“{link.title}” now leads to {link.url}.")
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Correct a link",
            "issue": issue,
            "link": link,
            "change_url": change_url,
            "form": form,
        }
        return TemplateResponse(request, "admin/newsletter/issue/correct_link.html", context)
