"""The link inbox in the admin: the list of links collected for each
newsletter, and the page that collects them, on our own origin so the editor's
session applies: a bookmarklet opens it with the page's URL filled in, and
many URLs can be pasted at once. Adding needs the inbox's add permission; the
page is an ordinary admin form (CSRF-protected); the work is
newsletter.curation.inbox."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from newsletter.curation.inbox import NOTE_MAX, inbox_add, urls_in
from newsletter.models import InboxLink, Newsletter


class CaptureForm(forms.Form):
    newsletter = forms.ModelChoiceField(queryset=Newsletter.objects.all(), empty_label=None)
    urls = forms.CharField(
        label="Links",
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 90}),
        help_text="One or many, one per line.",
    )
    note = forms.CharField(
        required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2, "cols": 90})
    )

    def clean_urls(self) -> list[str]:
        return urls_in(self.cleaned_data["urls"])


def bookmarklet(capture_url: str) -> str:
    """A bookmark that opens the capture page with the page being read filled in."""
    return (
        "javascript:void(window.open('"
        + capture_url
        + "?url='+encodeURIComponent(location.href),'letterpress','width=720,height=560'))"
    )


@admin.register(InboxLink)
class InboxLinkAdmin(admin.ModelAdmin):
    list_display = ("shown", "source", "newsletter", "note", "added_at", "page_error")
    list_filter = ("newsletter",)
    search_fields = ("title", "url", "note", "source")
    fields = ("newsletter", "url", "title", "source", "summary", "note", "page_error")
    readonly_fields = ("newsletter", "url", "page_error")

    @admin.display(description="Link", ordering="title")
    def shown(self, entry: InboxLink) -> str:
        return entry.title or entry.url

    def get_urls(self):
        view = self.admin_site.admin_view(self.capture_view)
        return [path("capture/", view, name="newsletter_inboxlink_capture"), *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect(reverse("admin:newsletter_inboxlink_capture"))

    def changelist_view(self, request, extra_context=None):
        capture = request.build_absolute_uri(reverse("admin:newsletter_inboxlink_capture"))
        extra = {"bookmarklet": bookmarklet(capture), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def capture_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {"urls": request.GET.get("url", "")[:20000], "note": request.GET.get("note", "")}
        newsletters = Newsletter.objects.all()
        if newsletters.count() == 1:
            initial["newsletter"] = newsletters.get()
        form = CaptureForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            added, again = 0, 0
            try:
                for url in data["urls"]:
                    _, created = inbox_add(
                        newsletter=data["newsletter"], url=url, note=data["note"], by=request.user
                    )
                    added, again = added + created, again + (not created)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                already = f"; {again} already there" if again else ""
                messages.success(
                    request,
                    f"{added} link{'s' if added != 1 else ''} added to "
                    f"{data['newsletter'].name}'s inbox{already}. Titles are read from the pages.",
                )
                return redirect(reverse("admin:newsletter_inboxlink_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add to the link inbox",
            "form": form,
        }
        return TemplateResponse(request, "admin/newsletter/inboxlink/capture.html", context)
