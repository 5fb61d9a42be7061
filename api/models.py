from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A user's key to the REST API (api.tokens). Only a SHA-256 digest of the
    secret is kept: the token is shown once, when it is made."""

    class Scope(models.TextChoices):
        READ = "read", "read: newsletters, issues and the link inbox"
        SUBSCRIBERS = "subscribers", "subscribers: read, add, change, unsubscribe, erase"
        AUTHORING = "authoring", "authoring: draft issues, add links to the inbox"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What uses it, for you.")
    scopes = models.JSONField(default=list)
    prefix = models.CharField(max_length=16, editable=False, help_text="Its first characters.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user}, {', '.join(self.scopes)})"


class IdempotentRequest(models.Model):
    """A create made with an Idempotency-Key: the same key and body again get
    the stored answer instead of a second create (api.idempotency)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)  # None while the first one runs
    body = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status or 'running'})"
