import re
import uuid
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

import pytest
from celery.signals import task_prerun
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from config.celery import app
from subscribers.addresses import address_hash
from subscribers.models import MailboxQuota, Subscriber, Subscription, Suppression
from subscribers.subscriptions import CONFIRM_AGAIN_AFTER, suppress
from tests.builders import make_newsletter, make_subscription
from tests.helpers import link_in, post_committed, sent_to

pytestmark = pytest.mark.django_db
CSRF = re.compile(rb'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')
CONFIRM = "Confirm your subscription to ML Monthly"
ALREADY = "You are already subscribed to ML Monthly"


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


# Every state an address can be in, and what its mailbox is sent on signing up.
STATES = {
    "new": [CONFIRM],
    "pending": [CONFIRM],
    "confirmed": [ALREADY],
    "unsubscribed": [CONFIRM],
    "bounced": [],
    "complained": [],
    "erased": [CONFIRM],  # suppressed, but a reader may sign up again themselves
}


def put_in_state(newsletter, email: str, state: str) -> None:
    if state in ("pending", "confirmed", "unsubscribed", "bounced", "complained"):
        make_subscription(newsletter, email, state)
    if state in ("bounced", "complained", "erased"):
        suppress(email, reason=state)


@contextmanager
def tasks_run():
    """(name, args) of every Celery task run meanwhile (inline in the tests)."""
    seen = []

    def record(task=None, args=(), **kwargs):
        seen.append((task.name, tuple(args)))

    task_prerun.connect(record, weak=False)
    try:
        yield seen
    finally:
        task_prerun.disconnect(record)


