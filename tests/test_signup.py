import re
import uuid
from functools import partial

import pytest

from subscribers.models import Subscriber, Subscription, Suppression
from subscribers.subscriptions import suppress
from tests.builders import make_newsletter, make_subscription
from tests.helpers import link_in, post_committed, sent_to

pytestmark = pytest.mark.django_db
CSRF = re.compile(rb'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    # The limits have their own tests below, each from its own address.
    settings.RATELIMIT_ENABLED = False


@pytest.fixture
def newsletter():
    return make_newsletter()


@pytest.fixture
def signup(client, django_capture_on_commit_callbacks):
    return partial(
        post_committed, client, django_capture_on_commit_callbacks, "/subscribe/ml-monthly/"
    )


def test_it_lists_every_public_newsletter(client):
    make_newsletter("ml-monthly", name="ML Monthly", description="Links about *models*.")
    make_newsletter("rust-notes", name="Rust Notes")
    make_newsletter("staff-only", name="Staff Only", is_public=False)
    page = client.get("/subscribe/")
    assert page.status_code == 200
    assert "ML Monthly" in page.text
    assert "<em>models</em>" in page.text
    assert 'href="/subscribe/rust-notes/"' in page.text
    assert "Staff Only" not in page.text


def test_it_shows_a_form_with_labelled_fields_and_a_consent_line(client, newsletter):
    page = client.get("/subscribe/ml-monthly/")
    assert page.status_code == 200
    assert '<label for="id_email">Email address</label>' in page.text
    assert '<label for="id_name">Name' in page.text
    assert 'type="email"' in page.text
    assert "By subscribing you agree to receive ML Monthly by email" in page.text
    assert "<script" not in page.text
    # The honeypot is there for bots but hidden from people and screen readers.
    assert re.search(r'<div class="hp" aria-hidden="true">\s*<label for="id_website">', page.text)


def test_it_answers_404_for_an_unknown_newsletter(client):
    assert client.get("/subscribe/nope/").status_code == 404


def test_it_creates_a_pending_subscription_and_sends_a_confirmation(signup, newsletter, mailoutbox):
    response = signup(
        {"email": "Ann@Example.com", "name": "Ann"},
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="Firefox/140",
    )
    assert response.status_code == 200
    subscription = Subscription.objects.get()
    assert subscription.status == "pending"
    subscriber = subscription.subscriber
    assert (subscriber.email, subscriber.name) == ("ann@example.com", "Ann")
    assert subscriber.consent_at is not None
    assert subscriber.consent_ip == "203.0.113.9"
    assert subscriber.consent_user_agent == "Firefox/140"
    assert subscriber.consent_source == "signup"
    [message] = mailoutbox
    assert message.to == ["ann@example.com"]
    assert message.from_email == "Ada <ada@example.com>"
    assert link_in(message, "/confirm/")
    assert "7 days" in message.body


def test_it_shows_the_form_again_with_a_clear_message_for_a_bad_address(
    signup, newsletter, mailoutbox
):
    response = signup({"email": "ann@example", "name": "Ann"})
    assert response.status_code == 400
    assert "It should have a period" in response.text
    assert 'value="ann@example"' in response.text
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


def test_it_refuses_a_name_with_a_line_break(signup, newsletter, mailoutbox):
    response = signup({"email": "ann@example.com", "name": "Ann\r\nBcc: eve@example.com"})
    assert response.status_code == 400
    assert "single line" in response.text
    assert not Subscriber.objects.exists()


def test_it_answers_the_same_page_for_new_pending_confirmed_and_unsubscribed_addresses(
    signup, newsletter, mailoutbox
):
    make_subscription(newsletter, "pending@example.com", "pending")
    make_subscription(newsletter, "confirmed@example.com", "confirmed")
    make_subscription(newsletter, "left@example.com", "unsubscribed")

    bodies = []
    for email in (
        "new@example.com",
        "pending@example.com",
        "confirmed@example.com",
        "left@example.com",
    ):
        response = signup({"email": email, "name": ""})
        assert response.status_code == 200
        bodies.append(CSRF.sub(b"", response.content))
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]
    assert b"Check your inbox" in bodies[0]

    # The difference is told to the mailbox, which belongs to the reader.
    for email in ("new@example.com", "pending@example.com", "left@example.com"):
        [message] = sent_to(email)
        assert message.subject == "Confirm your subscription to ML Monthly"
    [note] = sent_to("confirmed@example.com")
    assert note.subject == "You are already subscribed to ML Monthly"
    assert link_in(note, "/preferences/")
    assert "/confirm/" not in note.body


def test_it_sends_a_fresh_link_when_asked_again_while_pending(signup, newsletter, mailoutbox):
    signup({"email": "ann@example.com"})
    signup({"email": "ann@example.com"})
    assert len(mailoutbox) == 2
    assert all(m.subject.startswith("Confirm") for m in mailoutbox)
    assert Subscription.objects.get().status == "pending"


