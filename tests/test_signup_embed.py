"""The signup form on other people's sites (subscribers.embed): the endpoint
that takes their cross-site POSTs, its iframe page, and what the admin shows.
The same-work test covers it too (tests/test_signup.py); Chromium drives it
from another origin in tests/test_browser_embed.py."""

import hashlib
import time
import uuid
from datetime import timedelta
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from subscribers import embed
from subscribers.models import Subscriber
from tests.builders import make_newsletter
from tests.helpers import post_committed

pytestmark = pytest.mark.django_db
CONFIRM = "Confirm your subscription to ML Monthly"
BLOG = "http://127.0.0.1:8001"
EMBED = "/subscribe/ml-monthly/embed/"


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.RATELIMIT_ENABLED = False


@pytest.fixture
def newsletter():
    return make_newsletter(embed_origins=f"{BLOG}\nhttps://Blog.Example.org/")


@pytest.fixture
def cross_site(django_capture_on_commit_callbacks):
    """A POST from another site's page: no CSRF cookie, no token."""
    client = Client(enforce_csrf_checks=True)
    return partial(post_committed, client, django_capture_on_commit_callbacks, EMBED)


def proof_for(email: str, *, at: float | None = None) -> str:
    """What the snippet's script computes, done here the same way."""
    stamp = str(int((at or time.time()) * 1000))
    nonce = 0
    while True:
        digest = hashlib.sha256(f"{stamp}:{nonce}:{email}".encode()).digest()
        if int.from_bytes(digest[:4]) >> (32 - embed.PROOF_BITS) == 0:
            return f"{stamp}:{nonce}"
        nonce += 1


def test_it_subscribes_from_another_sites_form_without_a_csrf_token(
    cross_site, newsletter, mailoutbox
):
    response = cross_site({"email": "ann@example.com", "name": "  Ann  "})
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert [m.subject for m in mailoutbox] == [CONFIRM]
    assert Subscriber.objects.get().consent_source == "embed"


def test_the_plain_signup_page_still_wants_its_csrf_token(newsletter, mailoutbox):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/subscribe/ml-monthly/", {"email": "ann@example.com"})
    assert response.status_code == 403
    assert mailoutbox == []


def test_it_returns_to_next_only_on_a_listed_origin(cross_site, newsletter, mailoutbox):
    thanks = f"{BLOG}/thanks/?from=letterpress"
    response = cross_site({"email": "ann@example.com", "next": thanks})
    assert (response.status_code, response["Location"]) == (302, thanks)
    response = cross_site({"email": "bob@example.com", "next": "https://blog.example.org/t"})
    assert response.status_code == 302
    for elsewhere in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = cross_site({"email": f"{uuid.uuid4().hex[:6]}@example.com", "next": elsewhere})
        assert response.status_code == 200, elsewhere
        assert "Check your inbox" in response.text
    assert len(mailoutbox) == 5


def test_the_iframe_page_may_be_framed_only_by_the_listed_origins(client, newsletter):
    response = client.get(EMBED)
    policy = response["Content-Security-Policy"]
    assert f"frame-ancestors {BLOG} https://blog.example.org;" in policy
    assert "X-Frame-Options" not in response
    assert f"script-src '{embed.PROOF_SCRIPT_HASH}'" in policy
    assert 'name="token"' in response.text

    newsletter.embed_origins = ""
    newsletter.save()
    policy = client.get(EMBED)["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    # Every other page stays unframable.
    assert client.get("/subscribe/ml-monthly/")["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "origins",
    ["https://blog.example.org/path", "javascript:alert(1)", "blog.example.org", "https://a b"],
)
def test_an_origin_list_with_anything_but_origins_is_refused(newsletter, origins):
    newsletter.embed_origins = origins
    with pytest.raises(ValidationError, match="is not an origin"):
        newsletter.full_clean()


def test_a_post_sooner_than_a_person_could_type_is_answered_but_mails_nothing(
    client, cross_site, newsletter, mailoutbox
):
    token = embed.form_token(newsletter)
    response = cross_site({"email": "bot@example.com", "token": token})
    assert "Check your inbox" in response.text
    assert mailoutbox == []
    with freeze_time(timezone.now() + timedelta(seconds=embed.MIN_SECONDS + 1)):
        cross_site({"email": "ann@example.com", "token": token})
    assert [m.to for m in mailoutbox] == [["ann@example.com"]]


def test_a_form_left_open_for_over_a_day_asks_again_and_mails_nothing(
    cross_site, newsletter, mailoutbox
):
    token = embed.form_token(newsletter)
    with freeze_time(timezone.now() + timedelta(days=1, minutes=1)):
        response = cross_site({"email": "ann@example.com", "token": token})
    assert response.status_code == 400
    assert "open for more than a day" in response.text
    assert 'value="ann@example.com"' in response.text
    assert mailoutbox == []


def test_a_forged_token_or_proof_is_answered_but_mails_nothing(cross_site, newsletter, mailoutbox):
    other = make_newsletter("other", embed_origins=BLOG)
    with freeze_time(timezone.now() - timedelta(minutes=1)):
        theirs = embed.form_token(other)
    for data in (
        {"token": theirs},
        {"token": "forged"},
        {"proof": "1:2"},
        {"proof": proof_for("someone-else@example.com")},
        {"proof": proof_for("ann@example.com", at=time.time() - 2 * 86400)},
    ):
        response = cross_site({"email": "ann@example.com", **data})
        assert "Check your inbox" in response.text, data
    assert mailoutbox == []
    cross_site({"email": "ann@example.com", "proof": proof_for("ann@example.com")})
    assert len(mailoutbox) == 1


def test_the_honeypot_and_the_per_ip_limit_hold_on_the_embed_endpoint(
    cross_site, newsletter, settings, mailoutbox
):
    response = cross_site({"email": "bot@example.com", "website": "http://spam.example"})
    assert "Check your inbox" in response.text
    assert not Subscriber.objects.exists()

    settings.RATELIMIT_ENABLED = True
    settings.SIGNUP_RATE_PER_IP = 3
    ip = f"198.51.100.{uuid.uuid4().int % 250}"
    run = uuid.uuid4().hex[:8]
    codes = [
        cross_site({"email": f"r{n}-{run}@example.com"}, REMOTE_ADDR=ip).status_code
        for n in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    assert len(mailoutbox) == 3


def test_the_admin_shows_both_snippets_to_copy(admin_client, newsletter):
    response = admin_client.get(f"/admin/newsletter/newsletter/{newsletter.pk}/change/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "A plain form (works without JavaScript)" in text
    assert "http://testserver/subscribe/ml-monthly/embed/" in text or EMBED in text
    assert "&lt;iframe src=" in text
