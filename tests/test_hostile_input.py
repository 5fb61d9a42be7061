"""Hostile input on every public endpoint, as property-based tests: random and
huge bodies, unicode, CR/LF header-injection attempts, HTML and SQL payloads,
forged tokens. Whatever comes in: never a 5xx, nothing changes unless the input
was valid, and no email carries a header it should not."""

import json
from contextlib import nullcontext
from email import message_from_string
from urllib.parse import quote

import pytest
from django.core import mail
from django.test import Client
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mail import links, tokens
from mail.tokens import link_token, recipient_key
from newsletter.models import Click, Delivery, Feedback, WebhookEvent
from subscribers import addresses
from subscribers.forms import clean_name
from subscribers.models import Subscriber, Subscription, Suppression
from tests import esp_events
from tests.builders import make_delivery, make_link, make_newsletter, make_reader, make_sent_issue
from tests.esp_events import AUTH, post_mailgun, post_postmark, sending_through
from tests.helpers import path_of

pytestmark = pytest.mark.django_db
webhook_settings = esp_events.webhook_settings

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written to the working tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the world is built once per test, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FEW = settings(HOSTILE, max_examples=20)

MAILGUN_ID = "20260101120000.1.HOSTILE@mg.example.com"
POSTMARK_ID = "5a1b2c3d-6105-42a2-a16a-77a8eac79483"
INJECTIONS = [
    "\r\nBcc: victim@example.com",
    "\nCc: victim@example.com",
    "\r\n\r\n<html>a second body</html>",
    "%0d%0aBcc:victim@example.com",
    ">, victim@example.com",
    ",victim@example.com",
    "\x00",
]
PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE subscribers_subscriber; --",
    "1); SELECT pg_sleep(10); --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{ 7|add:7 }}{% debug %}",
    "[[unsubscribe_url]] %recipient.one_click_url%",
    "\u202egnp.exe",
    "Ann\uffff",  # a noncharacter: the emails' MJML cannot carry it
    "Ann\u2028Bcc: victim@example.com",
    "𝕳𝖊𝖑𝖑𝖔 👋 Ωμέγα Ħ",
    "A" * 5000,
    *INJECTIONS,
]
payloads = st.sampled_from(PAYLOADS)
hostile = st.one_of(
    payloads,
    st.text(max_size=200),
    st.builds(str.__add__, st.text(max_size=30), payloads),
    st.builds(str.__add__, payloads, st.text(max_size=30)),
)
addresses_ = st.one_of(
    hostile,
    st.emails(),
    st.builds(str.__add__, st.emails(), st.sampled_from(INJECTIONS)),
    st.builds(lambda name, email: f"{name} <{email}>", hostile, st.emails()),
)
form_data = st.dictionaries(hostile, hostile, max_size=5)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)
bodies = st.one_of(
    st.binary(max_size=3000),
    hostile.map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.just(b"a=1&" * 3000),  # more fields than Django reads
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain; charset=utf-16",
        "application/octet-stream",
    ]
)
HEADERS_IN_EMAILS = {
    # What our emails may carry (Django's and anymail's own, and ours).
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
    "Subject",
    "From",
    "To",
    "Reply-To",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "Precedence",
    "Auto-Submitted",
}


@pytest.fixture
def world(db, settings):
    """A newsletter with a confirmed reader (Alice, who got issue 1 and can click
    its link) and a pending one (Bob)."""
    settings.RATELIMIT_ENABLED = False
    newsletter = make_newsletter()
    alice = make_reader(newsletter, "alice@example.com")
    bob = make_reader(newsletter, "bob@example.com", status="pending", confirmed_at=None)
    issue = make_sent_issue(newsletter)
    link = make_link(issue, "https://example.org/paper")
    delivery = make_delivery(issue, alice, message_id=f"<{MAILGUN_ID}>")
    return {
        "newsletter": newsletter,
        "alice": alice,
        "bob": bob,
        "link": link,
        "delivery": delivery,
    }


