"""The editor's desk: an issue with its sections and their links on one page,
and a preview of its email with a "send test" form.

Sending controls come from SendingAdminMixin (newsletter/admin_sending.py).
"""

import smtplib
from urllib.parse import urlencode

import nested_admin
from anymail.exceptions import AnymailError
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from mail.messages import personalize
from mail.rendering import RenderError
from newsletter import admin_curation  # noqa: F401  (registers the link inbox)
from newsletter.admin_corrections import CorrectableLinks, CorrectionsAdminMixin
from newsletter.admin_sending import SendingAdminMixin, local_time
from newsletter.admin_stats import StatsAdminMixin
from newsletter.admin_writing import (
    FilledFromPage,
    LinkFromPage,
    SectionForm,
    VersionedIssueForm,
    WritingAdminMixin,
)
from newsletter.curation.preflight import preflight
from newsletter.emails import TestRefused, send_test_issue, sent_html_bytes, values_for_address
from newsletter.library.admin import BestOfAdminMixin
from newsletter.models import Issue, Link, Newsletter, Section, issue_slug
from newsletter.rendering import GMAIL_CLIP_BYTES, render_issue
from subscribers import embed

SHORT_TEXT = forms.Textarea(attrs={"rows": 3, "cols": 90})

admin.site.site_header = "Letterpress"
admin.site.site_title = "Letterpress"
# Editors get their permissions one by one (Users); groups were one more
# screen to wade past. (django-axes' lockout records: AXES_ENABLE_ADMIN.)
admin.site.unregister(Group)


@admin.register(Newsletter)
class NewsletterAdmin(BestOfAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "sender_email", "is_public", "cadence")
    list_filter = ("is_public",)
    search_fields = ("name", "slug", "sender_name", "sender_email")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("siblings",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "slug",
                    "description",
                    "tagline",
                    "language",
                    "is_public",
                    "accent_colour",
                )
            },
        ),
        (
            "Sender",
            {
                "fields": (
                    "sender_name",
                    "sender_email",
                    "reply_to",
                    "organisation",
                    "postal_address",
                )
            },
        ),
        (
            "Cadence",
            {
                "fields": (
                    ("cadence_week", "cadence_weekday", "cadence_time", "time_zone"),
                    "reminder_days",
                )
            },
        ),
        ("Sending", {"fields": ("batch_size", "send_rate", "welcome_enabled")}),
        (
            "Engagement",
            {"fields": ("feedback_ask", "click_tracking", "per_subscriber_tracking", "best_of")},
        ),
        ("Footer", {"fields": ("siblings",)}),
        ("Signup form on your site", {"fields": ("embed_origins", "embed_code")}),
    )
    readonly_fields = ("embed_code", "best_of")

    @admin.display(description="Code to copy")
    def embed_code(self, obj: Newsletter) -> str:
        if obj.pk is None:
            return "Save the newsletter first."
        boxes = [
            ("A plain form (works without JavaScript)", embed.snippet(obj)),
            ("An iframe (shown only on the sites listed above)", embed.iframe_snippet(obj)),
        ]
        return format_html_join(
            "",
            '<p><strong>{}</strong></p><textarea readonly rows="{}" cols="90" '
            'aria-label="{}" style="font-family:monospace">{}</textarea>',
            ((label, code.count("\n") + 2, label, code) for label, code in boxes),
        )

    @admin.display(description="Cadence")
    def cadence(self, obj: Newsletter) -> str:
        week, day = obj.get_cadence_week_display(), obj.get_cadence_weekday_display()
        return f"{week} {day} of the month, {obj.cadence_time:%H:%M} {obj.time_zone}"


class LinkForm(FilledFromPage, forms.ModelForm):
    # "example.com/x" becomes https://example.com/x; the model still refuses non-http(s).
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 90, "placeholder": "https://"}),
    )

    class Meta:
        model = Link
        fields = ("url", "commentary", "title", "source", "position")
        widgets = {
            "title": forms.TextInput(attrs={"size": 50, "placeholder": "from the page"}),
            "source": forms.TextInput(attrs={"size": 25, "placeholder": "from the page"}),
            "commentary": SHORT_TEXT,
        }
        help_texts = {"source": ""}


