"""Engagement tracking: ESP webhooks (delivered, opened, clicked, bounced,
complained) applied to Delivery and Subscription, and tracked links.

Webhooks arrive through anymail's views (mounted under /anymail/ by
webhook_urlpatterns(), which adds the answers anymail leaves to Django: 401
without the WEBHOOK_SECRET basic auth, 400 for a payload it cannot read). One
receiver of anymail's `tracking` signal applies each event once: ESP event ids
are remembered in WebhookEvent, so a replayed webhook changes nothing.
"""

import copy
import functools
import hashlib
import json
import logging
from datetime import datetime

from anymail.exceptions import AnymailConfigurationError, AnymailError
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from newsletter.models import Click, Delivery, Link, WebhookEvent
from newsletter.rendering import placeholder
from subscribers.models import Subscription
from subscribers.tokens import Prekeyed

log = logging.getLogger(__name__)

SOFT_BOUNCE_LIMIT = 3


class _Signer(Prekeyed, signing.Signer):
    """signing.Signer, faster: every reader of an issue gets a recipient key."""


# Signed ids in tracked links: one salt per purpose, "." keeps them URL-friendly.
_link_signer = _Signer(salt="letterpress.newsletter.link", sep=".")
_recipient_signer = _Signer(salt="letterpress.newsletter.recipient", sep=".")


# -- Signed ids ----------------------------------------------------------------


def _unsign_id(signer: signing.Signer, value: str) -> int | None:
    if not value or len(value) > 100:
        return None
    try:
        return int(signer.unsign(value))
    except (signing.BadSignature, ValueError):
        return None


def link_token(link: Link) -> str:
    return _link_signer.sign(str(link.pk))


def read_link_token(token: str) -> int | None:
    """The link id a token was made for; None when forged, altered or truncated."""
    return _unsign_id(_link_signer, token)


def recipient_key(delivery_id: int) -> str:
    """Stands for one reader of one issue in tracked links and feedback answers.

    Takes the id, not the Delivery: the send path has no model instance per reader."""
    return _recipient_signer.sign(str(delivery_id))


def read_recipient_key(key: str) -> int | None:
    return _unsign_id(_recipient_signer, key)


def tracked_href(link: Link, *, per_subscriber: bool) -> str:
    """The link as it appears in the email; [[recipient_key]] is filled per reader."""
    path = reverse("click", args=[link_token(link)])
    if per_subscriber:
        # Built by hand: reverse() would percent-encode the placeholder's brackets.
        # An unfilled key still resolves, to a click without a reader: /l/<token>//
        path += placeholder("recipient_key") + "/"
    return settings.SITE_URL + path


def email_href(link: Link) -> str:
    """A link's href in an issue email (newsletter.rendering.link_href); the web
    version of an issue links directly."""
    newsletter = link.section.issue.newsletter
    if not newsletter.click_tracking:
        return link.url
    return tracked_href(link, per_subscriber=newsletter.per_subscriber_tracking)


# -- Clicks ------------------------------------------------------------------------


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
        _set_first(delivery, "clicked_at", now)
    return link.url


# -- Webhook events ------------------------------------------------------------------


class MalformedWebhook(Exception):
    """The payload could not be read as an ESP event: answered with 400."""


