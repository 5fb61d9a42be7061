"""/api/v1/subscribers: every change goes through subscribers.subscriptions
(the one writer of a subscription's status) and subscribers.reader_data."""

from typing import Annotated

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja import Status as Reply

from api import auth, idempotency
from api.paging import DEFAULT_LIMIT, MAX_LIMIT, page
from api.problems import Problem
from api.schemas import (
    Id,
    Slug,
    SubscriberChange,
    SubscriberIn,
    SubscriberOut,
    SubscriberPage,
    Text,
    UnsubscribeIn,
)
from api.schemas import Problem as ProblemDoc
from newsletter.models import Newsletter
from subscribers import addresses, form_limits, reader_data, subscriptions
from subscribers.forms import clean_name
from subscribers.models import Subscriber, Subscription

router = Router(tags=["subscribers"], auth=auth.SUBSCRIBERS)
ERRORS = {code: ProblemDoc for code in (400, 401, 403, 404, 409, 422, 429)}


class SubscriberFilters(Schema):
    newsletter: Slug | None = None
    status: Subscription.Status | None = None
    email: Annotated[Text, Field(max_length=254)] | None = None
    cursor: Annotated[Text, Field(max_length=40)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT


def _subscribers():
    mine = Subscription.objects.select_related("newsletter").order_by("pk")
    return Subscriber.objects.prefetch_related(Prefetch("subscriptions", queryset=mine))


def out(subscriber: Subscriber) -> dict:
    subscriber = _subscribers().get(pk=subscriber.pk)
    return {
        "id": subscriber.pk,
        "email": subscriber.email,
        "name": subscriber.name,
        "created": subscriber.created,
        "consent_at": subscriber.consent_at,
        "consent_source": subscriber.consent_source,
        "subscriptions": [
            {
                "newsletter": s.newsletter.slug,
                "status": s.status,
                "created": s.created,
                "confirmed_at": s.confirmed_at,
                "unsubscribed_at": s.unsubscribed_at,
            }
            for s in subscriber.subscriptions.all()
        ],
    }


def _json(subscriber: Subscriber) -> dict:
    return SubscriberOut.model_validate(out(subscriber)).model_dump(mode="json")


def _newsletters(slugs) -> list[Newsletter]:
    found = {n.slug: n for n in Newsletter.objects.filter(slug__in=slugs)}
    missing = sorted(set(slugs) - set(found))
    if missing:
        raise Problem(422, f"No newsletter {', '.join(missing)}.", kind="unknown-newsletter")
    return [found[slug] for slug in dict.fromkeys(slugs)]


def _consent(request, *, confirmed: bool, reason: str) -> subscriptions.Consent:
    reason = reason.strip()
    if confirmed and not reason:
        raise Problem(
            422,
            "A subscriber added as confirmed needs consent_reason: how they agreed.",
            kind="consent-reason-required",
        )
    return subscriptions.Consent(
        source="api",
        ip=form_limits.client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        note=f"{reason} (by {request.auth.user.get_username()})" if reason else "",
    )


def _join(subscriber: Subscriber | None, email: str, newsletters, *, confirmed, consent, name):
    """Subscribe to each: at once when `confirmed`, else by double opt-in
    (the confirmation email goes). Never an address suppressed here."""
    blocking = None if confirmed else subscriptions.BLOCKING_REASONS
    if subscriptions.is_suppressed(email, reasons=blocking):
        raise Problem(
            409,
            "This address is suppressed here (it bounced, complained or was erased): "
            "only the reader can bring it back, through the signup form.",
            kind="suppressed",
        )
    for newsletter in newsletters:
        if confirmed:
            subscriber = subscriber or Subscriber.objects.get_or_create(email=email)[0]
            subscriptions.subscribe_proven(subscriber, newsletter, consent=consent)
        else:
            subscriptions.subscribe(newsletter, email=email, name=name, consent=consent)


@router.get("", response={200: SubscriberPage, **ERRORS}, summary="List subscribers")
def subscriber_list(request, filters: Query[SubscriberFilters]):
    found = _subscribers()
    if filters.newsletter or filters.status:
        mine = {"subscriptions__newsletter__slug": filters.newsletter}
        mine |= {"subscriptions__status": filters.status}
        found = found.filter(**{k: v for k, v in mine.items() if v}).distinct()
    if filters.email:
        found = found.filter(email__iexact=filters.email.strip())
    rows, cursor = page(found, cursor=filters.cursor, limit=filters.limit)
    return {"items": [out(row) for row in rows], "next_cursor": cursor}


@router.post("", response={200: SubscriberOut, 201: SubscriberOut, **ERRORS})
def subscriber_create(request, data: SubscriberIn):
    """Double opt-in by default: the subscriptions wait, pending, for the click
    in the confirmation email this sends. With `confirmed` and a
    `consent_reason`, subscribed at once. 201 for a new address, 200 for one
    already here. Send an Idempotency-Key header to make a retry safe."""
    return idempotency.respond(request, lambda: _create(request, data))


def _create(request, data: SubscriberIn) -> tuple[int, dict]:
    newsletters = _newsletters(data.newsletters)
    try:
        email = addresses.normalise(data.email)
    except addresses.InvalidAddress as exc:
        raise Problem(422, str(exc), kind="invalid-email") from exc
    name = clean_name(data.name)
    consent = _consent(request, confirmed=data.confirmed, reason=data.consent_reason)
    existing = Subscriber.objects.filter(email__iexact=email).first()
    _join(existing, email, newsletters, confirmed=data.confirmed, consent=consent, name=name)
    subscriber = Subscriber.objects.get(email__iexact=email)
    if data.confirmed and name and name != subscriber.name:
        subscriber.name = name
        subscriber.save(update_fields=["name"])
    return (200 if existing else 201), _json(subscriber)


@router.get("/{subscriber_id}", response={200: SubscriberOut, **ERRORS})
def subscriber_read(request, subscriber_id: Id):
    return out(get_object_or_404(Subscriber, pk=subscriber_id))


@router.patch("/{subscriber_id}", response={200: SubscriberOut, **ERRORS})
def subscriber_update(request, subscriber_id: Id, data: SubscriberChange):
    """Change the name, and the newsletters the reader is on: those left out
    are unsubscribed, new ones get a confirmation email (or, with `confirmed`
    and a `consent_reason`, are subscribed at once)."""
    subscriber = get_object_or_404(Subscriber, pk=subscriber_id)
    if data.name is not None and clean_name(data.name) != subscriber.name:
        subscriber.name = clean_name(data.name)
        subscriber.save(update_fields=["name"])
    if data.newsletters is not None:
        wanted = _newsletters(data.newsletters)
        consent = _consent(request, confirmed=data.confirmed, reason=data.consent_reason)
        current = {s.newsletter_id: s for s in subscriber.subscriptions.all()}
        joining = [
            n
            for n in wanted
            if n.pk not in current or current[n.pk].status not in Subscription.ACTIVE
        ]
        if joining:
            _join(
                subscriber,
                subscriber.email,
                joining,
                confirmed=data.confirmed,
                consent=consent,
                name=subscriber.name,
            )
        keep = {n.pk for n in wanted}
        for newsletter_id, subscription in current.items():
            if newsletter_id not in keep:
                subscriptions.unsubscribe(subscription, reason="API")
    return out(subscriber)


@router.post("/{subscriber_id}/unsubscribe", response={200: SubscriberOut, **ERRORS})
def subscriber_unsubscribe(request, subscriber_id: Id, data: UnsubscribeIn):
    subscriber = get_object_or_404(Subscriber, pk=subscriber_id)
    reason = data.reason.strip() or "API"
    if data.newsletter:
        newsletter = _newsletters([data.newsletter])[0]
        subscription = get_object_or_404(Subscription, subscriber=subscriber, newsletter=newsletter)
        subscriptions.unsubscribe(subscription, reason=reason)
    else:
        subscriptions.unsubscribe_all(subscriber, reason=reason)
    return out(subscriber)


@router.delete("/{subscriber_id}", response={204: None, **ERRORS})
def subscriber_erase(request, subscriber_id: Id):
    """Erase everything about the reader, at once (no confirmation email to
    them): only a keyed hash of the address stays, so no import brings it back."""
    reader_data.erase(get_object_or_404(Subscriber, pk=subscriber_id))
    return Reply(204, None)
