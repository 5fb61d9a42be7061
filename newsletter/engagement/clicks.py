"""Tracked links: /l/<link token>/<recipient key>/ counts a click and sends the
reader on to the link's stored URL (never one taken from the request)."""

from django.utils import timezone

from mail.tokens import read_link_token, read_recipient_key
from newsletter.models import Click, Delivery, Link


def record_click(token: str, key: str | None = None) -> str | None:
    """Count a click and return the link's stored URL; None when the link or its
    reader key is not one we made (forged, altered, or for another issue).

    An empty key is a reader slot nobody filled: a preview or test email, whose
    clicks would only blur the issue's figures, so they are not counted.
    """
    link_id = read_link_token(token)
    link = Link.objects.filter(pk=link_id).select_related("section__issue__newsletter").first()
    if link is None:
        return None
    if key == "":
        return link.url
    delivery = None
    if key:
        delivery = Delivery.objects.filter(
            pk=read_recipient_key(key), issue=link.section.issue_id
        ).first()
        if delivery is None:
            return None
    if not link.section.issue.newsletter.per_subscriber_tracking:
        delivery = None
    now = timezone.now()
    Click.objects.create(link=link, delivery=delivery, created=now)
    if delivery is not None:
        delivery.note_first("clicked_at", now)
    return link.url
