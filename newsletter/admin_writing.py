"""The issue page as a workbench, mixed into IssueAdmin (newsletter/admin.py)
as WritingAdminMixin, with its forms' parts:

- a link row asks for its URL and commentary; title and source come from the
  page (newsletter.curation.filling) after the save, and a title left blank
  never wipes one that arrived meanwhile;
- links pasted into a section, and links moved in from the newsletter's inbox;
- Preview, Send and Schedule save the page first (the issue page's script), and
  a save over someone else's newer one is refused with a clear message;
- the number filled in from the newsletter picked; "start from the last issue";
- a sent issue's page links to its stats.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from newsletter.admin_sending import local_time
from newsletter.curation.filling import fill_later
from newsletter.curation.inbox import inbox_move, links_from_urls, urls_in
from newsletter.curation.next_issue import issue_from_last
from newsletter.models import InboxLink, Issue, IssueFrozen, Newsletter, Section

# Where "save first" may lead after the save: the issue page's buttons.
CONTINUE_TO = {
    "preview": "admin:newsletter_issue_preview",
    "send": "admin:newsletter_issue_sending_send",
    "schedule": "admin:newsletter_issue_sending_schedule",
}
INBOX_FIELD = "inbox-"


class FilledFromPage(forms.ModelForm):
    """Mixed into the link form: blank title and source wait for the page."""

    def _kept(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if value or "url" in self.changed_data or self.instance.pk is None:
            return value
        return getattr(self.instance, name)  # filled in from the page since the form was shown

    def clean_title(self) -> str:
        return self._kept("title")

    def clean_source(self) -> str:
        return self._kept("source")

    def save(self, commit=True):
        link = super().save(commit=False)
        url_changed = "url" in self.changed_data
        if url_changed:
            link.page_error = link.summary = ""
        if commit:
            link.save()
            if url_changed and not (link.title and link.source):
                fill_later(link)
        return link


class LinkFromPage:
    """Mixed into the link inline: what the page gave, or why it gave nothing."""

    @admin.display(description="From the page")
    def from_the_page(self, link) -> str:
        if link.pk is None or not link.url:
            return "Title and source are read from the page when you save."
        if link.page_error:
            return format_html("Not read from the page: {}. Type them in.", link.page_error)
        if not link.title:
            return "Reading the page… reload in a moment to see its title."
        if link.summary:
            return format_html("The page says: “{}”", link.summary)
        return "—"


class SectionForm(forms.ModelForm):
    paste = forms.CharField(
        label="Add links",
        required=False,
        max_length=20000,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "cols": 90,
                "placeholder": "Paste links here, one per line: each becomes a link below, "
                "titled from its page when you save.",
            }
        ),
    )

    def clean_paste(self) -> list[str]:
        return urls_in(self.cleaned_data.get("paste", ""))


class VersionedIssueForm(forms.ModelForm):
    """Mixed into the issue form: the version the editor opened, checked on save."""

    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["version"] = version_of(self.instance.updated)

    def clean(self):
        data = super().clean()
        # The issue page always sends the version; a hand-made POST without it is not checked.
        if self.instance.pk is None or self.add_prefix("version") not in self.data:
            return data
        # Locked until the save commits (PostgreSQL): two saves at once are checked in turn.
        stored = (
            Issue.objects.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("updated", flat=True)
            .first()
        )
        if stored is not None and data.get("version") != version_of(stored):
            # The next save is a deliberate one: it carries the version just seen.
            self.data = self.data.copy()
            self.data[self.add_prefix("version")] = version_of(stored)
            raise ValidationError(
                "Someone else saved this issue at %(when)s, after you opened it, and "
                "your changes are not saved. Open the issue in another tab to see "
                "theirs; Save here again to replace them with yours.",
                code="conflict",
                params={"when": local_time(self.instance, stored)},
            )
        return data


def version_of(updated) -> str:
    return updated.isoformat() if updated else ""


class WritingAdminMixin:
    def get_urls(self):
        view = self.admin_site.admin_view(self.from_last_view)
        return [
            path("from-last/<int:newsletter_id>/", view, name="newsletter_issue_from_last"),
            *super().get_urls(),
        ]

    # -- the page -------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["writing"] = self.writing_context(request, obj)
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def writing_context(self, request, issue: Issue | None) -> dict:
        editable = issue is None or issue.can("edit")
        may_change = self.has_change_permission(request, issue) and editable
        context = {"editable": may_change}
        if issue is None or issue.pk is None:
            newsletters = Newsletter.objects.order_by("name")
            context["next_numbers"] = {n.pk: n.next_issue_number() for n in newsletters}
            context["from_last"] = [
                (n, reverse("admin:newsletter_issue_from_last", args=[n.pk]))
                for n in newsletters
                if n.issues.filter(sections__isnull=False).exists()
            ]
            return context
        if may_change:
            may_send = self.has_send_permission(request, issue)  # SendingAdminMixin's
            context["save_first"] = {
                name: reverse(url, args=[issue.pk])
                for name, url in CONTINUE_TO.items()
                if name == "preview" or may_send
            }
            context["inbox"] = list(InboxLink.objects.filter(newsletter=issue.newsletter_id))
            context["sections"] = list(issue.sections.all())
            context["inbox_field"] = INBOX_FIELD
        if issue.is_public:
            context["stats_url"] = reverse("admin:newsletter_issue_stats", args=[issue.pk])
        return context

    # -- saving ---------------------------------------------------------------------

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for formset in formsets:
            if formset.model is not Section:
                continue
            for section_form in formset.forms:
                urls = getattr(section_form, "cleaned_data", {}).get("paste")
                if urls and section_form.instance.pk and section_form not in formset.deleted_forms:
                    links_from_urls(section=section_form.instance, urls=urls)
        self._move_from_inbox(request, form.instance)

    def _move_from_inbox(self, request, issue: Issue) -> None:
        chosen = {
            key.removeprefix(INBOX_FIELD): value
            for key, value in request.POST.items()
            if key.startswith(INBOX_FIELD) and value
        }
        if not chosen:
            return
        sections = {str(s.pk): s for s in issue.sections.all()}
        entries = InboxLink.objects.filter(newsletter=issue.newsletter_id, pk__in=chosen.keys())
        for section_id, section in sections.items():
            picked = [e for e in entries if chosen.get(str(e.pk)) == section_id]
            if picked:
                inbox_move(entries=picked, section=section)

    def response_change(self, request, obj):
        target = CONTINUE_TO.get(request.POST.get("_continue_to", ""))
        if target and obj.pk is not None:
            return redirect(reverse(target, args=[obj.pk]))
        return super().response_change(request, obj)

    # -- start from the last issue --------------------------------------------------

    def from_last_view(self, request, newsletter_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        newsletter = get_object_or_404(Newsletter, pk=newsletter_id)
        try:
            with transaction.atomic():
                issue = issue_from_last(newsletter=newsletter)
        except (ValidationError, IssueFrozen) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            return redirect(reverse("admin:newsletter_issue_add"))
        messages.success(
            request,
            f"#{issue.number} starts from the last issue's sections, intro and sign-off: "
            "write its subject and paste its links.",
        )
        return redirect(reverse("admin:newsletter_issue_change", args=[issue.pk]))
