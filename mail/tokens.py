"""Every signed token the app makes, and reading them back: one salt per
purpose, so a token made for one purpose (confirm) is refused for another
(unsubscribe), and one lifetime per purpose, written here and nowhere else.

Two kinds. Payload tokens (confirm, unsubscribe, preferences, data, erase) are
exactly those of signing.dumps(), time-stamped: read_token() refuses one older
than its purpose's lifetime. Signed ids (a link in an issue, one reader of one
issue) are a plain Signer's, "."-separated to stay URL-friendly, and never
expire.

Both kinds are read under SECRET_KEY and each SECRET_KEY_FALLBACKS key, so
rotating the key does not break the links already in readers' inboxes.

Every reader of an issue gets their own tokens, so making them is on the
send's hot path: the signer and its HMAC key are made once per purpose, not
per token.
"""

import json
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.translation import ngettext

# -- Lifetimes -----------------------------------------------------------------

CONFIRM_MAX_AGE = timedelta(days=7)
# The latest issue's footer link still works when the next issue arrives, even
# for a quarterly newsletter; an older one offers a fresh link by email.
PREFERENCES_MAX_AGE = timedelta(days=90)
# Links to a reader's data and to erasing it are sent on request, to be used at once.
DATA_MAX_AGE = timedelta(hours=1)
# An unsubscribe link never stops unsubscribing (RFC 8058, and the law, expect
# the link in an old email to work), but the "Resubscribe" button it leads to
# works only this long after the unsubscribe; later, the signup page's double
# opt-in is the way back.
RESUBSCRIBE_WINDOW = timedelta(minutes=30)
# The embedded signup form's time token: a page left open overnight still
# works, a token harvested once does not serve a bot for ever.
EMBED_FORM_MAX_AGE = timedelta(days=1)

MAX_AGE: dict[str, timedelta | None] = {
    "confirm": CONFIRM_MAX_AGE,
    "unsubscribe": None,
    "preferences": PREFERENCES_MAX_AGE,
    "data": DATA_MAX_AGE,
    "erase": DATA_MAX_AGE,
    "embed-form": EMBED_FORM_MAX_AGE,
}


def lifetime_words(purpose: str) -> str:
    """How long a link of this purpose works, as emails and pages say it: "90 days",
    "1 hour", in the language being spoken."""
    age = MAX_AGE[purpose]
    if age.days:
        return ngettext("%(count)d day", "%(count)d days", age.days) % {"count": age.days}
    hours = age.seconds // 3600
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}


SALTS = {
    "confirm": "letterpress.subscribers.confirm",
    "unsubscribe": "letterpress.subscribers.unsubscribe",
    "preferences": "letterpress.subscribers.preferences",
    # A reader's own data: download it, erase it.
    "data": "letterpress.subscribers.data",
    "erase": "letterpress.subscribers.erase",
    # The time token of the embedded signup form (subscribers.embed).
    "embed-form": "letterpress.subscribers.embed-form",
    # Signed ids in issue emails.
    "link": "letterpress.newsletter.link",
    # A link inside an issue's prose (intro, commentary), stored for the issue.
    "prose": "letterpress.newsletter.prose",
    "recipient": "letterpress.newsletter.recipient",
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


class PrekeyedIdSigner(Prekeyed, signing.Signer):
    """The signer of ids in tracked links."""


@lru_cache(maxsize=32)
def signer(salt: str, key: str) -> PrekeyedSigner:
    return PrekeyedSigner(key=key, salt=salt)


@lru_cache(maxsize=8)
def _id_signer(purpose: str, key: str, fallbacks: tuple[str, ...]) -> PrekeyedIdSigner:
    return PrekeyedIdSigner(key=key, salt=SALTS[purpose], sep=".", fallback_keys=list(fallbacks))


def _keys() -> tuple[str, tuple[str, ...]]:
    return settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS)


# signing.JSONSerializer's JSON, with its encoder made once.
_JSON = json.JSONEncoder(separators=(",", ":"))