def snapshot() -> dict:
    """Everything a request could change."""
    return {
        "subscribers": list(Subscriber.objects.order_by("pk").values_list("pk", "email", "name")),
        "subscriptions": list(
            Subscription.objects.order_by("pk").values_list("pk", "status", "reason")
        ),
        "deliveries": list(
            Delivery.objects.order_by("pk").values_list(
                "pk", "state", "delivered_at", "opened_at", "clicked_at", "bounced_at"
            )
        ),
        "clicks": Click.objects.count(),
        "feedback": list(Feedback.objects.values_list("delivery_id", "answer")),
        "webhook events": WebhookEvent.objects.count(),
        "suppressions": Suppression.objects.count(),
        "emails": len(mail.outbox),
    }


def raw_post(client, path: str, body: bytes, content_type: str, **extra):
    """POST these very bytes (client.post would re-encode them for the charset)."""
    return client.generic("POST", path, body, content_type=content_type, **extra)


def segment(value: str) -> str:
    """A value as one path segment of a URL."""
    return quote(value, safe="") or "x"


def is_clean_name(name: str) -> bool:
    try:
        clean_name(name)
    except Exception:
        return False
    return len(name.strip()) <= 100


def assert_clean_headers(message, to: str) -> None:
    """One recipient, known headers only, none split by a CR or LF."""
    assert message.to == [to]
    assert not message.cc and not message.bcc
    parsed = message_from_string(message.message().as_string())
    names = set(parsed.keys())
    assert names <= HEADERS_IN_EMAILS, names - HEADERS_IN_EMAILS
    for value in message.extra_headers.values():
        assert "\r" not in value and "\n" not in value
    assert "\r" not in message.subject and "\n" not in message.subject


# -- Signup --------------------------------------------------------------------------


@HOSTILE
@example(
    email="nul@example.com",
    name="Nul",
    agent="Mozilla/5.0\x00",
    honeypot="",
    path="/subscribe/ml-monthly/",
    proof="",
    token="",
)
@given(
    email=addresses_,
    name=hostile,
    agent=hostile,
    honeypot=st.sampled_from(["", "http://spam.example"]),
    path=st.sampled_from(["/subscribe/ml-monthly/", "/subscribe/ml-monthly/embed/"]),
    proof=st.one_of(st.just(""), hostile),
    token=st.one_of(st.just(""), hostile),
)
def test_signup_answers_hostile_input_without_a_5xx(
    client,
    world,
    django_capture_on_commit_callbacks,
    email,
    name,
    agent,
    honeypot,
    path,
    proof,
    token,
):
    before = snapshot()
    mail.outbox.clear()
    data = {"email": email, "name": name, "website": honeypot, "proof": proof, "token": token}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, data, HTTP_USER_AGENT=agent)

    assert response.status_code < 500
    # On the embed endpoint a proof or a time token that is not ours is a bot's.
    forged = path.endswith("/embed/") and (proof or token)
    accepted = not honeypot and addresses.is_valid(email) and is_clean_name(name) and not forged
    if not accepted:
        assert response.status_code in (200, 400)  # 200: the honeypot's "check your inbox"
        assert snapshot() == {**before, "emails": 0}
        return
    assert response.status_code == 200
    stored = addresses.normalise(email)
    subscriber = Subscriber.objects.get(email=stored)
    assert "\x00" not in subscriber.consent_user_agent  # PostgreSQL text cannot hold it
    for message in mail.outbox:
        assert_clean_headers(message, stored)


@FEW
@given(name=hostile)
def test_a_name_that_is_not_one_line_of_text_is_refused_with_a_message(client, world, name):
    assume(not is_clean_name(name))
    before = snapshot()
    response = client.post("/subscribe/ml-monthly/", {"email": "carol@example.com", "name": name})
    assert response.status_code == 400
    assert b"name" in response.content.lower()
    assert snapshot() == before


# -- Signed links: confirm, unsubscribe, one-click, preferences ---------------------------


# Only we can sign, and we sign ids: integers stay in the database's range.
ids = st.integers(min_value=-(2**63), max_value=2**63 - 1)
signed_values = st.recursive(
    st.none() | st.booleans() | ids | st.floats(allow_nan=False) | hostile,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)
signed_payloads = st.one_of(
    signed_values,
    st.fixed_dictionaries({"s": signed_values, "n": signed_values, "p": signed_values}),
    st.fixed_dictionaries({"s": ids, "n": ids, "p": ids}),
)
forged_tokens = st.one_of(
    hostile,
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-."),
    # Signed by us, for this purpose or another, with any payload at all.
    st.builds(
        lambda purpose, payload: tokens.make_token(purpose, payload),
        st.sampled_from(list(tokens.SALTS)),
        signed_payloads,
    ),
)
SIGNED_PAGES = ["/confirm/{}/", "/confirm/{}/resend/", "/unsubscribe/{}/", "/preferences/{}/"]
SIGNED_PAGES += ["/my-data/{}/", "/erase/{}/"]


