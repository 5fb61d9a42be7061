"""Email addresses: one stored form per mailbox, and a keyed hash of it.

We treat addresses case-insensitively (the local part too: no mail provider
our readers use distinguishes Ann@ from ann@) and store internationalised
domains in their ASCII (punycode) form, so `ann@bücher.de` and
`ANN@xn--bcher-kva.de` are the same subscriber.

Several stored addresses can still reach one mailbox (`ann+news@` and
`ann@`; at Gmail `a.nn@` and `ann@`): mailbox() names that mailbox, for what
limits the mail one mailbox gets.
"""

import re

from django.conf import settings
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from email_validator import EmailNotValidError, validate_email

HASH_SALT = "letterpress.subscribers.address-hash"

# Gmail delivers every dotted spelling of a local part to one mailbox, and
# googlemail.com is the same service: a ten-letter name has 512 spellings.
DOTS_IGNORED = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


class InvalidAddress(ValueError):
    """Not an email address; the message says why, in words a reader understands."""


def normalise(raw: str) -> str:
    """The stored form of an address, or InvalidAddress.

    Syntax only (email-validator, no DNS): a typo'd domain is caught by the
    confirmation email never being confirmed.
    """
    candidate = (raw or "").strip()
    if not candidate:
        raise InvalidAddress("Enter an email address.")
    try:
        info = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    return f"{info.local_part.lower()}@{info.ascii_domain.lower()}"


# email-validator explains a refusal in English. The mistakes readers make
# most, found by how its explanation starts, in sentences our catalogues translate.
_EXPLANATIONS = (
    ("Enter an email address.", _("Enter an email address.")),
    ("An email address must have an @-sign.", _("An email address must have an @-sign.")),
    ("There must be something before the @-sign.", _("There must be something before the @-sign.")),
    ("There must be something after the @-sign.", _("There must be something after the @-sign.")),
    (
        "The part after the @-sign is not valid. It should have a period.",
        _("The part after the @-sign is not valid. It should have a period."),
    ),
    (
        "An email address cannot have two periods",
        _("An email address cannot have two periods in a row."),
    ),
    (
        "An email address cannot start with a period",
        _("An email address cannot start with a period."),
    ),
    ("An email address cannot end with a period", _("An email address cannot end with a period.")),
    (
        "An email address cannot have a period immediately",
        _("An email address cannot have a period right next to the @-sign."),
    ),
    (
        "The email address contains invalid characters before the @-sign",
        _("The part before the @-sign has characters an email address cannot have."),
    ),
    (
        "The part after the @-sign contains invalid characters",
        _("The part after the @-sign has characters an email address cannot have."),
    ),
    (
        "A display name and angle brackets",
        _("Enter the address alone, without a name or angle brackets."),
    ),
)


def reader_words(exc: InvalidAddress) -> str:
    """Why an address was refused, in the language being spoken: on an English
    page email-validator's own words (they may name the characters at fault);
    in another language our sentence for that mistake, or a general one."""
    explanation = str(exc)
    if translation.get_language() == "en":
        return explanation
    for start, words in _EXPLANATIONS:
        if explanation.startswith(start):
            return str(words)
    return gettext("This is not a valid email address.")


def is_valid(raw: str) -> bool:
    try:
        normalise(raw)
    except InvalidAddress:
        return False
    return True


def mailbox(email: str) -> str:
    """The mailbox a normalised address reaches: without its +tag, and at Gmail
    without dots. A key for counting, never an address to store or to mail."""
    local, _, domain = email.rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in DOTS_IGNORED:
        local, domain = local.replace(".", ""), DOTS_IGNORED[domain]
    return f"{local}@{domain}"


def address_hash(email: str, *, secret: str | None = None) -> str:
    """A keyed hash (HMAC-SHA256, key derived from SECRET_KEY) of a normalised address.

    Kept after erasure instead of the address: it can tell "this address was
    erased" without being reversible by anyone who lacks the key.
    """
    return salted_hmac(HASH_SALT, email, secret=secret, algorithm="sha256").hexdigest()


def address_hashes(email: str) -> list[str]:
    """The hash under the current key and under each SECRET_KEY_FALLBACKS key,
    so that rotating the key does not forget who was suppressed."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [address_hash(email, secret=secret) for secret in secrets]


# Anything shaped like an address inside a text, e.g. an ESP's error message.
ADDRESS_IN_TEXT = re.compile(r"[^\s<>()\[\]'\",;:]+@[^\s<>()\[\]'\",;:]+")


def mask_in_text(text: str) -> str:
    """`text` with every address in it masked."""
    return ADDRESS_IN_TEXT.sub(lambda match: mask(match.group()), text)


def mask(email: str) -> str:
    """`an…@example.com`: enough for the owner to recognise, little for a passer-by."""
    local, _, domain = email.partition("@")
    shown = local[:2] if len(local) > 3 else local[:1]
    return f"{shown}…@{domain}"