def issue_of(obj) -> Issue | None:
    """The issue an inline's parent object belongs to (an issue or a section)."""
    if isinstance(obj, Issue):
        return obj
    if isinstance(obj, Section) and obj.issue_id is not None:
        return obj.issue
    return None


class FrozenOnceSent:
    """An issue's sections and links are read-only once it leaves draft and
    scheduled (Issue.ACTIONS["edit"]): readers hold its links, and the archive
    and feed show what they got."""

    def frozen(self, obj) -> bool:
        issue = issue_of(obj)
        return issue is not None and issue.pk is not None and not issue.can("edit")

    def has_add_permission(self, request, obj=None) -> bool:
        return not self.frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return not self.frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self.frozen(obj) and super().has_delete_permission(request, obj)


# Drag a section or link by its header to reorder; `position` is kept in a hidden field.
class LinkInline(
    LinkFromPage,
    CorrectableLinks,
    FrozenOnceSent,
    nested_admin.SortableHiddenMixin,
    nested_admin.NestedStackedInline,
):
    model = Link
    form = LinkForm
    extra = 0
    # URL and commentary first: title and source come from the page.
    fields = ("url", "commentary", ("title", "source"), "from_the_page", "position")
    readonly_fields = ("from_the_page", *CorrectableLinks.readonly_fields)


class SectionInline(
    FrozenOnceSent, nested_admin.SortableHiddenMixin, nested_admin.NestedStackedInline
):
    model = Section
    form = SectionForm
    title = "Sections · drag a section or a link by its title bar to reorder"
    extra = 0
    fields = ("title", "paste", "intro", "position")
    formfield_overrides = {
        models.CharField: {"widget": forms.TextInput(attrs={"size": 60})},
        models.TextField: {"widget": SHORT_TEXT},
    }
    inlines = [LinkInline]


class IssueForm(VersionedIssueForm, forms.ModelForm):
    class Meta:
        model = Issue
        fields = ("newsletter", "number", "slug", "subject", "preheader", "intro", "sign_off")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:
            self.fields["slug"].required = False
            self.fields["slug"].help_text = "Web address. Left empty, made from number and subject."

    def clean(self):
        data = super().clean()
        if not data.get("slug") and data.get("number") and data.get("subject"):
            data["slug"] = issue_slug(data["number"], data["subject"])
        return data


class SendTestForm(forms.Form):
    to = forms.EmailField(label="Send a test to", max_length=254)


def preview_document(html: str) -> str:
    """The email as an iframe document whose links open in a new tab."""
    return html.replace("<head>", '<head><base target="_blank">', 1)


