"""Subscribers in the admin: search by address or name, filter by status and
newsletter (with counts), CSV import and export, erasure on request."""

import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from newsletter.models import Newsletter
from subscribers import addresses, reader_data
from subscribers.exporting import csv_lines
from subscribers.forms import clean_name
from subscribers.importing import import_csv
from subscribers.models import Subscriber, Subscription, Suppression

Status = Subscription.Status
SHOWN_ERRORS = 500


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    extra = 0
    fields = ("newsletter", "status", "created", "confirmed_at", "unsubscribed_at", "reason")
    readonly_fields = ("created", "confirmed_at", "unsubscribed_at")


class SubscriberForm(forms.ModelForm):
    """Addresses typed in the admin are stored in the same normalised form as signups."""

    class Meta:
        model = Subscriber
        fields = [
            "email",
            "name",
            "consent_at",
            "consent_ip",
            "consent_user_agent",
            "consent_source",
        ]

    def clean_email(self) -> str:
        try:
            return addresses.normalise(self.cleaned_data["email"])
        except addresses.InvalidAddress as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_name(self) -> str:
        """The signup form's rule: a name goes into every email's greeting."""
        return clean_name(self.cleaned_data["name"])


class ImportForm(forms.Form):
    newsletter = forms.ModelChoiceField(Newsletter.objects.all())
    file = forms.FileField(
        label="CSV file",
        help_text="An export of Mailchimp, Substack, Beehiiv, Kit, Buttondown, Ghost, listmonk "
        "or Curated as it is, or a header line naming the columns: email,name[,status].",
    )
    confirmed = forms.BooleanField(
        required=False,
        label="Active readers are confirmed",
        help_text="Only if you hold their consent; otherwise they are imported as pending. "
        "Readers who left the other tool, bounced or never confirmed there are never confirmed.",
    )
    atomic = forms.BooleanField(
        required=False, label="All or nothing", help_text="Import nothing if any line is bad."
    )
    # The mapping, for a file whose header no format recognises.
    email_column = forms.CharField(
        required=False,
        max_length=100,
        label="Email column",
        help_text="Only for a file we do not recognise: the header of its address column.",
    )
    name_column = forms.CharField(required=False, max_length=100, label="Name column")
    status_column = forms.CharField(
        required=False,
        max_length=100,
        label="Status column",
        help_text="Its values must be ours: active, pending, confirmed, unsubscribed, bounced, "
        "complained.",
    )
    date_column = forms.CharField(required=False, max_length=100, label="Subscription date column")

    def mapping(self) -> dict[str, str] | None:
        columns = {
            ours: self.cleaned_data[f"{ours}_column"].strip().lower()
            for ours in ("email", "name", "status", "date")
        }
        return {ours: theirs for ours, theirs in columns.items() if theirs} or None

    def clean(self):
        data = super().clean()
        mapped = any(data.get(f"{ours}_column") for ours in ("name", "status", "date"))
        if mapped and not data.get("email_column"):
            self.add_error("email_column", "A mapping must name the email column.")
        return data


class ExportForm(forms.Form):
    newsletter = forms.ModelChoiceField(Newsletter.objects.all())
    status = forms.ChoiceField(choices=[("", "Every status"), *Status.choices], required=False)


def counts_per_newsletter() -> list[dict]:
    """One row per newsletter: its name and the number of subscriptions in each status."""
    per_status = {
        status: Count("subscriptions", filter=Q(subscriptions__status=status))
        for status in Status.values
    }
    rows = Newsletter.objects.order_by("name").values("pk", "name").annotate(**per_status)
    return [
        {"pk": row["pk"], "name": row["name"], "cells": [(s, row[s]) for s in Status.values]}
        for row in rows
    ]


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    list_display = ("email", "name", "newsletters", "created")
    list_filter = ("subscriptions__status", "subscriptions__newsletter", "consent_source")
    search_fields = ("email", "name")
    show_facets = admin.ShowFacets.ALWAYS
    readonly_fields = ("created",)
    fieldsets = (
        (None, {"fields": ("email", "name", "created")}),
        (
            "Consent",
            {
                "fields": (
                    "consent_at",
                    "consent_ip",
                    "consent_user_agent",
                    "consent_source",
                )
            },
        ),
    )
    inlines = [SubscriptionInline]
    actions = ["erase"]
    change_list_template = "subscribers/admin/subscriber_change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("subscriptions__newsletter")

    @admin.display(description="Subscriptions")
    def newsletters(self, obj: Subscriber) -> str:
        return ", ".join(f"{s.newsletter.name} ({s.status})" for s in obj.subscriptions.all())

    @admin.action(description="Erase selected subscribers (keeps only a keyed hash)")
    def erase(self, request, queryset):
        if not self.has_delete_permission(request):
            raise PermissionDenied
        erased = 0
        for subscriber in queryset:
            reader_data.erase(subscriber)
            erased += 1
        self.message_user(request, f"Erased {erased} subscribers.", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        extra = {"counts": counts_per_newsletter(), "statuses": Status.values}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def get_urls(self):
        own = [
            path(
                "import/", self.admin_site.admin_view(self.import_view), name="subscribers_import"
            ),
            path(
                "export/", self.admin_site.admin_view(self.export_view), name="subscribers_export"
            ),
        ]
        return own + super().get_urls()

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            stream = io.TextIOWrapper(
                upload.file, encoding="utf-8-sig", errors="replace", newline=""
            )
            report = import_csv(
                stream,
                form.cleaned_data["newsletter"],
                confirmed=form.cleaned_data["confirmed"],
                atomic=form.cleaned_data["atomic"],
                mapping=form.mapping(),
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import subscribers",
            "form": form,
            "report": report,
            "errors": report.errors[:SHOWN_ERRORS] if report else [],
            "more_errors": max(0, len(report.errors) - SHOWN_ERRORS) if report else 0,
        }
        return TemplateResponse(request, "subscribers/admin/import.html", context)

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ExportForm(request.GET or None)
        if form.is_bound and form.is_valid():
            newsletter = form.cleaned_data["newsletter"]
            status = form.cleaned_data["status"] or None
            response = StreamingHttpResponse(
                csv_lines(newsletter, status=status), content_type="text/csv; charset=utf-8"
            )
            name = f"{newsletter.slug}-{status or 'all'}-{timezone.now():%Y-%m-%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Export subscribers",
            "form": form,
        }
        return TemplateResponse(request, "subscribers/admin/export.html", context)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("subscriber", "newsletter", "status", "created", "confirmed_at", "reason")
    list_filter = ("status", "newsletter")
    search_fields = ("subscriber__email", "subscriber__name")
    show_facets = admin.ShowFacets.ALWAYS
    list_select_related = ("subscriber", "newsletter")
    raw_id_fields = ("subscriber",)
    readonly_fields = ("created",)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Only hashes are stored; searching for an address hashes it first."""

    list_display = ("__str__", "reason", "created")
    list_filter = ("reason",)
    search_fields = ("email_hash",)
    search_help_text = "Enter a full email address to see whether it is suppressed."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term:
            try:
                hashes = addresses.address_hashes(addresses.normalise(term))
            except addresses.InvalidAddress:
                return queryset.none(), False
            return queryset.filter(email_hash__in=hashes), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
