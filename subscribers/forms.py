import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mail.languages import speaking
from subscribers import addresses

REASONS = [
    ("too-many", _("Too many emails")),
    ("not-relevant", _("The content is not relevant to me any more")),
    ("never-signed-up", _("I never signed up for this")),
    ("other", _("Something else")),
]


def clean_name(value: str) -> str:
    """A display name is one line of text: no control characters (nor header
    injection), no line separators, no noncharacters (the emails' MJML cannot
    carry U+FFFE or U+FFFF: the welcome email would fail to render)."""
    value = (value or "").strip()
    if any(_not_text(char) for char in value):
        raise ValidationError(_("A name must be a single line of text."))
    if len(value) > 100:
        raise ValidationError(_("Keep the name under 100 characters."))
    return value


def _not_text(char: str) -> bool:
    code = ord(char)
    noncharacter = 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
    return noncharacter or unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")


class SignupForm(forms.Form):
    email = forms.CharField(
        label=_("Email address"),
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    name = forms.CharField(
        label=_("Name"),
        required=False,
        max_length=100,
        help_text=_("Optional. We use it to greet you."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    # The honeypot: hidden from people (CSS, aria-hidden, no tab stop), filled by bots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def clean_email(self) -> str:
        try:
            return addresses.normalise(self.cleaned_data["email"])
        except addresses.InvalidAddress as exc:
            raise ValidationError(addresses.reader_words(exc)) from exc

    def clean_name(self) -> str:
        return clean_name(self.cleaned_data["name"])


class UnsubscribeForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Would you tell us why? (optional)"),
        choices=REASONS,
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything else? (optional)"),
        required=False,
        max_length=400,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def reason_text(self) -> str:
        """What is stored on the subscription: the choice's label and any comment.
        The label in the site's language whatever the page spoke: editors read
        every reader's reasons side by side."""
        if not self.is_valid():
            return ""
        with speaking(None):  # the site's language
            label = str(dict(REASONS).get(self.cleaned_data["reason"], ""))
        parts = [label, self.cleaned_data["comment"].strip()]
        return ": ".join(part for part in parts if part)


class PreferencesForm(forms.Form):
    name = forms.CharField(label=_("Your name"), required=False, max_length=100)
    newsletters = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())

    def __init__(self, *args, offered=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["newsletters"].choices = [(n.pk, n.name) for n in offered]

    def clean_name(self) -> str:
        return clean_name(self.cleaned_data["name"])
