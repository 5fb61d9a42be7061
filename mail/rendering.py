"""Email templates: Django template → MJML → HTML (mjml-python), plus text.

Per-recipient parts are placeholders written `[[name]]` (see PLACEHOLDERS);
the sending code substitutes them for each reader or hands them to the ESP.
"""

from django.template.loader import render_to_string
from mjml import mjml2html

from mail.text import wrap

# Filled per recipient at send time.
PLACEHOLDERS = ("unsubscribe_url", "preferences_url", "recipient_key")


def placeholder(name: str) -> str:
    assert name in PLACEHOLDERS, name
    return f"[[{name}]]"


class RenderError(Exception):
    """A template or its MJML could not be rendered; the message names what is at fault."""


def mjml_to_html(source: str, *, what: str = "email") -> str:
    try:
        return mjml2html(source)
    except ValueError as exc:
        raise RenderError(f"{what}: MJML error: {exc}") from exc


def render_email(name: str, context: dict) -> tuple[str, str]:
    """(html, text) from templates/emails/<name>.mjml and <name>.txt."""
    html = mjml_to_html(render_to_string(f"emails/{name}.mjml", context), what=name)
    text = wrap(render_to_string(f"emails/{name}.txt", context))
    return html, text
