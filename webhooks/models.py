from django.db import models
from django.utils import timezone

from config.events import ALL as EVENTS


class Endpoint(models.Model):
    """A receiver of our events (Standard Webhooks: webhooks.signing)."""

    url = models.URLField("URL", max_length=2000, help_text="A public https address.")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The events it wants.")
    secret = models.CharField(max_length=100, editable=False)
    # After a rotation the old secret signs too, for a day, so the receiver can switch.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    # Since when every attempt failed (None: the last one worked); a day of
    # that disables the endpoint (webhooks.delivery.DISABLE_AFTER).
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event: str) -> bool:
        return event in self.events


class Message(models.Model):
    """One event, as every endpoint gets it: its id is the webhook-id."""

    id = models.CharField(max_length=40, primary_key=True)
    event = models.CharField(max_length=40, choices=[(e, e) for e in EVENTS])
    timestamp = models.DateTimeField()
    data = models.JSONField()
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.event} {self.id}"


class Delivery(models.Model):
    """One message to one endpoint, tried until it gets a 2xx."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=10, choices=State, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message"], name="webhook_delivery_once"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.message} → {self.endpoint}"
