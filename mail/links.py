"""Every URL in an email that carries a token or a token slot, made one way:
the path of a URL name is reversed once with slots for its arguments, then
filled with signed tokens or with [[placeholders]] that are filled per reader
at send time. The URLs are exactly those of SITE_URL + reverse(); placeholders
are placed as they are (reverse() would percent-encode their brackets).
"""

import re
from functools import lru_cache
from urllib.parse import quote

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import RFC3986_SUBDELIMS

from config.deployment import site_url_problem
from mail import tokens
from mail.rendering import PLACEHOLDERS, placeholder

# Stand for the arguments while a path is reversed; every converter takes them.
_SLOT = "token-slot-{}"
# What reverse() leaves unquoted in a path (RFC 3986 pchar); tokens are made of these.
_PCHAR = RFC3986_SUBDELIMS + "/~:@"
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~!$&'()*+,;=:@/-]*")
_PLACEHOLDERS = frozenset(placeholder(name) for name in PLACEHOLDERS)


def site_url_refusal() -> str | None:
    """Why links to SITE_URL may not go out by email now (config.deployment's
    rule for the current settings), or None."""
    return site_url_problem(
        settings.SITE_URL, email_backend=settings.EMAIL_BACKEND, https=settings.HTTPS
    )


@lru_cache(maxsize=64)
def _pieces(name: str, count: int, script_prefix: str, urlconf: str) -> tuple[str, ...]:
    """The path of URL `name` around its `count` arguments: count + 1 pieces."""
    path = reverse(name, urlconf=urlconf, args=[_SLOT.format(i) for i in range(count)])
    return tuple(re.split("|".join(re.escape(_SLOT.format(i)) for i in range(count)), path))


def _context() -> tuple[str, str]:
    """The URL prefix and urlconf: context-locals, slow to read, so read once per call."""
    return get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF


def _part(value: str) -> str:
    if value in _PLACEHOLDERS or _UNQUOTED.fullmatch(value):
        return value
    return quote(value, safe=_PCHAR)


def url(name: str, *args: str) -> str:
    """SITE_URL + reverse(name, args=args), each argument a token, a plain value
    or a [[placeholder]], without reversing each time."""
    pieces = _pieces(name, len(args), *_context())
    filled = [pieces[0]]
    for value, after in zip(args, pieces[1:], strict=True):
        filled += [_part(value), after]
    return settings.SITE_URL + "".join(filled)


def confirm_url(subscription) -> str:
    return url("confirm", tokens.confirm_token(subscription))


def unsubscribe_url(subscription) -> str:
    """The visible footer link: GET shows a one-button page, POST acts."""
    return url("unsubscribe", tokens.unsubscribe_token(subscription))


def one_click_url(subscription) -> str:
    """The List-Unsubscribe header URL (RFC 8058 one-click POST)."""
    return url("unsubscribe_one_click", tokens.unsubscribe_token(subscription))


def preferences_url(subscriber, newsletter=None) -> str:
    """The reader's preferences page, speaking `newsletter`'s language (the
    newsletter whose email carries the link)."""
    return url("preferences", tokens.preferences_token(subscriber, _pk(newsletter)))


# The page each reader token (tokens.reader_token) opens, by purpose.
READER_PAGES = {"preferences": "preferences", "data": "my_data", "erase": "erase"}


def reader_url(purpose: str, subscriber, newsletter=None) -> str:
    """A reader's own page: preferences, the download of their data, erasing it;
    in `newsletter`'s language, as preferences_url."""
    return url(READER_PAGES[purpose], tokens.reader_token(purpose, subscriber, _pk(newsletter)))


def _pk(newsletter) -> int | None:
    return newsletter.pk if newsletter is not None else None


def tracked_href(link, *, per_subscriber: bool, prose: bool = False) -> str:
    """A link as it appears in an issue email: through /l/, with the reader's key
    in its slot when the newsletter tracks readers. An unfilled key still
    resolves, to a click without a reader: /l/<token>//

    `prose`: a stored link of the issue's prose (a ProseLink), not a Link."""
    token = tokens.prose_link_token(link) if prose else tokens.link_token(link)
    if per_subscriber:
        return url("click_reader", token, placeholder("recipient_key"))
    return url("click", token)


def answer_url(answer: str) -> str:
    """A one-click feedback answer in an issue email; the reader's key in its slot."""
    return url("feedback", placeholder("recipient_key"), answer)


class ReaderLinks:
    """The links every issue email carries, for one reader after another: the
    paths around the tokens are looked up once, not per reader."""

    def __init__(self):
        site, context = settings.SITE_URL, _context()
        # (the absolute URL before the token, the rest) for each link
        self.unsubscribe, self.one_click, self.preferences = (
            (site + before, after)
            for before, after in (
                _pieces(name, 1, *context)
                for name in ("unsubscribe", "unsubscribe_one_click", "preferences")
            )
        )

    def __call__(self, subscription) -> tuple[str, str, str]:
        """(unsubscribe_url, one_click_url, preferences_url): one time stamp for
        both tokens, and both unsubscribe links from one token. Signed tokens
        need no quoting: base64url and colons."""
        stamp = tokens.clock_stamp()
        unsubscribe = tokens.unsubscribe_token(subscription, stamp=stamp)
        preferences = tokens.preferences_token(
            subscription.subscriber, subscription.newsletter_id, stamp=stamp
        )
        return (
            f"{self.unsubscribe[0]}{unsubscribe}{self.unsubscribe[1]}",
            f"{self.one_click[0]}{unsubscribe}{self.one_click[1]}",
            f"{self.preferences[0]}{preferences}{self.preferences[1]}",
        )
