"""The one place an outgoing message is made, with its list headers: issue
emails (one per reader, or one for an ESP batch with per-recipient values),
subscriber emails and editors' reminders all come through build_message().

Tests sends use the same path as readers' copies.
"""

from email.utils import make_msgid, parseaddr
from functools import lru_cache
from urllib.parse import urlsplit

from anymail.message import AnymailMessage
from django.conf import settings
from django.utils.module_loading import import_string

from config.deployment import sender_problem
from mail.links import ReaderLinks
from mail.rendering import PLACEHOLDERS, placeholder

ONE_CLICK = "List-Unsubscribe=One-Click"

# The one email type that goes to a list; every other is system mail (confirm,
# welcome, already_subscribed, <purpose>_link, reminder), sent because of
# something a person did or is due to do.
ISSUE = "issue"


class SenderRefused(Exception):
    """No real sender is configured: the message would be refused or spoofable."""


def build_message(
    *,
    kind: str,
    subject: str,
    text: str,
    html: str,
    from_email: str,
    to: list[str],
    reply_to: str = "",
    headers: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    newsletter_slug: str = "letterpress",
    campaign: str = "",
) -> AnymailMessage:
    """A text/plain message with its HTML alternative, ready for any backend,
    with the headers of its `kind` (sender_headers) and the ESP's tag and
    metadata; the ESP's own click tracking off where the message can say so
    (our links are tracked already, and a rewrite would break the one-click
    unsubscribe links)."""
    if problem := sender_problem(from_email, email_backend=settings.EMAIL_BACKEND):
        raise SenderRefused(f"Not sent: {problem}")
    message = AnymailMessage(
        subject=subject,
        body=text,
        from_email=from_email,
        to=to,
        reply_to=[reply_to] if reply_to else None,
        headers=taken_by_esp(
            {
                **sender_headers(
                    kind, from_email, newsletter_slug=newsletter_slug, campaign=campaign or kind
                ),
                **(headers or {}),
            }
        ),
        tags=[kind],
        metadata={"type": kind, "newsletter": newsletter_slug, **(metadata or {})},
        **click_tracking_off(),
    )
    message.attach_alternative(html, "text/html")
    return message


# ESPs whose click tracking is set for the account or the domain, not per
# message: anymail refuses every message that says track_clicks to them. Turn
# it off in the ESP's settings instead (the README says so).
CLICK_TRACKING_IN_ACCOUNT = frozenset(
    {"Amazon SES", "Brevo", "Mailtrap", "Postal", "Resend", "Scaleway"}
)


@lru_cache(maxsize=16)
def esp_name(backend: str) -> str:
    """anymail's name of an EMAIL_BACKEND ("Mailgun"), or "" for Django's own."""
    return getattr(import_string(backend), "esp_name", "")


def click_tracking_off() -> dict:
    """The message's click-tracking switch, off, where the ESP takes one."""
    if esp_name(settings.EMAIL_BACKEND) in CLICK_TRACKING_IN_ACCOUNT:
        return {}
    return {"track_clicks": False}


# Headers an ESP sets itself and refuses to take from a message: Mailjet answers
# send-0011 for a message whose Headers name List-Id or Message-ID, and sends
# nothing (anymail reports that recipient "failed" and raises no error).
HEADERS_THE_ESP_SETS = {"Mailjet": frozenset({"list-id", "message-id"})}


def taken_by_esp(headers: dict[str, str]) -> dict[str, str]:
    """The headers, less those the configured ESP refuses from a message."""
    refused = HEADERS_THE_ESP_SETS.get(esp_name(settings.EMAIL_BACKEND), frozenset())
    return {name: value for name, value in headers.items() if name.lower() not in refused}


def newsletter_message(newsletter, **fields) -> AnymailMessage:
    """A message from a newsletter's own sender, with its reply-to."""
    return build_message(
        from_email=newsletter.from_email,
        reply_to=newsletter.reply_to,
        newsletter_slug=newsletter.slug,
        **fields,
    )


# -- Headers -----------------------------------------------------------------------


def sender_domain(from_email: str) -> str:
    """The domain of the From address: the one that signs (DKIM) and aligns (DMARC)."""
    return parseaddr(from_email)[1].rpartition("@")[2].lower()


def sender_headers(
    kind: str, from_email: str, *, newsletter_slug: str, campaign: str
) -> dict[str, str]:
    """The headers a message carries for its kind and sender.

    Feedback-ID (Gmail's complaint loop) is campaign:newsletter:sender, its
    sender the signing domain; an issue is bulk mail (Precedence: bulk keeps
    out-of-office replies from the editor), everything else is
    Auto-Submitted (RFC 3834: no auto-reply to it). The Message-ID is on the
    sender's domain, not this machine's name."""
    domain = sender_domain(from_email)
    headers = {
        "Message-ID": make_msgid(domain=domain),
        "Feedback-ID": f"{campaign}:{newsletter_slug}:{domain}",
    }
    if kind == ISSUE:
        headers["Precedence"] = "bulk"
    else:
        headers["Auto-Submitted"] = "auto-generated"
    return headers


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
