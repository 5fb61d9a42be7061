"""Correcting a link of an issue that readers already hold: the one way past
the freeze of a sent issue's content (models.IssueFrozen), taken on purpose by
an editor with the `correct_link` permission, and recorded.

Readers' tracked links (/l/…) name the link, not its URL, so a correction
re-points the copies already in inboxes, as well as the archive and the feed:
that is what it is for (a moved or mistyped page), and why it is on the record.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from newsletter.library import index
from newsletter.models import Link, LinkCorrection
from newsletter.validators import validate_http_url

CORRECT_PERMISSION = "newsletter.correct_link"
MAX_URL = Link._meta.get_field("url").max_length


def correct_link(link: Link, *, url: str, reason: str, by) -> LinkCorrection:
    """Point `link` at `url`. ValidationError, keyed by "url" or "reason", and
    nothing changed, for a bad URL, the same URL or an empty reason;
    PermissionDenied for a user without the permission."""
    if not by.has_perm(CORRECT_PERMISSION):
        raise PermissionDenied("You may not correct links of sent issues.")
    url, reason = url.strip(), reason.strip()
    try:
        if len(url) > MAX_URL:
            raise ValidationError(f"Use at most {MAX_URL} characters.")
        URLValidator(schemes=["http", "https"])(url)
        validate_http_url(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from exc
    if not reason:
        raise ValidationError({"reason": "Say why the link changes: the record keeps it."})
    with transaction.atomic():
        current = Link.objects.select_for_update().get(pk=link.pk)
        if current.url == url:
            raise ValidationError({"url": "The link already points there."})
        correction = LinkCorrection.objects.create(
            link=current, old_url=current.url, new_url=url, reason=reason[:300], corrected_by=by
        )
        # An update, not save(): save() refuses every change to a sent issue.
        Link.objects.filter(pk=link.pk).update(url=url)
        index.forget_issue_of(current)  # the archive's entry may name the new URL's site
    link.url = url
    return correction
