"""What the tests share besides their data (that is tests/builders.py): a real
Celery worker, waiting, reading the emails and links that were sent, and the
real browser (screenshots, axe-core, the demo site, a mail client's view).

Fixtures and pytest hooks live in tests/conftest.py."""

import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from html import escape, unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from newsletter.models import Delivery, Issue
from subscribers.models import Subscription
from tests.fake_esp import FakeESP

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout: float = 60, interval: float = 0.1):
    """Poll until predicate() is truthy; the value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


# -- a real Celery worker ------------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def esp_environment(esp: FakeESP, esp_name: str) -> dict[str, str]:
    """The environment that makes a process send through this ESP's API at the
    fake (config/settings.py reads ANYMAIL_* and ESP_API_URL)."""
    return {
        "ESP_API_URL" if key.endswith("_API_URL") else f"ANYMAIL_{key}": value
        for key, value in esp.anymail_settings(esp_name).items()
    }


class Worker:
    """A real `celery -A config worker` process on this test run's queue and database."""

    def __init__(self, esp: FakeESP, esp_name: str = "mailgun", concurrency: int = 2, **env: str):
        """env: more environment variables, e.g. ESP_CONCURRENCY="4"."""
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "VAR_DIR": str(settings.VAR_DIR),
            # A development process, as the test run is, unless a bench says otherwise.
            "DEBUG": os.getenv("DEBUG", "1"),
            "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "SITE_URL": settings.SITE_URL,
            "ESP": esp_name,
            **esp_environment(esp, esp_name),
            "ESP_TIMEOUT": os.getenv("TEST_ESP_TIMEOUT", "3"),
            "LOG_LEVEL": "WARNING",
            # Share this run's cache and rate-limit keys (the default prefix has the pid in it).
            "CACHE_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
            "CELERY_TASK_ALWAYS_EAGER": "False",
            **env,
        }
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log = Path(settings.VAR_DIR) / f"worker-{uuid.uuid4().hex[:8]}.log"

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=WARNING",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                self.env["CELERY_QUEUE"],
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group, as the OOM killer or a lost machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # The main process alone: it shuts its pool down (a TERM to the whole
            # group kills the pool under it, and its shutdown then hangs).
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# -- requests, emails and their links -----------------------------------------

URL = re.compile(r"https?://[^\s<>\"']+")
UNSUBSCRIBE = re.compile(r"/unsubscribe/([^/\s<>\"']+)/")


def post_committed(client, capture, path: str, data=None, **extra):
    """POST, then run what the request left for after its commit (the emails),
    as it happens outside a test's transaction."""
    with capture(execute=True):
        return client.post(path, data or {}, **extra)


def form_data(form, **values) -> dict[str, str]:
    """What a browser without JavaScript posts from a form (a BeautifulSoup
    element): each input's name and value, with `values` typed in."""
    data = {
        field["name"]: field.get("value", "")
        for field in form.find_all("input", attrs={"name": True})
    }
    unknown = set(values) - set(data)
    assert not unknown, f"the form has no field {unknown}"
    return data | values


def status_of(subscription: Subscription) -> str:
    subscription.refresh_from_db()
    return subscription.status


def path_of(url: str) -> str:
    return urlsplit(url).path


def link_in(message, containing: str) -> str:
    """The path of the first link in a message's text body whose URL contains `containing`."""
    for url in URL.findall(message.body):
        if containing in url:
            return path_of(url)
    raise AssertionError(f"no link with {containing!r} in:\n{message.body}")


def html_of(message) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


def sent_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def email_to(address: str, subject: str):
    """The one message in the outbox to `address` whose subject contains `subject`."""
    [message] = [m for m in mail.outbox if address in m.to and subject in m.subject]
    return message


# -- sending: an issue sent, and what each reader got ---------------------------


def send_issue(issue: Issue) -> None:
    """Send an issue with the sending module's plain functions, as the tasks would."""
    from newsletter import sending

    sending.issue_start(issue=issue, action="send_now")
    sending.plan_deliveries(issue_id=issue.pk)
    for batch in sorted(set(issue.deliveries.values_list("batch", flat=True))):
        sending.send_batch(issue_id=issue.pk, batch=batch)
    issue.refresh_from_db()


def states(issue: Issue) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in Delivery.objects.filter(issue=issue).values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def emails_of(subscriptions) -> set[str]:
    return {s.subscriber.email for s in subscriptions}


def unsubscribed_by(text: str) -> set[int]:
    """The subscription ids that the unsubscribe links in `text` were signed for."""
    from mail.tokens import read_token

    return {read_token("unsubscribe", token)["s"] for token in UNSUBSCRIBE.findall(text)}


def by_recipient(esp) -> dict[str, list]:
    """The fake ESP's messages per recipient address (an index, for large sends)."""
    index: dict[str, list] = {}
    for message in esp.messages:
        index.setdefault(message.to, []).append(message)
    return index


