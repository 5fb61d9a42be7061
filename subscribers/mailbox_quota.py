"""A daily cap on the emails the signup form can make us send to one mailbox.

Confirmations and "already subscribed" notes go to whatever address a stranger
types, so without a cap the form floods an inbox from as many IPs as the
stranger has, and earns the sender spam complaints. Each mailbox
(subscribers.addresses.mailbox: +tag, case and Gmail's dots folded into one)
gets SIGNUP_EMAILS_PER_MAILBOX_PER_DAY of them a day. The worker decides what
to send, so the count is in the database, where every worker sees the same
one, under a keyed hash of the mailbox (the current SECRET_KEY's alone: a
rotated key starts every count afresh, which costs at most one day's share).
A mailbox's day starts at its first email, as form_limits' minute does.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from subscribers import addresses
from subscribers.models import MailboxQuota

DAY = timedelta(days=1)


def take(email: str) -> bool:
    """Count one email to this address's mailbox; False, and nothing counted,
    once the mailbox had its day's share."""
    now = timezone.now()
    key = addresses.address_hash(addresses.mailbox(email))
    MailboxQuota.objects.bulk_create(
        [MailboxQuota(mailbox_hash=key, day_started=now)], ignore_conflicts=True
    )
    mine = MailboxQuota.objects.filter(mailbox_hash=key)
    mine.filter(day_started__lte=now - DAY).update(day_started=now, sent=0)
    # Conditional: of two workers racing for the last email, one gets it.
    limit = settings.SIGNUP_EMAILS_PER_MAILBOX_PER_DAY
    return bool(mine.filter(sent__lt=limit).update(sent=F("sent") + 1))


def prune() -> int:
    """Forget the mailboxes whose day is over; how many."""
    deleted, _ = MailboxQuota.objects.filter(day_started__lte=timezone.now() - DAY).delete()
    return deleted
