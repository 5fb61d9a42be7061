from django import forms
from django.contrib import admin, messages

from api import tokens
from api.models import ApiToken


class TokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made here (the secret is shown once, in the message after
    saving) and revoked; never edited, so a scope cannot quietly grow."""

    form = TokenForm
    list_display = ["prefix", "user", "name", "scopes", "created", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        made, secret = tokens.token_create(
            user=form.cleaned_data["user"],
            scopes=form.cleaned_data["scopes"],
            name=form.cleaned_data["name"],
        )
        obj.pk, obj.prefix = made.pk, made.prefix
        messages.warning(request, f"The new token, shown this once (copy it now): {secret}")

    @admin.action(description="Revoke the selected tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        revoked = sum(tokens.token_revoke(token=token) for token in queryset)
        self.message_user(request, f"{revoked} token(s) revoked.")