def assert_own_links(esp, subscription, index: dict[str, list] | None = None) -> None:
    """The reader got exactly one message, whose footer link and List-Unsubscribe are theirs."""
    address = subscription.subscriber.email
    [message] = index.get(address.lower(), []) if index is not None else esp.messages_to(address)
    # Links as a mail client follows them: character references in an href decoded
    # (SparkPost writes https:&#x2F;&#x2F;… for a link filled into the HTML).
    assert unsubscribed_by(unescape(message.html)) == {subscription.pk}
    assert unsubscribed_by(message.text) == {subscription.pk}
    assert unsubscribed_by(message.headers["List-Unsubscribe"]) == {subscription.pk}
    assert message.headers["List-Unsubscribe"].endswith("/one-click/>")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    for merge_field in ("[[", "%recipient", "{{"):  # ours, Mailgun's, and {{name}}
        assert merge_field not in message.html + message.text + message.headers["List-Unsubscribe"]


# -- the real browser (Debian's Chromium, driven by Playwright) -----------------

CHROMIUM = os.getenv("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}

# Any address outside the live server: tests never reach the internet, the
# browser gets a stub page instead (see stub_the_internet).
OUTSIDE = re.compile(r"^https?://(?!localhost[:/]|127\.0\.0\.1[:/])")
ELSEWHERE = "<!doctype html><title>Elsewhere</title><h1>Somewhere else on the web</h1>"


def tool_missing(message: str) -> None:
    """Skip a test whose outside tool (a browser, spamassassin, node) is not
    installed, saying which; under REQUIRE_BROWSER=1 (CI, which installs them
    all) fail instead, so a missing tool cannot pass for a green run."""
    if os.getenv("REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG under artifacts/screenshots/ (git-ignored)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core in the page; the serious and critical violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def demo_site(settings, live_server) -> str:
    """The demo newsletter (seed_demo) on the live test server, whose address the
    emails link to; signup limits would trip on the one IP the tests come from."""
    call_command("seed_demo", stdout=io.StringIO())
    settings.SITE_URL = live_server.url
    settings.RATELIMIT_ENABLED = False
    return live_server.url


def stub_the_internet(context, site: str) -> list[str]:
    """Answer the browser's requests that leave the live server with a small page;
    the pages it went to out there, in order (emails also fetch a web font)."""
    asked: list[str] = []

    def outside(route):
        if route.request.is_navigation_request():
            asked.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=ELSEWHERE)

    def redirect_out(route):
        response = route.fetch(max_redirects=0)
        location = response.headers.get("location", "")
        if 300 <= response.status < 400 and OUTSIDE.match(location):
            # Chromium follows a redirect inside its network stack, where Playwright
            # cannot route the next hop: hand the hop to the browser as a navigation.
            refresh = f'<meta http-equiv="refresh" content="0;url={escape(location)}">'
            route.fulfill(status=200, content_type="text/html", body=refresh)
        else:
            route.fulfill(response=response)

    context.route(OUTSIDE, outside)
    context.route(re.compile(re.escape(site) + "/l/"), redirect_out)
    return asked


def sign_up(page, address: str, name: str = "") -> None:
    """Fill in the signup form the page shows and press Subscribe."""
    page.get_by_label("Email address").fill(address)
    if name:
        page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Subscribe").click()


def open_email(page, message) -> None:
    """Show the message's HTML part in the browser, as a webmail client would."""
    page.set_content(html_of(message))


def click_in_email(page, message, link_name: str):
    """Open the email and click its link named `link_name`; the tab the link opened in
    (email buttons open a new one, as in most mail clients)."""
    open_email(page, message)
    link = page.get_by_role("link", name=link_name, exact=True)
    if link.get_attribute("target") != "_blank":
        link.click()
        return page
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.set_viewport_size(DESKTOP)
    return tab


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Through the admin's own login form, as an editor would."""
    page.goto(f"{base_url}/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Site administration").wait_for()


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def shoot(page, name: str, *, fits_phone: bool = True) -> dict[int, int]:
    """Full-page screenshots at 1280 and 375 px wide (artifacts/screenshots/<name>-<width>.png).

    Returns the sideways overflow seen at each width; with fits_phone, a page
    that scrolls sideways on a phone fails the test."""
    seen = {}
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        seen[size["width"]] = overflow(page)
        # A window as tall as the page: frames below the fold are painted too.
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        screenshot(page, f"{name}-{size['width']}")
    page.set_viewport_size(DESKTOP)
    if fits_phone:
        assert seen == {1280: 0, 375: 0}, f"{name} scrolls sideways: {seen}"
    return seen


def forget_form_limits() -> None:
    """Drop this test run's form-limit counts (subscribers.form_limits) from the cache."""
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        backend.clear()  # this process's own memory
        return
    # Redis, shared with the broker and other runs: only this run's counters.
    client = backend._cache.get_client(None, write=True)
    for key in client.scan_iter(match=backend.make_key("ratelimit:*")):
        client.delete(key)


def mid_month(year: int, month: int = 6) -> datetime:
    """An aware time in that month (the 15th, 09:00): an issue's date in a given year."""
    return timezone.make_aware(datetime(year, month, 15, 9))
