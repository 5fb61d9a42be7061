"""Tracked links: /l/<link token>/<recipient key>/ counts a click and sends the
reader on to the link's stored URL (never one taken from the request).

What counts: a reader's first click on a link of an issue that was sent to
them. A second click by the same reader, a click through a link without its
reader key (on a newsletter that tracks readers, every emailed link has one),
and any click on a draft's or a test email's link send the reader on and
count nothing: none of them can be told from someone inflating the figures.
Newsletters that do not track readers count every click, as they cannot tell.
"""

from django.utils import timezone

from mail.tokens import read_link_token, read_recipient_key
from newsletter.models import Click, Delivery, Link


def record_click(token: str, key: str | None = None, *, count: bool = True) -> str | None:
    """Count a click (unless not `count`) and return the link's stored URL; None
    when the link or its reader key is not one we made (forged, altered, or for
    another issue).

    An empty key is a reader slot nobody filled: a preview or test email, whose
    clicks would only blur the issue's figures, so they are not counted.
    """
    link_id = read_link_token(token)
    link = Link.objects.filter(pk=link_id).select_related("section__issue__newsletter").first()
    if link is None:
        return None
    issue = link.section.issue
    delivery = None
    if key:
        delivery = Delivery.objects.filter(pk=read_recipient_key(key), issue=issue.pk).first()
        if delivery is None:
            return None
    if key == "" or not issue.is_public or not count:
        return link.url  # a test email's or a draft's link, or not a click
    now = timezone.now()
    if not issue.newsletter.per_subscriber_tracking:
        Click.objects.create(link=link, delivery=None, created=now)
    elif delivery is not None:
        _count_once(link, delivery, now)
    return link.url


def _count_once(link: Link, delivery: Delivery, now) -> None:
    if not Click.objects.filter(link=link, delivery=delivery).exists():
        Click.objects.create(link=link, delivery=delivery, created=now)
        delivery.note_first("clicked_at", now)
