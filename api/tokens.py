"""API tokens: made for a user with scopes, shown once, kept as a digest.

A token is "lp_" and 32 random bytes in URL-safe base64: with that much
entropy a plain SHA-256 digest is as good as a slow password hash, and it can
be looked up by an index. A scope counts only while the token's user is
active and still holds the permissions behind it (SCOPE_PERMISSIONS), so
taking an editor's rights away in the admin takes their tokens' too.
"""

import hashlib
import secrets

from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken

PREFIX = "lp_"
Scope = ApiToken.Scope

SCOPE_PERMISSIONS = {
    Scope.READ: ("newsletter.view_newsletter", "newsletter.view_issue"),
    Scope.SUBSCRIBERS: (
        "subscribers.view_subscriber",
        "subscribers.add_subscriber",
        "subscribers.change_subscriber",
        "subscribers.delete_subscriber",
    ),
    Scope.AUTHORING: ("newsletter.add_issue", "newsletter.add_inboxlink"),
}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(*, user, scopes: list[str], name: str = "") -> tuple[ApiToken, str]:
    """A new token and its secret: the only time the secret is seen."""
    unknown = set(scopes) - set(Scope.values)
    if unknown or not scopes:
        raise ValueError(f"Scopes are some of {', '.join(Scope.values)}.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        scopes=sorted(set(scopes)),
        prefix=secret[:10],
        digest=digest(secret),
    )
    return token, secret


def token_revoke(*, token: ApiToken) -> bool:
    return bool(
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def token_for(secret: str) -> ApiToken | None:
    """The live token with this secret, its user active; None otherwise."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(Q(revoked_at__isnull=True), digest=digest(secret), user__is_active=True)
        .first()
    )
    if token is not None:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def allows(token: ApiToken, scope: str) -> bool:
    return scope in token.scopes and token.user.has_perms(SCOPE_PERMISSIONS[scope])