def test_it_makes_an_unsubscribed_reader_confirm_again(signup, newsletter, mailoutbox):
    subscription = make_subscription(newsletter, "ann@example.com", "unsubscribed")
    signup({"email": "ann@example.com"})
    subscription.refresh_from_db()
    assert subscription.status == "pending"
    assert mailoutbox[0].subject.startswith("Confirm")


def test_it_does_not_let_a_stranger_rename_a_confirmed_reader(signup, newsletter):
    subscription = make_subscription(newsletter, "ann@example.com", "confirmed")
    Subscriber.objects.filter(pk=subscription.subscriber_id).update(name="Ann")
    signup({"email": "ann@example.com", "name": "Someone Else"})
    subscription.subscriber.refresh_from_db()
    assert subscription.subscriber.name == "Ann"


def test_it_sends_nothing_to_a_bounced_address_but_answers_the_same(signup, newsletter, mailoutbox):
    suppress("ann@example.com", reason=Suppression.BOUNCED)
    response = signup({"email": "ann@example.com"})
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert mailoutbox == []
    assert not Subscriber.objects.exists()


def test_it_lets_an_erased_reader_sign_up_again_themselves(signup, newsletter, mailoutbox):
    suppress("ann@example.com", reason=Suppression.ERASED)
    signup({"email": "ann@example.com"})
    assert Subscription.objects.get().status == "pending"
    assert len(mailoutbox) == 1


def test_it_creates_nothing_when_the_honeypot_is_filled(signup, newsletter, mailoutbox):
    response = signup({"email": "bot@example.com", "name": "Bot", "website": "http://spam.example"})
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


def test_it_answers_429_with_a_readable_page_to_the_11th_signup_from_one_ip(
    signup, newsletter, settings, mailoutbox
):
    settings.RATELIMIT_ENABLED = True
    settings.SIGNUP_RATE_PER_IP = 10
    ip = f"198.51.100.{uuid.uuid4().int % 250}"
    run = uuid.uuid4().hex[:8]
    for n in range(10):
        response = signup({"email": f"reader{n}-{run}@example.com"}, REMOTE_ADDR=ip)
        assert response.status_code == 200, n
    response = signup({"email": f"eleventh-{run}@example.com"}, REMOTE_ADDR=ip)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert "Too many attempts" in response.text
    assert "wait a minute" in response.text
    assert not Subscriber.objects.filter(email=f"eleventh-{run}@example.com").exists()
    assert len(mailoutbox) == 10

    other_ip = f"192.0.2.{uuid.uuid4().int % 250}"
    assert signup({"email": f"other-{run}@example.com"}, REMOTE_ADDR=other_ip).status_code == 200


def test_it_limits_signups_per_mailbox_whatever_the_ip_and_the_tag(
    signup, newsletter, settings, mailoutbox
):
    settings.RATELIMIT_ENABLED = True
    settings.SIGNUP_RATE_PER_EMAIL = 3
    mailbox = f"target-{uuid.uuid4().hex[:8]}"
    for n in range(3):
        email = f"{mailbox}+{n}@example.com"
        response = signup({"email": email}, REMOTE_ADDR=f"10.0.{n}.{uuid.uuid4().int % 250}")
        assert response.status_code == 200
    response = signup({"email": f"{mailbox.upper()}+x@example.com"}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert len(mailoutbox) == 3


def test_it_does_not_limit_when_switched_off(signup, newsletter, settings):
    settings.SIGNUP_RATE_PER_IP = 1
    for n in range(3):
        assert signup({"email": f"r{n}@example.com"}).status_code == 200


@pytest.fixture
def broker_down():
    """Point Celery at a port where no broker listens, as when Redis is down."""
    from config.celery import app

    down = {
        "task_always_eager": False,
        "broker_url": "redis://127.0.0.1:9/0",
        "task_publish_retry": False,
        "broker_transport_options": {},
        "broker_connection_timeout": 0.5,
        "broker_connection_retry": False,
    }
    saved = {key: app.conf[key] for key in down}
    app.conf.update(down)
    forget_connections(app)
    yield
    app.conf.update(saved)
    forget_connections(app)


def forget_connections(app) -> None:
    """Drop the pooled broker connections so the next publish uses the current config."""
    app._pool = None
    app.amqp._producer_pool = None


def test_it_still_answers_when_the_broker_is_down(signup, newsletter, broker_down, mailoutbox):
    response = signup({"email": "ann@example.com"})
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert Subscription.objects.get().status == "pending"
    assert mailoutbox == []


@pytest.mark.parametrize("charset", ["utf-16", "utf-32", "no-such-charset"])
@pytest.mark.parametrize("path", ["/subscribe/ml-monthly/", "/admin/login/"])
def test_a_form_in_a_charset_no_form_is_sent_in_gets_a_400(client, newsletter, path, charset):
    # generic(): client.post() would itself encode the body in that charset.
    response = client.generic(
        "POST",
        path,
        b"email=reader%40example.com&name=Rea",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 400
    assert b"send forms as UTF-8" in response.content
    assert not Subscriber.objects.exists()
