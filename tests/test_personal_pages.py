"""Every page behind a reader's link names a reader: it shows their address
masked (the link may have been forwarded with the email) and is never kept by
a browser's or a proxy's cache. The routes are read from the URL conf, so a
new one cannot be left out."""

import pytest
from django.urls import URLResolver, get_resolver, reverse

from mail import tokens
from tests.builders import make_newsletter, make_subscription

pytestmark = pytest.mark.django_db
ADDRESS = "reader@example.com"

# Each route with a token, and the token it takes.
TOKENS = {
    "confirm": lambda s: tokens.confirm_token(s),
    "confirm_resend": lambda s: tokens.confirm_token(s),
    "unsubscribe": lambda s: tokens.unsubscribe_token(s),
    "unsubscribe_one_click": lambda s: tokens.unsubscribe_token(s),
    "preferences": lambda s: tokens.reader_token("preferences", s.subscriber),
    "my_data": lambda s: tokens.reader_token("data", s.subscriber),
    "erase": lambda s: tokens.reader_token("erase", s.subscriber),
}


def patterns(resolver=None):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from patterns(pattern)
        else:
            yield pattern


def token_routes() -> set[str]:
    return {pattern.name for pattern in patterns() if "<str:token>" in str(pattern.pattern)}


def test_every_route_with_a_token_is_checked_here():
    assert token_routes() == set(TOKENS)


@pytest.mark.parametrize("name", sorted(TOKENS))
@pytest.mark.usefixtures("no_rate_limits")
def test_it_is_never_cached_and_shows_the_address_masked(client, name):
    subscription = make_subscription(make_newsletter(), ADDRESS, "pending")
    good = reverse(name, args=[TOKENS[name](subscription)])
    forged = reverse(name, args=["not-a-token"])
    body = "List-Unsubscribe=One-Click"
    form = "application/x-www-form-urlencoded"
    for response in (
        client.get(good),
        client.post(good, body, content_type=form),
        client.get(forged),
        client.post(forged, body, content_type=form),
    ):
        if response.status_code == 405:  # not a page: nothing to keep
            continue
        cache_control = response["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, (name, response)
        if response["Content-Type"].startswith("text/html"):
            assert ADDRESS not in response.text, name
