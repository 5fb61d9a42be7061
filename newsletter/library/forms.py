"""The archive's search form, read from the query string: words, a year and a
source chosen from those the archive has, a page. Anything else (a year
that is not a number, a source never linked, a query too long) is an error
the page shows beside the field; nothing is searched then."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from newsletter.library.search import MAX_QUERY, Query

MAX_PAGE = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search for"),
        required=False,
        max_length=MAX_QUERY,
        widget=forms.TextInput(
            attrs={"inputmode": "search", "enterkeyhint": "search", "autocomplete": "off"}
        ),
    )
    year = forms.TypedChoiceField(
        label=_("Year"),
        required=False,
        coerce=int,
        empty_value=None,
        error_messages={"invalid_choice": _("No issue went out in “%(value)s”: pick a year.")},
    )
    source = forms.ChoiceField(
        label=_("Source"),
        required=False,
        error_messages={"invalid_choice": _("No link in the archive comes from “%(value)s”.")},
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def __init__(self, data, *, years: list[int], sites: list[str]):
        super().__init__(data)
        self.fields["year"].choices = [("", _("Any year"))] + [(y, str(y)) for y in years]
        self.fields["source"].choices = [("", _("Any source"))] + [(s, s) for s in sites]

    def clean_q(self) -> str:
        return _CONTROL.sub(" ", self.cleaned_data["q"]).strip()

    def query(self) -> Query:
        """The valid form's query (call after is_valid())."""
        data = self.cleaned_data
        return Query(text=data["q"], year=data["year"], site=data["source"] or None)

    @property
    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1