def clock_stamp() -> str:
    """One read of the clock in a payload token's format, to share between tokens."""
    return signer(SALTS["unsubscribe"], settings.SECRET_KEY).timestamp()


def make_token(purpose: str, payload: dict[str, Any], *, stamp: str | None = None) -> str:
    """signing.dumps(payload, salt=SALTS[purpose]), made with the prekeyed signer;
    `stamp` (clock_stamp()) lets many tokens share one clock read.

    Not compressed: a payload of a few ids gains nothing from zlib, and trying
    took half the time of making a token. signing.loads() reads both kinds, so
    links made with compression, already in inboxes, keep working.
    """
    made_by = signer(SALTS[purpose], settings.SECRET_KEY)
    data = _JSON.encode(payload).encode("latin-1")
    value = f"{signing.b64_encode(data).decode()}:{stamp or made_by.timestamp()}"
    return f"{value}:{made_by.signature(value)}"


def read_token(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a good token younger than its purpose's lifetime (MAX_AGE);
    ExpiredToken when older, BadToken otherwise."""
    if len(token) > 500:
        raise BadToken("too long")
    try:
        payload = signing.loads(token, salt=SALTS[purpose], max_age=MAX_AGE.get(purpose))
    except signing.SignatureExpired as exc:
        # Still signed by us, so its payload is trustworthy: used to offer a fresh link.
        payload = signing.loads(token, salt=SALTS[purpose])
        raise ExpiredToken(payload) from exc
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise BadToken(str(exc)) from exc
    if not isinstance(payload, dict):
        raise BadToken("malformed")
    return payload


# -- Payload tokens ------------------------------------------------------------


def confirm_token(subscription) -> str:
    return make_token("confirm", {"s": subscription.pk, "n": subscription.newsletter_id})


def unsubscribe_token(subscription, *, stamp: str | None = None) -> str:
    payload = {"s": subscription.pk, "n": subscription.newsletter_id}
    return make_token("unsubscribe", payload, stamp=stamp)


def preferences_token(
    subscriber, newsletter_id: int | None = None, *, stamp: str | None = None
) -> str:
    return reader_token("preferences", subscriber, newsletter_id, stamp=stamp)


def reader_token(
    purpose: str, subscriber, newsletter_id: int | None = None, *, stamp: str | None = None
) -> str:
    """A token naming a reader (not one subscription): preferences, data or erase.
    `newsletter_id`: the newsletter whose email carries the link, whose language
    the reader's pages then speak."""
    payload = {"p": subscriber.pk}
    if newsletter_id is not None:
        payload["n"] = newsletter_id
    return make_token(purpose, payload, stamp=stamp)


# -- Signed ids ----------------------------------------------------------------


def _sign_id(purpose: str, pk: int) -> str:
    return _id_signer(purpose, *_keys()).sign(str(pk))


def _unsign_id(purpose: str, value: str) -> int | None:
    if not value or len(value) > 100:
        return None
    try:
        return int(_id_signer(purpose, *_keys()).unsign(value))
    except (signing.BadSignature, ValueError):
        return None


def link_token(link) -> str:
    """Stands for one link of an issue in its tracked URL."""
    return _sign_id("link", link.pk)


def read_link_token(token: str) -> int | None:
    """The link id a token was made for; None when forged, altered or truncated."""
    return _unsign_id("link", token)


def prose_link_token(prose_link) -> str:
    """Stands for one stored link of an issue's prose (intro, commentary) in its
    tracked URL: the same /l/ URLs as link_token's, told apart by the salt."""
    return _sign_id("prose", prose_link.pk)


def read_prose_link_token(token: str) -> int | None:
    return _unsign_id("prose", token)


def recipient_key(delivery_id: int) -> str:
    """Stands for one reader of one issue in tracked links and feedback answers.

    Takes the id, not the Delivery: the send path has no model instance per reader."""
    return _sign_id("recipient", delivery_id)


def read_recipient_key(key: str) -> int | None:
    return _unsign_id("recipient", key)