def sql_shape(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|\b\d+\b", "?", sql)


@pytest.mark.parametrize(
    "path, source",
    [("/subscribe/ml-monthly/", "signup"), ("/subscribe/ml-monthly/embed/", "embed")],
)
def test_it_does_the_same_work_and_answers_the_same_page_whatever_the_address_state(
    client, newsletter, mailoutbox, django_capture_on_commit_callbacks, path, source
):
    """The page reads nothing about the address (its timing could tell the state,
    as its body must not): the same queries and one task handed the request,
    for every state. The worker then tells the mailbox what applies."""
    queries, tasks, bodies = {}, {}, {}
    for state in STATES:
        email = f"{state}@example.com"
        put_in_state(newsletter, email, state)
        with (
            django_capture_on_commit_callbacks() as after_commit,
            CaptureQueriesContext(connection) as sql,
        ):
            response = client.post(path, {"email": email, "name": "Rea"})
        with django_capture_on_commit_callbacks(execute=True), tasks_run() as run:
            for callback in after_commit:
                callback()
        assert response.status_code == 200
        bodies[state] = CSRF.sub(b"", response.content)
        queries[state] = [sql_shape(query["sql"]) for query in sql]
        tasks[state] = (len(after_commit), run[:1])

    assert len(set(bodies.values())) == 1
    assert b"Check your inbox" in bodies["new"]
    assert len({tuple(shapes) for shapes in queries.values()}) == 1, queries
    assert not any("subscribers_" in query for query in queries["new"]), queries["new"]
    consent = {"source": source, "ip": "127.0.0.1", "user_agent": "", "note": ""}
    for state, task in tasks.items():
        handed = ("subscribers.subscribe", (newsletter.pk, f"{state}@example.com", "Rea", consent))
        assert task == (1, [handed]), state

    # The difference is told to the mailbox, which belongs to the reader.
    for state, subjects in STATES.items():
        assert [m.subject for m in sent_to(f"{state}@example.com")] == subjects, state
    [note] = sent_to("confirmed@example.com")
    assert link_in(note, "/preferences/")
    assert "/confirm/" not in note.body


def test_it_sends_no_second_confirmation_while_the_first_is_recent(signup, newsletter, mailoutbox):
    first = signup({"email": "ann@example.com"})
    again = signup({"email": "ann@example.com"})
    assert [m.subject for m in mailoutbox] == [CONFIRM]
    assert Subscription.objects.get().status == "pending"
    assert CSRF.sub(b"", again.content) == CSRF.sub(b"", first.content)
    assert "Nothing after 10 minutes?" in again.text

    # The reader who lost it gets a fresh link once the first is no longer recent.
    with freeze_time(timezone.now() + CONFIRM_AGAIN_AFTER + timedelta(seconds=1)):
        signup({"email": "ann@example.com"})
    assert [m.subject for m in mailoutbox] == [CONFIRM, CONFIRM]


def test_it_sends_one_mailbox_its_daily_share_and_no_more_whoever_asks_from_where(
    signup, newsletter, settings, mailoutbox
):
    """+tag and case variants are one mailbox; a confirmed reader's "already
    subscribed" note counts too. Past the share the page answers the same."""
    share = settings.SIGNUP_EMAILS_PER_MAILBOX_PER_DAY
    make_subscription(newsletter, "ann@example.com", "confirmed")
    variants = ["ann@example.com"] + [f"Ann+{n}@Example.COM" for n in range(1, share + 1)]
    pages = [
        signup({"email": email}, REMOTE_ADDR=f"198.51.100.{n}") for n, email in enumerate(variants)
    ]
    assert len({CSRF.sub(b"", page.content) for page in pages}) == 1
    sent = [m for m in mailoutbox if m.to[0].startswith("ann")]
    assert [m.subject for m in sent] == [ALREADY] + [CONFIRM] * (share - 1)
    assert f"ann+{share}@example.com" not in {m.to[0] for m in sent}

    with freeze_time(timezone.now() + timedelta(days=1, seconds=1)):
        signup({"email": f"ann+{share}@example.com"}, REMOTE_ADDR="192.0.2.1")
    assert mailoutbox[-1].to == [f"ann+{share}@example.com"]


def test_it_makes_an_unsubscribed_reader_confirm_again(signup, newsletter, mailoutbox):
    subscription = make_subscription(newsletter, "ann@example.com", "unsubscribed")
    signup({"email": "ann@example.com"})
    subscription.refresh_from_db()
    assert subscription.status == "pending"
    assert mailoutbox[0].subject.startswith("Confirm")


@pytest.mark.parametrize("status", ["confirmed", "unsubscribed", "bounced"])
def test_it_does_not_let_a_stranger_rename_a_reader_who_once_confirmed(signup, newsletter, status):
    subscription = make_subscription(
        newsletter, "ann@example.com", status, confirmed_at=timezone.now()
    )
    Subscriber.objects.filter(pk=subscription.subscriber_id).update(
        name="Ann", consent_ip="198.51.100.7"
    )
    signup({"email": "ann@example.com", "name": "Mallory"})
    subscription.subscriber.refresh_from_db()
    assert subscription.subscriber.name == "Ann"
    assert subscription.subscriber.consent_ip == "198.51.100.7"  # her own, not the stranger's


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


def test_it_forgets_a_mailboxs_count_once_its_day_is_over(signup, newsletter, settings):
    signup({"email": "ann@example.com"})
    with freeze_time(timezone.now() + timedelta(hours=12)):
        signup({"email": "bob@example.com"})
    prune = app.tasks[settings.CELERY_BEAT_SCHEDULE["prune-mailbox-quotas"]["task"]]
    with freeze_time(timezone.now() + timedelta(days=1, seconds=1)):
        assert prune.delay().get() == 1
    [left] = MailboxQuota.objects.all()
    assert left.mailbox_hash == address_hash("bob@example.com")


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


def test_it_still_answers_when_the_broker_is_down(
    signup, newsletter, broker_down, mailoutbox, caplog
):
    response = signup({"email": "ann@example.com"})
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    # The request is lost with the broker (the reader can ask again), and the
    # log names the task, not the address.
    assert not Subscriber.objects.exists()
    assert mailoutbox == []
    assert "Could not enqueue subscribers.subscribe" in caplog.text
    assert "ann@example.com" not in caplog.text


@pytest.mark.parametrize("charset", ["utf-16", "utf-32", "no-such-charset", "latin-1", "utf-7"])
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
