from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from subscribers.addresses import mask


class Subscriber(models.Model):
    """A reader. Email is stored normalised (see subscribers.addresses)."""

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=100, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_ip = models.GenericIPAddressField(null=True, blank=True)
    consent_user_agent = models.CharField(max_length=300, blank=True)
    consent_source = models.CharField(max_length=40, blank=True)
    # How the reader agreed, when a client of the API added them as confirmed.
    consent_note = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="subscriber_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def masked_email(self) -> str:
        return mask(self.email)


class Subscription(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        UNSUBSCRIBED = "unsubscribed"
        BOUNCED = "bounced"
        COMPLAINED = "complained"

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="subscriptions"
    )
    newsletter = models.ForeignKey(
        "newsletter.Newsletter", on_delete=models.CASCADE, related_name="subscriptions"
    )
    # Mail goes to confirmed readers; pending ones may still confirm. Every change
    # of status is made by subscribers.subscriptions.
    ACTIVE = (Status.PENDING, Status.CONFIRMED)
    LEFT = (Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED)

    status = models.CharField(max_length=12, choices=Status, default=Status.PENDING)
    created = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    soft_bounces = models.PositiveSmallIntegerField(default=0)
    # When the last confirmation email was handed to the worker: no new one
    # goes while it is recent (subscribers.subscriptions.CONFIRM_AGAIN_AFTER).
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "newsletter"], name="subscription_once"),
        ]
        indexes = [models.Index(fields=["newsletter", "status", "subscriber"])]

    def __str__(self) -> str:
        return f"{self.subscriber} → {self.newsletter} ({self.status})"


class Suppression(models.Model):
    """An erased or suppressed address, kept only as a keyed hash."""

    # Reasons (free text in the column, so other parts may add their own).
    ERASED = "erased"
    BOUNCED = "bounced"
    COMPLAINED = "complained"

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=40)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.reason})"


class MailboxQuota(models.Model):
    """How many confirmation and "already subscribed" emails one mailbox was sent
    in its current day (subscribers.mailbox_quota). The mailbox is kept only as
    a keyed hash; a row is deleted once its day is over."""

    mailbox_hash = models.CharField(max_length=64, unique=True)
    day_started = models.DateTimeField()
    sent = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.mailbox_hash[:12]}… ({self.sent} since {self.day_started:%Y-%m-%d %H:%M})"
