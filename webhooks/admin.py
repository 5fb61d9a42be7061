from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from config import outbound
from config.events import ALL as EVENTS
from webhooks import signing
from webhooks.models import Delivery, Endpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENTS], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Endpoint
        fields = ["url", "description", "events", "enabled"]

    def clean_url(self) -> str:
        """The same public-address guard as every delivery (config.outbound)."""
        url = self.cleaned_data["url"]
        try:
            outbound.checked_target(url)
        except outbound.Refused as exc:
            raise forms.ValidationError(f"Not a target we may send to: {exc}.") from exc
        return url


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "description", "enabled", "failing_since", "log"]
    readonly_fields = ["secret", "previous_secret_until", "failing_since", "disabled_reason"]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = signing.new_secret()
        if obj.enabled:
            obj.disabled_reason = ""
        super().save_model(request, obj, form, change)

    @admin.display(description="Delivery log")
    def log(self, obj: Endpoint):
        url = reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">Deliveries</a>', url)

    @admin.action(description="Rotate the signing secret (the old one signs for a day)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            signing.rotate(endpoint)
        self.message_user(request, f"{queryset.count()} secret(s) rotated.", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: one row per event and endpoint, with its last answer."""

    list_display = [
        "message_id",
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["endpoint", "state", "message__event"]
    list_select_related = ["endpoint", "message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Event")
    def event(self, obj: Delivery) -> str:
        return obj.message.event