@HOSTILE
@given(
    page=st.sampled_from(SIGNED_PAGES),
    token=forged_tokens,
    method=st.sampled_from(["get", "post", "put", "delete"]),
    data=form_data,
)
def test_forged_signed_links_change_nothing(client, world, page, token, method, data):
    assume(not names_someone(token))
    before = snapshot()
    response = getattr(client, method)(page.format(segment(token)), data)
    assert response.status_code < 500
    if response.status_code < 400:  # only a token we made for this page may act
        assert method in ("get", "post") and page.startswith("/preferences/")
    assert snapshot() == before


def names_someone(token: str) -> bool:
    """A token we signed whose payload names a real subscription or subscriber
    (only we can make one: it is a good link, not a forged one)."""
    for purpose in tokens.SALTS:
        try:
            payload = tokens.read_token(purpose, token)
        except tokens.BadToken:
            continue
        s, n, p = payload.get("s"), payload.get("n"), payload.get("p")
        if isinstance(s, int) and isinstance(n, int):
            if Subscription.objects.filter(pk=s, newsletter_id=n).exists():
                return True
        if isinstance(p, int) and Subscriber.objects.filter(pk=p).exists():
            return True
    return False


@HOSTILE
@given(
    token=forged_tokens,
    body=bodies,
    content_type=content_types,
)
def test_one_click_refuses_forged_links_and_odd_bodies(client, world, token, body, content_type):
    assume(not names_someone(token))
    before = snapshot()
    path = f"/unsubscribe/{segment(token)}/one-click/"
    response = raw_post(client, path, body, content_type)
    assert response.status_code in (400, 404)
    assert snapshot() == before


@HOSTILE
@given(body=bodies, content_type=content_types)
def test_one_click_with_a_good_link_acts_only_on_the_rfc_8058_body(
    client, world, body, content_type
):
    alice = world["alice"]
    assume(b"One-Click" not in body)
    before = snapshot()
    path = path_of(links.one_click_url(alice))
    response = raw_post(client, path, body, content_type)
    assert response.status_code == 400
    assert snapshot() == before


@HOSTILE
@given(name=hostile, newsletters=st.lists(hostile | st.integers().map(str), max_size=3))
def test_preferences_refuse_what_is_not_a_name_or_an_offered_newsletter(
    client, world, name, newsletters
):
    alice = world["alice"]
    path = path_of(links.preferences_url(alice.subscriber))
    offered = {str(alice.newsletter_id)}
    before = snapshot()
    response = client.post(path, {"name": name, "newsletters": newsletters})
    assert response.status_code < 500
    if is_clean_name(name) and set(newsletters) <= offered:
        assert response.status_code == 302
        alice.subscriber.refresh_from_db()
        assert alice.subscriber.name == name.strip()
        page = client.get(path).content.decode()
        for markup in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>"):
            assert markup not in page  # a name is shown escaped, never as markup
        return
    assert response.status_code == 400
    assert snapshot() == before


@FEW
@given(reason=hostile, comment=hostile)
def test_an_unsubscribe_reason_is_stored_as_text_or_dropped(client, world, reason, comment):
    bob = world["bob"]
    Subscription.objects.filter(pk=bob.pk).update(status=Subscription.Status.PENDING)
    path = path_of(links.unsubscribe_url(bob))
    response = client.post(path, {"reason": reason, "comment": comment})
    assert response.status_code == 200
    bob.refresh_from_db()
    assert bob.status == Subscription.Status.UNSUBSCRIBED
    assert "\x00" not in bob.reason and len(bob.reason) <= 500
    page = client.get(path).content.decode()
    for markup in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>"):
        assert markup not in page


# -- Tracked links and feedback ----------------------------------------------------------


