"""The suite's fixtures and pytest hooks; what they and the tests share
besides fixtures is in tests/helpers.py, their data in tests/builders.py."""

import ipaddress
import os
from functools import partial
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config import outbound
from newsletter.library import schema
from tests.fake_esp import FakeESP
from tests.fake_smtp import FakeSMTP
from tests.helpers import AXE, CHROMIUM, Worker, forget_form_limits, post_committed
from tests.page_site import PageSite


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    where = f"{db.get('HOST')}:{db.get('PORT')}" if db.get("HOST") else "file under var/test"
    broker = "redis" if settings.REDIS_URL else "filesystem"
    return [f"letterpress: database={engine} ({where}), broker={broker}"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The archive search's own structures (a PostgreSQL vector, SQLite's FTS5
    table), which migration 0012 makes and the test run, building its tables
    without migrations, would otherwise lack."""
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        schema.install(editor)


@pytest.fixture(scope="session")
def fake_esp_server():
    esp = FakeESP().start()
    yield esp
    esp.stop()


@pytest.fixture
def fake_esp(fake_esp_server):
    """The loopback ESP, emptied and without faults for each test, its dice
    seeded again: a test's faults fall on the same calls whatever ran before."""
    fake_esp_server.reset()
    fake_esp_server.faults.__init__()
    fake_esp_server._random.seed(fake_esp_server.faults.seed)
    yield fake_esp_server


@pytest.fixture(autouse=True)
def fresh_form_limits():
    """Every test starts with no form-limit counts: the cache that counts
    outlives a test, and some limits (a reader's inbox's) stay on whatever
    RATELIMIT_ENABLED says."""
    forget_form_limits()


@pytest.fixture
def pages(settings):
    """A local site of pages with metadata, the one loopback port the server may fetch."""
    site = PageSite().start()
    settings.FETCH_ALLOW_LOOPBACK = [site.server_address[1]]
    yield site
    site.stop()


@pytest.fixture(autouse=True)
def no_outside_dns(monkeypatch):
    """There is no outside world in the tests: a name does not resolve (a link
    check of https://example.org/ says so at once) unless a test answers for it
    (tests/test_outbound.py's resolving()); literal addresses are themselves."""

    def resolve(host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise outbound.Refused(f"{host} does not resolve (no DNS in the tests)") from None

    monkeypatch.setattr(outbound, "resolve", resolve)


@pytest.fixture
def no_rate_limits(settings):
    """Form limits off: tests that send several emails to one address in a
    minute are not testing the limits (the cache that counts outlives a test)."""
    settings.RATELIMIT_ENABLED = False


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """client.post that then runs what the view left for after commit (its emails)."""
    return partial(post_committed, client, django_capture_on_commit_callbacks)


@pytest.fixture
def send_through(settings, fake_esp):
    """send_through("sendgrid"): send through anymail's real backend of that ESP
    (as in anymail.backends.<esp>) to the fake ESP, in this process."""

    def through(esp: str) -> FakeESP:
        settings.EMAIL_BACKEND = f"anymail.backends.{esp}.EmailBackend"
        settings.ANYMAIL = {**settings.ANYMAIL, **fake_esp.anymail_settings(esp)}
        return fake_esp

    return through


@pytest.fixture
def mailgun(send_through):
    return send_through("mailgun")


@pytest.fixture
def postmark(send_through):
    return send_through("postmark")


@pytest.fixture(scope="session")
def fake_smtp_server(fake_esp_server):
    sink = FakeSMTP(fake_esp_server).start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp(settings, fake_esp, fake_smtp_server):
    """Plain SMTP (ESP=smtp) into the SMTP sink, which records into fake_esp."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake_smtp_server.port
    return fake_esp


@pytest.fixture
def celery_worker(transactional_db, fake_esp):
    """Start a real worker; tests using it see committed data only (transactional_db).

    While it runs, tasks are published to the broker instead of running inline.
    """
    from config.celery import app

    app.conf.task_always_eager = False
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(fake_esp, **kwargs).start()
        workers.append(worker)
        return worker

    yield start
    # The test is over: killed, not stopped. A warm shutdown of the prefork pool
    # spends 6 s joining billiard's pool threads, and would put the messages it
    # holds back on this run's queue for the next test's worker.
    for worker in workers:
        worker.kill()
    app.conf.task_always_eager = True


# -- real browser (Debian's Chromium, driven by Playwright) --------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    missing = [
        what
        for what, there in (
            (f"{CHROMIUM} (apt-get install chromium)", Path(CHROMIUM).exists()),
            ("axe-core (make test runs npm install; apt-get install npm)", AXE.exists()),
        )
        if not there
    ]
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.getenv("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make around it are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
