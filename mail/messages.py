"""The one place an outgoing message is made, with its list headers: issue
emails (one per reader, or one for an ESP batch with per-recipient values),
subscriber emails and editors' reminders all come through build_message().

Tests sends use the same path as readers' copies.
"""

from urllib.parse import urlsplit

from anymail.message import AnymailMessage
from django.conf import settings

from mail.links import ReaderLinks
from mail.rendering import PLACEHOLDERS, placeholder

ONE_CLICK = "List-Unsubscribe=One-Click"


def build_message(
    *,
    subject: str,
    text: str,
    html: str,
    from_email: str,
    to: list[str],
    reply_to: str = "",
    headers: dict[str, str] | None = None,
    tags: list[str] | None = None,
) -> AnymailMessage:
    """A text/plain message with its HTML alternative, ready for any backend."""
    extra = {"tags": tags} if tags else {}
    message = AnymailMessage(
        subject=subject,
        body=text,
        from_email=from_email,
        to=to,
        reply_to=[reply_to] if reply_to else None,
        headers=headers or {},
        **extra,
    )
    message.attach_alternative(html, "text/html")
    return message


def newsletter_message(newsletter, **fields) -> AnymailMessage:
    """A message from a newsletter's own sender, with its reply-to."""
    return build_message(from_email=newsletter.from_email, reply_to=newsletter.reply_to, **fields)


# -- List headers ----------------------------------------------------------------


def list_id(newsletter) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"{newsletter.name} <{newsletter.slug}.{host}>"


def common_headers(newsletter) -> dict[str, str]:
    """The list headers every reader's copy shares."""
    return {"List-Id": list_id(newsletter), "List-Unsubscribe-Post": ONE_CLICK}


def personal_headers(values: dict[str, str]) -> dict[str, str]:
    """The list headers of one reader's copy (RFC 8058 one-click unsubscribe)."""
    return {"List-Unsubscribe": f"<{values['one_click_url']}>"}


def list_headers(newsletter, values: dict[str, str]) -> dict[str, str]:
    """Every list header of one reader's copy."""
    return {**common_headers(newsletter), **personal_headers(values)}


# -- Per-recipient values ----------------------------------------------------------


def recipient_values(subscription, links: ReaderLinks | None = None) -> dict[str, str]:
    """The per-recipient parts of an email for one subscription (pass `links`
    when making them for many readers)."""
    unsubscribe_url, one_click_url, preferences_url = (links or ReaderLinks())(subscription)
    return {
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "one_click_url": one_click_url,
        "recipient_key": "",
    }


def personalize(text: str, values: dict[str, str]) -> str:
    for name in PLACEHOLDERS:
        text = text.replace(placeholder(name), values.get(name, ""))
    return text


def esp_placeholders(text: str, syntax: str) -> str:
    """Our [[name]] placeholders in an ESP's merge syntax, e.g. "%recipient.{}%"."""
    for name in PLACEHOLDERS:
        text = text.replace(placeholder(name), syntax.format(name))
    return text
