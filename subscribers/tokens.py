"""Signed links in emails: one salt per purpose, so a token made for one
purpose (confirm) is refused for another (unsubscribe)."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

CONFIRM_MAX_AGE = timedelta(days=7)

SALTS = {
    "confirm": "letterpress.subscribers.confirm",
    "unsubscribe": "letterpress.subscribers.unsubscribe",
    "preferences": "letterpress.subscribers.preferences",
}


class BadToken(Exception):
    """Tampered, unknown or made for another purpose."""


class ExpiredToken(BadToken):
    def __init__(self, payload: dict[str, Any]):
        super().__init__("expired")
        self.payload = payload


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return signing.dumps(payload, salt=SALTS[purpose], compress=True)


def read_token(purpose: str, token: str, *, max_age: timedelta | None = None) -> dict[str, Any]:
    """The payload of a good token; BadToken or ExpiredToken otherwise."""
    if len(token) > 500:
        raise BadToken("too long")
    try:
        payload = signing.loads(token, salt=SALTS[purpose], max_age=max_age)
    except signing.SignatureExpired as exc:
        # Still signed by us, so its payload is trustworthy: used to offer a fresh link.
        payload = signing.loads(token, salt=SALTS[purpose])
        raise ExpiredToken(payload) from exc
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise BadToken(str(exc)) from exc
    if not isinstance(payload, dict):
        raise BadToken("malformed")
    return payload


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def confirm_url(subscription) -> str:
    token = make_token("confirm", {"s": subscription.pk, "n": subscription.newsletter_id})
    return absolute(reverse("confirm", args=[token]))


def unsubscribe_token(subscription) -> str:
    return make_token("unsubscribe", {"s": subscription.pk, "n": subscription.newsletter_id})


def unsubscribe_url(subscription) -> str:
    """The visible footer link: GET shows a one-button page, POST acts."""
    return absolute(reverse("unsubscribe", args=[unsubscribe_token(subscription)]))


def one_click_url(subscription) -> str:
    """The List-Unsubscribe header URL (RFC 8058 one-click POST)."""
    return absolute(reverse("unsubscribe_one_click", args=[unsubscribe_token(subscription)]))


def preferences_url(subscriber) -> str:
    return absolute(reverse("preferences", args=[make_token("preferences", {"p": subscriber.pk})]))
