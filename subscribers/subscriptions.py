"""Subscribing, confirming, leaving and coming back (a reader's own data,
and erasing it, are subscribers.reader_data).

Every change of a subscription's status happens here, and nowhere else: the
reader's own actions, the ESP's reports (bounces, complaints, soft bounces,
unsubscribes at the ESP) and the rules of an import. Each is a conditional
UPDATE where two clicks, two tabs or a webhook could race: the row count says
who won. Emails are enqueued with transaction.on_commit, so a web request
never waits for the ESP and a rolled-back change sends nothing.

The signup form hands its request to the worker whole (request_subscription),
so the page does the same work whatever the address's state and its timing
tells nothing; subscribe() decides there what goes to the mailbox.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from config import events
from config.queue import enqueue
from mail import tokens
from newsletter.models import Newsletter
from subscribers import addresses, form_limits, mailbox_quota
from subscribers.models import Subscriber, Subscription, Suppression

logger = logging.getLogger(__name__)
Status = Subscription.Status
ACTIVE = Subscription.ACTIVE

# The signup form's request, decided by the worker (subscribers.tasks).
SUBSCRIBE = "subscribers.subscribe"
# Subscriber emails, sent by the worker.
SEND_CONFIRM = "subscribers.send_confirm"
SEND_WELCOME = "subscribers.send_welcome"
SEND_ALREADY_SUBSCRIBED = "subscribers.send_already_subscribed"
SEND_READER_LINK = "subscribers.send_reader_link"

# Emails that a reader's own links may make us send to their mailbox in an
# hour (a fresh link, a confirmation to come back): the reader holds the link,
# but so may whoever they forwarded an issue to.
LINK_EMAILS_PER_HOUR = 3

# No new confirmation email while the last one is younger than this (its link
# lives 7 days): a double click or a bot gets the link already on its way, as
# does a reader whose inbox is slow (the signup page says to wait this long).
CONFIRM_AGAIN_AFTER = timedelta(minutes=10)

# Soft bounces in a row (no delivery between) that make a reader bounced.
SOFT_BOUNCE_LIMIT = 3

# Mailing these again hurts every reader's deliverability, so neither a signup
# form nor a link that once reached the mailbox overrides them; only a click in
# a fresh confirmation email does.
BLOCKING_REASONS = (Suppression.BOUNCED, Suppression.COMPLAINED)


@dataclass(frozen=True)
class Consent:
    """Where a subscription request came from (kept as the subscriber's consent record)."""

    source: str
    ip: str | None = None
    user_agent: str = ""
    note: str = ""  # how the reader agreed, when someone else records it (the API)


# -- suppression -------------------------------------------------------------


def is_suppressed(email: str, *, reasons: tuple[str, ...] | None = None) -> bool:
    """Is this (normalised) address on the suppression list, for any or the given reasons?"""
    found = Suppression.objects.filter(email_hash__in=addresses.address_hashes(email))
    if reasons is not None:
        found = found.filter(reason__in=reasons)
    return found.exists()


def suppress(email: str, *, reason: str) -> None:
    """Remember an address as a keyed hash only; the first reason recorded stays."""
    Suppression.objects.get_or_create(
        email_hash=addresses.address_hash(email), defaults={"reason": reason}
    )


def lift_suppression(email: str) -> None:
    Suppression.objects.filter(email_hash__in=addresses.address_hashes(email)).delete()


# -- signing up --------------------------------------------------------------


def request_subscription(newsletter: Newsletter, *, email: str, name: str, consent: Consent):
    """The signup form's part: hand the request to the worker (subscribe()),
    without reading anything about the address."""
    _after_commit(SUBSCRIBE, newsletter.pk, email, name, asdict(consent))


def subscribe(newsletter: Newsletter, *, email: str, name: str = "", consent: Consent) -> str:
    """Double opt-in signup. Says which email goes out: "confirm",
    "already_subscribed" or "nothing" (a suppressed or bounced address, a
    confirmation still recent, a mailbox that had its day's share).
    """
    email = addresses.normalise(email)
    if is_suppressed(email, reasons=BLOCKING_REASONS):
        return "nothing"
    with transaction.atomic():
        subscriber, _ = Subscriber.objects.get_or_create(email=email)
        subscription, created = Subscription.objects.get_or_create(
            subscriber=subscriber, newsletter=newsletter
        )
        if created:
            _announce(events.SUBSCRIBER_CREATED, subscription)
        if subscription.status == Status.CONFIRMED:
            if not mailbox_quota.take(email):
                return "nothing"
            _after_commit(SEND_ALREADY_SUBSCRIBED, subscription.pk)
            return "already_subscribed"
        if subscription.status in (Status.BOUNCED, Status.COMPLAINED):
            return "nothing"
        Subscription.objects.filter(pk=subscription.pk, status=Status.UNSUBSCRIBED).update(
            status=Status.PENDING
        )
        _record_request(subscriber, name=name, consent=consent)
        return "confirm" if _send_confirmation(subscription, email) else "nothing"


def _record_request(subscriber: Subscriber, *, name: str, consent: Consent) -> None:
    """Consent record and name, unless the address ever proved it is theirs
    (a confirmation, even of a newsletter since left): then a stranger typing it
    into the form must not rename the reader or rewrite their consent."""
    if subscriber.subscriptions.filter(confirmed_at__isnull=False).exists():
        return
    subscriber.name = name or subscriber.name
    _set_consent(subscriber, consent)
    subscriber.save(update_fields=["name", *CONSENT_FIELDS])


CONSENT_FIELDS = [
    "consent_at",
    "consent_ip",
    "consent_user_agent",
    "consent_source",
    "consent_note",
]


def _set_consent(subscriber: Subscriber, consent: Consent) -> None:
    subscriber.consent_at = timezone.now()
    subscriber.consent_ip = consent.ip
    # A header may carry NUL, which PostgreSQL text cannot hold.
    subscriber.consent_user_agent = consent.user_agent.replace("\x00", "")[:300]
    subscriber.consent_source = consent.source[:40]
    subscriber.consent_note = consent.note.replace("\x00", "")[:300]


def resend_confirmation(subscription: Subscription) -> bool:
    """A fresh confirmation link (the old one expired); only while still pending."""
    if subscription.status != Status.PENDING:
        return False
    return _send_confirmation(subscription, subscription.subscriber.email)


def _send_confirmation(subscription: Subscription, email: str) -> bool:
    """Every confirmation email goes through here: none while the last one is
    recent (CONFIRM_AGAIN_AFTER), and none past the mailbox's daily quota."""
    now = timezone.now()
    recent = now - CONFIRM_AGAIN_AFTER
    if subscription.confirmation_sent_at and subscription.confirmation_sent_at > recent:
        return False
    if not mailbox_quota.take(email):
        return False
    # Conditional: of two requests racing for one subscription, one sends (the
    # other's share of the quota stays spent: too few emails, never too many).
    claimed = (
        Subscription.objects.filter(pk=subscription.pk)
        .filter(Q(confirmation_sent_at__isnull=True) | Q(confirmation_sent_at__lte=recent))
        .update(confirmation_sent_at=now)
    )
    if claimed:
        _after_commit(SEND_CONFIRM, subscription.pk)
    return bool(claimed)


def confirm(subscription: Subscription) -> bool:
    """Pending → confirmed, once: two clicks or two tabs get one welcome email."""
    return _mark_confirmed(subscription, allowed_from=[Status.PENDING])


def _mark_confirmed(subscription: Subscription, *, allowed_from: list[str]) -> bool:
    changed = Subscription.objects.filter(pk=subscription.pk, status__in=allowed_from).update(
        status=Status.CONFIRMED, confirmed_at=timezone.now(), unsubscribed_at=None, reason=""
    )
    if not changed:
        return False
    _announce(events.SUBSCRIBER_CONFIRMED, subscription)
    # A click in the mailbox is proof of ownership and of intent: whatever
    # suppressed this address before (an erasure, an old bounce) is over.
    lift_suppression(subscription.subscriber.email)
    if subscription.newsletter.welcome_enabled:
        _after_commit(SEND_WELCOME, subscription.pk)
    subscription.refresh_from_db(fields=["status", "confirmed_at", "unsubscribed_at", "reason"])
    return True


# -- leaving and coming back -------------------------------------------------


def unsubscribe(subscription: Subscription, *, reason: str = "") -> bool:
    """Stop mailing this subscription; False when it was not active (already left)."""
    changed = Subscription.objects.filter(pk=subscription.pk, status__in=ACTIVE).update(
        status=Status.UNSUBSCRIBED, unsubscribed_at=timezone.now(), reason=reason.strip()[:500]
    )
    subscription.refresh_from_db(fields=["status", "unsubscribed_at", "reason"])
    if changed:
        _announce(events.SUBSCRIBER_UNSUBSCRIBED, subscription)
    return bool(changed)


def unsubscribe_all(subscriber: Subscriber, *, reason: str = "") -> int:
    leaving = Subscription.objects.filter(subscriber=subscriber, status__in=ACTIVE)
    return sum(unsubscribe(subscription, reason=reason) for subscription in leaving)


def _just_unsubscribed() -> Q:
    since = timezone.now() - tokens.RESUBSCRIBE_WINDOW
    return Q(status=Status.UNSUBSCRIBED, unsubscribed_at__gte=since)


def can_resubscribe(subscription: Subscription) -> bool:
    """Does the page that confirmed an unsubscribe still offer to undo it?"""
    return Subscription.objects.filter(_just_unsubscribed(), pk=subscription.pk).exists()


def resubscribe(subscription: Subscription) -> str:
    """Undo an unsubscribe from the page that confirmed it, within
    tokens.RESUBSCRIBE_WINDOW of the unsubscribe: the link never stops
    unsubscribing, so it must not bring a reader back for ever after.

    "confirmed": back at once, without a second welcome email. "confirm": a
    confirmation email is on its way instead, for a subscription never
    confirmed or an address that bounced or complained ("too_many": not now).
    "nothing": too late, or not unsubscribed.
    """
    if subscription.confirmed_at and not _needs_fresh_opt_in(subscription):
        changed = Subscription.objects.filter(_just_unsubscribed(), pk=subscription.pk).update(
            status=Status.CONFIRMED, unsubscribed_at=None, reason=""
        )
        subscription.refresh_from_db(fields=["status", "unsubscribed_at", "reason"])
        if changed:
            _announce(events.SUBSCRIBER_CONFIRMED, subscription)
            return "confirmed"
    else:
        outcome = _ask_to_confirm(subscription, _just_unsubscribed())
        if outcome != "nothing":
            return outcome
    subscription.refresh_from_db(fields=["status"])
    return "confirmed" if subscription.status == Status.CONFIRMED else "nothing"


# -- coming back after a bounce or a complaint -----------------------------------


def _needs_fresh_opt_in(subscription: Subscription) -> bool:
    """Bounced, complained, or an address suppressed for either: only a click in
    a fresh confirmation email brings it back (confirm() then lifts the
    suppression), never a link that reached the mailbox before."""
    if subscription.status in (Status.BOUNCED, Status.COMPLAINED):
        return True
    return is_suppressed(subscription.subscriber.email, reasons=BLOCKING_REASONS)


def may_email_from_link(email: str) -> bool:
    """Count one email asked for through a reader's link; False past the hour's cap."""
    return form_limits.allow(
        "link-email", email, limit=LINK_EMAILS_PER_HOUR, window=3600, always=True
    )


def _ask_to_confirm(subscription: Subscription, only: Q) -> str:
    """Back to pending, with a confirmation email: "confirm". "too_many" when
    the mailbox had enough emails from links this hour, "nothing" when the
    subscription is not (or no longer) `only`; both change nothing."""
    mine = Subscription.objects.filter(only, pk=subscription.pk)
    if not mine.exists():
        return "nothing"
    if not may_email_from_link(subscription.subscriber.email):
        return "too_many"
    if not mine.update(status=Status.PENDING):
        return "nothing"
    subscription.refresh_from_db(fields=["status"])
    _send_confirmation(subscription, subscription.subscriber.email)
    return "confirm"


# -- the preferences page ----------------------------------------------------


def speaking_for(subscriber: Subscriber) -> Newsletter | None:
    """The newsletter in whose look, from whose sender and in whose language a
    reader's own link comes when nothing names one: the one they confirmed
    last, else the one they joined last, else the first public one."""
    subscription = (
        subscriber.subscriptions.select_related("newsletter")
        .order_by(F("confirmed_at").desc(nulls_last=True), "-created")
        .first()
    )
    if subscription is not None:
        return subscription.newsletter
    return Newsletter.objects.filter(is_public=True).order_by("name").first()


def preference_newsletters(subscriber: Subscriber) -> list[Newsletter]:
    """Every public newsletter, plus any unlisted one this reader is on."""
    return list(
        Newsletter.objects.filter(Q(is_public=True) | Q(subscriptions__subscriber=subscriber))
        .distinct()
        .order_by("name")
    )


def update_preferences(
    subscriber: Subscriber,
    *,
    name: str,
    wanted: set[int],
    offered: list[Newsletter],
    consent: Consent,
) -> dict[Newsletter, str]:
    """Apply the preferences form: ticked → confirmed, unticked → unsubscribed.

    The signed link was mailed to this address, so ticking a newsletter
    confirms it directly (no second round trip through the mailbox), unless
    it needs a fresh opt-in (see subscribe_proven). A pending subscription
    left unticked stays pending. The ticked newsletters not confirmed at once,
    with subscribe_proven's outcome.
    """
    if name != subscriber.name:
        subscriber.name = name
        subscriber.save(update_fields=["name"])
    current = {s.newsletter_id: s for s in subscriber.subscriptions.all()}
    waiting = {}
    for newsletter in offered:
        subscription = current.get(newsletter.pk)
        if newsletter.pk in wanted and (
            not subscription or subscription.status != Status.CONFIRMED
        ):
            outcome = subscribe_proven(subscriber, newsletter, consent=consent)
            if outcome != "confirmed":
                waiting[newsletter] = outcome
        elif (
            newsletter.pk not in wanted and subscription and subscription.status == Status.CONFIRMED
        ):
            unsubscribe(subscription, reason="preferences page")
    return waiting


def subscribe_proven(subscriber: Subscriber, newsletter: Newsletter, *, consent: Consent) -> str:
    """Subscribe an address that proved itself (a signed link mailed to it):
    "confirmed". A subscription that bounced or complained, or an address
    suppressed for either, needs a fresh opt-in instead: it waits, pending,
    for a click in the confirmation email this sends ("confirm"; "too_many"
    changes nothing)."""
    subscription, created = Subscription.objects.get_or_create(
        subscriber=subscriber, newsletter=newsletter
    )
    if created:
        _announce(events.SUBSCRIBER_CREATED, subscription)
    _set_consent(subscriber, consent)
    subscriber.save(update_fields=CONSENT_FIELDS)
    if _needs_fresh_opt_in(subscription):
        outcome = _ask_to_confirm(subscription, ~Q(status=Status.CONFIRMED))
        return "confirmed" if outcome == "nothing" else outcome  # confirmed meanwhile
    _mark_confirmed(subscription, allowed_from=[s for s in Status if s != Status.CONFIRMED])
    return "confirmed"


def email_reader_link(
    subscriber: Subscriber, *, purpose: str, newsletter: Newsletter | None = None
) -> bool:
    """Email the reader a fresh link of theirs (preferences, data, erase: see
    mail.links.READER_PAGES), from `newsletter` (the one the page asking for it
    came from) or speaking_for()'s; False, sending nothing, past the hour's cap."""
    if not may_email_from_link(subscriber.email):
        return False
    newsletter_id = newsletter.pk if newsletter else None
    _after_commit(SEND_READER_LINK, subscriber.pk, purpose, newsletter_id)
    return True


def _announce(event: str, subscription: Subscription) -> None:
    """Tell the webhooks (config.events) what just happened to this subscription."""
    row = (
        Subscription.objects.filter(pk=subscription.pk)
        .values("subscriber_id", "subscriber__email", "newsletter__slug", "status")
        .first()
    )
    if row:
        subscriber = {"id": row["subscriber_id"], "email": row["subscriber__email"]}
        data = {"subscriber": subscriber, "newsletter": row["newsletter__slug"]}
        events.emit(event, data | {"status": row["status"]})


def _after_commit(task_name: str, *args) -> None:
    transaction.on_commit(partial(_enqueue, task_name, *args))


def _enqueue(task_name: str, *args) -> None:
    """The change is committed either way; with the broker down the reader
    gets no email (they can ask again) rather than an error page. (The
    arguments stay out of the log: a signup's carry the address.)"""
    try:
        enqueue(task_name, *args)
    except OperationalError:
        logger.exception("Could not enqueue %s", task_name)


# -- what the ESP reports ------------------------------------------------------


def _of(subscriber_id: int, newsletter_id: int):
    return Subscription.objects.filter(subscriber_id=subscriber_id, newsletter_id=newsletter_id)


def stop_mail(
    subscriber: Subscriber, *, newsletter_id: int, status: str, when: datetime, reason: str
) -> None:
    """A hard bounce or a complaint: stop mail to this reader at once. The
    planner sends to confirmed subscriptions only, and a signup form will not
    bring a suppressed address back."""
    assert status in (Status.BOUNCED, Status.COMPLAINED), status
    subscription = _of(subscriber.pk, newsletter_id)
    changed = subscription.filter(status__in=ACTIVE).update(
        status=status, unsubscribed_at=when, reason=reason[:500]
    )
    if status == Status.COMPLAINED:
        # A complaint outranks an earlier unsubscribe or bounce (which keep their date).
        changed += (
            subscription.exclude(status__in=ACTIVE)
            .exclude(status=status)
            .update(status=status, reason=reason[:500])
        )
    suppress(subscriber.email, reason=status)
    if changed:
        kind = (
            events.SUBSCRIBER_COMPLAINED
            if status == Status.COMPLAINED
            else events.SUBSCRIBER_BOUNCED
        )
        _announce(kind, subscription.get())


def count_soft_bounce(
    subscriber: Subscriber, *, newsletter_id: int, when: datetime, detail: str
) -> None:
    """One more soft bounce in a row; SOFT_BOUNCE_LIMIT of them make the reader bounced."""
    subscription = _of(subscriber.pk, newsletter_id).filter(status=Status.CONFIRMED).first()
    if subscription is None:
        return
    Subscription.objects.filter(pk=subscription.pk).update(soft_bounces=F("soft_bounces") + 1)
    subscription.refresh_from_db(fields=["soft_bounces"])
    if subscription.soft_bounces >= SOFT_BOUNCE_LIMIT:
        reason = f"{subscription.soft_bounces} soft bounces in a row: {detail}"
        stop_mail(
            subscriber,
            newsletter_id=newsletter_id,
            status=Status.BOUNCED,
            when=when,
            reason=reason.rstrip(": "),
        )


def end_soft_bounces(*, subscriber_id: int, newsletter_id: int) -> None:
    """A delivery ends a run of soft bounces."""
    _of(subscriber_id, newsletter_id).filter(soft_bounces__gt=0).update(soft_bounces=0)


def unsubscribe_at_esp(
    *, subscriber_id: int, newsletter_id: int, when: datetime, reason: str
) -> None:
    """The reader unsubscribed through the ESP's own link or page."""
    subscription = _of(subscriber_id, newsletter_id)
    if subscription.filter(status=Status.CONFIRMED).update(
        status=Status.UNSUBSCRIBED, unsubscribed_at=when, reason=reason[:500]
    ):
        _announce(events.SUBSCRIBER_UNSUBSCRIBED, subscription.get())


# -- the rules of an import ------------------------------------------------------


def import_target(current: str, wanted: str) -> str | None:
    """Where an existing subscription goes when an import names a status: a
    reader's own unsubscribe, a bounce or a complaint is never undone by an
    import; a confirmed one is not demoted to pending; an old tool's
    unsubscribe or bounce is honoured. None: it stays as it is."""
    if current not in ACTIVE or current == wanted:
        return None
    if wanted not in ACTIVE or (current == Status.PENDING and wanted == Status.CONFIRMED):
        return wanted
    return None


def _status_fields(status: str, now: datetime) -> dict:
    fields = {"status": status}
    if status == Status.CONFIRMED:
        fields["confirmed_at"] = now
    elif status not in ACTIVE:
        fields["unsubscribed_at"] = now
    return fields


def import_new(newsletter: Newsletter, statuses: dict[int, str], *, batch_size: int) -> int:
    """Subscriptions for subscribers (id → status) who have none to this newsletter
    yet; a reader signing up meanwhile is not an error. The number created."""
    now = timezone.now()
    new = [
        Subscription(
            subscriber_id=subscriber_id, newsletter=newsletter, **_status_fields(status, now)
        )
        for subscriber_id, status in statuses.items()
    ]
    Subscription.objects.bulk_create(new, batch_size=batch_size, ignore_conflicts=True)
    return len(new)


def import_moves(newsletter: Newsletter, moves: dict[tuple[str, str], list[int]]) -> int:
    """Apply grouped import moves ((from, to) → subscriber ids); the number moved.

    Conditional: a reader who unsubscribed meanwhile is not overwritten."""
    now = timezone.now()
    moved = 0
    for (before, after), subscriber_ids in moves.items():
        moved += Subscription.objects.filter(
            newsletter=newsletter, subscriber_id__in=subscriber_ids, status=before
        ).update(**_status_fields(after, now))
    return moved