def event_key(event: AnymailTrackingEvent) -> str:
    """The ESP's id for the event, or a digest of the event itself when it has none
    (Postmark gives ids to bounces only): a replay has the same key either way."""
    if event.event_id:
        return _storable(str(event.event_id))[:255]
    raw = json.dumps(event.esp_event, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def event_kind(event: AnymailTrackingEvent) -> str | None:
    """What the event means to us: delivered, opened, clicked, bounce, soft_bounce,
    complaint, unsubscribe; None for events we do not act on."""
    kind = event.event_type
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if kind == EventType.DEFERRED or (
        kind == EventType.BOUNCED and raw.get("Type") == "SoftBounce"  # Postmark
    ):
        return "soft_bounce"
    if kind == EventType.REJECTED and event.reject_reason in (
        RejectReason.BOUNCED,
        RejectReason.INVALID,
    ):
        return "bounce"
    return {
        EventType.DELIVERED: "delivered",
        EventType.OPENED: "opened",
        EventType.CLICKED: "clicked",
        EventType.BOUNCED: "bounce",
        EventType.COMPLAINED: "complaint",
        EventType.UNSUBSCRIBED: "unsubscribe",
    }.get(kind)


def find_delivery(message_id: str, recipient: str) -> Delivery | None:
    bare = message_id.strip().strip("<>")
    return (
        Delivery.objects.filter(
            message_id__in=[message_id, bare, f"<{bare}>"], subscriber__email__iexact=recipient
        )
        .exclude(message_id="")  # rows never sent; and what lets the partial index serve
        .select_related("issue", "subscriber")
        .first()
    )


def record_event(event: AnymailTrackingEvent, *, esp: str) -> bool:
    """Apply one ESP event to its Delivery and Subscription; False when it changed
    nothing (already applied, or not about one of our deliveries)."""
    if not event.recipient or not isinstance(event.recipient, str):
        raise MalformedWebhook("the event names no recipient")
    kind = event_kind(event)
    if kind is None:
        return False
    if not event.message_id or not isinstance(event.message_id, str):
        raise MalformedWebhook(f"the {event.event_type} event has no message id")
    if "\x00" in event.recipient + event.message_id:
        return False  # not an address or a message id we sent
    delivery = find_delivery(event.message_id, event.recipient)
    if delivery is None:
        return False
    with transaction.atomic():
        seen, created = WebhookEvent.objects.get_or_create(
            esp=esp.lower(),
            event_id=event_key(event),
            defaults={"event_type": kind, "delivery": delivery},
        )
        if not created:
            return False
        APPLY[kind](delivery, event.timestamp or timezone.now(), event)
    return True


def _set_first(delivery: Delivery, field: str, when: datetime) -> None:
    """Keep the earliest time, whatever order events arrive in."""
    Delivery.objects.filter(
        Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": when}), pk=delivery.pk
    ).update(**{field: when})


def _subscription(delivery: Delivery):
    return Subscription.objects.filter(
        subscriber_id=delivery.subscriber_id, newsletter_id=delivery.issue.newsletter_id
    )


def _suppress(delivery: Delivery, status: str, when: datetime, reason: str) -> None:
    """Stop mail to this reader at once: the planner sends to confirmed subscriptions
    only, and a signup form will not bring a suppressed address back."""
    from subscribers.subscriptions import suppress

    active = Q(status__in=[Subscription.Status.PENDING, Subscription.Status.CONFIRMED])
    subscription = _subscription(delivery)
    subscription.filter(active).update(status=status, unsubscribed_at=when, reason=reason[:500])
    if status == Subscription.Status.COMPLAINED:
        # A complaint outranks an earlier unsubscribe or bounce (which keep their date).
        subscription.exclude(active).exclude(status=status).update(
            status=status, reason=reason[:500]
        )
    suppress(delivery.subscriber.email, reason=status)


def _reason(event: AnymailTrackingEvent, fallback: str) -> str:
    return _storable(str(event.description or event.mta_response or fallback))


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL, which a remote mail server's answer may carry."""
    return text.replace("\x00", "")


def _delivered(delivery: Delivery, when: datetime, event) -> None:
    _set_first(delivery, "delivered_at", when)
    # A delivery ends a run of soft bounces.
    _subscription(delivery).filter(soft_bounces__gt=0).update(soft_bounces=0)


def _opened(delivery: Delivery, when: datetime, event) -> None:
    _set_first(delivery, "opened_at", when)


def _clicked(delivery: Delivery, when: datetime, event) -> None:
    _set_first(delivery, "clicked_at", when)


def _bounce(delivery: Delivery, when: datetime, event) -> None:
    _set_first(delivery, "bounced_at", when)
    _suppress(delivery, Subscription.Status.BOUNCED, when, _reason(event, "hard bounce"))


def _soft_bounce(delivery: Delivery, when: datetime, event) -> None:
    # ESPs report every retry of a deferred message: one issue counts once.
    earlier = WebhookEvent.objects.filter(delivery=delivery, event_type="soft_bounce")
    if earlier.count() > 1 or delivery.delivered_at:
        return
    subscription = _subscription(delivery).filter(status=Subscription.Status.CONFIRMED).first()
    if subscription is None:
        return
    Subscription.objects.filter(pk=subscription.pk).update(soft_bounces=F("soft_bounces") + 1)
    subscription.refresh_from_db(fields=["soft_bounces"])
    if subscription.soft_bounces >= SOFT_BOUNCE_LIMIT:
        reason = f"{subscription.soft_bounces} soft bounces in a row: {_reason(event, '')}"
        _suppress(delivery, Subscription.Status.BOUNCED, when, reason.rstrip(": "))


def _complaint(delivery: Delivery, when: datetime, event) -> None:
    _set_first(delivery, "complained_at", when)
    _suppress(delivery, Subscription.Status.COMPLAINED, when, _reason(event, "spam complaint"))


def _unsubscribe(delivery: Delivery, when: datetime, event) -> None:
    _subscription(delivery).filter(status=Subscription.Status.CONFIRMED).update(
        status=Subscription.Status.UNSUBSCRIBED,
        unsubscribed_at=when,
        reason=_reason(event, "unsubscribed at the ESP")[:500],
    )


APPLY = {
    "delivered": _delivered,
    "opened": _opened,
    "clicked": _clicked,
    "bounce": _bounce,
    "soft_bounce": _soft_bounce,
    "complaint": _complaint,
    "unsubscribe": _unsubscribe,
}


@receiver(tracking, dispatch_uid="letterpress.tracking")
def on_tracking_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    record_event(event, esp=esp_name)


# -- Webhook endpoints -------------------------------------------------------------


# What anymail's parsers raise on a body that is not the ESP's format; the last
# two for a timestamp no clock can hold (datetime.fromtimestamp).
UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, OSError)


