"""Tracked links: /l/<link token>/<recipient key>/ counts a click and sends the
reader on to the link's stored URL (never one taken from the request). The
token stands for a link's title (Link) or a link in the issue's prose
(ProseLink, stored when the email was rendered); the salt tells them apart.

What counts: a reader's first click on a link of an issue that was sent to
them. A second click by the same reader, a click through a link without its
reader key (on a newsletter that tracks readers, every emailed link has one),
and any click on a draft's or a test email's link send the reader on and
count nothing: none of them can be told from someone inflating the figures.
Newsletters that do not track readers count every click, as they cannot tell.

Scanners: the mail scanners of companies and the link previewers of chat apps
open every link of an email, often seconds after it arrives. A click is a
scanner's, kept apart with the reason (Click.kind, Click.reason), when
- it is a HEAD (a browser GETs),
- its user agent names a known scanner or previewer (SCANNER_AGENTS),
- or the reader's key opened BURST_LINKS different links of the issue within
  BURST_WINDOW (or two, when within EARLY of the email's sending): the
  clicks of that burst already counted as human become the scanner's too.
A scanner's click is counted once per reader and link, apart from the
reader's own, and never makes the reader one who clicked (Delivery.clicked_at).
"""

import re
from datetime import timedelta

from django.db.models import Min, Q
from django.utils import timezone

from mail.tokens import read_link_token, read_prose_link_token, read_recipient_key
from newsletter.models import Click, Delivery, Issue, Link, ProseLink

# Names in the User-Agent of mail scanners, link previewers and scripts: not a
# reader's browser. Matched case-insensitively anywhere in the header.
SCANNER_AGENTS = {
    "safelinks": "Microsoft Safe Links",
    "microsoft office": "Microsoft Office link check",
    "ms-office": "Microsoft Office link check",
    "defender": "Microsoft Defender",
    "proofpoint": "Proofpoint",
    "mimecast": "Mimecast",
    "barracuda": "Barracuda",
    "google-safety": "Google Safe Browsing",
    "googleimageproxy": "Gmail image proxy",
    "slackbot": "Slack preview",
    "twitterbot": "X/Twitter preview",
    "facebookexternalhit": "Facebook preview",
    "linkedinbot": "LinkedIn preview",
    "discordbot": "Discord preview",
    "whatsapp": "WhatsApp preview",
    "telegrambot": "Telegram preview",
    "skypeuripreview": "Skype preview",
    "bingpreview": "Bing preview",
    "curl/": "curl",
    "wget/": "wget",
    "python-requests": "Python script",
    "python-urllib": "Python script",
    "go-http-client": "Go script",
    "headlesschrome": "headless browser",
}
_AGENTS = re.compile("|".join(re.escape(name) for name in SCANNER_AGENTS), re.IGNORECASE)

BURST_LINKS = 3
BURST_WINDOW = timedelta(seconds=2)
EARLY = timedelta(seconds=30)
BURST = f"{BURST_LINKS} or more links within {BURST_WINDOW.seconds} s"
EARLY_BURST = f"2 links within {BURST_WINDOW.seconds} s, {EARLY.seconds} s or less after sending"


def scanner_agent(user_agent: str) -> str | None:
    """The scanner a User-Agent names, or None: "Proofpoint"."""
    found = _AGENTS.search(user_agent or "")
    return SCANNER_AGENTS[found.group(0).lower()] if found else None


def _target(token: str) -> tuple[Issue, str, dict] | None:
    """(issue, stored URL, the Click's target field) of a link or prose token."""
    link_id = read_link_token(token)
    if link_id is not None:
        link = Link.objects.filter(pk=link_id).select_related("section__issue__newsletter").first()
        return (link.section.issue, link.url, {"link": link}) if link else None
    prose_id = read_prose_link_token(token)
    if prose_id is not None:
        prose = ProseLink.objects.filter(pk=prose_id).select_related("issue__newsletter").first()
        return (prose.issue, prose.url, {"prose": prose}) if prose else None
    return None


def record_click(
    token: str, key: str | None = None, *, head: bool = False, user_agent: str = ""
) -> str | None:
    """Count a click and return the link's stored URL; None when the link or
    its reader key is not one we made (forged, altered, or for another issue).

    An empty key is a reader slot nobody filled: a preview or test email, whose
    clicks would only blur the issue's figures, so they are not counted.
    """
    found = _target(token)
    if found is None:
        return None
    issue, url, target = found
    delivery = None
    if key:
        delivery = Delivery.objects.filter(pk=read_recipient_key(key), issue=issue.pk).first()
        if delivery is None:
            return None
    if key == "" or not issue.is_public:
        return url  # a test email's or a draft's link
    reason = "HEAD request" if head else scanner_agent(user_agent)
    now = timezone.now()
    if not issue.newsletter.per_subscriber_tracking:
        kind = Click.Kind.SCANNER if reason else Click.Kind.HUMAN
        Click.objects.create(**target, delivery=None, created=now, kind=kind, reason=reason or "")
    elif delivery is not None:
        _count_once(target, delivery, now, reason)
    return url


def _count_once(target: dict, delivery: Delivery, now, reason: str | None) -> None:
    """One click per reader, link and kind. Recorded before the burst is judged,
    so that of racing requests the last one to judge sees them all."""
    kind = Click.Kind.SCANNER if reason else Click.Kind.HUMAN
    if Click.objects.filter(**target, delivery=delivery, kind=kind).exists():
        return
    Click.objects.create(**target, delivery=delivery, created=now, kind=kind, reason=reason or "")
    burst = _burst(delivery, now)
    if burst:
        # The burst's clicks so far, the reader's and an earlier, smaller burst's.
        Click.objects.filter(
            Q(kind=Click.Kind.HUMAN) | Q(reason=EARLY_BURST),
            delivery=delivery,
            created__gte=now - BURST_WINDOW,
        ).update(kind=Click.Kind.SCANNER, reason=burst)
        _first_human_click(delivery)
    elif not reason:
        delivery.note_first("clicked_at", now)


def _burst(delivery: Delivery, now) -> str | None:
    """Why this reader key's latest clicks are a scanner's, or None."""
    recent = Click.objects.filter(delivery=delivery, created__gte=now - BURST_WINDOW)
    links = recent.values("link", "prose").distinct().count()
    if links >= BURST_LINKS:
        return BURST
    if links >= 2 and delivery.sent_at and now - delivery.sent_at <= EARLY:
        return EARLY_BURST
    return None


def _first_human_click(delivery: Delivery) -> None:
    """clicked_at from the reader's own clicks only, once a burst is set apart."""
    first = delivery.clicks.filter(kind=Click.Kind.HUMAN).aggregate(first=Min("created"))["first"]
    Delivery.objects.filter(pk=delivery.pk).update(clicked_at=first)