@HOSTILE
@given(
    token=forged_tokens | st.just("good"),
    key=hostile | st.just(""),
    method=st.sampled_from(["get", "post", "head"]),
)
def test_forged_click_links_count_nothing_and_redirect_nowhere_else(
    client, world, token, key, method
):
    link, delivery = world["link"], world["delivery"]
    token = link_token(link) if token == "good" else token
    assume(not (token == link_token(link) and key == recipient_key(delivery.pk)))
    before = snapshot()
    response = getattr(client, method)(f"/l/{segment(token)}/{quote(key, safe='')}/")
    assert response.status_code < 500
    if response.status_code in (301, 302):
        assert response["Location"] == link.url  # the stored URL, never one from the request
    else:
        assert response.status_code in (404, 405)
    assert snapshot() == before


@HOSTILE
@given(key=forged_tokens, answer=hostile | st.sampled_from(["loved", "ok", "no"]))
def test_forged_feedback_links_record_nothing(client, world, key, answer):
    delivery = world["delivery"]
    assume(key != recipient_key(delivery.pk))
    before = snapshot()
    response = client.post(f"/f/{segment(key)}/{segment(answer)}/")
    assert response.status_code < 500
    assert snapshot() == before


# -- ESP webhooks -------------------------------------------------------------------------

WEBHOOKS = ["/anymail/mailgun/tracking/", "/anymail/postmark/tracking/"]


@pytest.mark.usefixtures("webhook_settings")
@HOSTILE
@given(url=st.sampled_from(WEBHOOKS), body=bodies, content_type=content_types, auth=st.booleans())
def test_webhooks_refuse_what_is_not_an_esp_event(client, world, url, body, content_type, auth):
    before = snapshot()
    with sending_through(url):
        response = raw_post(client, url, body, content_type, **(AUTH if auth else {}))
    assert response.status_code < 500 if auth else response.status_code == 401
    assert snapshot() == before