class _ReadablePayload:
    """Mixed into anymail's views: a payload anymail cannot read is the sender's fault."""

    def run_validators(self, request):
        try:
            return super().run_validators(request)
        except UNREADABLE as exc:
            raise MalformedWebhook(f"unreadable payload ({type(exc).__name__})") from exc

    def parse_events(self, request):
        try:
            return super().parse_events(request)
        except (*UNREADABLE, AnymailConfigurationError) as exc:
            raise MalformedWebhook(f"unreadable payload ({type(exc).__name__}: {exc})") from exc


def _authorized(request: HttpRequest) -> bool:
    secrets = get_anymail_setting("webhook_secret", default=[])
    if isinstance(secrets, str):
        secrets = [secrets] if secrets else []
    given = get_request_basic_auth(request) or ""
    return any(constant_time_compare(given, secret) for secret in secrets)


def _unauthorized() -> HttpResponse:
    response = HttpResponse("Webhook credentials missing or wrong.\n", status=401)
    response["WWW-Authenticate"] = 'Basic realm="Letterpress webhooks"'
    return response


def guarded_webhook(view):
    """An anymail webhook view that answers 401 without WEBHOOK_SECRET basic auth,
    400 for a payload it cannot read, and applies a request's events all or not at all."""
    view_class = view.view_class
    checked = type(view_class.__name__, (_ReadablePayload, view_class), {})
    inner = checked.as_view(**view.view_initkwargs)

    @csrf_exempt
    @functools.wraps(inner)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST" and not _authorized(request):
            return _unauthorized()
        try:
            with transaction.atomic():
                return inner(request, *args, **kwargs)
        except (MalformedWebhook, AnymailError) as exc:
            log.warning("webhook %s refused: %s", request.path, exc)
            return HttpResponse(f"Bad webhook payload: {exc}\n", status=400)
        except AnymailConfigurationError as exc:
            log.warning("webhook %s not configured: %s", request.path, exc)
            return HttpResponse("This webhook is not configured here.\n", status=404)

    return guarded


def webhook_urlpatterns() -> tuple[list, str]:
    """anymail's URL patterns (same paths and names), each view guarded."""
    from anymail import urls as anymail_urls

    patterns = []
    for pattern in anymail_urls.urlpatterns:
        guarded = copy.copy(pattern)
        guarded.callback = guarded_webhook(pattern.callback)
        patterns.append(guarded)
    return patterns, anymail_urls.app_name
