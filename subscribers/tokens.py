"""Signed links in emails: one salt per purpose, so a token made for one
purpose (confirm) is refused for another (unsubscribe).

Every reader of an issue gets their own links, so making them is on the send's
hot path: the signer and its HMAC key are made once per purpose (not per
token), and a URL's path is reversed once and filled in per reader. The tokens
and URLs are exactly those of signing.dumps() and reverse().
"""

import json
import re
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import RFC3986_SUBDELIMS

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


class Prekeyed:
    """A django.core.signing signer whose HMAC key is derived once, not for every
    signature (mixed into Signer or TimestampSigner: the same signatures)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._mac = salted_hmac(self.salt + "signer", b"", self.key, algorithm=self.algorithm)

    def signature(self, value, key=None):
        if key is not None and key != self.key:  # a fallback key, when reading
            return super().signature(value, key)
        mac = self._mac.copy()
        mac.update(force_bytes(value))
        return signing.b64_encode(mac.digest()).decode()


class PrekeyedSigner(Prekeyed, signing.TimestampSigner):
    """signing.dumps()'s signer."""


@lru_cache(maxsize=32)
def _signer(salt: str, key: str) -> PrekeyedSigner:
    return PrekeyedSigner(key=key, salt=salt)


# signing.JSONSerializer's JSON, with its encoder made once.
_JSON = json.JSONEncoder(separators=(",", ":"))


def make_token(purpose: str, payload: dict[str, Any], *, stamp: str | None = None) -> str:
    """signing.dumps(payload, salt=SALTS[purpose]), made with the prekeyed signer;
    `stamp` (TimestampSigner.timestamp()) lets many tokens share one clock read.

    Not compressed: a payload of a few ids gains nothing from zlib, and trying
    took half the time of making a token. signing.loads() reads both kinds, so
    links made with compression, already in inboxes, keep working.
    """
    signer = _signer(SALTS[purpose], settings.SECRET_KEY)
    data = _JSON.encode(payload).encode("latin-1")
    value = f"{signing.b64_encode(data).decode()}:{stamp or signer.timestamp()}"
    return f"{value}:{signer.signature(value)}"


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


# Stands for the token while a path is reversed; the converter (<str:token>) takes it.
_SLOT = "token-slot"
# What reverse() leaves unquoted in a path (RFC 3986 pchar); tokens are made of these.
_PCHAR = RFC3986_SUBDELIMS + "/~:@"
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~!$&'()*+,;=:@/-]*")


@lru_cache(maxsize=64)
def _around(name: str, script_prefix: str, urlconf: str) -> tuple[str, str]:
    """The path of URL `name` before and after its one token."""
    before, after = reverse(name, urlconf=urlconf, args=[_SLOT]).split(_SLOT)
    return before, after


def links(*named: tuple[str, str]) -> list[str]:
    """absolute(reverse(name, args=[token])) for each (name, token), without reversing
    each time: the path around the token is reversed once per URL name."""
    prefix, urlconf = get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF
    site = settings.SITE_URL
    urls = []
    for name, token in named:
        before, after = _around(name, prefix, urlconf)
        if not _UNQUOTED.fullmatch(token):
            token = quote(token, safe=_PCHAR)
        urls.append(site + before + token + after)
    return urls


def link(name: str, token: str) -> str:
    return links((name, token))[0]


def confirm_url(subscription) -> str:
    token = make_token("confirm", {"s": subscription.pk, "n": subscription.newsletter_id})
    return link("confirm", token)


def unsubscribe_token(subscription, *, stamp: str | None = None) -> str:
    payload = {"s": subscription.pk, "n": subscription.newsletter_id}
    return make_token("unsubscribe", payload, stamp=stamp)


def unsubscribe_url(subscription) -> str:
    """The visible footer link: GET shows a one-button page, POST acts."""
    return link("unsubscribe", unsubscribe_token(subscription))


def one_click_url(subscription) -> str:
    """The List-Unsubscribe header URL (RFC 8058 one-click POST)."""
    return link("unsubscribe_one_click", unsubscribe_token(subscription))


def preferences_token(subscriber, *, stamp: str | None = None) -> str:
    return make_token("preferences", {"p": subscriber.pk}, stamp=stamp)


def preferences_url(subscriber) -> str:
    return link("preferences", preferences_token(subscriber))


class ReaderLinks:
    """The links every issue email carries, for one reader after another: the
    paths around the tokens are looked up once, not per reader (the URL prefix
    and urlconf sit in context-locals, slow to read)."""

    def __init__(self):
        prefix, urlconf = get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF
        site = settings.SITE_URL
        # (the absolute URL before the token, the rest) for each link
        self.unsubscribe, self.one_click, self.preferences = (
            (site + before, after)
            for before, after in (
                _around(name, prefix, urlconf)
                for name in ("unsubscribe", "unsubscribe_one_click", "preferences")
            )
        )
        self.clock = _signer(SALTS["unsubscribe"], settings.SECRET_KEY)

    def __call__(self, subscription) -> tuple[str, str, str]:
        """(unsubscribe_url, one_click_url, preferences_url): one time stamp for
        both tokens, and both unsubscribe links from one token. Signed tokens
        need no quoting: base64url and colons."""
        stamp = self.clock.timestamp()
        unsubscribe = unsubscribe_token(subscription, stamp=stamp)
        preferences = preferences_token(subscription.subscriber, stamp=stamp)
        return (
            f"{self.unsubscribe[0]}{unsubscribe}{self.unsubscribe[1]}",
            f"{self.one_click[0]}{unsubscribe}{self.one_click[1]}",
            f"{self.preferences[0]}{preferences}{self.preferences[1]}",
        )