def leaves(value, path=()):
    """Every path to a leaf of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def replaced(document, path, value):
    document = json.loads(json.dumps(document))
    if not path:
        return value
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def mailgun_events():
    return [
        esp_events.mailgun_event(kind, "alice@example.com", MAILGUN_ID)
        for kind in ("delivered", "opened", "complained")
    ] + [esp_events.mailgun_failure("alice@example.com", MAILGUN_ID)]


def postmark_events():
    return [
        esp_events.postmark_delivery("alice@example.com", POSTMARK_ID),
        esp_events.postmark_bounce("alice@example.com", POSTMARK_ID),
        esp_events.postmark_engagement("Open", "alice@example.com", POSTMARK_ID),
    ]


@pytest.mark.usefixtures("webhook_settings")
@HOSTILE
@given(data=st.data(), esp=st.sampled_from(["mailgun", "postmark"]))
def test_webhook_events_with_one_field_gone_wrong_never_fail_the_server(client, world, data, esp):
    Delivery.objects.filter(pk=world["delivery"].pk).update(
        message_id=f"<{MAILGUN_ID}>" if esp == "mailgun" else POSTMARK_ID
    )
    event = data.draw(st.sampled_from(mailgun_events() if esp == "mailgun" else postmark_events()))
    if esp == "mailgun":  # the signature block stays valid: only the event data goes wrong
        paths = [p for p in leaves(event["event-data"])]
        path = ("event-data", *data.draw(st.sampled_from(paths)))
    else:
        path = data.draw(st.sampled_from(list(leaves(event))))
    body = replaced(event, path, data.draw(json_values))
    before = snapshot()
    post = post_mailgun if esp == "mailgun" else post_postmark
    response = post(client, body, **AUTH)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert snapshot() == before


@pytest.mark.usefixtures("webhook_settings")
def test_an_esp_event_whose_text_carries_nul_is_applied_without_it(client, world):
    """A remote mail server's answer ends up in a bounce's reason."""
    body = esp_events.mailgun_failure("alice@example.com", MAILGUN_ID)
    body["event-data"]["delivery-status"]["message"] = "550 no such\x00 user"
    body["event-data"]["delivery-status"]["description"] = "550 no such\x00 user"
    body["event-data"]["id"] += "\x00"

    assert post_mailgun(client, body, **AUTH).status_code == 200
    alice = world["alice"]
    alice.refresh_from_db()
    assert alice.status == Subscription.Status.BOUNCED
    assert alice.reason == "550 no such user"


@pytest.mark.usefixtures("webhook_settings")
@pytest.mark.parametrize("field", ["recipient", "message-id"])
def test_an_esp_event_whose_address_or_id_carries_nul_is_not_ours(client, world, field):
    body = esp_events.mailgun_failure("alice@example.com", MAILGUN_ID)
    if field == "recipient":
        body["event-data"]["recipient"] += "\x00"
    else:
        body["event-data"]["message"]["headers"]["message-id"] += "\x00"
    before = snapshot()

    assert post_mailgun(client, body, **AUTH).status_code == 200
    assert snapshot() == before


# -- Huge bodies ---------------------------------------------------------------------------


@pytest.mark.usefixtures("webhook_settings")
@pytest.mark.parametrize(
    "path",
    [
        "/subscribe/ml-monthly/",
        "/subscribe/ml-monthly/embed/",
        "/confirm/x/",
        "/unsubscribe/x/",
        "/unsubscribe/x/one-click/",
        "/preferences/x/",
        "/l/x/y/",
        "/f/x/loved/",
        *WEBHOOKS,
    ],
)
def test_a_body_over_the_upload_limit_gets_a_4xx(client, world, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    before = snapshot()
    huge = b"email=" + b"A" * (2 * 1024 * 1024)
    for content_type in ("application/x-www-form-urlencoded", "application/json"):
        with sending_through(path) if path in WEBHOOKS else nullcontext():
            response = raw_post(client, path, huge, content_type, **AUTH)
        assert 400 <= response.status_code < 500
    assert snapshot() == before


# -- Requests forged by other sites ----------------------------------------------------


def routes(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def test_only_links_signed_for_the_reader_and_esp_webhooks_skip_the_csrf_check():
    """Everything else that takes a POST needs the CSRF token of a page we served."""
    exempt = {route for route, view in routes() if getattr(view, "csrf_exempt", False)}
    webhooks = {route for route in exempt if route.startswith("anymail/")}
    assert "anymail/mailgun/tracking/" in webhooks  # behind WEBHOOK_SECRET basic auth
    # The REST API takes a bearer token, never a cookie (tests/test_api.py).
    api = {route for route in exempt if route.startswith("api/v1/")}
    assert exempt - webhooks - api == {
        "confirm/<str:token>/",
        "confirm/<str:token>/resend/",
        "unsubscribe/<str:token>/",
        "unsubscribe/<str:token>/one-click/",
        r"^f/(?P<recipient_key>[^/]*)/(?P<answer>[-\w]+)/$",
        # A form on the editor's own site cannot carry our token: the honeypot,
        # the limits, double opt-in and the embed checks stand in (subscribers.embed).
        "subscribe/<slug:newsletter_slug>/embed/",
    }


@pytest.mark.parametrize("path", ["/subscribe/ml-monthly/", "preferences"])
def test_forms_without_a_secret_link_refuse_a_post_without_the_csrf_token(world, path):
    if path == "preferences":
        path = path_of(links.preferences_url(world["alice"].subscriber))
    before = snapshot()
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, {"email": "mallory@example.com", "name": "Mallory"})
    assert response.status_code == 403
    assert snapshot() == before


# -- What reaches the ESP ---------------------------------------------------------------


@FEW
@example(name="Ann\uffff", email="ann@example.com")
@example(name="Ann\r\nBcc: victim@example.com", email="ann@example.com")
@given(name=hostile, email=st.emails())
def test_no_header_is_injected_into_what_the_esp_receives(
    client, world, mailgun, django_capture_on_commit_callbacks, name, email
):
    """Signup, confirmation and welcome through anymail's Mailgun backend to the
    fake ESP: one recipient per message, no header but ours, none split."""
    assume(addresses.is_valid(email))
    mailgun.reset()
    stored = addresses.normalise(email)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/subscribe/ml-monthly/", {"email": email, "name": name})
    subscription = Subscription.objects.filter(subscriber__email=stored).first()
    if subscription is not None:  # the welcome email greets the reader by name
        with django_capture_on_commit_callbacks(execute=True):
            client.post(path_of(links.confirm_url(subscription)))
    for message in mailgun.messages:
        assert message.to == stored
        # Mailgun's API spells names in title case (Message-Id): header names have no case.
        allowed = {name.lower() for name in HEADERS_IN_EMAILS}
        assert {name.lower() for name in message.headers} <= allowed, message.headers
        for value in [message.subject, *message.headers.values()]:
            assert "\r" not in value and "\n" not in value