@admin.register(Issue)
class IssueAdmin(
    WritingAdminMixin,
    CorrectionsAdminMixin,
    StatsAdminMixin,
    SendingAdminMixin,
    nested_admin.NestedModelAdmin,
):
    form = IssueForm
    list_display = ("newsletter", "number", "subject", "status", "send_date")
    list_display_links = ("number", "subject")
    list_filter = ("newsletter", "status")
    search_fields = ("subject", "intro", "sections__title", "sections__links__title")
    list_select_related = ("newsletter",)
    date_hierarchy = "send_at"
    readonly_fields = ("status", "send_date", "sent_date", "preview_link", "link_corrections")
    fieldsets = (
        (None, {"fields": ("newsletter", ("number", "slug"), "subject", "preheader")}),
        ("Status", {"fields": (("status", "send_date", "sent_date"), "preview_link")}),
        (None, {"fields": ("intro", "sign_off")}),
    )
    formfield_overrides = {
        models.CharField: {"widget": forms.TextInput(attrs={"size": 70})},
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 6, "cols": 90})},
    }
    inlines = [SectionInline]

    def get_readonly_fields(self, request, obj: Issue | None = None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and not obj.can("edit"):  # sent or sending: as readers got it
            return (*fields, *IssueForm.Meta.fields)
        return fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = self.get_object(request, object_id) if request.method == "POST" else None
        if issue is not None and not issue.can("edit"):
            # Everything on the page is read-only: say so, rather than "changed successfully".
            messages.warning(
                request,
                f"#{issue.number} has gone out: its content stays as readers got it. "
                "A link can be corrected with “Correct this link…”.",
            )
            return redirect(reverse("admin:newsletter_issue_change", args=[issue.pk]))
        return super().change_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj: Issue | None = None) -> bool:
        editable = obj is None or obj.can("edit")
        return editable and super().has_delete_permission(request, obj)

    def view_on_site(self, obj: Issue) -> str | None:
        # Drafts and scheduled issues have no public page yet.
        return obj.get_absolute_url() if obj.is_public else None

    def get_changeform_initial_data(self, request) -> dict:
        initial = super().get_changeform_initial_data(request)
        newsletter = Newsletter.objects.filter(pk=initial.get("newsletter")).first()
        if newsletter is None and Newsletter.objects.count() == 1:
            newsletter = Newsletter.objects.get()
        if newsletter is not None:
            initial.setdefault("newsletter", newsletter.pk)
            initial.setdefault("number", newsletter.next_issue_number())
        return initial

    @admin.display(description="Send at", ordering="send_at")
    def send_date(self, obj: Issue) -> str:
        return local_time(obj, obj.send_at) or "—"

    @admin.display(description="Sent at", ordering="sent_at")
    def sent_date(self, obj: Issue) -> str:
        return local_time(obj, obj.sent_at) or "—"

    @admin.display(description="Preview")
    def preview_link(self, obj: Issue) -> str:
        if obj.pk is None:
            return "Save the issue to preview it."
        url = reverse("admin:newsletter_issue_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview the email and send a test →</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view(self.preview_view)
        return [
            path("<int:issue_id>/preview/", view, name="newsletter_issue_preview"),
            *super().get_urls(),
        ]

    def preview_view(self, request, issue_id: int):
        issue = self.get_object(request, str(issue_id))
        if issue is None:
            raise Http404
        if not self.has_view_or_change_permission(request, issue):
            raise PermissionDenied
        change_url = reverse("admin:newsletter_issue_change", args=[issue.pk])
        try:
            rendered = render_issue(issue)
        except RenderError as exc:
            messages.error(request, f"This issue cannot be rendered yet. {exc}")
            return redirect(change_url)

        # After a send, the form keeps the address for the next round of proofreading.
        initial = {"to": request.GET.get("to") or request.user.email}
        form = SendTestForm(request.POST or None, initial=initial)
        if request.method == "POST":
            if not self.has_change_permission(request, issue):
                raise PermissionDenied
            if form.is_valid() and self.send_test(request, issue, form.cleaned_data["to"]):
                return redirect(f"{request.path}?{urlencode({'to': form.cleaned_data['to']})}")

        values = values_for_address(issue.newsletter, to=request.user.email or "")
        html = personalize(rendered.html, values)
        size = sent_html_bytes(issue, rendered)  # with a reader's own links, as Gmail counts it
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Preview of #{issue.number}",
            "issue": issue,
            "change_url": change_url,
            "rendered": rendered,
            "document": preview_document(html),
            "text": personalize(rendered.text, values),
            "size_kb": size / 1000,
            "clip_kb": GMAIL_CLIP_BYTES / 1000,
            "clipped": size > GMAIL_CLIP_BYTES,
            "form": form,
            "report": preflight(issue),
        }
        return TemplateResponse(request, "admin/newsletter/issue/preview.html", context)

    def send_test(self, request, issue: Issue, to: str) -> bool:
        try:
            send_test_issue(issue, to=to)
        except TestRefused as exc:
            messages.error(request, str(exc))
            return False
        except (AnymailError, smtplib.SMTPException, OSError) as exc:
            messages.error(request, f"The test to {to} was not sent: {exc}")
            return False
        messages.success(request, f"Test of #{issue.number} sent to {to}.")
        return True
